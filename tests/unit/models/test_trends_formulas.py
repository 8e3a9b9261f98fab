"""Numbers that follow the row's time key (trends.py) and within-row formulas (formulas.py)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from relsynth.models import ConditionalWGAN
from relsynth.models.context import Context
from relsynth.models.formulas import Formula, apply_formulas, find_formulas
from relsynth.models.trends import Trend, apply_trends, find_trends, restore_trends

HOUR = 3600.0


def _series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hourly times (two stations a row each) and a weather-like random walk over them."""
    rng = np.random.default_rng(seed)
    hours = np.repeat(np.arange(n // 2), 2)
    walk = np.cumsum(rng.normal(0, 1.0, n // 2))[hours]
    season = 15 * np.sin(2 * np.pi * hours / (24 * 365))
    return hours * HOUR + 1.3e9, 50 + season + walk + rng.normal(0, 0.3, len(hours))


def _table(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    t, temp = _series(n, seed)
    amount = rng.gamma(2.0, 10.0, n).round(2)
    table = pd.DataFrame({"temp": temp.round(1), "amount": amount})
    context = pd.DataFrame({"__key.ts": t, "__key.ts.month": ((t // (30 * 86400)) % 12) + 1})
    return table, context


def test_a_number_that_follows_the_time_key_is_learned_as_its_residual() -> None:
    table, context = _table()
    trends = find_trends(table, context)
    assert [t.column for t in trends] == ["temp"]  # amount does not follow the time
    assert trends[0].key == "__key.ts" and trends[0].r2 > 0.9
    residual = apply_trends(table, context, trends)
    assert residual["temp"].std() < 0.3 * table["temp"].std()
    rebuilt = restore_trends(residual.copy(), context, trends)
    # a discrete column goes through its frequency-keeping map: close, not identical
    assert np.corrcoef(rebuilt["temp"], table["temp"])[0, 1] > 0.999
    assert np.abs(rebuilt["temp"] - table["temp"]).max() < 1.0
    state = Trend.from_state(trends[0].state())
    assert np.allclose(
        state.at(context["__key.ts"].to_numpy()), trends[0].at(context["__key.ts"].to_numpy())
    )


def test_trends_stay_off_without_a_time_key_a_time_signal_or_a_spread() -> None:
    table, context = _table()
    assert find_trends(table, context[["__key.ts.month"]]) == []  # a calendar part is no key
    assert find_trends(table, None) == []
    mostly_zero = table.assign(temp=np.where(np.arange(len(table)) % 10 == 0, table["temp"], 0.0))
    assert find_trends(mostly_zero[["temp"]], context) == []  # a dominant value: left alone
    assert find_trends(table, context, excluded=["temp"]) == []
    assert find_trends(table, context, kinds={"temp": "categorical"}) == []  # a code


def test_a_knot_is_never_one_rows_value() -> None:
    table, context = _table(2000)
    lone = context["__key.ts"].max() + 400 * 24 * HOUR  # one row, far from every other
    value = float(table["temp"].max()) + 5.0
    table = pd.concat([table, pd.DataFrame({"temp": [value], "amount": [1.0]})], ignore_index=True)
    context = pd.concat([context, pd.DataFrame({"__key.ts": [lone], "__key.ts.month": [1.0]})])
    trends = find_trends(table, context.reset_index(drop=True))
    assert trends  # the lone row's value is nowhere: the knots near it are its neighbours'
    assert trends[0].at(np.array([lone]))[0] < value - 3.0
    assert max(trends[0].knots) < value - 3.0


def test_a_discrete_column_keeps_its_value_frequencies() -> None:
    """Degrees Fahrenheit converted from tenths of a Celsius degree lie 0.18 to 1.08
    apart; snapping to the nearest would starve the values in the narrow gaps."""
    table, context = _table(4000)
    support = np.sort(np.r_[np.arange(-40, 140, 1.8), np.arange(-39.82, 140, 1.8)])
    temp = support[np.searchsorted(support, table["temp"].to_numpy()).clip(0, len(support) - 1)]
    table = table.assign(temp=temp)
    trends = find_trends(table, context)
    assert trends and trends[0].cdf
    residual = apply_trends(table, context, trends)
    shuffled = residual.assign(temp=np.random.default_rng(1).permutation(residual["temp"]))
    rebuilt = restore_trends(shuffled, context, trends)["temp"]
    real, fake = table["temp"].value_counts(normalize=True), rebuilt.value_counts(normalize=True)
    assert set(fake.index) <= set(support)
    assert 0.5 * real.subtract(fake, fill_value=0).abs().sum() < 0.1


def _formula_table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, 10, n)
    y = rng.uniform(1, 10, n)
    return pd.DataFrame(
        {"x": x.round(2), "y": y.round(2), "z": (x * y + 0.5 * x**2).round(2),
         "w": rng.normal(0, 1, n).round(3)}
    )  # fmt: skip


def test_a_column_a_formula_gives_is_computed_after_sampling() -> None:
    table = _formula_table()
    formulas = find_formulas(table)
    assert [(f.column, sorted(f.inputs)) for f in formulas] == [("z", ["x", "y"])]
    assert formulas[0].r2 >= 0.99
    noisy = table.assign(z=table["z"] + 50.0)
    fixed = apply_formulas(noisy.copy(), [Formula.from_state(formulas[0].state())])
    assert np.abs(fixed["z"] - table["z"]).max() < 0.5
    assert fixed["z"].dtype == table["z"].dtype
    # a NULL input or a NULL value keeps the generated value
    holes = noisy.copy()
    holes.loc[0, "x"], holes.loc[1, "z"] = np.nan, np.nan
    out = apply_formulas(holes, formulas)
    assert out.loc[0, "z"] == noisy.loc[0, "z"] and np.isnan(out.loc[1, "z"])


def test_formulas_stay_off_for_loose_relations_and_excluded_columns() -> None:
    table = _formula_table()
    loose = table.assign(z=table["z"] + np.random.default_rng(2).normal(0, 8, len(table)))
    assert find_formulas(loose) == []  # R^2 ~ 0.8: still modelled, never computed
    assert "z" not in [f.column for f in find_formulas(table, excluded=["z"])]
    assert find_formulas(table[["x", "w"]]) == []
    assert "z" not in [f.column for f in find_formulas(table, kinds={"z": "categorical"})]


@pytest.mark.slow
def test_the_wgan_samples_rows_that_follow_the_time_and_the_formula() -> None:
    table, context = _table(2000)
    table["feel"] = (table["temp"] * 0.8 + table["amount"] * 0.1).round(2)
    model = ConditionalWGAN(steps=60, seed=0, n_threads=1)
    model.fit(table, Context(extra=context))
    assert [t.column for t in model.trends_] == ["temp"]
    # feel = 0.8 temp + 0.1 amount: one of feel and amount is computed from the others
    assert len(model.formulas_) == 1 and model.formulas_[0].column in ("feel", "amount")
    fake = model.sample(Context(extra=context), seed=1)
    assert np.corrcoef(fake["temp"], table["temp"])[0, 1] > 0.9  # the same hours, the same weather
    assert np.abs(fake["feel"] - (fake["temp"] * 0.8 + fake["amount"] * 0.1)).max() < 0.5
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)  # plain state: loads without unpickling code
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    again = ConditionalWGAN.from_state_dict(state).sample(Context(extra=context), seed=1)
    pd.testing.assert_frame_equal(fake, again)
    plain = ConditionalWGAN(steps=60, seed=0, n_threads=1, offsets=False).fit(
        table, Context(extra=context)
    )
    assert plain.trends_ == [] and plain.formulas_ == []
