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
from tests.unit.rules.shop import shop_metadata, shop_tables, shop_with_due

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


DECLARED = (
    "payment.customer_id = payment.rental_id -> rental.customer_id",
    "payment.country = payment.rental_id -> rental.customer_id -> customer.country",
    "payment.payment_date >= payment.rental_id -> rental.rental_date",
    "invoice.total = sum(line.price * line.qty)",
)


def test_declared_rules_only(db_url):
    """One declared rule of each kind (the equality through two hops), nothing discovered:
    each is measured on the source, its gap or rounding learned, and kept exactly."""
    meta, tables = _source(db_url)
    declared = meta.with_rules(*(parse_rule(text, meta) for text in DECLARED))
    synth = relsynth.Synthesizer(declared, seed=0, steps=20, n_threads=1, rules="metadata")
    synth.fit(tables)
    assert sorted(str(r) for r in synth.rules_) == sorted(DECLARED)
    fake = synth.sample(seed=2)
    for rule in synth.rules_:
        assert rule.share == 1.0, str(rule)
        assert measure(meta, fake, rule)[0] == 1.0, str(rule)


def test_clone_keeps_several_orders_on_one_column(db_url):
    """A payment between its rental and the rental's due date: both orders hold."""
    meta, tables = shop_with_due(n_customers=60)
    relsynth.write_tables(db_url, meta, tables)
    meta = relsynth.reflect(db_url)
    tables = relsynth.read_tables(db_url, meta)
    synth = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    texts = {str(r) for r in synth.rules_}
    both = (
        "payment.payment_date >= payment.rental_id -> rental.rental_date",
        "payment.payment_date <= payment.rental_id -> rental.due",
    )
    assert set(both) <= texts
    fake = synth.sample(seed=1)
    for text in both:
        assert measure(meta, fake, parse_rule(text, meta))[0] == 1.0, text


def test_a_declared_rule_the_source_breaks_stops_the_fit(sqlite_url):
    meta, tables = _source(sqlite_url)
    bad = meta.with_rules(parse_rule("payment.amount >= payment.rental_id -> rental.rate", meta))
    with pytest.raises(relsynth.MetadataError, match="payment.amount >= payment.rental_id"):
        relsynth.Synthesizer(bad, seed=0, steps=20, n_threads=1).fit(tables)
