"""The DP releases protect entities, not rows (numpy only: no opacus needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.synthesis import _dp_release as rel
from relsynth.synthesis._dp import Ledger, entities
from tests.unit.evaluate.conftest import shop_metadata, shop_tables


def test_entity_weights_sum_to_one_per_entity() -> None:
    ent = np.array([0, 0, 0, 1, 2, 2])
    w = rel.entity_weights(ent)
    assert np.allclose(np.bincount(ent, weights=w), 1.0)


def test_a_value_of_one_entity_is_suppressed_however_many_rows_it_has() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    values = pd.Series(rng.choice(["a", "b"], n), dtype=object)
    ent = np.arange(n)
    # one entity with 3,000 rows of its own value: 3,000 rows, but weight 1 in all
    values = pd.concat([values, pd.Series(["mine"] * 3000, dtype=object)], ignore_index=True)
    ent = np.concatenate([ent, np.full(3000, n)])
    vals, counts, null = rel.vocabulary(values, ent, 1.0, 1e-6, rng)
    assert vals[:2] == ["a", "b"] or vals[:2] == ["b", "a"]
    assert "mine" not in vals
    assert min(counts) >= rel.threshold(1.0, 1e-6)
    assert abs(null) < 6  # no NULLs: the noisy NULL weight is noise only


def test_threshold_bounds_the_release_chance() -> None:
    from scipy.stats import norm

    sigma, delta = 3.0, 1e-6
    tau = rel.threshold(sigma, delta)
    k = rel.MAX_VALUES_PER_ENTITY
    # k values of weight at most 1 each pass with probability <= delta in all
    assert k * norm.sf((tau - 1.0) / sigma) <= delta * (1 + 1e-9)


def test_vocabulary_counts_nulls_in_the_same_histogram() -> None:
    rng = np.random.default_rng(3)
    values = pd.Series(["a"] * 600 + [None] * 400, dtype=object)
    vals, counts, null = rel.vocabulary(values, np.arange(1000), 0.5, 1e-6, rng)
    assert vals == ["a"] and abs(counts[0] - 600) < 5 and abs(null - 400) < 5
    # a public domain (booleans): every value released, however rare
    flags = pd.Series([True] * 999 + [False])
    vals, counts, _ = rel.vocabulary(flags, np.arange(1000), 0.5, 1e-6, rng, domain=[False, True])
    assert set(vals) == {False, True}


def test_bounds_of_sparse_values_come_from_coarser_blocks() -> None:
    """300 entities spread over 60 years: per-year bins drown in noise, blocks do not."""
    rng = np.random.default_rng(4)
    years = rng.uniform(1930, 1990, 300)
    x = (years - 1970.0) * 365.2425 * 86400.0
    s = rel.numeric_summary(x, np.arange(300), 4.0, rng, datetime=True)
    low = 1970 + s.low / (365.2425 * 86400.0)
    high = 1970 + s.high / (365.2425 * 86400.0)
    assert 1860 < low <= 1931 and 1989 <= high < 2100  # covers the data, not the grid
    assert high - low < 200


def test_entities_are_connected_components_of_private_rows() -> None:
    meta, tables = shop_metadata(), shop_tables(n_customers=50)
    ent = entities(meta, tables, ["customers", "orders", "items"])
    orders, items = tables["orders"], tables["items"]
    cust_ent = dict(zip(tables["customers"]["id"], ent["customers"], strict=True))
    assert all(cust_ent[c] == e for c, e in zip(orders["customer_id"], ent["orders"], strict=True))
    order_ent = dict(zip(orders["id"], ent["orders"], strict=True))
    assert all(order_ent[o] == e for o, e in zip(items["order_id"], ent["items"], strict=True))
    assert len(np.unique(ent["customers"])) == 50  # products are public: no bridge


def test_count_histogram_drops_empty_tail_bins() -> None:
    rng = np.random.default_rng(1)
    counts = rng.poisson(3, 20000)
    hist = rel.count_histogram(counts, np.arange(20000), 1.0, rng)
    drawn = rel.sample_counts(hist, 20000, rng)
    assert drawn.max() < 40 and abs(drawn.mean() - 3) < 0.2


def test_ledger_noise_follows_the_weights() -> None:
    from relsynth.synthesis._dp import COUNT_WEIGHT

    ledger = Ledger(sigma_unit=10.0, delta_each=1e-7)
    assert ledger.take("a", "bounds and quantiles of y") == pytest.approx(10.0)
    # a count release weighs COUNT_WEIGHT: COUNT_WEIGHT times the RDP, less noise
    assert ledger.take("a", "row count") == pytest.approx(10.0 / np.sqrt(COUNT_WEIGHT))
    assert ledger.take_delta("a", "vocabulary of x") == (pytest.approx(10.0), 1e-7)
    assert ledger.weight == pytest.approx(2 + COUNT_WEIGHT)
    assert ledger.history("a") == [(10.0, 1.0, 1), (pytest.approx(5.0), 1.0, 1), (10.0, 1.0, 1)]


def test_one_entity_moves_at_most_public_cap_parents_under_a_public_parent() -> None:
    from relsynth.synthesis._dp_skeleton import PUBLIC_CAP, _capped_counts

    rng = np.random.default_rng(2)
    ent = np.concatenate([np.arange(300), np.full(50, 300)])  # entity 300: 50 rows
    pos = rng.integers(0, 40, len(ent))
    with_it = _capped_counts(ent, pos, 40)
    without = _capped_counts(ent[:300], pos[:300], 40)
    assert np.count_nonzero(with_it != without) <= PUBLIC_CAP
    assert np.abs(with_it - without).sum() <= PUBLIC_CAP


def _years(seconds: float) -> float:
    return 1970 + seconds / (365.2425 * 86400.0)


def test_dates_of_a_small_table_do_not_collapse_to_the_grid_middle() -> None:
    """152 entities over six years at noise 20: no block of the grid passes the test,
    and the bounds come from the block that stands out most (they used to be the
    grid's middle year, 2000, whatever the data)."""
    found = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = (rng.uniform(1993, 1998.9, 152) - 1970.0) * 365.2425 * 86400.0
        s = rel.numeric_summary(x, np.arange(152), 20.0, rng, datetime=True)
        low, high = _years(s.low), _years(s.high)
        found += low <= 1993.5 and 1998.5 <= high and high - low <= 40
    assert found >= 4


def test_quantile_bins_follow_what_the_noise_affords() -> None:
    """Few entities for the noise: few quantile bins, whose shape survives the noise
    (64 noisy bins bury it: the CDF's error grows with the bins' number)."""
    assert rel.quantile_bins(150, 10.0) == 7
    assert rel.quantile_bins(20, 10.0) == 4 and rel.quantile_bins(1e6, 10.0) == 64
    assert rel.quantile_bins(None, 10.0) == 64

    def ks(mass: float | None) -> float:
        errors = []
        for seed in range(20):
            rng = np.random.default_rng(seed)
            x = rng.lognormal(11, 0.8, 150)
            s = rel.numeric_summary(x, np.arange(150), 10.0, rng, bounds=(1e3, 1e6), mass=mass)
            q = np.asarray(s.quantiles)
            xs = np.sort(x)
            cdf = np.interp(xs, q, np.linspace(0, 1, len(q)))
            errors.append(np.max(np.abs(np.arange(1, 151) / 150 - cdf)))
        return float(np.mean(errors))

    assert ks(150) < 0.2 < ks(None)


def test_a_public_domain_is_typed_as_its_column() -> None:
    """Domains given as text (``enum_values``) become numbers for a numeric column, so
    that they match its values; a value that is no number is a one-line error."""
    from types import SimpleNamespace

    from relsynth import ParameterError
    from relsynth.synthesis._dp_release import public_domain, vocabulary

    col = SimpleNamespace(name="duration", enum_values=("12", "24", "36.5"))
    values = pd.Series([12.0, 24.0, 24.0, np.nan])
    domain = public_domain(col, "categorical", values, None)
    assert domain == [12, 24, 36.5]
    kept, counts, _ = vocabulary(values, np.arange(4), 1e-3, 1e-6, np.random.default_rng(0), domain)
    assert kept == [24, 12, 36.5] and counts[0] == pytest.approx(2.0, abs=0.01)
    assert public_domain(col, "boolean", values, None) == [False, True]
    assert (
        public_domain(SimpleNamespace(name="x", enum_values=None), "categorical", values, None)
        is None
    )
    with pytest.raises(ParameterError, match="has 'long', not a number like its values"):
        public_domain(col, "categorical", values, ["12", "long"])
