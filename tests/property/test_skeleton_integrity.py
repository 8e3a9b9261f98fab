"""Property tests: every sampled skeleton passes integrity, for every schema, seed and scale."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relsynth import check
from relsynth.keys import KeyGenerator
from relsynth.keys._frames import locate as _locate
from tests.strategies_keys import key_schemas

SCALES = st.one_of(st.sampled_from([0.01, 0.5, 1.0, 10.0]), st.floats(0.01, 10.0))
SETTINGS = settings(
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _acyclic(frame, fk) -> bool:
    parent = _locate(frame, fk.columns, frame, fk.parent_columns)
    node = np.arange(len(frame))
    for _ in range(len(frame) + 1):
        node = np.where(node >= 0, parent[np.maximum(node, 0)], -1)
        if (node < 0).all():
            return True
    return False


@SETTINGS
@given(schema=key_schemas(), seed=st.integers(0, 2**31 - 1), scale=SCALES)
def test_skeleton_passes_integrity(schema, seed, scale):
    # Setup
    gen = KeyGenerator().fit(schema.metadata, schema.tables)
    # Run
    skeleton = gen.sample(scale, seed=seed)
    # Assert
    report = check(skeleton.metadata, skeleton.tables)
    assert report.ok, f"{schema}\n{report}"
    for table in gen.plan_.roots:
        expected = round(len(schema.tables[table]) * scale)
        if gen._needs_rows[table] and expected == 0:
            assert len(skeleton[table]) <= 1
        else:
            assert len(skeleton[table]) == expected, table
    for fk in gen.plan_.self_references:
        assert _acyclic(skeleton[fk.child], fk), fk.label
    for name, table in schema.metadata.tables.items():
        pk = list(table.primary_key)
        if pk:
            assert not skeleton[name].duplicated(pk).any(), name
    assert list(skeleton) == list(schema.metadata.tables)


@SETTINGS
@given(schema=key_schemas(), seed=st.integers(0, 2**31 - 1), scale=SCALES)
def test_to_dict_round_trip_gives_the_same_skeleton(schema, seed, scale):
    # Setup
    gen = KeyGenerator().fit(schema.metadata, schema.tables)
    # Run
    state = json.loads(json.dumps(gen.to_dict()))
    again = KeyGenerator.from_dict(state)
    # Assert
    assert again.sample(scale, seed=seed).equals(gen.sample(scale, seed=seed))
