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
