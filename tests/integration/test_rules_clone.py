"""A synthetic clone keeps the source's cross-table rules, in every dialect.

The hand-built shop (``tests/unit/rules/shop.py``) holds one rule of each kind in
every row: a payment's customer is its rental's customer (path agreement), its
country is its customer's (equality), it is paid on or after its rental and a
rental after its customer joined (orders), an invoice's total is the sum of its
lines' price x quantity and its line count their number (aggregates). The shop is
written to the database, reflected, read, fitted for one epoch and sampled.
"""

from __future__ import annotations

import pytest

import relsynth
from relsynth.rules import measure, parse_rule
from tests.unit.rules.shop import shop_metadata, shop_tables

EXPECTED = {
    "payment.customer_id = payment.rental_id -> rental.customer_id",
    "payment.country = payment.customer_id -> customer.country",
    "payment.payment_date >= payment.rental_id -> rental.rental_date",
    "rental.rental_date >= rental.customer_id -> customer.joined",
    "invoice.total = sum(line.price * line.qty)",
    "invoice.n_lines = count(line)",
}


def _source(url: str) -> tuple[relsynth.Metadata, dict]:
    relsynth.write_tables(url, shop_metadata(), shop_tables(n_customers=60))
    meta = relsynth.reflect(url)
    return meta, relsynth.read_tables(url, meta)


def test_clone_keeps_every_exact_rule(db_url, tmp_path):
    meta, tables = _source(db_url)
    synth = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    found = {str(r): r for r in synth.rules_}
    assert EXPECTED <= set(found)
    fake = synth.sample(seed=1)
    relsynth.check(meta, fake).raise_for_violations()
    for text, rule in found.items():
        real, _ = measure(meta, tables, rule)
        share, n = measure(meta, fake, rule)
        assert n > 0, text
        if real >= 0.99:
            assert share >= 0.99, (text, share)
        else:
            assert abs(share - real) <= 0.05, (text, real, share)
    target = tmp_path / "clone.db"
    relsynth.write_tables(f"sqlite:///{target}", meta, fake)


def test_declared_rules_only(sqlite_url):
    meta, tables = _source(sqlite_url)
    text = "invoice.total = sum(line.price * line.qty)"
    declared = meta.with_rules(parse_rule(text, meta))
    synth = relsynth.Synthesizer(declared, seed=0, steps=20, n_threads=1, rules="metadata")
    synth.fit(tables)
    assert [str(r) for r in synth.rules_] == [text]
    fake = synth.sample(seed=2)
    assert measure(meta, fake, synth.rules_[0])[0] == 1.0


def test_a_declared_rule_the_source_breaks_stops_the_fit(sqlite_url):
    meta, tables = _source(sqlite_url)
    bad = meta.with_rules(parse_rule("payment.amount >= payment.rental_id -> rental.rate", meta))
    with pytest.raises(relsynth.MetadataError, match="payment.amount >= payment.rental_id"):
        relsynth.Synthesizer(bad, seed=0, steps=20, n_threads=1).fit(tables)
