"""Rules under differential privacy: the text kept, what was measured on the source dropped.

A metadata file written by ``relsynth reflect --rules`` (or edited from one) carries, per
rule, numbers computed on the data without noise: the share of rows where it holds, an
order rule's gap quantiles (whose ends are single rows' gaps), an aggregate's
rounding and the value each key combination of a ``keys determine a value`` rule holds.
Under DP a model keeps only the rules' text, a statement about the schema
(docs/privacy.md); rule discovery itself is off under DP.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relsynth.metadata import Metadata
    from relsynth.rules import Rule

__all__ = ["public_metadata", "public_rule", "public_rules"]

logger = logging.getLogger(__name__)


def public_rule(rule: Rule) -> Rule:
    """``rule`` without what was measured on the source: its ``share``, an order's gap
    quantiles (whose ends are single rows' gaps), an aggregate's rounding and a
    :class:`~relsynth.metadata._rule.DeterminedValue`'s value per key combination (the
    rule, then without values, gives the rows of one combination one drawn value).

    An order rule without its gap is not enforced
    (:func:`relsynth.rules.enforce.column_rules`), as a declared order rule under DP
    never was.
    """
    from relsynth.metadata._rule import DeterminedValue
    from relsynth.rules import Aggregate, Order

    out = replace(rule, share=None)
    if isinstance(out, Order):
        out = replace(out, gap=(), step=0.0, span=(), anchors=(), by_anchor=())
    if isinstance(out, Aggregate):
        out = replace(out, decimals=None)
    if isinstance(out, DeterminedValue):
        out = replace(out, values=())
    return out


def public_rules(meta: Metadata) -> tuple[Rule, ...]:
    """The metadata's enforced rules as a DP fit keeps them (:func:`public_rule`); a
    rule that carried measured numbers is logged."""
    from relsynth.rules import rule_to_dict

    out = []
    for rule in meta.rules:
        if not rule.enforce:
            continue
        kept = public_rule(rule)
        if rule_to_dict(kept) != rule_to_dict(rule):
            logger.info(
                "differential privacy: rule %s keeps its text only (its share, gap or rounding "
                "were measured on the source without noise)",
                rule,
            )
        out.append(kept)
    return tuple(out)


def public_metadata(meta: Metadata) -> Metadata:
    """``meta`` with every rule as :func:`public_rule` keeps it (the key generator and
    the model file keep their metadata)."""
    return meta.with_rules(*(public_rule(r) for r in meta.rules))
