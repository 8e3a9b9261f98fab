"""Dialect catalog details SQLAlchemy's Inspector misses, for :mod:`relsynth.io.reflect`.

SQLite: which single-column ``INTEGER`` primary keys alias the rowid, which foreign
keys are ``DEFERRABLE``, and every CHECK (read from each ``CREATE TABLE`` text, parsed
with sqlglot). MariaDB: column-level CHECKs (kept inside the column definition).
Each reads the catalog of one schema; nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import Engine
from sqlglot import exp

if TYPE_CHECKING:
    from relsynth.io.reflect import _Raw

__all__ = [
    "mariadb_column_checks",
    "sqlite_catalog",
    "sqlite_checks",
    "sqlite_create_statements",
    "sqlite_deferrable",
    "sqlite_rowid_tables",
]


def sqlite_create_statements(engine: Engine, schema: str | None) -> dict[str, str | None]:
    """Each SQLite table's ``CREATE TABLE`` text, by table name (one schema); ``{}`` on
    other dialects. Read once per reflection and handed to the readers below."""
    if engine.dialect.name != "sqlite":
        return {}
    prefix = f"{engine.dialect.identifier_preparer.quote_identifier(schema)}." if schema else ""
    query = sa.text(f"SELECT name, sql FROM {prefix}sqlite_master WHERE type = 'table'")
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def sqlite_catalog(engine: Engine, schema: str | None, names: list[str], raw: _Raw) -> set[str]:
    """Complete ``raw`` with SQLite's DEFERRABLE keys and CHECKs, and return its rowid
    tables, from one reading of the ``CREATE TABLE`` texts (nothing on other dialects)."""
    statements = sqlite_create_statements(engine, schema)
    sqlite_deferrable(statements, raw)
    sqlite_checks(statements, raw)
    return sqlite_rowid_tables(engine, schema, names, statements)


def sqlite_rowid_tables(
    engine: Engine, schema: str | None, names: list[str], statements: dict[str, str | None]
) -> set[str]:
    """Tables whose single primary-key column is declared exactly ``INTEGER`` (a rowid alias)."""
    if engine.dialect.name != "sqlite" or not names:
        return set()
    prep = engine.dialect.identifier_preparer
    prefix = f"{prep.quote_identifier(schema)}." if schema else ""
    found: set[str] = set()
    with engine.connect() as conn:
        for name in names:
            if "WITHOUT ROWID" in (statements.get(name) or "").upper():
                continue
            info = conn.exec_driver_sql(
                f"PRAGMA {prefix}table_info({prep.quote_identifier(name)})"
            ).all()
            pk = [row for row in info if row[5]]
            if len(pk) == 1 and str(pk[0][2]).strip().upper() == "INTEGER":
                found.add(name)
    return found


def sqlite_deferrable(statements: dict[str, str | None], raw: _Raw) -> None:
    """SQLite's ``DEFERRABLE INITIALLY DEFERRED`` keys, which SQLAlchemy does not report.

    Read from each table's ``CREATE TABLE`` text, parsed with sqlglot, and set as the
    foreign key's ``options`` (as PostgreSQL's reflection gives them).
    """
    for name, sql in statements.items():
        if name not in raw.fks or not sql or "DEFERRABLE" not in sql.upper():
            continue
        for columns, initially in _deferrable_references(sql).items():
            for fk in raw.fks[name]:
                if tuple(fk.get("constrained_columns") or ()) == columns and not fk.get("options"):
                    fk["options"] = {"deferrable": True, "initially": initially}


def sqlite_checks(statements: dict[str, str | None], raw: _Raw) -> None:
    """SQLite's CHECK constraints, read from each ``CREATE TABLE`` text with sqlglot.

    SQLAlchemy 2.0 reads an unnamed column-level CHECK with a greedy pattern, so
    ``amount REAL CHECK (amount >= 0), label TEXT`` comes back as
    ``amount >= 0), label TEXT``, and two column checks as one. The parsed DDL gives
    every check, column- and table-level, exactly; a text sqlglot cannot parse keeps
    what SQLAlchemy found.
    """
    for name, sql in statements.items():
        if name not in raw.names or not sql or "CHECK" not in sql.upper():
            continue
        try:
            tree = sqlglot.parse_one(sql, read="sqlite")
        except sqlglot.errors.SqlglotError:
            continue
        checks = []
        for check in tree.find_all(exp.CheckColumnConstraint):
            owner = check.parent
            label = (
                owner.args.get("this")
                if isinstance(owner, exp.Constraint | exp.ColumnConstraint)
                else None
            )
            checks.append(
                {
                    "name": label.name if isinstance(label, exp.Identifier) else None,
                    "sqltext": check.this.sql(dialect="sqlite"),
                }
            )
        raw.checks[name] = checks


def _deferrable_references(sql: str) -> dict[tuple[str, ...], str | None]:
    """Child columns of each DEFERRABLE foreign key in a CREATE TABLE text -> INITIALLY."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return {}
    found: dict[tuple[str, ...], str | None] = {}
    for ref in tree.find_all(exp.Reference):
        options = " ".join(str(o).upper() for o in ref.args.get("options") or ())
        if "DEFERRABLE" not in options or "NOT DEFERRABLE" in options:
            continue
        owner = ref.parent
        if isinstance(owner, exp.ForeignKey):
            columns = tuple(i.name for i in owner.expressions)
        elif isinstance(owner, exp.ColumnConstraint) and isinstance(owner.parent, exp.ColumnDef):
            columns = (owner.parent.name,)
        else:
            continue
        found[columns] = "DEFERRED" if "INITIALLY DEFERRED" in options else None
    return found


def mariadb_column_checks(
    engine: Engine, schema: str | None, names: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Column-level CHECKs of MariaDB, which SQLAlchemy's parser of SHOW CREATE TABLE misses.

    MariaDB keeps ``col INT CHECK (col > 0)`` (and the automatic ``json_valid(col)``
    of a JSON column) inside the column definition; MySQL 8 moves them to table
    level, where the Inspector finds them.
    """
    if engine.dialect.name not in ("mysql", "mariadb") or not names:
        return {}
    if not getattr(engine.dialect, "is_mariadb", False):
        return {}
    query = sa.text(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE "
        "FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE()) AND LEVEL = 'Column'"
    )
    wanted = set(names)
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table, name, clause in conn.execute(query, {"schema": schema}).all():
            if table in wanted:
                found.setdefault(table, []).append({"name": name, "sqltext": clause})
    return found
