"""One foreign key determines another (``flights.plane_id determines flights.airline_id``).

A hand-built fleet: every plane flies for one airline, and flights are driven by
their origin airport, so the plane and the airline are both secondary keys of a
flight, dealt by in-degree. The rule is found, written, parsed, measured, kept by
the key generator and by the synthesizer, and a declared rule the data breaks is a
one-line error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.errors import MetadataError
from relsynth.keys import KeyGenerator
from relsynth.keys.dealing import one_per_group
from relsynth.rules import Determines, discover, fit_rules, measure, parse_rule

RULE = "flights.plane_id determines flights.airline_id"
ORIGIN = ForeignKey("flights", ("origin_id",), "airports", ("id",))
PLANE = ForeignKey("flights", ("plane_id",), "planes", ("id",), nullable=True)
AIRLINE = ForeignKey("flights", ("airline_id",), "airlines", ("id",))


def fleet_metadata() -> Metadata:
    """airports, planes, airlines <- flights (driver: the origin airport)."""
    return Metadata(
        tables={
            "airports": Table(
                "airports",
                (Column("id", "id", "INTEGER", False), Column("lon", "numerical", "REAL")),
                primary_key=("id",),
            ),
            "planes": Table(
                "planes",
                (Column("id", "id", "INTEGER", False), Column("seats", "numerical", "INTEGER")),
                primary_key=("id",),
            ),
            "airlines": Table(
                "airlines",
                (Column("id", "id", "INTEGER", False), Column("fleet", "numerical", "INTEGER")),
                primary_key=("id",),
            ),
            "flights": Table(
                "flights",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("origin_id", "id", "INTEGER", False),
                    Column("plane_id", "id", "INTEGER", True),
                    Column("airline_id", "id", "INTEGER", False),
                    Column("distance", "numerical", "REAL"),
                ),
                primary_key=("id",),
            ),
        },
        foreign_keys=(ORIGIN, PLANE, AIRLINE),
    )


def fleet_tables(
    seed: int = 0, n_flights: int = 1500, *, broken: float = 0.0
) -> dict[str, pd.DataFrame]:
    """Each plane flies for its own airline (``broken``: the share of flights given a
    random airline instead); 3 % of flights have no plane."""
    rng = np.random.default_rng(seed)
    n_airports, n_planes, n_airlines = 12, 90, 7
    owner = rng.integers(0, n_airlines, n_planes)
    planes = pd.DataFrame(
        {
            "id": np.arange(1, n_planes + 1),
            "seats": 100 + 30 * owner + rng.integers(0, 10, n_planes),
        }
    )
    airlines = pd.DataFrame(
        {"id": np.arange(1, n_airlines + 1), "fleet": np.bincount(owner, minlength=n_airlines)}
    )
    airports = pd.DataFrame(
        {"id": np.arange(1, n_airports + 1), "lon": rng.normal(-90, 10, n_airports)}
    )
    busy = rng.gamma(1.0, 1.0, n_planes)
    plane = rng.choice(n_planes, n_flights, p=busy / busy.sum())
    airline = owner[plane]
    noisy = rng.random(n_flights) < broken
    airline[noisy] = rng.integers(0, n_airlines, int(noisy.sum()))
    plane_id = (plane + 1).astype("float64")
    plane_id[rng.random(n_flights) < 0.03] = np.nan
    flights = pd.DataFrame(
        {
            "id": np.arange(1, n_flights + 1),
            "origin_id": rng.integers(1, n_airports + 1, n_flights),
            "plane_id": pd.array(plane_id, dtype="Int64"),
            "airline_id": airline + 1,
            "distance": 300.0 + 250.0 * airline + rng.normal(0, 40, n_flights),
        }
    )
    return {"airports": airports, "planes": planes, "airlines": airlines, "flights": flights}


@pytest.fixture(scope="module")
def fleet() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    return fleet_metadata(), fleet_tables()


def _carriers_per_plane(flights: pd.DataFrame) -> float:
    both = flights.dropna(subset=["plane_id"])
    counts = both.groupby("plane_id")["airline_id"].agg(["nunique", "size"])
    return float(counts.loc[counts["size"] >= 2, "nunique"].mean())


# -- text form, parse errors ---------------------------------------------------------------


def test_text_form_round_trips(fleet):
    meta, _ = fleet
    rule = parse_rule(RULE, meta)
    assert isinstance(rule, Determines) and rule.kind == "determines"
    assert str(rule) == RULE and rule.table == "flights"
    assert parse_rule(str(rule), meta) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flights.distance determines flights.plane_id", "not the columns of one foreign key"),
        ("flights.plane_id determines flights.id", "is a key column"),
        ("flights.plane_id determines planes.id", "same table"),
        ("flights.plane_id -> planes.seats determines flights.airline_id", "no ->"),
        ("flights.plane_id determines flights.carrier", "carrier"),
        ("flight.plane_id determines flight.airline_id", "flight"),
        ("flights.plane_id determines", "does not parse"),
    ],
)
def test_bad_rules_are_one_line_errors_naming_the_rule(fleet, text, message):
    meta, _ = fleet
    with pytest.raises(MetadataError, match=message) as info:
        parse_rule(text, meta)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_the_rule_round_trips_through_the_metadata_file(fleet, tmp_path):
    meta, _ = fleet
    with_rule = meta.with_rules(parse_rule(RULE, meta, share=0.998))
    path = tmp_path / "meta.yaml"
    with_rule.save(path)
    assert RULE in path.read_text()
    assert Metadata.load(path).rules == with_rule.rules
    bad = path.read_text().replace("flights.airline_id", "flights.id")
    path.write_text(bad)
    with pytest.raises(MetadataError, match="flights.plane_id determines flights.id"):
        Metadata.load(path)


def test_dropping_a_parent_drops_the_rule(fleet):
    meta, _ = fleet
    with_rule = meta.with_rules(parse_rule(RULE, meta))
    assert with_rule.without_tables("airports").rules == with_rule.rules
    assert with_rule.without_tables("planes").rules == ()
    with_rule.without_tables("planes").validate()


# -- discovery and measurement ---------------------------------------------------------------


def test_discovery_finds_the_rule_and_only_it(fleet):
    meta, tables = fleet
    found = [r for r in discover(meta, tables) if isinstance(r, Determines)]
    assert [str(r) for r in found] == [RULE]
    assert found[0].share == 1.0
    plane = tables["flights"]["plane_id"]
    shared = int(plane.map(plane.value_counts()).ge(2).sum())  # planes of one flight: left out
    assert measure(meta, tables, found[0]) == (1.0, shared)


def test_discovery_skips_chance_and_noise():
    meta = fleet_metadata()
    noisy = fleet_tables(broken=0.3)  # a plane mostly flies for its airline: 0.7 + chance
    assert not [r for r in discover(meta, noisy) if isinstance(r, Determines)]
    constant = fleet_tables()
    constant["flights"]["airline_id"] = 1  # any plane "determines" a constant key
    assert not [r for r in discover(meta, constant) if isinstance(r, Determines)]
    single = fleet_tables(n_flights=80)
    single["flights"]["plane_id"] = pd.array(np.arange(1, 81), dtype="Int64")  # one flight each
    assert not [r for r in discover(meta, single) if isinstance(r, Determines)]


def test_the_share_counts_groups_of_two_rows_or_more():
    meta = fleet_metadata()
    tables = fleet_tables(n_flights=10)
    flights = tables["flights"]
    flights["plane_id"] = pd.array([1, 1, 1, 2, 2, 3, None, 4, 4, 5], dtype="Int64")
    flights["airline_id"] = [1, 1, 2, 3, 3, 5, 6, 2, 2, np.nan]
    share, n = measure(meta, tables, parse_rule(RULE, meta))
    # plane 3 (one flight), the flight without a plane and plane 5 (no airline) are left
    # out; plane 1 keeps its most common airline on 2 of 3 flights, planes 2 and 4 on all
    assert n == 7 and share == pytest.approx(6 / 7)


# -- enforcement -----------------------------------------------------------------------------


def test_one_per_group_keeps_the_dealt_degrees():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 12, 200)
    gid = np.repeat(np.arange(200), sizes)
    gid[rng.random(len(gid)) < 0.05] = -1  # rows without a group: one each
    pidx = rng.integers(-1, 5, len(gid))  # -1: a NULL key
    dealt = np.bincount(pidx + 1, minlength=6)
    totals = np.zeros(6)
    for _ in range(200):
        out = one_per_group(pidx, gid, rng)
        grouped = gid >= 0
        assert (pd.Series(out[grouped]).groupby(gid[grouped]).nunique() == 1).all()
        counts = np.bincount(out + 1, minlength=6)
        assert np.abs(counts - dealt).max() <= 2 * sizes.max()  # the groups at its ends
        totals += counts
    assert np.allclose(totals / 200, dealt, rtol=0.03)  # and on average
    # with rows alone to fill in, every parent keeps its dealt in-degree exactly
    many = np.repeat(np.arange(100), rng.integers(1, 4, 100))
    many = np.concatenate([many, np.full(300, -1)])
    pidx = rng.permutation(np.repeat(np.arange(-1, 5), len(many) // 6 + 1)[: len(many)])
    out = one_per_group(pidx, many, rng)
    assert (np.bincount(out + 1, minlength=6) == np.bincount(pidx + 1, minlength=6)).all()
    # a parent dealt fewer slots than a group has rows: the group moves elsewhere
    big = np.concatenate([np.repeat(np.arange(20), 5), np.full(60, -1)])
    pidx = rng.permutation(np.repeat([0, 1, 2], [2, 78, 80]))
    for _ in range(20):
        out = one_per_group(pidx, big, rng)
        assert (np.bincount(out, minlength=3) == [2, 78, 80]).all()


def test_within_groups_keeps_each_parent_in_one_family():
    from relsynth.keys.dealing import within_groups

    rng = np.random.default_rng(1)
    fam = np.repeat(np.arange(30), rng.integers(5, 60, 30))  # driver families, fixed
    pidx = rng.permutation(np.repeat(np.arange(120), rng.integers(1, 12, 120))[: len(fam)])
    pidx = np.concatenate([pidx, np.full(len(fam) - len(pidx), -1)]).astype(np.int64)
    out = within_groups(pidx, fam, rng)
    assert (np.bincount(out + 1) == np.bincount(pidx + 1)).all()  # in-degrees kept
    families = pd.Series(fam[out >= 0]).groupby(out[out >= 0]).nunique()
    assert (families == 1).mean() >= 0.9  # a few parents split where no way fits


def test_key_generator_keeps_the_rule_and_the_airline_marginal(fleet):
    meta, tables = fleet
    plain = KeyGenerator().fit(meta, tables).sample(scale=1, seed=3)["flights"]
    assert _carriers_per_plane(plain) > 1.5  # dealt independently, before
    ruled = meta.with_rules(parse_rule(RULE, meta))
    gen = KeyGenerator().fit(ruled, tables)
    flights = gen.sample(scale=1, seed=3)["flights"]
    assert _carriers_per_plane(flights) == 1.0
    assert measure(ruled, {**tables, "flights": flights}, ruled.rules[0])[0] == 1.0

    # the airlines' in-degrees (their shares of flights, largest first, averaged over
    # samples) are those of the keys dealt independently: one draw per plane is
    # noisier than one per flight, but not biased
    def shares(generator: KeyGenerator) -> np.ndarray:
        out = np.zeros(7)
        for seed in range(10):
            airline = generator.sample(scale=1, seed=seed)["flights"]["airline_id"]
            top = np.sort(airline.value_counts(normalize=True).to_numpy())[::-1][:7]
            out[: len(top)] += top / 10
        return out

    assert np.abs(shares(gen) - shares(KeyGenerator().fit(meta, tables))).max() < 0.03
    assert flights["plane_id"].isna().mean() == pytest.approx(0.03, abs=0.02)
    skeleton = gen.sample(scale=2, seed=4)
    assert relsynth.check(skeleton.metadata, skeleton.tables).ok
    assert _carriers_per_plane(skeleton["flights"]) == 1.0


def test_a_dropped_rule_is_not_enforced(fleet):
    meta, tables = fleet
    off = meta.with_rules(parse_rule(RULE, meta, enforce=False))
    flights = KeyGenerator().fit(off, tables).sample(scale=1, seed=3)["flights"]
    assert _carriers_per_plane(flights) > 1.5


def test_a_declared_rule_the_source_breaks_stops_the_fit():
    meta = fleet_metadata()
    tables = fleet_tables(broken=0.2)
    declared = meta.with_rules(parse_rule(RULE, meta))
    with pytest.raises(MetadataError, match=r"'flights.plane_id determines .*' holds in only"):
        fit_rules(declared, tables)
    with pytest.raises(MetadataError, match="flights.plane_id determines flights.airline_id"):
        relsynth.Synthesizer(declared, seed=0, steps=5, n_threads=1).fit(tables)


def _fit(meta: Metadata, tables: dict, **params) -> relsynth.Synthesizer:
    params = {"seed": 0, "steps": 20, "n_threads": 1, **params}
    return relsynth.Synthesizer(meta, **params).fit(tables)


def test_synthesizer_keeps_the_discovered_rule(fleet, tmp_path):
    meta, tables = fleet
    synth = _fit(meta, tables, drivers={"flights": ORIGIN})
    assert RULE in {str(r) for r in synth.rules_}
    fake = synth.sample(seed=1)
    relsynth.check(meta, fake).raise_for_violations()
    assert _carriers_per_plane(fake["flights"]) == 1.0
    report = relsynth.evaluate(meta, tables, fake)
    rows = {r["rule"]: r for r in report.rules.to_dict("records")}
    assert rows[RULE]["kind"] == "determines" and rows[RULE]["kept"]
    assert rows[RULE]["real"] == 1.0 and rows[RULE]["synthetic"] == 1.0
    # seeded and conditional sampling and chunks go through the same skeleton
    seeded = synth.sample(parents={"airports": fake["airports"].head(4)}, seed=2)
    assert len(seeded["flights"]) and _carriers_per_plane(seeded["flights"]) == 1.0
    far = synth.sample(scale=0.5, where="flights.distance > 900", seed=3)
    assert len(far["flights"]) and _carriers_per_plane(far["flights"]) == 1.0
    chunks = list(synth.sample_chunks(seed=4, chunk_rows=400))
    assert len(chunks) > 1
    for chunk in chunks:
        assert _carriers_per_plane(chunk["flights"]) == 1.0
    # a saved model keeps the rule (in its metadata) and enforces it once loaded
    synth.save(tmp_path / "fleet.relsynth")
    loaded = relsynth.Synthesizer.load(tmp_path / "fleet.relsynth")
    assert RULE in {str(r) for r in loaded.metadata.rules}
    assert _carriers_per_plane(loaded.sample(seed=5)["flights"]) == 1.0


def test_the_plane_as_driver_keeps_the_rule_through_the_driver(fleet):
    meta, tables = fleet
    # nothing copied: with airports, planes and airlines copied (lookup tables here),
    # their keys are drawn together from the source's combinations, which hold the rule
    synth = _fit(
        meta, tables, drivers={"flights": PLANE}, rules="metadata", copy_reference_tables=False
    )
    synth_ruled = _fit(
        meta.with_rules(parse_rule(RULE, meta)),
        tables,
        drivers={"flights": PLANE},
        rules="metadata",
    )
    assert _carriers_per_plane(synth.sample(seed=1)["flights"]) > 1.5
    assert _carriers_per_plane(synth_ruled.sample(seed=1)["flights"]) == 1.0


def test_the_airline_as_driver_keeps_each_plane_in_one_airline(fleet):
    """The determined key is the driver: the planes are dealt inside the airlines' families."""
    meta, tables = fleet
    ruled = meta.with_rules(parse_rule(RULE, meta))
    synth = _fit(ruled, tables, drivers={"flights": AIRLINE}, rules="metadata")
    fake = synth.sample(seed=1)
    relsynth.check(ruled, fake).raise_for_violations()
    assert measure(ruled, fake, ruled.rules[0])[0] >= 0.97
    assert _carriers_per_plane(fake["flights"]) <= 1.05
    alone = {"rules": "none", "copy_reference_tables": False}  # keys dealt one by one
    plain = _fit(meta, tables, drivers={"flights": AIRLINE}, **alone).sample(seed=1)
    assert _carriers_per_plane(plain["flights"]) > 1.5
    # planes, airports and airlines copied (lookup tables here), no rule: the keys are
    # drawn together from the source's combinations, so a plane keeps its airline too
    joint = _fit(meta, tables, drivers={"flights": AIRLINE}, rules="none").sample(seed=1)
    assert _carriers_per_plane(joint["flights"]) <= 1.05


