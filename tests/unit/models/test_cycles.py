"""A determinant moved to the cycle its generated column names (models/_cycles.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.models.dependencies import Dependency, apply_dependencies, find_dependencies


def _hourly(rng: np.random.Generator, days: int = 60) -> pd.DataFrame:
    """An hourly series: ``hour`` and ``day`` fixed by ``time``; ``humid`` swings with the
    hour of day, ``level`` with nothing."""
    time = pd.date_range("2013-01-01", periods=days * 24, freq="h").repeat(2)
    hour = time.hour.to_numpy()
    return pd.DataFrame(
        {
            "time": time,
            "hour": hour,
            "day": time.day.to_numpy(),
            "humid": 60 + 15 * np.cos(2 * np.pi * hour / 24) + rng.normal(0, 3, len(time)),
            "level": rng.normal(0, 1, len(time)),
        }
    )


def test_only_the_finest_informative_cycle_is_marked(rng) -> None:
    deps = {d.column: d for d in find_dependencies(_hourly(rng))}
    assert set(deps) == {"hour", "day"}
    assert deps["hour"].snap and not deps["day"].snap  # the day explains nothing
    flat = _hourly(rng).assign(humid=lambda f: rng.normal(60, 5, len(f)))
    assert not any(d.snap for d in find_dependencies(flat))  # the hour explains nothing


def test_snap_keeps_the_generated_hour_and_moves_time_least(rng) -> None:
    table = _hourly(rng)
    deps = find_dependencies(table)
    sample = table.sample(500, random_state=1).reset_index(drop=True)
    sample["hour"] = rng.integers(0, 24, len(sample))  # a generated hour, off its time
    sample.loc[0, "hour"] = 99  # a value no key has: the row keeps its time
    before = sample.copy()
    out = apply_dependencies(deps, sample.copy())
    assert (out["hour"].iloc[1:] == before["hour"].iloc[1:]).all()
    assert (out["hour"] == out["time"].dt.hour).all()
    assert (out["day"] == out["time"].dt.day).all()
    moved = (out["time"] - before["time"]).abs()
    assert moved.iloc[0] == pd.Timedelta(0)
    assert moved.max() < pd.Timedelta(hours=24)  # 12 hours but at the series' two ends
    assert moved.mean() <= pd.Timedelta(hours=7)
    assert out["time"].dtype == before["time"].dtype


def test_old_rules_do_not_snap_and_state_round_trips(rng) -> None:
    deps = find_dependencies(_hourly(rng))
    hour = next(d for d in deps if d.column == "hour")
    assert Dependency.from_state(hour.state()) == hour
    old = {k: v for k, v in hour.state().items() if k != "snap"}  # a file saved before
    assert not Dependency.from_state(old).snap
    sample = _hourly(rng).head(100)
    sample["hour"] = (sample["hour"] + 5) % 24
    out = apply_dependencies([Dependency.from_state(old)], sample.copy())
    assert (out["time"] == sample["time"]).all()  # the time is kept, the hour follows it
    assert (out["hour"] == out["time"].dt.hour).all()


def test_numeric_determinant_keeps_its_dtype(rng) -> None:
    n = 3000
    stamp = rng.integers(0, 144, n) * 600  # ten-minute steps of one day, in seconds
    table = pd.DataFrame({"stamp": stamp, "cycle": stamp // 3600 % 6})  # a six-hour cycle
    table["y"] = table["cycle"] * 2.0 + rng.normal(0, 1, n)
    deps = find_dependencies(table)
    assert [d.column for d in deps if d.snap] == ["cycle"]
    sample = table.head(300).copy()
    sample["cycle"] = rng.integers(0, 6, len(sample))
    out = apply_dependencies(deps, sample.copy())
    assert out["stamp"].dtype == table["stamp"].dtype
    assert (out["cycle"] == sample["cycle"]).all()
    assert (out["stamp"] // 3600 % 6 == out["cycle"]).all()
