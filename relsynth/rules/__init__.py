"""Cross-table rules: what holds across tables, found, stored, enforced and scored.

Pure (no torch, no SQLAlchemy). Six kinds (see :mod:`relsynth.metadata._rule`):
path agreement, equality, order (with the gap's quantiles), aggregates, a key
that determines another key, and keys that determine a value column, each
with the share of source rows where it holds and a readable text form that
:func:`parse_rule` reads back::

    payment.customer_id = payment.rental_id -> rental.customer_id
    orders.ship_country = orders.customer_id -> customers.country
    payment.payment_date >= payment.rental_id -> rental.rental_date
    invoice.total = sum(invoice_line.unit_price * invoice_line.quantity)
    flights.tailnum determines flights.carrier
    flights.(origin, dest) determines flights.distance

:func:`discover` finds them at fit, :func:`fit_rules` merges them with the rules
declared in the metadata, and :mod:`relsynth.rules.enforce` makes them hold in a
synthetic database (a key that determines another: :mod:`relsynth.keys`).
"""

from __future__ import annotations

from relsynth.metadata._rule import (
    AGGREGATE_FUNCTIONS,
    GAP_PROBS,
    Aggregate,
    DeterminedValue,
    Determines,
    Equality,
    Order,
    PathAgreement,
    Ref,
    Rule,
)
from relsynth.metadata._rule_parse import parse_rule, rule_from_dict, rule_problems, rule_to_dict
from relsynth.rules._fit import fit_rules
from relsynth.rules._measure import measure
from relsynth.rules.discover import discover

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "GAP_PROBS",
    "Aggregate",
    "Determines",
    "DeterminedValue",
    "Equality",
    "Order",
    "PathAgreement",
    "Ref",
    "Rule",
    "discover",
    "fit_rules",
    "measure",
    "parse_rule",
    "rule_from_dict",
    "rule_problems",
    "rule_to_dict",
]
