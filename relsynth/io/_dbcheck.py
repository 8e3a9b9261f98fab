"""Integrity checks run as SQL on a live database (the database half of ``check``).

The same checks as :func:`relsynth.check.check_tables`, without loading tables:

* per table, one aggregate scan counts rows, NULL primary keys and NULLs in NOT
  NULL columns;
* duplicate primary keys and unique values: ``GROUP BY key HAVING COUNT(*) > 1``;
* orphan foreign keys: ``child LEFT JOIN parent ON every key column ... WHERE the
  parent is missing``, over child rows whose key columns are all non-NULL (MATCH
  SIMPLE, so composite keys with a NULL are not checked).

Each violation carries up to five example keys, ordered so reports are stable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relsynth.check import IntegrityReport, Violation
from relsynth.metadata.schema import ForeignKey, Metadata, Table

__all__ = ["Orphans", "check_connection", "orphans"]

#: The orphans of one foreign key: rows, and up to five example keys (None: none).
Orphans = tuple[int, tuple[Any, ...]] | None

logger = logging.getLogger(__name__)

_MAX_EXAMPLES = 5


def check_connection(
    conn: Connection,
    meta: Metadata,
    *,
    names: Mapping[str, str] | None = None,
    schema: str | None = None,
    known: Mapping[ForeignKey, Orphans] | None = None,
) -> IntegrityReport:
    """Check the tables of ``meta`` on ``conn`` (inside the caller's transaction).

    ``names`` maps metadata table names to physical ones (default: the same). Each
    table is looked for in its own schema (:attr:`Table.schema`), else ``schema``.
    ``known``: foreign keys whose orphans the caller has already counted over every
    row of the child (a chunked write, chunk by chunk: :mod:`relsynth.io._chunkproof`),
    taken as they are instead of scanning the child again.
    """
    known = known or {}
    names = dict(names or {n: t.physical_name for n, t in meta.tables.items()})
    where = {n: t.schema or schema for n, t in meta.tables.items()}
    present = _present_columns(conn, [(where[n], names[n]) for n in meta.tables])
    violations: list[Violation] = []
    tables: dict[str, sa.TableClause] = {}
    n_rows = 0
    for name, table in meta.tables.items():
        cols = present.get((where[name], names[name]))
        if cols is None:
            violations.append(Violation("missing_table", name, (), 0))
            continue
        missing = tuple(c for c in table.column_names if c not in cols)
        if missing:
            violations.append(Violation("missing_column", name, missing, 0))
        sa_table = sa.table(names[name], *[sa.column(c) for c in cols], schema=where[name])
        tables[name] = sa_table
        count, found = _table_violations(conn, table, sa_table)
        n_rows += count
        violations.extend(found)
    for fk in meta.foreign_keys:
        child, parent = tables.get(fk.child), tables.get(fk.parent)
        if child is None or parent is None:
            continue
        if not set(fk.columns) <= set(child.c.keys()):
            continue
        if not set(fk.parent_columns) <= set(parent.c.keys()):
            continue
        orphan = known[fk] if fk in known else orphans(conn, fk, child, parent)
        if orphan is not None:
            violations.append(Violation("orphan_foreign_key", fk.child, fk.columns, *orphan, fk))
    report = IntegrityReport(tuple(violations), n_tables=len(tables), n_rows=n_rows)
    logger.debug("check_database: %s", report)
    return report


def _present_columns(
    conn: Connection, physical: Sequence[tuple[str | None, str]]
) -> dict[tuple[str | None, str], list[str]]:
    """The columns of each (schema, table) of ``physical`` that exists."""
    insp = sa.inspect(conn)
    out: dict[tuple[str | None, str], list[str]] = {}
    for schema in dict.fromkeys(s for s, _ in physical):
        existing = set(insp.get_table_names(schema=schema))
        wanted = [n for s, n in physical if s == schema and n in existing]
        if not wanted:
            continue
        multi = insp.get_multi_columns(schema=schema, filter_names=wanted)
        out.update({(schema, key[1]): [c["name"] for c in cols] for key, cols in multi.items()})
    return out


def _null_count(*columns: sa.ColumnClause[Any]) -> sa.ColumnElement[Any]:
    cond = sa.or_(*[c.is_(None) for c in columns])
    return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)


def _table_violations(
    conn: Connection, table: Table, sa_table: sa.TableClause
) -> tuple[int, list[Violation]]:
    cols = sa_table.c
    pk = tuple(c for c in table.primary_key if c in cols)
    has_pk = bool(pk) and len(pk) == len(table.primary_key)
    not_null = [
        c.name for c in table.columns if not c.nullable and c.name in cols and c.name not in pk
    ]
    exprs: list[sa.ColumnElement[Any]] = [sa.func.count()]
    if has_pk:
        exprs.append(_null_count(*[cols[c] for c in pk]))
    exprs.extend(_null_count(cols[c]) for c in not_null)
    row = conn.execute(sa.select(*exprs).select_from(sa_table)).one()
    counts = [int(v or 0) for v in row]
    out: list[Violation] = []
    if has_pk:
        if counts[1]:
            out.append(Violation("null_primary_key", table.name, pk, counts[1]))
        dup = _duplicates(conn, sa_table, pk)
        if dup is not None:
            out.append(Violation("duplicate_primary_key", table.name, pk, *dup))
    offset = 2 if has_pk else 1
    for name, n_null in zip(not_null, counts[offset:], strict=True):
        if n_null:
            out.append(Violation("not_null", table.name, (name,), n_null))
    for unique in table.unique:
        if set(unique) <= set(cols.keys()):
            dup = _duplicates(conn, sa_table, unique)
            if dup is not None:
                out.append(Violation("duplicate_unique", table.name, unique, *dup))
    return counts[0], out


def _duplicates(
    conn: Connection, sa_table: sa.TableClause, key: Sequence[str]
) -> tuple[int, tuple[Any, ...]] | None:
    cols = [sa_table.c[k] for k in key]
    groups = (
        sa.select(*cols, sa.func.count().label("relsynth_n"))
        .where(*[c.is_not(None) for c in cols])
        .group_by(*cols)
        .having(sa.func.count() > 1)
        .subquery("relsynth_dup")
    )
    total = conn.execute(sa.select(sa.func.sum(groups.c.relsynth_n))).scalar()
    if not total:
        return None
    key_cols = [groups.c[i] for i in range(len(key))]
    rows = conn.execute(sa.select(*key_cols).order_by(*key_cols).limit(_MAX_EXAMPLES)).all()
    return int(total), _examples(rows)


def orphans(
    conn: Connection,
    fk: ForeignKey,
    child: sa.TableClause,
    parent: sa.TableClause,
    rows: sa.ColumnElement[bool] | None = None,
) -> Orphans:
    """The child rows of ``fk`` whose parent is missing (only the rows where ``rows``
    holds, a condition on ``relsynth_child``, the child's alias, when given)."""
    c_alias = child.alias("relsynth_child")
    p_alias = parent.alias("relsynth_parent")
    c_cols = [c_alias.c[c] for c in fk.columns]
    p_cols = [p_alias.c[c] for c in fk.parent_columns]
    joined = c_alias.outerjoin(
        p_alias, sa.and_(*[a == b for a, b in zip(c_cols, p_cols, strict=True)])
    )
    where: list[sa.ColumnElement[bool]] = [*[c.is_not(None) for c in c_cols], p_cols[0].is_(None)]
    if rows is not None:
        where.append(rows)
    total = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar()
    if not total:
        return None
    examples = conn.execute(
        sa.select(*c_cols)
        .select_from(joined)
        .where(*where)
        .distinct()
        .order_by(*c_cols)
        .limit(_MAX_EXAMPLES)
    ).all()
    return int(total), _examples(examples)


def _examples(rows: Sequence[Any]) -> tuple[Any, ...]:
    if rows and len(rows[0]) == 1:
        return tuple(r[0] for r in rows)
    return tuple(tuple(r) for r in rows)
