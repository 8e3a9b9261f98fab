"""The level tilt: a value's mean per category level, for several categories at once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from scipy.stats import ks_2samp

from relsynth.models._level_tilt import LevelTilt, _penalty, fit_level_tilt
from relsynth.models.calibration import Calibration, _Grouping
from relsynth.models.columns import Span
from relsynth.models.numerical import QUANTILE_SPAN

torch = pytest.importorskip("torch")

from relsynth.models import ConditionalWGAN  # noqa: E402

_A = np.array([0.0, 0.3, -0.2, 0.5, 0.1, -0.4])
_B = np.array([0.0, 0.25, -0.25, 0.4])


def _table(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    """A heavy-tailed value whose mean is the sum of two categories' effects."""
    a, b = rng.integers(0, len(_A), n), rng.integers(0, len(_B), n)
    value = _A[a] + _B[b] + 0.8 * rng.standard_t(3, n)
    strong = 10.0 * a + rng.normal(size=n)  # per-level maps on "a" give it its means
    return pd.DataFrame(
        {"a": [f"a{i}" for i in a], "b": [f"b{i}" for i in b], "value": value, "strong": strong}
    )


def _level_error(real: pd.DataFrame, out: pd.DataFrame, by: str) -> float:
    """Mean |difference| of the per-level means of ``value``, in training sd."""
    r = real.groupby(by)["value"].mean()
    g = out.groupby(by)["value"].mean().reindex(r.index)
    return float((r - g).abs().mean() / real["value"].std())


class _Untilted(ConditionalWGAN):
    level_tilt = False


def test_additive_level_means_are_recovered_and_the_marginal_kept(rng) -> None:
    table = _table(rng)
    kw = {"seed": 0, "steps": 60, "n_threads": 1, "device": "cpu"}
    model = ConditionalWGAN(**kw).fit(table)
    calibration = model.calibration_
    assert calibration.level_tilt is not None
    # the value with per-level maps is left to them, the other is tilted
    assert set(calibration.level_tilt.columns.tolist()).isdisjoint(calibration.groups)
    assert len(calibration.groups) == 1 and len(calibration.level_tilt.columns) == 1
    untilted = _Untilted(**kw).fit(table)
    # the tilt alone: the level draw (models/_level_draw.py) would redraw a and b given
    # the value for both models
    model.calibration_.levels = untilted.calibration_.levels = None
    out = model.sample(n_rows=len(table), seed=1)
    plain = untilted.sample(n_rows=len(table), seed=1)
    for by in ("a", "b"):
        # each category's effect is about a quarter of the noise's sd: the briefly
        # trained generator misses it, the tilt brings it back for both columns jointly
        # (a second real draw's error is 0.04 sd on average: ~700 rows per level, t noise)
        assert _level_error(table, out, by) < 0.08
        assert _level_error(table, plain, by) > 2 * _level_error(table, out, by)
    # the marginal stays the training one (KS about that of the untilted model)
    ks = ks_2samp(table["value"], out["value"]).statistic
    assert ks < max(0.04, 1.5 * ks_2samp(table["value"], plain["value"]).statistic)


def test_state_round_trip_and_files_saved_before(rng) -> None:
    table = _table(rng, 1500)
    model = ConditionalWGAN(seed=0, steps=30, n_threads=1, device="cpu").fit(table)
    state = json.loads(json.dumps(model.calibration_.state()))
    assert "level_tilt" in state
    again = Calibration.from_state(state)
    block = np.random.default_rng(3).uniform(-0.9, 0.9, (50, model.encoder.dim))
    np.testing.assert_array_equal(
        model.calibration_.map_values(block.copy()), again.map_values(block.copy())
    )
    del state["level_tilt"]
    assert Calibration.from_state(state).level_tilt is None
    loaded = ConditionalWGAN.from_state_dict(model.state_dict())
    pd.testing.assert_frame_equal(
        loaded.sample(n_rows=200, seed=4), model.sample(n_rows=200, seed=4)
    )


