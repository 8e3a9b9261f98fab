"""A key that determines another survives a clone into every dialect (SQLite,
PostgreSQL, MariaDB): the fleet of ``tests/unit/rules/test_determines.py`` written,
reflected, read, fitted for a few steps, sampled and written back."""

from __future__ import annotations

import relsynth
from relsynth.rules import measure, parse_rule
from tests.unit.rules.test_determines import RULE, fleet_metadata, fleet_tables


def test_clone_keeps_the_rule_in_every_dialect(db_url, tmp_path):
    relsynth.write_tables(db_url, fleet_metadata(), fleet_tables(n_flights=600))
    meta = relsynth.reflect(db_url)
    tables = relsynth.read_tables(db_url, meta)
    origin = next(fk for fk in meta.parents("flights") if fk.columns == ("origin_id",))
    synth = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1, drivers={"flights": origin})
    synth.fit(tables)
    assert RULE in {str(r) for r in synth.rules_}
    fake = synth.sample(seed=1)
    relsynth.check(meta, fake).raise_for_violations()
    assert measure(meta, fake, parse_rule(RULE, meta))[0] == 1.0
    target = f"sqlite:///{tmp_path / 'clone.db'}"
    relsynth.write_tables(target, meta, fake)
    written = relsynth.read_tables(target, meta)
    assert measure(meta, written, parse_rule(RULE, meta))[0] == 1.0
