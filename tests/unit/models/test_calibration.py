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
