"""The columns whose synthetic values are mostly new ones, left out of children's contexts.

A child's model is conditioned on its parent's values (:mod:`relsynth.synthesis._context`):
at fit on the real parent, at sampling on the synthetic one. For most columns the two
mean the same: a synthetic order's ``ShipCountry`` is a real country. Not for a column
whose synthetic values are mostly new ones:

* a learned category most of whose rows hold a value held by fewer than
  ``min_category_count`` rows of its table: those values are withheld and replaced by
  generated ones (:mod:`relsynth.models._rare`);
* a column an equality rule copies, on most of its rows, from a personal or free-text
  column (always generated) or from a column of this list: Northwind's
  ``Orders.ShipName`` is its customer's ``CompanyName``, which no two customers share.

At fit each of Northwind's 89 ship names told the model of the order lines which
customer an order is for; at sampling none of the names was one it had seen, and every
synthetic order looked to it like the few orders behind the encoder's *withheld* level
(quantities 30 % too low). Such a column is marked ``generated`` in its table's layout,
and children's contexts leave it out: what it carried at fit is, at sampling, in the
parent's other columns or nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from relsynth._columns import TableLayout
from relsynth.metadata._rule import Equality

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["MIN_GENERATED_SHARE", "with_generated"]

#: A column is generated when at least this share of its (non-NULL) rows get new values.
MIN_GENERATED_SHARE = 0.5


def with_generated(
    synth: Synthesizer, source: Mapping[str, pd.DataFrame], layouts: Mapping[str, TableLayout]
) -> dict[str, TableLayout]:
    """``layouts`` with each table's ``generated`` columns (see the module docstring)."""
    from relsynth.synthesis._copied import is_copied

    k = synth.min_category_count
    copied = {n for n in layouts if is_copied(synth, n)}
    generated: dict[str, set[str]] = {n: set() for n in layouts}
    for name, layout in layouts.items():
        if name in copied:
            continue
        for col in layout.learned:
            if layout.kinds.get(col) == "categorical" and _withheld_share(source[name][col], k):
                generated[name].add(col)
    copies = [
        r
        for r in getattr(synth, "rules_", ())
        if isinstance(r, Equality) and r.enforce and (r.share or 0.0) >= MIN_GENERATED_SHARE
    ]
    changed = True
    while changed:  # a copy of a copy: until nothing more is marked
        changed = False
        for rule in copies:
            name, (col,) = rule.column.target
            anchor, (of,) = rule.anchor.target
            layout, origin = layouts.get(name), layouts.get(anchor)
            if layout is None or origin is None or name in copied or anchor in copied:
                continue
            new = of in origin.text or of in generated[anchor]
            if new and col in layout.learned and col not in generated[name]:
                generated[name].add(col)
                changed = True
    return {
        n: replace(layout, generated=tuple(c for c in layout.learned if c in generated[n]))
        for n, layout in layouts.items()
    }


def _withheld_share(values: pd.Series, k: int) -> bool:
    """Whether at least :data:`MIN_GENERATED_SHARE` of the set rows hold a value that
    fewer than ``k`` rows hold (the encoders withhold those)."""
    if k <= 1:
        return False
    counts = values.dropna().astype(object).value_counts()
    total = int(counts.sum())
    return total > 0 and counts[counts < k].sum() >= MIN_GENERATED_SHARE * total
