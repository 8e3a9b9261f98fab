"""Privacy metrics: copies are caught, fresh data from the same source is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.evaluate import evaluate, split_holdout
from relsynth.evaluate.privacy import duplicate_rate, exact_copy_rate, loo_dcr, membership_auc


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
    # ...but every table has a chance reference from the source itself
    assert (privacy["chance_from"] == "real vs real").all()
    assert privacy[["exact_copy_chance", "dcr_chance"]].notna().all().all()


def test_duplicate_rate_and_leave_one_out_dcr() -> None:
    assert duplicate_rate(pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "x", "y"]})) == 0.5
    assert duplicate_rate(pd.DataFrame({"a": [1, 2, 3]})) == 0.0
    x = np.array([[0.0], [1.0], [3.0], [3.0]])
    assert loo_dcr(x, np.arange(4)).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_chance_reference_without_holdout_tells_low_entropy_from_copies(shop_meta, shop) -> None:
    """A table whose rows repeat naturally has a high chance rate; copying matches it,
    while the DCR of a copy (0) sits far below the real-vs-real DCR."""
    copied = evaluate(shop_meta, shop, shop).privacy.set_index("table")
    for name in ("orders", "customers"):
        assert copied.loc[name, "exact_copy_rate"] == 1.0
        assert copied.loc[name, "exact_copy_chance"] < 0.5
        assert copied.loc[name, "dcr_synthetic"] == 0.0
        assert copied.loc[name, "dcr_chance"] > 0.0
    products = shop["products"]
    low = {**shop, "products": products.assign(price=1.0, category="a")}
    chance = evaluate(shop_meta, low, low).privacy.set_index("table")
    assert chance.loc["products", "exact_copy_chance"] == 1.0


def test_chance_reference_with_holdout_is_the_holdouts(shop_meta, shop, shop_other) -> None:
    train, holdout = split_holdout(shop_meta, shop, seed=0)
    privacy = evaluate(shop_meta, train, shop_other, holdout=holdout).privacy.set_index("table")
    assert (privacy["chance_from"] == "holdout").all()
    same = privacy["exact_copy_chance"].fillna(-1) == privacy["exact_copy_holdout"].fillna(-1)
    assert same.all()
    assert (privacy["dcr_chance"].fillna(-1) == privacy["dcr_holdout"].fillna(-1)).all()


def test_text_report_shows_exact_copies_beside_chance(shop_meta, shop, shop_other) -> None:
    text = str(evaluate(shop_meta, shop, shop_other))
    section = text.split("Privacy (chance reference: real vs real")[1]
    assert "exact copies" in section and "chance" in section and "DCR chance" in section
    for name in shop_meta.tables:
        assert f"\n{name} " in section


def test_a_table_copied_verbatim_with_binary_values_is_recognised() -> None:
    """A copied table whose binary column holds bytes that are no UTF-8 text (a JPEG's
    0xFF 0xD8...) and NULLs is reported as copied, not a UnicodeDecodeError."""
    from relsynth import Column, Metadata, Table

    meta = Metadata(
        {
            "category": Table(
                "category",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("name", "categorical", "TEXT"),
                    Column("picture", "binary", "BLOB"),
                ),
                primary_key=("id",),
            )
        }
    )
    real = {
        "category": pd.DataFrame(
            {
                "id": range(8),
                "name": [f"c{i}" for i in range(8)],
                "picture": [bytes([0xFF, 0xD8, i]) for i in range(7)] + [None],
            }
        )
    }
    copy = {"category": real["category"].sample(frac=1.0, random_state=0)}
    report = evaluate(meta, real, copy, max_rows=100)
    assert report.info["copied_tables"] == ["category"]
    changed = copy["category"].assign(picture=[b"\xff\xd8\x09"] * 8)
    report = evaluate(meta, real, {"category": changed}, max_rows=100)
    assert report.info["copied_tables"] == []
