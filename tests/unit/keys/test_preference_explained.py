"""A secondary key matched on the parent columns its child explains (keys/preference.py,
``explained_features``): a plane has many columns and a flight's distance follows one
of them (its seats), too little of the whole plane for the preference on the whole
feature vector; the preference on the explained column matches flights back to
planes of their size, each plane keeps its in-degree, and a plane keeps flying for
one airline (``plane_id determines airline_id``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.keys import KeyGenerator
from relsynth.keys._frames import locate
from relsynth.keys.features import ParentFeatures
from relsynth.keys.preference import MIN_SHARE, ValuePreference, fit_preference
from relsynth.rules import parse_rule

ORIGIN = ForeignKey("flights", ("origin_id",), "airports", ("id",))
PLANE = ForeignKey("flights", ("plane_id",), "planes", ("id",))
AIRLINE = ForeignKey("flights", ("airline_id",), "airlines", ("id",))
RULE = "flights.plane_id determines flights.airline_id"


def _fleet(n_flights: int = 4000) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """airports (driver), planes, airlines <- flights; a plane's seats, year, engines,
    speed and type vary independently, an airline's planes are of its size; a flight's
    distance follows its plane's seats."""
    rng = np.random.default_rng(1)
    num = lambda name: Column(name, "numerical")  # noqa: E731
    meta = Metadata(
        tables={
            "airports": Table("airports", (Column("id", "id"), num("lon")), primary_key=("id",)),
            "airlines": Table("airlines", (Column("id", "id"), num("fleet")), primary_key=("id",)),
            "planes": Table("planes", (Column("id", "id"), num("seats"), num("year"),
                                       num("engines"), num("speed"),
                                       Column("type", "categorical")), primary_key=("id",)),
            "flights": Table("flights", (Column("id", "id"), Column("origin_id", "id"),
                                         Column("plane_id", "id"), Column("airline_id", "id"),
                                         num("distance")), primary_key=("id",)),
        },
        foreign_keys=(ORIGIN, PLANE, AIRLINE),
    )  # fmt: skip
    n_planes, n_airlines = 150, 5
    owner = rng.integers(0, n_airlines, n_planes)
    seats = (60 + 45 * owner + rng.uniform(0, 60, n_planes)).round()  # fleets differ
    planes = pd.DataFrame({
        "id": np.arange(n_planes), "seats": seats, "year": rng.integers(1980, 2013, n_planes),
        "engines": rng.normal(2, 0.5, n_planes), "speed": rng.normal(400, 60, n_planes),
        "type": rng.choice(["a", "b", "c"], n_planes),
    })  # fmt: skip
    busy = rng.gamma(1.0, 1.0, n_planes)
    plane = rng.choice(n_planes, n_flights, p=busy / busy.sum())
    flights = pd.DataFrame({
        "id": np.arange(n_flights), "origin_id": rng.integers(0, 10, n_flights),
        "plane_id": plane, "airline_id": owner[plane],
        "distance": 8.0 * seats[plane] + rng.normal(0, 150, n_flights),
    })  # fmt: skip
    tables = {
        "airports": pd.DataFrame({"id": np.arange(10), "lon": rng.normal(-90, 10, 10)}),
        "airlines": pd.DataFrame({"id": np.arange(n_airlines), "fleet": np.arange(5.0)}),
        "planes": planes,
        "flights": flights,
    }
    return meta.with_rules(parse_rule(RULE, meta)), tables


def _seats(flights: pd.DataFrame, planes: pd.DataFrame) -> np.ndarray:
    return planes["seats"].to_numpy()[locate(flights, ["plane_id"], planes, ["id"])]


def test_the_preference_targets_the_parent_column_the_child_explains():
    meta, tables = _fleet()
    pf = ParentFeatures().fit(tables["planes"], ["seats", "year", "engines", "speed", "type"])
    flights, planes = tables["flights"], tables["planes"]
    whole = fit_preference(PLANE, flights[["plane_id", "distance"]], ["distance"], planes, pf)
    assert whole is not None and whole.features is not None
    assert whole.features.columns_ == ["seats"] and whole.columns == ("distance",)
    # the whole plane is explained too little (the first step finds nothing)
    vectors = pf.transform(planes)[flights["plane_id"].to_numpy()]
    from relsynth.keys.preference import _fit_encoder

    enc = _fit_encoder(flights["distance"], vectors)
    assert enc is not None and enc["share"] < MIN_SHARE
    # the state is plain JSON and reads back
    again = ValuePreference.from_dict(json.loads(json.dumps(whole.to_dict())))
    assert again.features is not None and again.features.columns_ == ["seats"]
    np.testing.assert_array_equal(again.targets, whole.targets)
    # a file from before (no "features") still reads: the parent table's features
    old = {k: v for k, v in whole.to_dict().items() if k != "features"}
    assert ValuePreference.from_dict(old).features is None


