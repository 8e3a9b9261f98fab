"""The typed per-table state reads and writes the ``relsynth.keys/1`` JSON of older files.

``data/keys_state_8ff1fd4.json`` was written by the key generator before its state
was typed (one dict per table with string modes), on :func:`state_case` (every
kind of key: driver with parent features, implied and degree secondary keys,
junction and one-to-one caps, unique/group/local key values, a self-reference, a
deferred key), with the hash of the skeleton it sampled.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from _state_case import state_case

from relsynth import check
from relsynth.keys import KeyGenerator
from relsynth.keys.columns import GroupValues, LocalValues, UniqueValues
from relsynth.keys.secondary import DegreeKey, ImpliedKey
from relsynth.keys.state import TableKeys

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "keys_state_8ff1fd4.json").read_text(encoding="utf-8")
)


def _hashes(skeleton) -> dict[str, str]:
    return {
        t: hashlib.sha256(f.to_csv(index=False).encode()).hexdigest()
        for t, f in skeleton.tables.items()
    }


def test_an_old_state_loads_and_samples_the_same_skeleton():
    gen = KeyGenerator.from_dict(REFERENCE["state"])
    assert all(isinstance(s, TableKeys) for s in gen.states_.values())
    skeleton = gen.sample(1.5, seed=11)
    assert check(skeleton.metadata, skeleton.tables).ok
    assert _hashes(skeleton) == REFERENCE["skeleton_sha256"]
    # and writes it back unchanged
    assert json.loads(json.dumps(gen.to_dict(), sort_keys=True)) == REFERENCE["state"]


def test_a_new_fit_writes_the_old_json_and_samples_the_same():
    meta, tables = state_case()
    gen = KeyGenerator().fit(meta, tables)
    states = gen.states_
    assert isinstance(states["orders"].secondary[0], ImpliedKey)
    assert isinstance(states["line"].secondary[0], DegreeKey)
    assert states["line"].unique_within == {7: ("order_id",)}
    assert states["profile"].cap_one == (8,)
    assert isinstance(states["route"].values["route_id"], GroupValues)
    assert isinstance(states["route"].values["seq"], LocalValues)
    assert isinstance(states["product"].values["code"], UniqueValues)
    assert [f.fk for f in states["staff"].forests] == [3]
    assert list(states["shop"].deferred) == [1]
    written = json.loads(json.dumps(gen.to_dict(), sort_keys=True))
    # What is new: an implied key also keeps its degrees (for rows with a NULL driver).
    assert "degree" in written["tables"]["orders"]["secondary"][0]
    del written["tables"]["orders"]["secondary"][0]["degree"]
    # And a degree key whose parent has value columns ranks its parents by them
    # (SecondaryRanking); sampled without values (below) it changes nothing.
    ranked = {
        (table, sec["fk"])
        for table, state in written["tables"].items()
        for sec in state["secondary"]
        if sec.pop("ranking", None) is not None
    }
    assert all(gen.metadata_.foreign_keys[fk].child == t for t, fk in ranked)
    for table in {gen.metadata_.foreign_keys[fk].parent for _, fk in ranked}:
        if table not in REFERENCE["state"]["features"]:
            del written["features"][table]
    assert written == REFERENCE["state"]
    assert _hashes(gen.sample(1.5, seed=11)) == REFERENCE["skeleton_sha256"]
