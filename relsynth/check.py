"""Referential integrity: ``check(metadata, tables) -> IntegrityReport``.

Stage 5a of the pipeline, and the gate before anything is written. The report
lists every violation found: missing tables or columns, NULL or duplicate primary
keys, orphan foreign keys (composite keys included; NULL keys are allowed where the
key is nullable, following SQL's MATCH SIMPLE: a key with any NULL column is not
checked), NOT NULL violations and duplicate values in unique constraints.

On DataFrames the checks are pandas merges (as SDMetrics' ``ReferentialIntegrity``).
On a live database the same checks run as SQL anti-joins, without loading tables:
that is :func:`relsynth.check_database` (:mod:`relsynth.io.sql`), the database
layer's verb. ``relsynth.check(url)`` (the flat API) still dispatches there for
one release, with a DeprecationWarning; this module never imports the database layer.

The report never prints and never raises by itself: read ``report.ok``, print
``str(report)``, or call ``report.raise_for_violations()``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from relsynth.errors import ParameterError, ReferentialIntegrityError, format_examples
from relsynth.metadata.schema import ForeignKey, Metadata

if TYPE_CHECKING:
    import os

__all__ = ["IntegrityReport", "Violation", "ViolationKind", "check"]

logger = logging.getLogger(__name__)

ViolationKind = Literal[
    "missing_table",
    "missing_column",
    "null_primary_key",
    "duplicate_primary_key",
    "orphan_foreign_key",
    "not_null",
    "duplicate_unique",
]

_MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One kind of violation in one place.

    Attributes
    ----------
    kind : str
        One of ``ViolationKind``.
    table : str
        The table where the violation is.
    columns : tuple of str
        The columns involved (the key, the NOT NULL column...).
    n_rows : int
        How many rows violate (for duplicates: rows sharing a value with another row).
    examples : tuple
        Up to five offending values (key tuples for composite keys).
    foreign_key : ForeignKey, optional
        For ``orphan_foreign_key``: the key that has no parent.
    """

    kind: ViolationKind
    table: str
    columns: tuple[str, ...]
    n_rows: int
    examples: tuple[Any, ...] = ()
    foreign_key: ForeignKey | None = None

    @property
    def message(self) -> str:
        """A one-line description with examples and, where it helps, the fix."""
        cols = ", ".join(self.columns)
        where = f"{self.table}({cols})" if cols else self.table
        ex = f" (e.g. {format_examples(self.examples)})" if self.examples else ""
        if self.kind == "missing_table":
            return f"Table {self.table!r} is missing."
        if self.kind == "missing_column":
            return f"Table {self.table!r} is missing column(s): {cols}."
        if self.kind == "null_primary_key":
            return f"Primary key {where} is NULL in {self.n_rows} row(s)."
        if self.kind == "duplicate_primary_key":
            return f"Primary key {where} has {self.n_rows} row(s) with a duplicate value{ex}."
        if self.kind == "orphan_foreign_key":
            label = self.foreign_key.label if self.foreign_key is not None else where
            return f"Foreign key {label} has {self.n_rows} row(s) with no parent{ex}."

        if self.kind == "not_null":
            return f"Column {self.table}.{cols} is NOT NULL but has {self.n_rows} NULL(s)."
        return f"Unique constraint {where} has {self.n_rows} row(s) with a duplicate value{ex}."


