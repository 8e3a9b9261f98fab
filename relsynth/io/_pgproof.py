"""PostgreSQL: the integrity that a write's validated constraints prove, from the catalogue.

A write into PostgreSQL creates every primary key, UNIQUE and NOT NULL constraint
with its table and adds the foreign keys after the rows, each one validated by the
database as it is added (deferred ones again at ``COMMIT``). So once the write
commits, the database itself has proven, for every row, what
:func:`relsynth.io._dbcheck.check_connection` would check by scanning: no NULL or
duplicate key, no NULL in a NOT NULL column, no duplicate unique value, no orphan
foreign key (MATCH SIMPLE, as the check). :func:`enforced_report` reads from the
catalogue that each key and NOT NULL column the metadata asks for is enforced by such
a constraint, and counts the rows, instead of a second scan of every table after the
commit (seconds per million rows, with the sampling workers idle). Where one is not
(a table appended to, whose constraints were made elsewhere), it returns None and the
caller scans as before: it never reports what the database did not prove.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relsynth.check import IntegrityReport
from relsynth.metadata.schema import ForeignKey, Metadata, Table

__all__ = ["enforced_report"]

_NAMES = """ARRAY(SELECT a.attname::text FROM unnest({keys}) WITH ORDINALITY AS k(num, ord)
    JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.num ORDER BY k.ord)"""

_CONSTRAINTS = sa.text(
    f"""SELECT n.nspname, t.relname, c.contype, c.convalidated,
    {_NAMES.format(keys="c.conkey", rel="c.conrelid")},
    fn.nspname, ft.relname,
    {_NAMES.format(keys="c.confkey", rel="c.confrelid")}
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class ft ON ft.oid = c.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = ft.relnamespace
WHERE c.contype IN ('p', 'u', 'f') AND n.nspname = ANY(:schemas)"""
)

_COLUMNS = sa.text(
    """SELECT n.nspname, t.relname, a.attname::text, a.attnotnull
FROM pg_attribute a
JOIN pg_class t ON t.oid = a.attrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND t.relkind IN ('r', 'p')
    AND n.nspname = ANY(:schemas)"""
)

_Where = tuple[str, str]  # (schema, physical table name)


def enforced_report(
    conn: Connection, meta: Metadata, *, names: Mapping[str, str]
) -> IntegrityReport | None:
    """The (clean) report of ``meta``'s tables on ``conn`` when PostgreSQL enforces every
    key and NOT NULL column of ``meta`` with a valid constraint, else None.

    ``names`` maps table names to physical ones; a table without a schema (its own or
    the metadata's) is looked for in ``current_schema()``. Counting the rows is the only scan.
    """
    default = str(conn.execute(sa.text("SELECT current_schema()")).scalar())
    where = {
        n: (meta.schema_of(n) or default, names.get(n, t.physical_name))
        for n, t in meta.tables.items()
    }
    schemas = sorted({s for s, _ in where.values()})
    columns: dict[_Where, dict[str, bool]] = {}
    for schema, table, column, not_null in conn.execute(_COLUMNS, {"schemas": schemas}):
        columns.setdefault((schema, table), {})[column] = bool(not_null)
    constraints: dict[_Where, list[tuple[Any, ...]]] = {}
    for row in conn.execute(_CONSTRAINTS, {"schemas": schemas}):
        constraints.setdefault((row[0], row[1]), []).append(tuple(row[2:]))
    for name, table in meta.tables.items():
        if not _table_enforced(table, columns.get(where[name]), constraints.get(where[name], [])):
            return None
    for fk in meta.foreign_keys:
        if not _foreign_key_enforced(fk, where, constraints.get(where[fk.child], [])):
            return None
    n_rows = 0
    preparer = conn.dialect.identifier_preparer
    for schema, table in where.values():
        quoted = f"{preparer.quote_identifier(schema)}.{preparer.quote_identifier(table)}"
        n_rows += int(conn.exec_driver_sql(f"SELECT count(*) FROM {quoted}").scalar() or 0)
    return IntegrityReport((), n_tables=len(where), n_rows=n_rows)


def _table_enforced(
    table: Table, columns: dict[str, bool] | None, constraints: list[tuple[Any, ...]]
) -> bool:
    """Every column present; the primary key, each UNIQUE and each NOT NULL enforced."""
    if columns is None or any(c not in columns for c in table.column_names):
        return False
    unique = [set(c[2]) for c in constraints if c[0] in ("p", "u")]
    keys = [tuple(table.primary_key)] if table.primary_key else []
    for key in [*keys, *map(tuple, table.unique)]:
        if not any(u <= set(key) for u in unique):  # unique on fewer columns: on these too
            return False
    not_null = set(table.primary_key) | {c.name for c in table.columns if not c.nullable}
    return all(columns[c] for c in not_null)


def _foreign_key_enforced(
    fk: ForeignKey, where: Mapping[str, _Where], constraints: list[tuple[Any, ...]]
) -> bool:
    """A validated foreign key from the child's columns to the same parent columns."""
    pairs = set(zip(fk.columns, fk.parent_columns, strict=True))
    for kind, valid, cols, schema, parent, parent_cols in constraints:
        if kind != "f" or not valid or (schema, parent) != where[fk.parent]:
            continue
        if len(cols) == len(pairs) and set(zip(cols, parent_cols, strict=True)) == pairs:
            return True
    return False
