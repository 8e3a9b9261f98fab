"""Privacy metrics: copies are caught, fresh data from the same source is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.evaluate import evaluate, split_holdout
from relsynth.evaluate.privacy import exact_copy_rate, membership_auc


def test_exact_copy_rate() -> None:
    real = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert exact_copy_rate(real, real) == 1.0
    assert exact_copy_rate(real, real.assign(a=real["a"].astype(float))) == 1.0
    assert exact_copy_rate(real, real.assign(b=["x", "q", "q"])) == pytest.approx(1 / 3)


def test_membership_auc() -> None:
    assert membership_auc(np.zeros(10), np.ones(10)) == 1.0
    assert membership_auc(np.ones(10), np.ones(10)) == 0.5


def test_copies_are_flagged_and_fresh_data_is_not(shop_meta, shop, shop_other) -> None:
    train, holdout = split_holdout(shop_meta, shop, seed=0)
    copied = evaluate(shop_meta, train, train, holdout=holdout).privacy.set_index("table")
    assert copied.loc["customers", "exact_copy_rate"] == 1.0
    assert copied.loc["orders", "dcr_synthetic"] == 0.0
    assert copied.loc["orders", "dcr_ratio"] == 0.0
    assert copied.loc["orders", "mia_auc"] > 0.9
    assert copied.loc["orders", "dcr_share"] > 0.9

    # Fresh rows from the same generator: they sit as far from the training rows as the
    # holdout does.
    fresh = split_holdout(shop_meta, shop_other, seed=0)[0]
    private = evaluate(shop_meta, train, fresh, holdout=holdout).privacy.set_index("table")
    assert private.loc["customers", "exact_copy_rate"] == 0.0
    assert private.loc["orders", "dcr_ratio"] == pytest.approx(1.0, abs=0.35)
    assert private.loc["orders", "mia_auc"] == pytest.approx(0.5, abs=0.1)
    assert private.loc["orders", "dcr_share"] == pytest.approx(0.5, abs=0.1)


def test_without_a_holdout_the_baselines_are_missing(shop_meta, shop, shop_other) -> None:
    privacy = evaluate(shop_meta, shop, shop_other).privacy.set_index("table")
    assert privacy["dcr_synthetic"].notna().all()
    assert privacy[["dcr_ratio", "mia_auc", "dcr_share", "exact_copy_holdout"]].isna().all().all()