def _match(gen: KeyGenerator, frame, done, families: bool) -> pd.DataFrame:
    return gen.match_values("flights", frame, done, rng=np.random.default_rng(4),
                            families=families)  # fmt: skip


def test_flights_are_matched_back_to_planes_of_their_size_within_their_airline():
    meta, tables = _fleet()
    gen = KeyGenerator().fit(meta, tables)
    sec = {s.fk: s for s in gen.states_["flights"].secondary}[1]
    assert sec.preference is not None and sec.preference.features is not None
    restored = KeyGenerator.from_dict(json.loads(json.dumps(gen.to_dict())))
    rng = np.random.default_rng(3)
    done = {t: tables[t] for t in ("airports", "airlines", "planes")}
    keys = gen.sample_table("flights", done, rng=rng)
    assert (keys.groupby("plane_id")["airline_id"].nunique() == 1).all()
    # the values as a model that reads the airline but not the plane would draw them:
    # the distances of the airline's flights, in random order
    source = tables["flights"]
    distance = np.zeros(len(keys))
    for airline, rows in keys.groupby("airline_id").indices.items():
        pool = source.loc[source["airline_id"] == airline, "distance"].to_numpy()
        distance[rows] = rng.choice(pool, len(rows))
    frame = keys.assign(distance=distance)
    planes = tables["planes"]
    before = np.corrcoef(frame["distance"], _seats(frame, planes))[0, 1]
    real = np.corrcoef(tables["flights"]["distance"], _seats(tables["flights"], planes))[0, 1]
    corr = {}
    for families in (False, True):
        matched = _match(gen, frame, done, families)
        pd.testing.assert_frame_equal(matched, _match(restored, frame, done, families))
        corr[families] = np.corrcoef(matched["distance"], _seats(matched, planes))[0, 1]
        # in-degrees kept, each plane still in one airline, the airlines' rows untouched
        assert (
            matched["plane_id"]
            .value_counts()
            .sort_index()
            .equals(frame["plane_id"].value_counts().sort_index())
        )
        assert (matched.groupby("plane_id")["airline_id"].nunique() == 1).all()
        pd.testing.assert_series_equal(matched["airline_id"], frame["airline_id"])
    # within its airline a flight finds a plane of its size; moving whole families
    # (a plane's flights, to a plane of the same in-degree) lets the airline's planes
    # follow its flights too
    assert before < 0.8 * corr[False] and corr[True] > corr[False] + 0.1, (before, corr, real)


def test_families_move_whole_between_parents_of_one_in_degree():
    from relsynth.keys.matching import match_families

    rng = np.random.default_rng(5)
    parent = pd.DataFrame({"id": np.arange(1, 61)})
    vectors = rng.normal(size=(60, 1))
    degree = rng.integers(1, 4, 60)
    plane = np.repeat(np.arange(60), degree)
    keys = pd.DataFrame({"plane_id": plane + 1, "airline_id": rng.integers(1, 5, 60)[plane]})
    # each family prefers another parent of its in-degree
    target = np.empty(60)
    for d in (1, 2, 3):
        members = np.flatnonzero(degree == d)
        target[members] = vectors[rng.permutation(members), 0]
    preferred = target[plane][:, None] + rng.normal(0, 0.01, (len(plane), 1))
    out = match_families(PLANE, keys, preferred, parent, vectors, rng)
    new = out["plane_id"].to_numpy() - 1
    assert (out.groupby("plane_id")["airline_id"].nunique() == 1).all()
    np.testing.assert_array_equal(np.bincount(new, minlength=60), degree)
    found = np.abs(vectors[new, 0] - target[plane]) < 1e-9  # its preferred parent
    assert found.mean() > 0.9
    assert (new != plane).mean() > 0.5


def test_a_key_to_a_copied_parent_may_explain_the_parent():
    meta, tables = _fleet()
    plain = KeyGenerator().fit(meta, tables)
    copied = KeyGenerator().fit(meta, tables, copied=["airlines"])
    (before,) = [s.preference for s in plain.states_["flights"].secondary if s.fk == 1]
    (after,) = [s.preference for s in copied.states_["flights"].secondary if s.fk == 1]
    assert before is not None and "airline_id" not in before.columns
    # an airline's planes are of its size: its key (the source's own values) says so
    assert after is not None and "airline_id" in after.columns
    assert "plane_id" not in after.columns and "origin_id" not in after.columns
