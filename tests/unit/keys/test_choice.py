"""A determined key's parent chosen by the determining key's parent (keys/choice.py).

The fleet of ``tests/unit/rules/test_determines.py``: each plane flies for one
airline, and its seats say which (``100 + 30 * airline + 0..9``). The airline is
drawn once per plane; with the choice, a synthetic plane flies for the airline its
seats point to, as in the source, instead of one dealt by in-degree alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth.keys import KeyGenerator
from relsynth.keys.choice import ParentChoice, fit_choice
from relsynth.keys.dealing import one_per_group
from relsynth.keys.secondary import DegreeKey, secondary_from_dict
from relsynth.rules import measure, parse_rule
from tests.unit.rules.test_determines import ORIGIN, RULE, fleet_metadata, fleet_tables

COPIED = ("airports", "airlines")


@pytest.fixture(scope="module")
def fleet() -> tuple[relsynth.Metadata, dict[str, pd.DataFrame]]:
    return fleet_metadata(), fleet_tables(0, 3000)


def _generator(meta, tables, copied=COPIED) -> KeyGenerator:
    plan = relsynth.plan(meta, {"flights": ORIGIN})
    return KeyGenerator().fit(meta, tables, plan=plan, copied=copied)


def _new_planes(seed: int, n: int = 120) -> tuple[pd.DataFrame, np.ndarray]:
    """Planes the source never had, each with the seats of its airline (1 to 7)."""
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, 7, n)
    planes = pd.DataFrame(
        {"id": np.arange(1, n + 1), "seats": 100 + 30 * owner + rng.integers(0, 10, n)}
    )
    return planes, owner + 1


def _agreement(flights: pd.DataFrame, owner: np.ndarray) -> float:
    """Share of the linked planes flying for the airline their seats say."""
    linked = flights.dropna(subset=["plane_id"]).groupby("plane_id")["airline_id"].first()
    return float((linked.to_numpy() == owner[linked.index.to_numpy(dtype=int) - 1]).mean())


def _choice(gen: KeyGenerator) -> DegreeKey:
    fks = list(gen.metadata_.foreign_keys)
    airline = fks.index(fks[2])
    return next(s for s in gen.states_["flights"].secondary if s.fk == airline)


def test_the_airline_follows_the_plane(fleet):
    meta, tables = fleet
    gen = _generator(meta, tables)
    sec = _choice(gen)
    assert isinstance(sec, DegreeKey) and sec.choice is not None
    assert sec.choice.by == 1  # flights.plane_id
    assert sec.choice.preference.columns == ("seats",)
    planes, owner = _new_planes(5)
    done = {"airports": tables["airports"], "airlines": tables["airlines"], "planes": planes}
    rules = [parse_rule(RULE, meta)]

    def sample(generator: KeyGenerator, seed: int = 3) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return generator.sample_table("flights", done, rng=rng, rules=rules, copied=COPIED)

    flights = sample(gen)
    assert measure(meta, done | {"flights": flights}, parse_rule(RULE, meta))[0] == 1.0
    # 90 source planes: a plane draws among its 8 nearest, the neighbouring airline too
    assert _agreement(flights, owner) > 0.5
    # the airlines' in-degrees are still the drawn ones: about the source's
    share = flights["airline_id"].value_counts(normalize=True).sort_index()
    source = tables["flights"]["airline_id"].value_counts(normalize=True).sort_index()
    assert float(share.sub(source, fill_value=0).abs().sum()) / 2 < 0.12
    # without the choice (a model file written before it): dealt by in-degree alone
    state = gen.states_["flights"]
    blind = [replace(s, choice=None) if isinstance(s, DegreeKey) else s for s in state.secondary]
    old = _generator(meta, tables)
    old.states_["flights"] = replace(state, secondary=tuple(blind))
    assert _agreement(sample(old), owner) < 0.4
    # the same seed gives the same keys, also from a saved and loaded generator
    pd.testing.assert_frame_equal(flights, sample(gen))
    pd.testing.assert_frame_equal(flights, sample(KeyGenerator.from_dict(gen.to_dict())))


def test_no_choice_without_a_copied_parent_or_a_determining_key(fleet):
    meta, tables = fleet
    fks = list(meta.foreign_keys)
    assert fit_choice(meta, fks[2], tables, frozenset()) is None  # airlines not copied
    broken = fleet_tables(0, 3000, broken=0.2)  # a fifth of the flights change airline
    assert fit_choice(meta, fks[2], broken, frozenset(COPIED)) is None
    assert fit_choice(meta, fks[2], tables, frozenset(COPIED)) is not None


def test_the_choice_round_trips_and_old_states_load(fleet):
    meta, tables = fleet
    sec = _choice(_generator(meta, tables))
    data = sec.to_dict()
    back = secondary_from_dict(data)
    assert isinstance(back, DegreeKey) and isinstance(back.choice, ParentChoice)
    assert back.choice.to_dict() == sec.choice.to_dict()  # type: ignore[union-attr]
    data.pop("choice")
    assert secondary_from_dict(data).choice is None  # type: ignore[union-attr]


def test_groups_take_their_preferred_parent_where_room_is_left():
    rng = np.random.default_rng(0)
    n = 600
    pidx = rng.permutation(np.repeat(np.arange(6), [200, 150, 100, 80, 50, 20]))
    gid = rng.integers(0, 150, n)
    gid[rng.random(n) < 0.1] = -1  # rows alone
    per_group = rng.integers(0, 6, 150)
    prefer = np.where(gid >= 0, per_group[np.maximum(gid, 0)], rng.integers(0, 6, n))
    prefer[rng.random(n) < 0.05] = -1  # no preference
    out = one_per_group(pidx, gid, rng, prefer)
    # every parent keeps its in-degree, every group one parent
    np.testing.assert_array_equal(np.bincount(out, minlength=6), np.bincount(pidx, minlength=6))
    frame = pd.DataFrame({"g": gid, "p": out})
    assert frame[frame.g >= 0].groupby("g")["p"].nunique().max() == 1
    # most rows got the parent their group preferred (capacity allowing)
    asked = prefer >= 0
    assert (out[asked] == prefer[asked]).mean() > 0.6
    blind = one_per_group(pidx, gid, np.random.default_rng(0))
    assert (blind[asked] == prefer[asked]).mean() < 0.3


def test_families_move_only_between_parents_that_chose_the_same():
    """``match_families(keep=...)``: a family moves to a parent of the same in-degree
    whose family shares the kept key, so a plane keeps the airline it chose."""
    from relsynth.keys.matching import match_families
    from relsynth.metadata.schema import ForeignKey

    fk = ForeignKey("flights", ("plane_id",), "planes", ("id",))
    planes = pd.DataFrame({"id": np.arange(1, 9)})
    vectors = np.arange(8, dtype=float)[:, None]
    # planes 1-4 fly airline 1, planes 5-8 airline 2; two flights each
    plane = np.repeat(np.arange(1, 9), 2)
    frame = pd.DataFrame({"plane_id": plane, "airline_id": np.where(plane <= 4, 1, 2)})
    # every family prefers the plane mirrored across the fleet (1 <-> 8, 2 <-> 7, ...)
    preferred = (7 - (plane - 1)).astype(float)[:, None]
    rng = np.random.default_rng(0)
    free = match_families(fk, frame, preferred, planes, vectors, rng)
    kept = match_families(fk, frame, preferred, planes, vectors, rng, ["airline_id"])
    owner = {p: 1 if p <= 4 else 2 for p in range(1, 9)}
    for out in (free, kept):  # in-degrees and families kept either way
        assert out["plane_id"].value_counts().eq(2).all()
        assert out.groupby("plane_id")["airline_id"].nunique().eq(1).all()
    assert (free["plane_id"].map(owner) != free["airline_id"]).all()  # moved across
    assert (kept["plane_id"].map(owner) == kept["airline_id"]).all()  # stayed within
