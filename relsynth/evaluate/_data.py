"""Shared preparation for the metrics: measured columns, values, keys, joined features.

Every metric compares a real and a synthetic database through the same lens:

* the *measured* columns of a table are its ``numerical``, ``datetime``,
  ``categorical`` and ``boolean`` columns that belong to no key (primary or
  foreign); ``id``, ``text`` and ``binary`` columns are never measured;
* numeric kinds (numerical, datetime) are compared as floats (datetimes as
  seconds since the epoch, UTC), categorical kinds as normalized strings, so that
  a real ``Int64`` column and a synthetic ``float64`` one compare equal;
* keys are matched *within* one database (a child to its parent), never across
  the real and the synthetic database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds

if TYPE_CHECKING:
    from relsynth.metadata.graph import Plan
    from relsynth.metadata.schema import ForeignKey, Metadata

MEASURED_KINDS = ("numerical", "datetime", "categorical", "boolean")
NUMERIC_KINDS = ("numerical", "datetime")

#: The category that stands for NULL in categorical comparisons.
NULL = "<NULL>"

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def limited_threads() -> Any:
    """A context limiting OpenMP/BLAS threads to half the CPUs while scikit-learn works.

    Gradient boosting and nearest neighbours run OpenMP loops that spin-wait; on a
    machine shared with other work, using every core makes them several times
    slower, not faster. Half the cores keeps most of the speed-up of a quiet
    machine and avoids the collapse on a busy one.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=max(1, (os.cpu_count() or 2) // 2))


def measured_columns(meta: Metadata, table: str) -> list[tuple[str, str]]:
    """``(column, kind)`` of the columns of ``table`` that the metrics compare."""
    keys = set(meta.key_columns(table))
    return [
        (c.name, c.kind)
        for c in meta.table(table).columns
        if c.kind in MEASURED_KINDS and c.name not in keys
    ]


def is_numeric(kind: str) -> bool:
    """Whether a column kind is compared as numbers."""
    return kind in NUMERIC_KINDS


def as_numbers(values: pd.Series, kind: str) -> np.ndarray:
    """Values as float64 (datetimes in seconds since the epoch, UTC); NaN for NULL."""
    if kind == "datetime" and not pd.api.types.is_numeric_dtype(values.dtype):
        return _datetime_seconds(values)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    numbers = pd.to_numeric(values.astype(object), errors="coerce")
    return np.asarray(numbers, dtype="float64")


def _datetime_seconds(values: pd.Series) -> np.ndarray:
    """Seconds of datetimes, or of text parsed as ISO 8601 (any other format as a fallback)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return datetime_seconds(values)
    text = values.astype(object)
    stamps = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    if stamps.isna().all() and text.notna().any():
        stamps = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return datetime_seconds(stamps)


def as_categories(values: pd.Series, kind: str = "categorical") -> pd.Series:
    """Values as normalized strings (object dtype), with NULL as :data:`NULL`.

    Integral floats become integers (``1.0`` -> ``"1"``) and booleans become
    ``"True"``/``"False"`` whatever their spelling, so real and synthetic values
    of the same column compare equal whatever their dtypes.
    """
    missing = values.isna().to_numpy()
    if kind == "boolean" or pd.api.types.is_bool_dtype(values.dtype):
        text = values.astype(object).map(_bool_text, na_action="ignore")
    elif pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        finite = arr[~missing]
        if finite.size and np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)):
            strings = finite.astype(np.int64).astype(str)
        else:
            strings = finite.astype(str)
        text = pd.Series(strings.astype(object), index=values.index[~missing], dtype=object)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d %H:%M:%S")
    else:
        text = values.astype(object).map(str, na_action="ignore")
    out = pd.Series(NULL, index=values.index, dtype=object)
    keep = ~missing
    out.iloc[np.flatnonzero(keep)] = np.asarray(text.reindex(values.index[keep]), dtype=object)
    return out


def _bool_text(value: object) -> str:
    text = str(value).strip().lower()
    if text in _TRUE:
        return "True"
    if text in _FALSE:
        return "False"
    return str(value)


def key_series(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """One hashable key per row (strings; composite keys joined), NaN where any part is NULL."""
    parts = []
    missing = np.zeros(len(frame), dtype=bool)
    for col in columns:
        values = frame[col]
        missing |= values.isna().to_numpy()
        parts.append(as_categories(values))
    if len(parts) == 1:
        key = parts[0]
    else:
        key = parts[0].str.cat(parts[1:], sep="\x1f")
    key = key.astype(object)
    key[missing] = np.nan
    return key


def subsample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn without replacement, in their original order."""
    if len(frame) <= n:
        return frame
    return frame.iloc[subsample_positions(len(frame), n, rng)]


def subsample_positions(size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of at most ``n`` of ``size`` rows, as :func:`subsample` draws them."""
    if size <= n:
        return np.arange(size)
    return np.sort(rng.choice(size, size=n, replace=False))


def child_counts(
    parent: pd.DataFrame, child: pd.DataFrame, fk: ForeignKey
) -> tuple[pd.Series, pd.Series]:
    """Children per parent row (zeros included), and each child row's key.

    Returns ``(counts, child_keys)``: ``counts`` is aligned with ``parent``'s rows.
    """
    parent_keys = key_series(parent, fk.parent_columns)
    child_keys = key_series(child, fk.columns)
    per_key = child_keys.value_counts(dropna=True)
    counts = parent_keys.map(per_key).fillna(0).astype("int64")
    counts.index = parent.index
    return counts, child_keys


def child_aggregates(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], fk: ForeignKey
) -> pd.DataFrame:
    """Per parent row: the number of children under ``fk`` and the mean of their numeric columns.

    Columns are named ``count`` and ``mean(<column>)``; means are NaN for parents
    without children.
    """
    parent, child = tables[fk.parent], tables[fk.child]
    counts, child_keys = child_counts(parent, child, fk)
    out = {"count": counts.to_numpy(dtype="float64")}
    numeric = [(c, k) for c, k in measured_columns(meta, fk.child) if is_numeric(k)]
    if numeric:
        values = pd.DataFrame({c: as_numbers(child[c], k) for c, k in numeric}, index=child.index)
        means = values.groupby(child_keys.to_numpy(), dropna=True).mean()
        parent_keys = key_series(parent, fk.parent_columns).to_numpy()
        pos = means.index.get_indexer(parent_keys)
        for c, _ in numeric:
            col = means[c].to_numpy(dtype="float64")
            if len(col) == 0:  # no child has a parent (empty table, all keys NULL)
                out[f"mean({c})"] = np.full(len(parent_keys), np.nan)
                continue
            out[f"mean({c})"] = np.where(pos >= 0, col[np.maximum(pos, 0)], np.nan)
    return pd.DataFrame(out, index=parent.index)


def table_features(
    meta: Metadata, plan: Plan, tables: Mapping[str, pd.DataFrame], name: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of ``name`` with their driver parent's columns and their children's aggregates.

    This is the joined view SyntheRela's detection metric classifies: a row is
    judged together with the parent it was generated under and the family it
    heads. Returns the features and each feature's kind (``numerical`` or
    ``categorical``).
    """
    frame = tables[name]
    data: dict[str, object] = {}
    kinds: dict[str, str] = {}
    for col, kind in measured_columns(meta, name):
        _add(data, kinds, col, frame[col], kind)
    fk = plan.driver.get(name)
    if fk is not None and fk.parent in tables:
        parent = tables[fk.parent]
        parent_keys = key_series(parent, fk.parent_columns)
        unique = ~parent_keys.duplicated() & parent_keys.notna()
        index = pd.Index(parent_keys[unique].to_numpy())
        pos = index.get_indexer(key_series(frame, fk.columns).to_numpy())
        rows = parent.loc[unique.to_numpy()]
        found = pos >= 0
        for col, kind in measured_columns(meta, fk.parent):
            label = f"{fk.parent}.{col}"
            if is_numeric(kind):
                arr = as_numbers(rows[col], kind)
                taken = np.full(len(frame), np.nan)
                taken[found] = arr[pos[found]]
                data[label], kinds[label] = taken, "numerical"
            else:
                cats = as_categories(rows[col], kind).to_numpy()
                taken = np.full(len(frame), NULL, dtype=object)
                taken[found] = cats[pos[found]]
                data[label], kinds[label] = taken, "categorical"
    for child_fk in meta.children(name):
        if child_fk.child not in tables:
            continue
        prefix = f"{child_fk.child}[{','.join(child_fk.columns)}]"
        for agg, values in child_aggregates(meta, tables, child_fk).items():
            data[f"{prefix}.{agg}"] = values.to_numpy()
            kinds[f"{prefix}.{agg}"] = "numerical"
    return pd.DataFrame(data, index=frame.index), kinds


def _add(
    data: dict[str, object], kinds: dict[str, str], name: str, values: pd.Series, kind: str
) -> None:
    """Add one column to ``data`` as numbers or categories.

    Keeps the two encodings in one place so own and parent columns match.
    """
    if is_numeric(kind):
        data[name] = as_numbers(values, kind)
        kinds[name] = "numerical"
    else:
        cats = as_categories(values, kind)
        data[name] = cats.to_numpy()
        kinds[name] = "categorical"
