"""Sequential children: the column that orders a child's rows under its driver
parent, and the rows sorted sequence after sequence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["SequenceOrder", "sequence_column", "sequence_order"]


def sequence_column(meta: Metadata, name: str, driver: ForeignKey | None) -> str | None:
    """The column ordering a child's rows under its driver parent, if any.

    Declared with ``Table.sequence_index``, or recognised when the primary key is the
    driver key plus one more column (``stop_times(trip_id, stop_sequence)``).
    """
    table = meta.table(name)
    if table.sequence_index is not None:
        return table.sequence_index
    if driver is None:
        return None
    pk = table.primary_key
    n = len(driver.columns)
    if len(pk) == n + 1 and tuple(pk[:n]) == driver.columns:
        col = table.column(pk[n])
        if col.kind in ("numerical", "id", "categorical") and (col.sql_type or "").upper() in (
            "INTEGER",
            "BIGINT",
            "SMALLINT",
        ):
            return col.name
    return None


@dataclass(frozen=True)
class SequenceOrder:
    order: np.ndarray  # row positions, sequence after sequence, in parent order
    lengths: np.ndarray  # one per parent row


def sequence_order(
    frame: pd.DataFrame, fk: ForeignKey, seq_col: str, parent: pd.DataFrame
) -> SequenceOrder:
    """Sort child rows by (parent position, sequence column); count rows per parent."""
    lookup = parent[list(fk.parent_columns)].reset_index(drop=True).copy()
    lookup.columns = list(fk.columns)
    lookup["__parent_pos"] = np.arange(len(lookup))
    left = frame[list(fk.columns)].reset_index(drop=True).copy()
    for col in fk.columns:
        if left[col].dtype != lookup[col].dtype:
            left[col] = left[col].astype(object)
            lookup[col] = lookup[col].astype(object)
    pos = left.merge(lookup, how="left", on=list(fk.columns), sort=False)["__parent_pos"]
    pos = pos.fillna(-1).to_numpy(dtype=np.int64)
    seq = pd.to_numeric(frame[seq_col], errors="coerce").to_numpy(dtype="float64")
    order = np.lexsort((seq, pos))
    order = order[pos[order] >= 0]
    lengths = np.bincount(pos[pos >= 0], minlength=len(parent)).astype(np.int64)
    return SequenceOrder(order=order, lengths=lengths)
