"""Column kinds from data, and metadata for tables that do not come from a database.

Stage 1 of the pipeline, pure (pandas only). Two entry points share one set of
value-based rules (:mod:`relsynth.metadata._kinds`, re-exported here):

* :func:`refine_kinds` refines the kinds of existing metadata from a sample of
  each table (called by :func:`relsynth.reflect` after reading the schema);
* :func:`infer` builds metadata from DataFrames (a CSV folder, a dict of
  frames): columns and portable types from the dtypes, primary keys given or
  guessed, foreign keys given as objects or ``"orders.customer_id -> customers.id"``.

:func:`suggest_foreign_keys` proposes foreign keys (name similarity and value
containment) without applying them.

The kind rules, in the order they are tried for each column (``docs/metadata.md``
has the same list with examples):

1. Keys. A single-column primary key and every foreign-key column is ``id``. A
   column of a composite primary key that is in no foreign key keeps a
   value-based kind (``stop_sequence`` is ``numerical``, ``calendar_dates.date``
   is ``datetime``): it carries meaning that the models learn, while the key
   generator still treats it as a key column (``Metadata.key_columns``).
2. The SQL type gives the starting kind (:func:`relsynth.io.types.kind_from_type`).
   ``BLOB``, ``BOOLEAN``, dates/times, ``UUID``, ``ENUM`` and ``JSON`` keep it.
3. Integers (or numbers that are all whole): exactly the two values 0 and 1 is
   ``boolean``; at most 20 distinct values that are also at most 5 % of the
   non-null values (at least 2 allowed) is ``categorical``, since a column that
   few values repeat that often is a code (status, weekday, duration in
   {12, 24, 36}) better modelled by its frequencies than by a density; all
   distinct, at least 10 rows, and a name that says identifier (``id``,
   ``*_id``, ``*_no``, ``*number``, ``*code``) is ``id``; otherwise ``numerical``.
4. Strings, in this order: two distinct values forming a pair such as
   ``0/1``, ``Y/N``, ``yes/no``, ``true/false``, ``t/f`` is ``boolean``; all ISO
   dates or date-times (``1996-07-04 00:00:00.000``), or all ``DD/MM/YYYY``
   (``MM/DD/YYYY``, ``.`` or ``-`` separated) dates, is ``datetime``, and a column
   stored as text records its text ``format``
   (:mod:`relsynth.metadata._textformats`); all
   ``YYYYMMDD`` valid dates between 1900 and 2099 *and* a column name containing
   ``date`` is ``datetime`` (an 8-digit string alone could be any code); all
   ``H:MM[:SS]`` times is ``categorical``, never ``datetime``, because GTFS times
   run past midnight (``25:10:00``); secrets and account names
   (:mod:`relsynth.metadata._secrets`: digests, password hashes, tokens by shape;
   ``password``/``token``... by name; ``username``/``login``/``handle`` with
   identifier-like values) are ``text`` with ``pii`` ``secret`` or ``username``,
   except a unique digest in a column named like an identifier, which is ``id``;
   a name saying personal data (``email``,
   ``phone``/``fax``, ``first_name``, ``LastName``, ``CompanyName``,
   ``ContactName``, ``address``, ``PostalCode``, ``url``/``HomePage``...) is
   ``text`` with that ``pii``, except ``city``/``country`` columns with at most 50
   distinct values, which stay ``categorical``; values that look like emails,
   URLs, phone numbers or street addresses (90 % of the distinct values; 80 % for
   addresses) are ``text`` with that ``pii``; a column called ``name`` whose values
   are mostly two or three capitalised words is ``text``/``name``; long text
   (mean length >= 40 characters and >= 5 words, half the values distinct, at
   least 5 values) is
   ``text``/``free_text``; numbers in one text format (``12.50``, ``0007``,
   ``1,234.00``; :mod:`relsynth.metadata._numberformats`) that rule 3 makes
   ``numerical`` are ``numerical`` with that ``format``; unique opaque codes (all
   distinct, >= 10 rows, no spaces, mostly with digits, or all UUIDs) are ``id``;
   anything else is ``categorical``.
5. A column with no sampled values keeps its type's kind, except that a name
   saying personal data still makes it ``text`` with that ``pii``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

import numpy as np
import pandas as pd

from relsynth.errors import MetadataError
from relsynth.metadata._kinds import (
    name_tokens,
    pii_from_name,
    reconcile_key_kinds,
    refine_kinds,
)
from relsynth.metadata.schema import Column, ForeignKey, Metadata, Table

__all__ = [
    "infer",
    "parse_foreign_key",
    "pii_from_name",
    "reconcile_key_kinds",
    "refine_kinds",
    "suggest_foreign_keys",
]


#: Minimum containment of child values in parent values for a suggested FK.
FK_CONTAINMENT: Final = 0.99


# -- infer -----------------------------------------------------------------------------------


def infer(
    tables: Mapping[str, pd.DataFrame],
    *,
    primary_keys: Mapping[str, Sequence[str] | str] | None = None,
    foreign_keys: Sequence[ForeignKey | str] = (),
) -> Metadata:
    """Build metadata for tables that do not come from a database.

    Parameters
    ----------
    tables : Mapping of str to DataFrame
        The tables, by name.
    primary_keys : Mapping of str to str or sequence of str, optional
        Primary keys by table. A table left out gets the column called ``id`` or
        ``<table>_id`` (also the singular, ``orders`` -> ``order_id``; case
        ignored) when it is unique and has no NULL, else no primary key.
    foreign_keys : sequence of ForeignKey or str
        Foreign keys, as objects or strings ``"orders.customer_id -> customers.id"``
        (composite: ``"a.(x, y) -> b.(x, y)"``). Their ``nullable`` is computed
        from the data.

    Returns
    -------
    Metadata
        Validated metadata: portable ``sql_type`` from the dtypes, ``nullable``
        true where the data holds a NULL (false for primary-key columns), kinds
        refined by :func:`refine_kinds`.

    Raises
    ------
    MetadataError
        If a key names an unknown table or column, a foreign-key string cannot be
        parsed, or the result is inconsistent (every problem listed).

    Examples
    --------
    >>> import pandas as pd
    >>> meta = infer(
    ...     {"customers": pd.DataFrame({"id": [1, 2]}),
    ...      "orders": pd.DataFrame({"id": [1, 2, 3], "customer_id": [1, 1, 2]})},
    ...     foreign_keys=["orders.customer_id -> customers.id"],
    ... )
    >>> meta["orders"].primary_key, meta.foreign_keys[0].label
    (('id',), 'orders(customer_id) -> customers(id)')
    """
    given_pks = dict(primary_keys or {})
    unknown = sorted(set(given_pks) - set(tables))
    if unknown:
        raise MetadataError(
            f"primary_keys names unknown table(s): {', '.join(unknown)}. "
            f"Known tables: {', '.join(tables) or '(none)'}."
        )
    built: dict[str, Table] = {}
    for name, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            raise MetadataError(
                f"Table {name!r} must be a pandas DataFrame; got {type(frame).__name__}."
            )
        pk_given = given_pks.get(name)
        pk = (pk_given,) if isinstance(pk_given, str) else tuple(pk_given or ())
        if pk_given is None:
            pk = _guess_primary_key(name, frame)
        columns = tuple(_column_from_series(str(c), frame[c], str(c) in pk) for c in frame.columns)
        built[name] = Table(name=name, columns=columns, primary_key=pk)
    fks = []
    for fk in foreign_keys:
        parsed = parse_foreign_key(fk) if isinstance(fk, str) else fk
        child = built.get(parsed.child)
        nullable = child is not None and all(
            child.has_column(c) and child.column(c).nullable for c in parsed.columns
        )
        fks.append(replace(parsed, nullable=nullable))
    meta = Metadata(tables=built, foreign_keys=tuple(fks))
    meta.validate()
    return refine_kinds(meta, tables)


def _guess_primary_key(name: str, frame: pd.DataFrame) -> tuple[str, ...]:
    singular = name[:-1] if name.lower().endswith("s") else name
    wanted = {"id", f"{name}_id".lower(), f"{singular}_id".lower()}
    for col in frame.columns:
        if str(col).lower() in wanted:
            values = frame[col]
            if len(values) and values.notna().all() and values.is_unique:
                return (str(col),)
    return ()


def _column_from_series(name: str, values: pd.Series, in_pk: bool) -> Column:
    from relsynth.metadata.types import kind_from_type

    sql_type = _sql_type_of(values)
    return Column(
        name=name,
        kind=kind_from_type(sql_type),
        sql_type=sql_type,
        nullable=not in_pk and bool(values.isna().any()),
    )


def _sql_type_of(values: pd.Series) -> str:  # noqa: PLR0911 - one return per dtype family
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        size = np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize
        return {1: "SMALLINT", 2: "SMALLINT", 4: "INTEGER"}.get(size, "BIGINT")
    if pd.api.types.is_float_dtype(dtype):
        return "FLOAT"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMP WITH TIME ZONE"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "DATETIME"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "INTERVAL"
    if isinstance(dtype, pd.CategoricalDtype):
        return _sql_type_of(pd.Series(dtype.categories))
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "TEXT"
    return _sql_type_of_objects(values[values.notna()])


def _sql_type_of_objects(values: pd.Series) -> str:  # noqa: PLR0911
    types = {type(v) for v in values}
    if not types:
        return "TEXT"
    if types <= {bool, np.bool_}:
        return "BOOLEAN"
    if types <= {int, np.int64, np.int32}:
        return "BIGINT"
    if types <= {float, int, np.float64}:
        return "FLOAT"
    if types <= {decimal.Decimal, int}:
        return "NUMERIC"
    if all(issubclass(t, (bytes, bytearray, memoryview)) for t in types):
        return "BLOB"
    if all(issubclass(t, (dict, list)) for t in types):
        return "JSON"
    if types <= {uuid.UUID}:
        return "UUID"
    if all(issubclass(t, dt.datetime) for t in types):
        return "DATETIME"
    if all(issubclass(t, dt.date) for t in types):
        return "DATE"
    if types <= {dt.time}:
        return "TIME"
    return "TEXT"


_FK_SIDE_RE = re.compile(
    r"^\s*(?P<table>.+?)\s*\.\s*(?:\((?P<cols>[^()]*)\)|(?P<col>[^.()]+?))\s*$"
)


def parse_foreign_key(text: str) -> ForeignKey:
    """Parse ``"child.col -> parent.col"`` (or ``"a.(x, y) -> b.(x, y)"``) into a ForeignKey.

    The table part may contain spaces (``"Order Details.OrderID -> Orders.OrderID"``);
    the last dot separates it from the column(s).

    Raises
    ------
    MetadataError
        If ``text`` does not have that form.

    Examples
    --------
    >>> parse_foreign_key("flights.(origin, time_hour) -> weather.(origin, time_hour)").label
    'flights(origin, time_hour) -> weather(origin, time_hour)'
    """
    parts = text.split("->")
    child = _FK_SIDE_RE.match(parts[0]) if len(parts) == 2 else None
    parent = _FK_SIDE_RE.match(parts[1]) if len(parts) == 2 else None
    if child is None or parent is None:
        raise MetadataError(
            f"Cannot parse foreign key {text!r}; write it as "
            "'child.column -> parent.column' or 'child.(a, b) -> parent.(a, b)'."
        )

    def columns(match: re.Match[str]) -> tuple[str, ...]:
        if match.group("cols") is not None:
            return tuple(c.strip() for c in match.group("cols").split(",") if c.strip())
        return (match.group("col").strip(),)

    return ForeignKey(
        child=child.group("table"),
        columns=columns(child),
        parent=parent.group("table"),
        parent_columns=columns(parent),
    )


# -- suggest_foreign_keys ----------------------------------------------------------------------


def suggest_foreign_keys(
    tables: Mapping[str, pd.DataFrame], metadata: Metadata
) -> list[ForeignKey]:
    """Suggest foreign keys the metadata lacks; nothing is applied.

    A column ``c`` of table ``child`` is suggested as a foreign key to the
    single-column primary key ``p`` of another table ``parent`` when

    * the names are similar: ``c == p`` (case, ``_`` ignored) when ``p`` is not a
      bare ``id``, or ``c`` is ``<parent>_id``, its singular, or ``<parent>id``; and
    * at least 99 % of the non-null values of ``c`` occur in ``p``.

    Parameters
    ----------
    tables : Mapping of str to DataFrame
        The data.
    metadata : Metadata
        The metadata; its foreign keys are not suggested again.

    Returns
    -------
    list of ForeignKey
        Suggestions, sorted by child table and column; review them and add the
        right ones with ``Metadata.with_foreign_keys``.
    """
    existing = {(fk.child, fk.columns, fk.parent) for fk in metadata.foreign_keys}
    out: list[ForeignKey] = []
    for parent in metadata:
        if len(parent.primary_key) != 1 or parent.name not in tables:
            continue
        pcol = parent.primary_key[0]
        pvalues = tables[parent.name][pcol] if pcol in tables[parent.name] else None
        if pvalues is None:
            continue
        for child in metadata:
            if child.name == parent.name or child.name not in tables:
                continue
            for col in child.columns:
                if (child.name, (col.name,), parent.name) in existing:
                    continue
                if not _similar(col.name, parent.name, pcol) or col.name not in tables[child.name]:
                    continue
                if _containment(tables[child.name][col.name], pvalues) >= FK_CONTAINMENT:
                    out.append(
                        ForeignKey(
                            child=child.name,
                            columns=(col.name,),
                            parent=parent.name,
                            parent_columns=(pcol,),
                            nullable=col.nullable,
                        )
                    )
    return sorted(out, key=lambda fk: (fk.child, fk.columns, fk.parent))


def _norm(name: str) -> str:
    return "".join(name_tokens(name))


def _similar(column: str, parent: str, pcol: str) -> bool:
    col = _norm(column)
    singular = parent[:-1] if parent.lower().endswith("s") else parent
    if _norm(pcol) != "id" and col == _norm(pcol):
        return True
    return col in {_norm(f"{parent}_id"), _norm(f"{singular}_id")}


def _containment(child: pd.Series, parent: pd.Series) -> float:
    values = child[child.notna()]
    if values.empty:
        return 0.0
    pvals = parent[parent.notna()]
    both_numeric = pd.api.types.is_numeric_dtype(values) and pd.api.types.is_numeric_dtype(pvals)
    if not both_numeric:
        values, pvals = values.map(str), pvals.map(str)
    return float(values.isin(set(pvals.tolist())).mean())
