"""Keys to copied parents drawn together, and keys that determine a value column.

A hand-built network: airports and airlines are copied (reference tables), each
airline flies its own few routes (origin, destination) and every route has one
distance. Flights are driven by their origin airport; the airline and the
destination are secondary keys. Dealt one by one, a flight's destination has
nothing to do with its airline; drawn together they are the source's routes, and
``flights.(origin_id, dest_id) determines flights.distance`` gives each route its
distance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.errors import MetadataError
from relsynth.keys import KeyGenerator
from relsynth.keys.joint import JointKeys, draw_joint
from relsynth.rules import DeterminedValue, discover, fit_rules, measure, parse_rule
from relsynth.rules._values import apply_values

RULE = "flights.(origin_id, dest_id) determines flights.distance"
ORIGIN = ForeignKey("flights", ("origin_id",), "airports", ("code",))
DEST = ForeignKey("flights", ("dest_id",), "airports", ("code",))
AIRLINE = ForeignKey("flights", ("airline_id",), "airlines", ("id",), nullable=True)
COPIED = ("airports", "airlines")


def network_metadata() -> Metadata:
    return Metadata(
        tables={
            "airports": Table(
                "airports",
                (Column("code", "id", "TEXT", False), Column("lon", "numerical", "REAL")),
                primary_key=("code",),
                reference=True,
            ),
            "airlines": Table(
                "airlines",
                (Column("id", "id", "INTEGER", False), Column("name", "categorical", "TEXT")),
                primary_key=("id",),
                reference=True,
            ),
            "flights": Table(
                "flights",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("origin_id", "id", "TEXT", False),
                    Column("dest_id", "id", "TEXT", False),
                    Column("airline_id", "id", "INTEGER", True),
                    Column("distance", "numerical", "REAL"),
                    Column("delay", "numerical", "REAL"),
                ),
                primary_key=("id",),
            ),
        },
        foreign_keys=(ORIGIN, DEST, AIRLINE),
    )


def network_tables(seed: int = 0, n_flights: int = 3000) -> dict[str, pd.DataFrame]:
    """3 origins, 30 destinations, 8 airlines of 4 routes each; 2 % of flights have no airline."""
    rng = np.random.default_rng(seed)
    codes = [f"A{i:02d}" for i in range(33)]
    lon = rng.uniform(-120, -70, len(codes))
    airports = pd.DataFrame({"code": codes, "lon": lon})
    airlines = pd.DataFrame({"id": np.arange(1, 9), "name": [f"air {i}" for i in range(8)]})
    routes = [
        (a, int(rng.integers(0, 3)), int(rng.integers(3, 33))) for a in range(8) for _ in range(4)
    ]
    pick = rng.choice(len(routes), n_flights, p=rng.dirichlet(np.ones(len(routes)) * 3))
    airline = np.array([routes[i][0] + 1 for i in pick], dtype="float64")
    origin = np.array([routes[i][1] for i in pick])
    dest = np.array([routes[i][2] for i in pick])
    airline[rng.random(n_flights) < 0.02] = np.nan
    flights = pd.DataFrame(
        {
            "id": np.arange(1, n_flights + 1),
            "origin_id": [codes[i] for i in origin],
            "dest_id": [codes[i] for i in dest],
            "airline_id": pd.array(airline, dtype="Int64"),
            "distance": np.round(np.abs(lon[origin] - lon[dest]) * 50.0),
            "delay": rng.normal(0, 10, n_flights),
        }
    )
    return {"airports": airports, "airlines": airlines, "flights": flights}


@pytest.fixture(scope="module")
def network() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    return network_metadata(), network_tables()


def _triples(flights: pd.DataFrame) -> set[tuple]:
    both = flights.dropna(subset=["airline_id"])
    return set(zip(both["airline_id"].astype(int), both["origin_id"], both["dest_id"], strict=True))


def _foreign_share(source: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Share of synthetic flights (airline set) whose triple no source flight has."""
    known = _triples(source)
    both = synthetic.dropna(subset=["airline_id"])
    got = zip(both["airline_id"].astype(int), both["origin_id"], both["dest_id"], strict=True)
    return float(np.mean([t not in known for t in got]))


def _keys(meta, tables, copied, seed=3):
    gen = KeyGenerator().fit(
        meta, tables, plan=relsynth.plan(meta, {"flights": ORIGIN}), copied=copied
    )
    done = {"airports": tables["airports"], "airlines": tables["airlines"]}
    rng = np.random.default_rng(seed)
    return gen, gen.sample_table("flights", done, rng=rng, copied=copied)


# -- joint keys ------------------------------------------------------------------------------


def test_copied_keys_are_drawn_as_the_sources_combinations(network):
    meta, tables = network
    gen, flights = _keys(meta, tables, COPIED)
    joint = gen.states_["flights"].joint
    assert isinstance(joint, JointKeys) and len(joint.fks) == 3
    assert joint.movable == (False, True, True)  # the driver stays; dest and airline move
    assert _foreign_share(tables["flights"], flights) == 0.0
    _, alone = _keys(meta, tables, ())  # nothing copied: dealt one by one, as before
    assert _foreign_share(tables["flights"], alone) > 0.5
    # the airlines' and destinations' counts and the NULL airlines stay the source's
    for col in ("airline_id", "dest_id"):
        real = tables["flights"][col].value_counts(normalize=True)
        fake = flights[col].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert (real - fake).abs().max() < 0.02
    assert flights["airline_id"].isna().mean() == pytest.approx(0.02, abs=0.01)
    # the state round-trips
    again = KeyGenerator.from_dict(gen.to_dict())
    assert again.states_["flights"].joint == joint


