"""DP children follow their parents: the released context correlations and the tilt."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

from relsynth import DifferentialPrivacy, Synthesizer, check
from relsynth.synthesis._dp_context import (
    CONTEXT_WEIGHT,
    _correlations,
    entity_means,
)
from tests.unit.evaluate.conftest import shop_metadata, shop_tables

pytestmark = pytest.mark.skipif(
    os.environ.get("RELSYNTH_REQUIRE_DP") != "1" and importlib.util.find_spec("opacus") is None,
    reason="opacus is not installed (pip install 'relsynth[dp]'); set RELSYNTH_REQUIRE_DP=1 "
    "to fail instead",
)


def _scores(n_entities: int, rho: float, rows: int, seed: int) -> tuple:
    """Normal scores of one context column and two values (the first with correlation
    ``rho``, the second independent), ``rows`` rows per entity."""
    rng = np.random.default_rng(seed)
    c = np.repeat(rng.standard_normal(n_entities), rows)
    z1 = rho * c + np.sqrt(1 - rho**2) * rng.standard_normal(len(c))
    z2 = rng.standard_normal(len(c))
    return c[:, None], np.column_stack([z1, z2]), np.repeat(np.arange(n_entities), rows)


def test_the_release_finds_a_correlation_that_stands_out_and_only_that() -> None:
    c, z, ent = _scores(3000, 0.8, 2, seed=0)
    out = _correlations(c, z, ent, 1.0, np.random.default_rng(1), ["p.x"], ["a", "b"])
    # near it; the clipping of entities with extreme scores shrinks it a little
    assert 0.7 <= out["p.x"]["a"] <= 0.82
    assert abs(out["p.x"]["b"]) < 0.05  # independent (little noise: its sample correlation)
    # with much noise (few entities for it) nothing stands out: no dependence given
    c, z, ent = _scores(300, 0.0, 2, seed=0)
    out = _correlations(c, z, ent, 20.0, np.random.default_rng(2), ["p.x"], ["a", "b"])
    assert out == {"p.x": {"a": 0.0, "b": 0.0}}  # noise of 0.2 per moment: none stands out
    c, z, ent = _scores(100, 0.8, 2, seed=0)
    out = _correlations(c, z, ent, 200.0, np.random.default_rng(1), ["p.x"], ["a", "b"])
    assert out == {"p.x": {"a": 0.0, "b": 0.0}}


def test_no_false_correlation_from_independent_columns() -> None:
    """Independent columns give 0 in about 95% of the releases or more (Bonferroni)."""
    found = 0
    for seed in range(40):
        c, z, ent = _scores(500, 0.0, 1, seed=seed)
        out = _correlations(c, z, ent, 5.0, np.random.default_rng(seed), ["p.x"], ["a", "b"])
        found += any(v != 0 for v in out["p.x"].values())
    assert found <= 6


def test_one_entity_moves_the_sums_by_at_most_the_bound() -> None:
    """The sensitivity the noise is scaled to: an entity's clipped vector has L2 norm at
    most ``sqrt(1 + 2k + 2v + kv)``, however many rows or extreme scores it has."""
    rng = np.random.default_rng(3)
    k, v = 2, 3
    c, z = rng.normal(0, 3, (50, k)), rng.normal(0, 3, (50, v))
    cross = (c[:, :, None] * z[:, None, :]).reshape(50, k * v)
    per = entity_means(np.hstack([np.ones((50, 1)), c, z, c**2, z**2, cross]), np.arange(50) // 7)
    bound = np.sqrt(1 + 2 * k + 2 * v + k * v)
    clipped = per * np.minimum(1.0, bound / np.linalg.norm(per, axis=1))[:, None]
    assert np.linalg.norm(clipped, axis=1).max() <= bound + 1e-9
    assert np.linalg.norm(per, axis=1).max() > bound  # the clipping is what bounds it


@pytest.fixture(scope="module")
def fitted() -> tuple[Synthesizer, dict[str, pd.DataFrame]]:
    tables = shop_tables(seed=1, n_customers=1500)  # an order's amount ~ 2 x its customer's age
    synth = Synthesizer(
        shop_metadata(), seed=0, steps=8, table_models={"products": "copy"},
        privacy=DifferentialPrivacy(epsilon=4.0, delta=1e-5),
    ).fit(tables)  # fmt: skip
    return synth, tables


def test_released_correlations_are_in_the_ledger_and_the_fit_summary(fitted) -> None:
    synth, _ = fitted
    dp = synth.fit_info_.dp
    corr = dp["context"]["orders"]["correlations"]
    assert corr["customers.age"]["amount"] > 0.6  # the real one is about 0.96
    assert corr["customers.signup"]["amount"] == 0.0  # independent in the data
    assert set(corr) == {"customers.age", "customers.signup"}  # continuous context only
    assert dp["context"]["items"]["correlations"] == {"orders.amount": {"quantity": 0.0}}
    releases = {r["what"]: r for r in dp["releases"]}
    mine = releases["context correlations of orders"]
    column = releases["bounds and quantiles of amount"]
    assert mine["table"] == "orders" and mine["noise"] > 0
    assert mine["weight"] == pytest.approx(CONTEXT_WEIGHT * column["weight"])
    # no release for a root table (no parent) nor for public ones
    assert "context correlations of customers" not in releases
    assert dp["epsilon"] == pytest.approx(4.0, rel=1e-3)  # still the whole budget


def test_dp_children_follow_their_parents(fitted) -> None:
    """8 noisy DP-SGD steps learn nothing of the parent; the tilt to the released
    correlation makes an order's amount follow its customer's age."""
    synth, _ = fitted
    fake = synth.sample(seed=0)
    assert check(synth.metadata, fake).ok
    joined = fake["orders"].merge(
        fake["customers"][["id", "age"]], left_on="customer_id", right_on="id"
    )
    rho = joined["age"].corr(joined["amount"], method="spearman")  # ~0.96 in the data
    assert rho > 0.6
    assert synth.models_["orders"].calibration_.tilt is not None


def test_the_tilt_survives_a_weights_only_load(fitted, tmp_path) -> None:
    synth, _ = fitted
    path = tmp_path / "dp.relsynth"
    synth.save(path)
    again = Synthesizer.load(path)
    a, b = synth.sample(seed=4), again.sample(seed=4)
    pd.testing.assert_frame_equal(a["orders"], b["orders"])
