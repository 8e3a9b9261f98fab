"""Row lookups on key columns, shared by every part of the key generator (pure pandas).

* :func:`locate`: the parent row of each child row's key (-1 for NULL or no parent);
* :func:`take`: ``values[idx]`` with NULL where ``idx < 0``, keeping the dtype;
* :func:`group_ids`: a dense group number per row;
* :func:`key_problems`: what makes a source's keys unfit to learn from (the
  precondition of :meth:`relsynth.keys.KeyGenerator.fit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from relsynth.keys.skeleton import key_columns
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = [
    "group_ids",
    "isin_sorted",
    "key_problems",
    "key_text",
    "locate",
    "parent_texts",
    "take",
]


def locate(
    child: pd.DataFrame, columns: Sequence[str], parent: pd.DataFrame, parent_columns: Sequence[str]
) -> np.ndarray:
    """Row position in ``parent`` of each child row's key (-1: NULL or not found)."""
    n = len(child)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(parent) == 0:
        return np.full(n, -1, dtype=np.int64)
    left = child[list(columns)].reset_index(drop=True)
    right = parent[list(parent_columns)].reset_index(drop=True)
    right.columns = list(columns)
    left, right = align(left, right)
    null = left.isna().any(axis=1).to_numpy()
    if len(columns) == 1:
        index = pd.Index(right.iloc[:, 0])
        if not index.is_unique:
            index = pd.Index(right.iloc[:, 0].drop_duplicates(keep="first"))
            pos = index.get_indexer(left.iloc[:, 0])
            first = right.iloc[:, 0].drop_duplicates(keep="first").index.to_numpy()
            out = np.where(pos >= 0, first[np.maximum(pos, 0)], -1)
        else:
            out = index.get_indexer(left.iloc[:, 0])
    else:
        right = right.assign(_pos=np.arange(len(right))).drop_duplicates(list(columns))
        merged = left.merge(right, how="left", on=list(columns), sort=False)
        out = merged["_pos"].fillna(-1).to_numpy(dtype=np.int64)
    out = np.array(out, dtype=np.int64)
    out[null] = -1
    return out


def align(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make key columns comparable: mixed numbers as ``Float64``, mixed kinds as text."""
    left, right = left.copy(), right.copy()
    for col in left.columns:
        a, b = left[col], right[col]
        num_a = pd.api.types.is_numeric_dtype(a.dtype) and not pd.api.types.is_bool_dtype(a)
        num_b = pd.api.types.is_numeric_dtype(b.dtype) and not pd.api.types.is_bool_dtype(b)
        if num_a and num_b:
            if a.dtype != b.dtype:
                left[col], right[col] = a.astype("Float64"), b.astype("Float64")
        elif a.dtype != b.dtype:
            left[col] = (
                a.astype(object).where(a.notna(), None).map(lambda v: v if v is None else str(v))
            )
            right[col] = (
                b.astype(object).where(b.notna(), None).map(lambda v: v if v is None else str(v))
            )
    return left, right


def take(values: pd.Series, idx: np.ndarray) -> pd.Series:
    """``values[idx]`` with NULL where ``idx < 0``, keeping the dtype where possible."""
    idx = np.asarray(idx, dtype=np.int64)
    values = values.reset_index(drop=True)
    if not (idx < 0).any():
        return pd.Series(values.to_numpy()[idx], dtype=values.dtype)
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(
        values.dtype, pd.api.extensions.ExtensionDtype
    ):
        values = values.astype("Int64")
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return pd.Series(values.array.take(idx, allow_fill=True))
    arr = values.to_numpy()
    if arr.dtype.kind == "f":
        out = np.full(len(idx), np.nan)
    elif arr.dtype.kind == "M":
        out = np.full(len(idx), np.datetime64("NaT"), dtype=arr.dtype)
    else:
        out = np.full(len(idx), None, dtype=object)
    ok = idx >= 0
    if len(arr):
        out[ok] = arr[idx[ok]]
    return pd.Series(out)


def key_text(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Each row's key as one text (columns joined by a unit separator)."""
    parts = [frame[c].astype(object).map(str).tolist() for c in columns]
    return ["\x1f".join(p) for p in zip(*parts, strict=True)]


def parent_texts(child: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame) -> np.ndarray:
    """Each child row's parent key as the parent writes it (:func:`key_text`; "" when
    NULL or not found), so a nullable key read as floats still names ``'3'``."""
    idx = locate(child, fk.columns, parent, fk.parent_columns)
    texts = np.array(key_text(parent, fk.parent_columns) + [""], dtype=object)
    return texts[np.where(idx >= 0, idx, len(texts) - 1)]


def group_ids(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A dense group number per row of ``frame``, grouped by ``columns`` (NULL is a value)."""
    if len(frame) == 0:
        return np.zeros(0, dtype=np.int64)
    codes = frame.groupby(list(columns), sort=False, dropna=False).ngroup()
    return codes.to_numpy(dtype=np.int64)


def isin_sorted(values: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_ref)`` for a sorted reference, by binary search."""
    if len(sorted_ref) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ref, values), len(sorted_ref) - 1)
    return sorted_ref[pos] == values


def key_problems(meta: Metadata, frames: Mapping[str, pd.DataFrame]) -> list[str]:
    """What breaks the keys of ``frames``, one line each (empty: the keys are consistent).

    Missing key columns, NULL or duplicate primary keys, NULLs in NOT NULL key
    columns and orphan foreign keys: the key part of :func:`relsynth.check`, without
    its report (this layer does not depend on ``check``).
    """
    problems: list[str] = []
    for name, table in meta.tables.items():
        frame = frames[name]
        cols = key_columns(meta, name)
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            problems.append(f"table {name!r} lacks key column(s) {', '.join(missing)}")
            continue
        pk = list(table.primary_key)
        if pk and len(frame):
            keys = frame[pk]
            if keys.isna().any().any():
                problems.append(f"primary key of {name!r} has NULLs")
            elif keys.duplicated().any():
                problems.append(f"primary key of {name!r} has duplicates")
        for col in table.columns:
            if not col.nullable and col.name in cols and frame[col.name].isna().any():
                problems.append(f"NOT NULL key column {name}.{col.name} has NULLs")
    if problems:
        return problems
    for fk in meta.foreign_keys:
        child = frames[fk.child]
        idx = locate(child, fk.columns, frames[fk.parent], fk.parent_columns)
        null = child[list(fk.columns)].isna().any(axis=1).to_numpy()
        n_orphans = int(((idx < 0) & ~null).sum())
        if n_orphans:
            problems.append(f"foreign key {fk.label} has {n_orphans} row(s) with no parent")
    return problems