def test_reflect_lists_and_saves_the_rule(tmp_path, capsys):
    import json

    from relsynth.cli import main

    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    relsynth.write_tables(url, fleet_metadata(), fleet_tables(n_flights=600))
    out_file = tmp_path / "meta.json"
    assert main(["reflect", url, "--rules", "-o", str(out_file)]) == 0
    assert "determines" in capsys.readouterr().out
    saved = {r["rule"]: r for r in json.loads(out_file.read_text())["rules"]}
    assert saved[RULE]["share"] == 1.0
    assert str(relsynth.Metadata.load(out_file).rules[-1]) == RULE


def test_match_within_keeps_each_parent_in_its_group():
    from relsynth.keys.matching import match_within

    rng = np.random.default_rng(5)
    parent = pd.DataFrame({"id": np.arange(1, 41)})
    vectors = rng.normal(size=(40, 2))
    owner = rng.integers(0, 4, 40)  # each plane's airline
    plane = rng.integers(0, 40, 600)
    keys = pd.DataFrame({"plane_id": plane + 1, "airline_id": owner[plane] + 1})
    preferred = vectors[rng.integers(0, 40, 600)] + rng.normal(0, 0.1, (600, 2))
    out = match_within(PLANE, keys, preferred, parent, vectors, rng, ["airline_id"])
    assert (out["airline_id"] == keys["airline_id"]).all()
    assert (out.groupby("plane_id")["airline_id"].nunique() == 1).all()
    assert (
        out["plane_id"]
        .value_counts()
        .sort_index()
        .equals(keys["plane_id"].value_counts().sort_index())
    )

    # the rows moved towards the parents they prefer, within their airline
    def distance(frame: pd.DataFrame) -> float:
        return float(np.linalg.norm(vectors[frame["plane_id"] - 1] - preferred, axis=1).mean())

    assert distance(out) < 0.8 * distance(keys)
