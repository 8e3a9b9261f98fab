"""Property tests: discovery never fails on a schema's shapes, and what it finds is sound."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from relsynth import check
from relsynth.metadata.graph import plan
from relsynth.rules import PathAgreement, discover, measure, parse_rule
from relsynth.rules.enforce import match_paths
from tests.strategies_keys import key_schemas

SETTINGS = settings(
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(key_schemas())
def test_discovered_rules_parse_back_and_hold_as_measured(schema):
    meta, frames = schema.metadata, schema.tables
    for rule in discover(meta, frames):
        assert parse_rule(str(rule), meta, share=rule.share) == rule
        share, n = measure(meta, frames, rule)
        assert n > 0 and abs(share - rule.share) < 1e-6


@SETTINGS
@given(key_schemas())
def test_matching_paths_keeps_integrity(schema):
    meta, frames = schema.metadata, schema.tables
    the_plan = plan(meta)
    rules = [r for r in discover(meta, frames) if isinstance(r, PathAgreement)]
    rng = np.random.default_rng(0)
    for rule in rules:
        name = rule.table
        table = meta.table(name)
        protected = {*table.primary_key, *(c for u in table.unique for c in u)}
        for fk in meta.parents(name):
            if fk.is_self_reference or the_plan.is_deferred(fk):
                protected.update(fk.columns)
        # shuffle the secondary keys, then match them again
        shuffled = frames[name].iloc[rng.permutation(len(frames[name]))].reset_index(drop=True)
        keys = frames[name].copy()
        driver = the_plan.driver.get(name)
        for fk in meta.parents(name):
            if fk is not driver and not set(fk.columns) & protected:
                keys[list(fk.columns)] = shuffled[list(fk.columns)].to_numpy()
        fixed = match_paths(meta, [rule], name, keys, frames, rng, driver=driver,
                            protected=protected)  # fmt: skip
        out = {**frames, name: fixed}
        if not check(meta, {**frames, name: keys}).ok:
            continue  # the shuffle itself broke a composite key: nothing to compare
        assert check(meta, out).ok
