"""The rules a fit enforces: discovered ones merged with the metadata's."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from relsynth.errors import MetadataError
from relsynth.metadata._rule import Aggregate, DeterminedValue, Order, Rule
from relsynth.metadata.schema import Metadata
from relsynth.rules._gaps import summarise
from relsynth.rules._measure import as_numbers, decimals, gap, measure
from relsynth.rules.discover import _family, discover

__all__ = ["fit_rules"]


def fit_rules(
    meta: Metadata,
    tables: Mapping[str, pd.DataFrame],
    threshold: float = 0.99,
    *,
    find: bool = True,
    seed: int = 0,
    copied: Collection[str] | None = None,
    min_count: int = 2,
) -> tuple[Rule, ...]:
    """The rules a fit enforces: discovered ones merged with the metadata's.

    A rule in ``meta.rules`` wins over a discovered rule of the same text; with
    ``enforce=False`` it drops it. Declared rules (no ``share``) are measured on the
    source and must hold in at least ``threshold`` of the rows they apply to.

    ``copied`` and ``min_count`` are :func:`~relsynth.rules.discover`'s (keys to copied
    parents that determine a value column, and the rows a combination's value needs).

    Raises
    ------
    MetadataError
        One line naming a declared rule that the source breaks.
    """
    declared = {str(r): r for r in meta.rules}
    found = (
        discover(meta, tables, threshold, seed=seed, copied=copied, min_count=min_count)
        if find
        else ()
    )
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
        learned = _learned(meta, tables, replace(rule, share=round(share, 6)))
        if isinstance(learned, DeterminedValue) and not learned.values:
            from relsynth.rules._values import value_map

            frame, keys = tables[learned.table], learned.keys.target[1]
            values = value_map(frame, keys, learned.column.target[1][0], min_count)
            learned = replace(learned, values=values)
        out.append(learned)
    return tuple(out)


def _learned(meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Rule) -> Rule:
    """Fill what a declared rule lacks: an order's gap, an aggregate's rounding."""
    if isinstance(rule, Order) and not rule.gap:
        diff, anchor = gap(meta, tables, rule)
        if np.isfinite(diff).any():
            values = tables[rule.table][rule.column.target[1][0]]
            return replace(rule, **summarise(diff, anchor, _family(values)))
    if isinstance(rule, Aggregate) and rule.decimals is None:
        numbers = as_numbers(tables[rule.parent][rule.column])
        if numbers is not None:
            return replace(rule, decimals=decimals(numbers))
    return rule
