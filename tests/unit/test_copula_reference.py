"""The Gaussian copula reference of benchmarks/models_fidelity.py (benchmarks/_copula.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks._copula import GaussianCopula


def _table(n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    y = 0.8 * x + 0.6 * rng.normal(size=n)
    counts = np.round(np.exp(y)).astype(np.int64)
    kind = np.where(x + 0.3 * rng.normal(size=n) > 0.5, "high", "low")
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.round(100 * (x + 4)), "D")
    out = pd.DataFrame({"x": x, "counts": counts, "kind": kind, "when": when})
    out.loc[rng.random(n) < 0.1, "x"] = np.nan
    return out


def test_copula_keeps_marginals_correlations_nulls_and_types():
    real = _table()
    fake = GaussianCopula().fit(real).sample(len(real), seed=2)
    assert list(fake.columns) == list(real.columns)
    assert fake["counts"].dtype == real["counts"].dtype
    assert fake["when"].dtype == real["when"].dtype
    assert set(fake["kind"]) == {"high", "low"}
    assert abs(fake["kind"].eq("high").mean() - real["kind"].eq("high").mean()) < 0.03
    assert abs(fake["x"].isna().mean() - 0.1) < 0.02
    # rank correlations survive (Spearman), a category included through its codes
    for a, b in [("x", "counts"), ("x", "when")]:
        r, f = real[[a, b]].dropna(), fake[[a, b]].dropna()
        assert abs(r.corr("spearman").iloc[0, 1] - f.corr("spearman").iloc[0, 1]) < 0.05
    high_real = real.groupby("kind")["counts"].mean()
    high_fake = fake.groupby("kind")["counts"].mean()
    assert high_fake["high"] > 1.5 * high_fake["low"] and high_real["high"] > 1.5 * high_real["low"]
    # every value it makes is a real one
    assert set(fake["counts"]) <= set(real["counts"])


def test_copula_is_deterministic_and_handles_constant_and_empty_columns():
    real = _table(500).assign(const=1.0, empty=pd.Series([None] * 500, dtype=object))
    a = GaussianCopula().fit(real).sample(300, seed=5)
    b = GaussianCopula().fit(real).sample(300, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert (a["const"] == 1.0).all() and a["empty"].isna().all()