@dataclass(frozen=True)
class IntegrityReport:
    """The result of :func:`check`: every violation found, and how many rows were checked."""

    violations: tuple[Violation, ...]
    n_tables: int
    n_rows: int

    @property
    def ok(self) -> bool:
        """True when no violation was found."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"{self.n_tables} table(s), {self.n_rows:,} row(s) checked: "
        if self.ok:
            return head + "no violations."
        lines = [head + f"{len(self.violations)} violation(s)."]
        lines.extend(f"  - {v.message}" for v in self.violations)
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per violation: kind, table, columns, n_rows, examples, message."""
        return pd.DataFrame(
            {
                "kind": [v.kind for v in self.violations],
                "table": [v.table for v in self.violations],
                "columns": [", ".join(v.columns) for v in self.violations],
                "n_rows": [v.n_rows for v in self.violations],
                "examples": [list(v.examples) for v in self.violations],
                "message": [v.message for v in self.violations],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "ok": self.ok,
            "n_tables": self.n_tables,
            "n_rows": self.n_rows,
            "violations": [
                {
                    "kind": v.kind,
                    "table": v.table,
                    "columns": list(v.columns),
                    "n_rows": v.n_rows,
                    "examples": [_jsonable(e) for e in v.examples],
                    "message": v.message,
                }
                for v in self.violations
            ],
        }

    def raise_for_violations(self) -> None:
        """Raise :class:`ReferentialIntegrityError` if any violation was found."""
        if not self.ok:
            raise ReferentialIntegrityError(str(self), report=self)


def check(
    source: Metadata | str | os.PathLike[str],
    tables: Mapping[str, pd.DataFrame] | Metadata | None = None,
) -> IntegrityReport:
    """Check tables against their keys and constraints.

    Parameters
    ----------
    source : Metadata or str
        The metadata of ``tables``. A database URL is deprecated (``relsynth.check``
        warns; removed in the next release): use :func:`relsynth.check_database`.
    tables : Mapping of str to DataFrame, or Metadata, optional
        The tables to check (required). With a URL: optional metadata, passed on
        to :func:`relsynth.check_database`.

    Returns
    -------
    IntegrityReport

    Examples
    --------
    >>> import pandas as pd
    >>> from relsynth import Column, ForeignKey, Metadata, Table, check
    >>> meta = Metadata(
    ...     {"p": Table("p", (Column("id", "id"),), primary_key=("id",)),
    ...      "c": Table("c", (Column("id", "id"), Column("p_id", "id")), primary_key=("id",))},
    ...     (ForeignKey("c", ("p_id",), "p", ("id",)),),
    ... )
    >>> report = check(meta, {"p": pd.DataFrame({"id": [1, 2]}),
    ...                       "c": pd.DataFrame({"id": [1, 2], "p_id": [1, 3]})})
    >>> report.ok
    False
    >>> print(report.violations[0].message)
    Foreign key c(p_id) -> p(id) has 1 row(s) with no parent (e.g. 3).
    """
    if not isinstance(source, Metadata):
        raise ParameterError(
            "check(metadata, tables): the first argument must be a Metadata, got "
            f"{type(source).__name__}; check a live database with check_database(url)."
        )
    if not isinstance(tables, Mapping):
        raise ParameterError(
            "check(metadata, tables): 'tables' must be a mapping of table name to "
            f"DataFrame, got {type(tables).__name__}."
        )
    return check_tables(source, tables)


def check_tables(meta: Metadata, tables: Mapping[str, pd.DataFrame]) -> IntegrityReport:
    """Check DataFrames against ``meta`` (the DataFrame half of :func:`check`)."""
    violations: list[Violation] = []
    present: dict[str, pd.DataFrame] = {}
    for name, table in meta.tables.items():
        frame = tables.get(name)
        if frame is None:
            violations.append(Violation("missing_table", name, (), 0))
            continue
        missing = tuple(c for c in table.column_names if c not in frame.columns)
        if missing:
            violations.append(Violation("missing_column", name, missing, 0))
        present[name] = frame
        violations.extend(_table_violations(meta, name, frame))
    for fk in meta.foreign_keys:
        child, parent = present.get(fk.child), present.get(fk.parent)
        if child is None or parent is None:
            continue
        if not set(fk.columns) <= set(child.columns):
            continue
        if not set(fk.parent_columns) <= set(parent.columns):
            continue
        orphan = _orphans(child, fk.columns, parent, fk.parent_columns)
        if orphan is not None:
            n, examples = orphan
            violations.append(
                Violation("orphan_foreign_key", fk.child, fk.columns, n, examples, fk)
            )
    n_rows = sum(len(f) for f in present.values())
    report = IntegrityReport(tuple(violations), n_tables=len(present), n_rows=n_rows)
    logger.debug("check: %s", report)
    return report


def _table_violations(meta: Metadata, name: str, frame: pd.DataFrame) -> list[Violation]:
    table = meta.table(name)
    out: list[Violation] = []
    pk = tuple(c for c in table.primary_key if c in frame.columns)
    if pk and len(pk) == len(table.primary_key):
        nulls = frame[list(pk)].isna().any(axis=1)
        if nulls.any():
            out.append(Violation("null_primary_key", name, pk, int(nulls.sum())))
        dup = _duplicates(frame.loc[~nulls, list(pk)] if nulls.any() else frame[list(pk)])
        if dup is not None:
            out.append(Violation("duplicate_primary_key", name, pk, *dup))
    for col in table.columns:
        if col.nullable or col.name not in frame.columns or col.name in pk:
            continue
        n_null = int(frame[col.name].isna().sum())
        if n_null:
            out.append(Violation("not_null", name, (col.name,), n_null))
    for unique in table.unique:
        if not set(unique) <= set(frame.columns):
            continue
        sub = frame[list(unique)].dropna()  # NULLs never collide in a unique constraint
        dup = _duplicates(sub)
        if dup is not None:
            out.append(Violation("duplicate_unique", name, unique, *dup))
    return out


def _duplicates(keys: pd.DataFrame) -> tuple[int, tuple[Any, ...]] | None:
    mask = keys.duplicated(keep=False)
    if not mask.any():
        return None
    dup = keys.loc[mask].drop_duplicates()
    return int(mask.sum()), _examples(dup)


def _orphans(
    child: pd.DataFrame,
    columns: Sequence[str],
    parent: pd.DataFrame,
    parent_columns: Sequence[str],
) -> tuple[int, tuple[Any, ...]] | None:
    keys = child[list(columns)].dropna()
    if keys.empty:
        return None
    ref = parent[list(parent_columns)].dropna().drop_duplicates()
    ref.columns = list(columns)
    keys, ref = _align_dtypes(keys, ref)
    lost = ~_found(keys, ref)
    if not lost.any():
        return None
    return int(lost.sum()), _examples(keys.loc[lost].drop_duplicates())


def _found(keys: pd.DataFrame, ref: pd.DataFrame) -> np.ndarray:
    """Whether each row of ``keys`` is a row of ``ref`` (same columns, aligned dtypes):
    a hash lookup per row, as a left merge's, without building the merged frame."""
    if keys.shape[1] == 1:
        return keys.iloc[:, 0].isin(ref.iloc[:, 0]).to_numpy()
    return np.asarray(pd.MultiIndex.from_frame(keys).isin(pd.MultiIndex.from_frame(ref)))


def _align_dtypes(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make key columns comparable: integral floats become integers, mixed kinds become text."""
    left, right = left.copy(), right.copy()
    for col in left.columns:
        a, b = _integral(left[col]), _integral(right[col])
        if _kind(a) != _kind(b):
            a, b = a.astype(str), b.astype(str)
        elif _kind(a) == "number" and a.dtype != b.dtype:
            a, b = a.astype("float64"), b.astype("float64")
        left[col], right[col] = a, b
    return left, right


def _integral(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype="float64")
        if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return values.astype("int64")
    return values


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return "datetime"
    return "other"


def _examples(frame: pd.DataFrame) -> tuple[Any, ...]:
    head = frame.head(_MAX_EXAMPLES)
    if head.shape[1] == 1:
        return tuple(_plain(v) for v in head.iloc[:, 0])
    return tuple(tuple(_plain(v) for v in row) for row in head.itertuples(index=False))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
