"""One foreign key of a table determines another: found, and measured.

``flights.tailnum determines flights.carrier``: the flights of one plane fly for one
airline. Two keys of one table (a functional dependency between them), where the
first key's parent does not hold the second (then it is a path agreement: the
parent's own key to that table, ``payment.customer_id = payment.rental_id ->
rental.customer_id``). An order line's product and its supplier, a trip's block and
its route, an account's branch and its region are the same shape.

The share (:func:`determines_holds`) is over the rows whose determining key is set
and shared with at least one other row that has the determined key set: the share
of them whose determined key is the one most common among their group's rows. A
group of one row tells nothing, so it is left out. Discovery
(:func:`discover_determines`) keeps a rule when the share is at least the
threshold, it beats chance by 0.1 (the determined keys shuffled among the rows:
a constant key, or groups that are nearly all single rows, agree by chance), and at
least ``MIN_GROUPS`` groups of two rows or more back it. The key generator enforces
it (:mod:`relsynth.keys.secondary`: the determined key drawn once per parent of the
determining key).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from relsynth.metadata._rule import Determines, Ref
from relsynth.metadata._rule_parse import determines_keys
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["MIN_GROUPS", "determines_holds", "discover_determines"]

#: Groups of two rows or more (rows sharing the determining key's parent) a
#: discovered rule needs.
MIN_GROUPS = 10
_LIFT = 0.1


def _codes(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """A dense code per row for the values of ``columns`` (-1 where one is NULL)."""
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    codes = frame.groupby(list(columns), sort=False, dropna=True).ngroup()
    return codes.to_numpy(dtype="float64", na_value=-1.0).astype(np.int64)


def _agreement(ga: np.ndarray, gb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, ok)``: rows whose group (``ga``) has two rows or more with ``gb`` set,
    and those of them holding their group's most common ``gb`` (one mode per group)."""
    n = len(ga)
    valid = (ga >= 0) & (gb >= 0)
    ok = np.zeros(n, dtype=bool)
    if not valid.any():
        return valid, ok
    sizes = np.bincount(ga[valid], minlength=int(ga.max()) + 1)
    valid &= sizes[np.where(ga >= 0, ga, 0)] >= 2
    if not valid.any():
        return valid, ok
    rows = np.flatnonzero(valid)
    pair = ga[rows] * (int(gb.max()) + 1) + gb[rows]
    uniq, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    width = int(gb.max()) + 1
    group = uniq // width
    # the most common pair of each group (the first of equal counts)
    order = np.lexsort((-counts, group))
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    mode = np.full(int(ga.max()) + 1, -1, dtype=np.int64)
    mode[group[first]] = uniq[first] % width
    ok[rows] = gb[rows] == mode[ga[rows]]
    return valid, ok


def determines_holds(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Determines
) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, ok)`` masks over the rule's table (see the module docstring)."""
    a, b = determines_keys(meta, rule)
    frame = tables[rule.table]
    return _agreement(_codes(frame, a.columns), _codes(frame, b.columns))


def _candidates(meta: Metadata, name: str) -> list[tuple[ForeignKey, ForeignKey]]:
    fks = [fk for fk in meta.parents(name) if not fk.is_self_reference]
    out = []
    for a in fks:
        held = {fk.parent for fk in meta.parents(a.parent)}
        for b in fks:
            if a == b or set(a.columns) & set(b.columns) or b.parent in held:
                continue
            out.append((a, b))
    return out


def discover_determines(
    meta: Metadata,
    tables: Mapping[str, pd.DataFrame],
    threshold: float,
    rng: np.random.Generator,
) -> list[Determines]:
    """Every pair of foreign keys of a table where the first determines the second,
    over every row of the tables (one ``groupby`` per key)."""
    out: list[Determines] = []
    for name in meta.tables:
        frame = tables.get(name)
        pairs = _candidates(meta, name)
        if frame is None or len(frame) < 2 or not pairs:
            continue
        codes = {fk: _codes(frame, fk.columns) for pair in pairs for fk in pair}
        for a, b in pairs:
            ga, gb = codes[a], codes[b]
            valid, ok = _agreement(ga, gb)
            n = int(valid.sum())
            if not n or len(np.unique(ga[valid])) < MIN_GROUPS:
                continue
            share = float(ok[valid].mean())
            if share < threshold:
                continue
            shuffled = gb.copy()
            shuffled[valid] = gb[valid][rng.permutation(n)]
            cv, cok = _agreement(ga, shuffled)
            chance = float(cok[cv].mean()) if cv.any() else 1.0
            if share - chance >= _LIFT:
                left, right = Ref(((name, a.columns),)), Ref(((name, b.columns),))
                out.append(Determines(left, right, round(share, 6)))
    return out
