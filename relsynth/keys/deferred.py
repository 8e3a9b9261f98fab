"""Deferred foreign keys: the cycle breakers (``store.manager_id`` <-> ``staff.store_id``).

A deferred key stays NULL while its table is sampled (its parent may not exist
yet) and is filled by :func:`fill_deferred` once every table exists: parents'
in-degrees follow the source's, a nullable key keeps the source's NULL rate, a
NOT NULL one gets a parent for every row. :func:`tables_needing_rows` says which
tables must not be empty for that to be possible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from relsynth.keys._frames import take
from relsynth.keys.cardinality import DegreeModel
from relsynth.keys.dealing import degree_assign
from relsynth.keys.secondary import degrees
from relsynth.metadata.graph import Plan
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["fill_deferred", "fit_deferred", "null_deferred", "tables_needing_rows"]


def fit_deferred(
    plan: Plan, fks: list[ForeignKey], name: str, frames: Mapping[str, pd.DataFrame]
) -> dict[int, DegreeModel]:
    """The degree model of each deferred key held by table ``name``, by key index."""
    return {
        fks.index(fk): degrees(fk, frames[name], frames) for fk in plan.deferred if fk.child == name
    }


def null_deferred(frame: pd.DataFrame, keys: Sequence[ForeignKey]) -> None:
    """Add the deferred keys' columns that ``frame`` lacks, as NULL (in place)."""
    for fk in keys:
        for c in fk.columns:
            if c not in frame.columns:
                frame[c] = pd.Series([None] * len(frame), dtype=object)


def fill_deferred(
    plan: Plan,
    fks: list[ForeignKey],
    models: Mapping[int, DegreeModel],
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """The frames of ``done`` with every deferred key filled (copies where changed)."""
    out = dict(done)
    for fk in plan.deferred:
        child = out[fk.child].copy()
        parent = out[fk.parent]
        pidx = degree_assign(
            child,
            fk,
            models[fks.index(fk)],
            parent,
            np.arange(len(child)),
            rng,
            cap_one=False,
            group=None,
            mask=np.ones(len(parent), dtype=bool),
        )
        for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
            child[c] = take(parent[pc], pidx)
        out[fk.child] = child
    return out


def tables_needing_rows(meta: Metadata, plan: Plan) -> dict[str, set[str]]:
    """Per table, the tables whose rows need it to have rows.

    A NOT NULL deferred key needs a parent row, and that parent needs its own
    driver parent, up to a root: a table on that chain gets at least one row when
    the key's table has rows.
    """
    needs: dict[str, set[str]] = {t: set() for t in meta.tables}
    for fk in plan.deferred_not_null:
        table: str | None = fk.parent
        seen = set()
        while table is not None and table not in seen:
            seen.add(table)
            needs[table].add(fk.child)
            drv = plan.driver.get(table)
            table = None if drv is None else drv.parent
    return needs