def test_rare_combinations_are_left_out_and_unseen_groups_back_off(network):
    meta, tables = network
    flights = tables["flights"].copy()
    flights.loc[0, ["origin_id", "dest_id"]] = ["A00", "A32"]  # one flight of its own route
    gen = KeyGenerator(min_count=2).fit(
        meta,
        {**tables, "flights": flights},
        plan=relsynth.plan(meta, {"flights": ORIGIN}),
        copied=COPIED,
    )
    joint = gen.states_["flights"].joint
    held = {tuple(c) for c in joint.combos}
    airline = str(flights.loc[0, "airline_id"])
    assert ("A00", "A32", airline) not in held
    # a frame whose origin the source never flew from still gets drawn keys (the marginal)
    fks = list(meta.foreign_keys)
    frame = pd.DataFrame(
        {"origin_id": ["A31"] * 50, "dest_id": ["A05"] * 50, "airline_id": [1] * 50}
    )
    done = {"airports": tables["airports"], "airlines": tables["airlines"]}
    draw_joint(frame, joint, fks, done, np.random.default_rng(0), copied=COPIED)
    assert frame["dest_id"].nunique() > 1 and frame["airline_id"].nunique() > 1
    assert frame["origin_id"].eq("A31").all()


# -- keys that determine a value -------------------------------------------------------------


def test_the_value_rule_parses_round_trips_and_is_found(network, tmp_path):
    meta, tables = network
    rule = parse_rule(RULE, meta)
    assert isinstance(rule, DeterminedValue) and rule.kind == "value" and str(rule) == RULE
    found = [r for r in discover(meta, tables, copied=COPIED) if isinstance(r, DeterminedValue)]
    assert [str(r) for r in found] == [RULE]  # not delay, not a single key
    assert found[0].share == 1.0
    routes = tables["flights"].groupby(["origin_id", "dest_id"]).size()
    assert len(found[0].values) == int((routes >= 2).sum())
    assert measure(meta, tables, found[0])[0] == 1.0
    path = tmp_path / "meta.yaml"
    meta.with_rules(found[0]).save(path)
    loaded = Metadata.load(path).rules[0]
    assert loaded == found[0] and loaded.values == found[0].values
    # not found when the airports are not copied (the keys would be new values)
    assert not [r for r in discover(meta, tables, copied=()) if isinstance(r, DeterminedValue)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "flights.(origin_id, delay) determines flights.distance",
            "not the columns of one or more",
        ),
        ("flights.origin_id determines flights.id", "is a key column"),
        ("flights.origin_id determines flights.speed", "speed"),
        ("flights.origin_id -> airports.lon determines flights.distance", "no ->"),
    ],
)
def test_bad_value_rules_are_one_line_errors(network, text, message):
    meta, _ = network
    with pytest.raises(MetadataError, match=message) as info:
        parse_rule(text, meta)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_a_declared_value_rule_learns_its_values_or_stops_the_fit(network):
    meta, tables = network
    declared = meta.with_rules(parse_rule(RULE, meta))
    rules = fit_rules(declared, tables, find=False)
    assert rules[0].share == 1.0 and rules[0].values
    broken = meta.with_rules(parse_rule("flights.origin_id determines flights.distance", meta))
    with pytest.raises(MetadataError, match="holds in only"):
        fit_rules(broken, tables, find=False)


def test_apply_values_sets_known_routes_only(network):
    meta, tables = network
    rule = fit_rules(meta.with_rules(parse_rule(RULE, meta)), tables, find=False)[0]
    frame = tables["flights"].head(20).copy()
    frame["distance"] = -1.0
    frame.loc[0, "dest_id"] = "ZZZ"
    frame.loc[1:3, "dest_id"] = "ZZZ"  # an unknown route, rows 0-3
    frame.loc[0:3, "origin_id"] = "A00"
    frame.loc[0:3, "distance"] = [-1.0, -2.0, -3.0, -4.0]
    out = apply_values(frame, rule)
    assert (out["distance"].iloc[:4] == -1.0).all()  # one value: the first row's
    assert (out["distance"].iloc[4:] >= 0).all()
    assert out["distance"].dtype == frame["distance"].dtype


def test_synthesizer_keeps_routes_and_distances(network):
    meta, tables = network
    synth = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1, drivers={"flights": ORIGIN})
    synth.fit(tables)
    assert RULE in {str(r) for r in synth.rules_}
    fake = synth.sample(seed=1)
    relsynth.check(meta, fake).raise_for_violations()
    assert _foreign_share(tables["flights"], fake["flights"]) == 0.0
    report = relsynth.evaluate(meta, tables, fake)
    rows = {r["rule"]: r for r in report.rules.to_dict("records")}
    assert rows[RULE]["kind"] == "value" and rows[RULE]["synthetic"] == 1.0
    real = tables["flights"].groupby(["origin_id", "dest_id"])["distance"].first()
    got = fake["flights"].groupby(["origin_id", "dest_id"])["distance"].first()
    assert (got - real.reindex(got.index)).abs().max() == 0.0


def test_reflect_lists_and_saves_the_value_rule(tmp_path, capsys):
    import json

    from relsynth.cli import main

    url = f"sqlite:///{tmp_path / 'network.db'}"
    relsynth.write_tables(url, network_metadata(), network_tables(n_flights=1200))
    out_file = tmp_path / "meta.json"
    assert main(["reflect", url, "--rules", "-o", str(out_file)]) == 0
    assert "determines flights.distance" in capsys.readouterr().out
    saved = {r["rule"]: r for r in json.loads(out_file.read_text())["rules"]}
    assert saved[RULE]["share"] == 1.0 and saved[RULE]["values"]
    loaded = [r for r in relsynth.Metadata.load(out_file).rules if str(r) == RULE]
    assert loaded and loaded[0].values