def _grouping(codes: np.ndarray, gen_codes: np.ndarray, width: int) -> _Grouping:
    hot = np.zeros((len(gen_codes), width))
    hot[np.arange(len(gen_codes)), gen_codes] = 1.0
    span = Span(1, width, "softmax", "g", "category")
    return _Grouping("table", span, np.arange(width, dtype=float), codes, hot)


def _encoded(scores: np.ndarray) -> np.ndarray:
    x = np.zeros((len(scores), 1 + 5))
    x[:, 0] = QUANTILE_SPAN * (2.0 * ndtr(scores) - 1.0)
    return x


def test_generated_rows_like_the_training_ones_are_left_alone(rng) -> None:
    n = 5000
    codes = rng.integers(0, 5, n)
    z = np.array([0.0, 0.4, -0.3, 0.2, -0.1])[codes] + rng.normal(size=n)
    x = _encoded(z)
    scalars = {0: (x[:, 0], np.ones(n), x[:, 0], np.ones(n, dtype=bool))}
    tilt = fit_level_tilt(x, x, scalars, [_grouping(codes, codes, 5)], rng)
    assert tilt is not None
    np.testing.assert_allclose(tilt.ratio, 1.0, atol=1e-9)
    np.testing.assert_allclose(tilt.effects[0], 0.0, atol=1e-9)
    moved = tilt.apply(x.copy(), None)
    np.testing.assert_allclose(moved[:, 0], x[:, 0], atol=1e-6)


def test_generated_rows_without_the_shift_get_it(rng) -> None:
    n = 8000
    codes = rng.integers(0, 5, n)
    shift = np.array([0.0, 0.4, -0.3, 0.2, -0.1])
    real = _encoded(shift[codes] + rng.normal(size=n))
    gen = _encoded(rng.normal(size=n))  # the generator left the shift out
    gen[:, 1:] = 0.0
    gen[np.arange(n), 1 + codes] = 1.0
    scalars = {0: (gen[:, 0], np.ones(n), real[:, 0], np.ones(n, dtype=bool))}
    tilt = fit_level_tilt(gen, real, scalars, [_grouping(codes, codes, 5)], rng)
    moved = tilt.apply(gen.copy(), None)
    means = pd.Series(moved[:, 0]).groupby(codes).mean()
    target = pd.Series(real[:, 0]).groupby(codes).mean()
    assert np.abs(means - target).max() < 0.03
    assert ks_2samp(moved[:, 0], real[:, 0]).statistic < 0.03


def test_the_penalty_shrinks_by_chance_and_leaves_out_noise(rng) -> None:
    n = 20000
    codes = rng.integers(0, 10, n)
    w = np.ones(n)
    noise = _penalty(rng.normal(size=n), w, codes, 10)
    assert noise is None or noise > 1000
    effect = rng.normal(0, 0.3, 10)
    penalty = _penalty(effect[codes] + rng.normal(size=n), w, codes, 10)
    # sigma^2 / tau^2 about 1 / 0.09
    assert penalty is not None and 3 < penalty < 40


def test_state_of_a_hand_built_tilt_is_plain() -> None:
    tilt = LevelTilt(
        np.array([0]), ["context"], np.array([2]), np.array([1]), [np.array([1.0, 2.0])],
        [np.array([[0.1], [-0.1]])], np.zeros(1), np.ones(1), np.ones(1), np.zeros(1),
        np.linspace(-8, 8, 201)[None], np.linspace(-8, 8, 201)[None],
    )  # fmt: skip
    state = json.loads(json.dumps(tilt.state()))
    again = LevelTilt.from_state(state)
    out = np.zeros((2, 1))
    ctx = np.array([[0, 0, 1.0], [0, 0, 2.0]])
    moved = again.apply(out.copy(), ctx)
    assert moved[0, 0] > 0 > moved[1, 0]
    # without the context the rows are left where they are
    np.testing.assert_allclose(again.apply(out.copy(), None), out, atol=1e-6)
