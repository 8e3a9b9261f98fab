"""Rules as data: their dict form (the metadata file) and the rules a fit enforces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import MetadataError
from relsynth.metadata.schema import Metadata
from relsynth.rules._measure import as_numbers, decimals, gap, measure
from relsynth.rules._parse import parse_rule
from relsynth.rules._rule import Aggregate, Order, Rule
from relsynth.rules.discover import _gap_summary, discover

__all__ = ["fit_rules", "rule_from_dict", "rule_to_dict"]


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """``{"rule": text, "share": ..., ...}``: the text form plus what was learned."""
    out: dict[str, Any] = {"rule": str(rule)}
    if rule.share is not None:
        out["share"] = rule.share
    if not rule.enforce:
        out["enforce"] = False
    if isinstance(rule, Order) and rule.gap:
        out["gap"] = {"quantiles": list(rule.gap), "step": rule.step}
    if isinstance(rule, Aggregate) and rule.decimals is not None:
        out["decimals"] = rule.decimals
    return out


def rule_from_dict(data: Mapping[str, Any] | str, meta: Metadata) -> Rule:
    """Inverse of :func:`rule_to_dict` (a bare string is a declared rule)."""
    if isinstance(data, str):
        return parse_rule(data, meta)
    rule = parse_rule(
        data["rule"], meta, share=data.get("share"), enforce=data.get("enforce", True)
    )
    if isinstance(rule, Order) and "gap" in data:
        rule = replace(
            rule,
            gap=tuple(float(q) for q in data["gap"]["quantiles"]),
            step=float(data["gap"].get("step", 0.0)),
        )
    if isinstance(rule, Aggregate) and data.get("decimals") is not None:
        rule = replace(rule, decimals=int(data["decimals"]))
    return rule


def fit_rules(
    meta: Metadata,
    tables: Mapping[str, pd.DataFrame],
    threshold: float = 0.99,
    *,
    find: bool = True,
    seed: int = 0,
) -> tuple[Rule, ...]:
    """The rules a fit enforces: discovered ones merged with the metadata's.

    A rule in ``meta.rules`` wins over a discovered rule of the same text; with
    ``enforce=False`` it drops it. Declared rules (no ``share``) are measured on the
    source and must hold in at least ``threshold`` of the rows they apply to.

    Raises
    ------
    MetadataError
        One line naming a declared rule that the source breaks.
    """
    declared = {str(r): r for r in meta.rules}
    found = discover(meta, tables, threshold, seed=seed) if find else ()
    out: list[Rule] = []
    for rule in found:
        if str(rule) not in declared:
            out.append(rule)
    for text, rule in declared.items():
        if not rule.enforce:
            continue
        share, n = measure(meta, tables, rule)
        if rule.share is None and not (n and share >= threshold):
            where = f"{n} source rows of {rule.table!r}"
            held = "applies to none" if not n else f"holds in only {share:.1%}"
            raise MetadataError(
                f"Rule {text!r} {held} of the {where}; fix the rule or the data, or remove it."
            )
        out.append(_learned(meta, tables, replace(rule, share=round(share, 6))))
    return tuple(out)


def _learned(meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Rule) -> Rule:
    """Fill what a declared rule lacks: an order's gap, an aggregate's rounding."""
    if isinstance(rule, Order) and not rule.gap:
        diff = gap(meta, tables, rule)
        if np.isfinite(diff).any():
            values = tables[rule.table][rule.column.target[1][0]]
            qs, step = _gap_summary(diff, pd.api.types.is_datetime64_any_dtype(values.dtype))
            return replace(rule, gap=qs, step=step)
    if isinstance(rule, Aggregate) and rule.decimals is None:
        numbers = as_numbers(tables[rule.parent][rule.column])
        if numbers is not None:
            return replace(rule, decimals=decimals(numbers))
    return rule
