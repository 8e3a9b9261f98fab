"""Target schema for :func:`relsynth.io.sql.write_tables`: SQLAlchemy tables from metadata.

Types come from :func:`relsynth.io.types.to_sqlalchemy`; primary keys, foreign keys,
unique constraints and NOT NULL are always created. CHECK constraints and server
defaults are SQL text written for the source dialect: their quoted identifiers
(``[x]``, ```x```, ``"x"``) and bare column names are re-quoted for the target, and
each one is tried on the target (SQLite: compiled against a probe row; PostgreSQL:
added in a savepoint; MariaDB: added with ``ALTER TABLE``). One the target cannot
compile is dropped with a single :class:`~relsynth.errors.SchemaWarning` per write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection

from relsynth.io._convert import Target, column_family
from relsynth.io.types import to_sqlalchemy
from relsynth.metadata.schema import Column, ForeignKey, Metadata, Table

__all__ = ["Schema", "add_foreign_keys", "build_schema", "create_tables", "target_of"]

logger = logging.getLogger(__name__)

# A quoted literal (kept), a PostgreSQL cast (::type, dropped elsewhere), a quoted
# identifier in one of the three styles, or a bare word not followed by "(".
_PG_TYPE = (
    r"(?:character varying|double precision|bit varying"
    r"|(?:timestamp|time)(?:\s*\(\d+\))?\s+with(?:out)?\s+time\s+zone|[A-Za-z_]\w*)"
)
_TOKEN = re.compile(
    r"'(?:[^']|'')*'"
    rf"|(::\s*{_PG_TYPE}(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\[\])*)"
    r"|(?<![\w\]])\[([^\]'\"]+)\]|`([^`]+)`|\"([^\"]+)\"|\b([A-Za-z_]\w*)\b(?!\s*\()"
)
_MYSQL_DECIMAL_DEFAULT = (65, 30)


@dataclass
class Schema:
    """The SQLAlchemy tables of a write, keyed by metadata table name."""

    metadata: sa.MetaData
    tables: dict[str, sa.Table]
    targets: dict[str, dict[str, Target]]
    deferred_in_schema: list[sa.ForeignKeyConstraint] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def build_schema(
    meta: Metadata,
    dialect: str,
    *,
    names: Mapping[str, str],
    use_alter: Collection[ForeignKey],
    deferrable: Collection[ForeignKey],
) -> Schema:
    """Build the SQLAlchemy tables of ``meta`` for ``dialect`` (nothing is executed).

    ``names`` maps each table to its physical name (a staging name on MariaDB
    replace); ``use_alter`` keys are added after every table exists (cycle
    breakers); ``deferrable`` keys are ``DEFERRABLE INITIALLY DEFERRED``.
    """
    sa_meta = sa.MetaData()
    tables: dict[str, sa.Table] = {}
    targets: dict[str, dict[str, Target]] = {}
    parent_types = _parent_types(meta, dialect)
    for name, table in meta.tables.items():
        columns = []
        targets[name] = {}
        for col in table.columns:
            sa_type = parent_types.get((name, col.name)) or _column_type(meta, table, col, dialect)
            targets[name][col.name] = target_of(col, sa_type, dialect)
            columns.append(
                sa.Column(
                    col.name,
                    sa_type,
                    nullable=col.nullable and col.name not in table.primary_key,
                    autoincrement=_autoincrement(table, col),
                    comment=None,
                )
            )
        constraints: list[sa.schema.SchemaItem] = []
        if table.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*table.primary_key))
        constraints.extend(sa.UniqueConstraint(*u) for u in table.unique)
        tables[name] = sa.Table(
            names[name],
            sa_meta,
            *columns,
            *constraints,
            comment=table.comment if dialect != "sqlite" else None,
            sqlite_autoincrement=dialect == "sqlite" and _has_autoincrement(table),
        )
    fk_names: set[str] = set()
    for fk in meta.foreign_keys:
        child, parent = tables[fk.child], tables[fk.parent]
        is_deferrable = fk in deferrable and dialect not in ("mysql", "mariadb")
        child.append_constraint(
            sa.ForeignKeyConstraint(
                list(fk.columns),
                [parent.c[c] for c in fk.parent_columns],
                name=_fk_name(fk, dialect, fk_names),
                use_alter=fk in use_alter,
                deferrable=True if is_deferrable else None,
                initially="DEFERRED" if is_deferrable else None,
            )
        )
    return Schema(sa_meta, tables, targets)


def _fk_name(fk: ForeignKey, dialect: str, used: set[str]) -> str | None:
    # MariaDB wants constraint names unique per database (and staging tables would
    # clash with the live ones): let it generate them. Elsewhere keep the source
    # name when it is unique within this write and short enough.
    if dialect in ("mysql", "mariadb") or not fk.name or fk.name in used or len(fk.name) > 63:
        return None
    used.add(fk.name)
    return fk.name


def _column_type(meta: Metadata, table: Table, col: Column, dialect: str) -> sa.types.TypeEngine:
    indexed = col.name in meta.key_columns(table.name) or any(col.name in u for u in table.unique)
    sa_type = to_sqlalchemy(
        col.sql_type,
        kind=col.kind,
        dialect=dialect,
        enum_values=col.enum_values,
        name=f"{table.name}_{col.name}",
        indexed=indexed,
    )
    if dialect in ("mysql", "mariadb") and isinstance(sa_type, sa.Numeric):
        if not isinstance(sa_type, sa.Float) and sa_type.precision is None:
            # MySQL's bare DECIMAL is DECIMAL(10, 0): it would round every value.
            sa_type = mysql.DECIMAL(*_MYSQL_DECIMAL_DEFAULT)
    if dialect in ("mysql", "mariadb") and indexed and isinstance(sa_type, sa.String):
        if not isinstance(sa_type, sa.Enum) and type(sa_type) in (sa.String, sa.CHAR, sa.VARCHAR):
            # Keys compare like PostgreSQL and SQLite: case- and trailing-space-sensitive
            # (the default collation would make 'VALON' = 'valon' and 'Val2' = 'Val2 ').
            collation = "utf8mb4_nopad_bin" if dialect == "mariadb" else "utf8mb4_0900_bin"
            sa_type = type(sa_type)(sa_type.length, collation=collation)
    if dialect == "sqlite" and _autoincrement(table, col) and isinstance(sa_type, sa.Integer):
        sa_type = sa.Integer()  # AUTOINCREMENT is only allowed on INTEGER PRIMARY KEY
    return sa_type


def _parent_types(meta: Metadata, dialect: str) -> dict[tuple[str, str], sa.types.TypeEngine]:
    """On MariaDB a foreign key column must have its parent column's exact type."""
    if dialect not in ("mysql", "mariadb"):
        return {}
    out: dict[tuple[str, str], sa.types.TypeEngine] = {}
    for fk in meta.foreign_keys:
        parent = meta.table(fk.parent)
        for col, pcol in zip(fk.columns, fk.parent_columns, strict=True):
            out[(fk.child, col)] = _column_type(meta, parent, parent.column(pcol), dialect)
    return out


def _autoincrement(table: Table, col: Column) -> bool:
    return (
        col.autoincrement
        and table.primary_key == (col.name,)
        and column_family(col)[0] in ("int", "any")
        and column_family(col)[1] != "BIGINT UNSIGNED"  # NUMERIC(20, 0) on PostgreSQL
    )


def _has_autoincrement(table: Table) -> bool:
    return any(_autoincrement(table, c) for c in table.columns)


def target_of(col: Column, sa_type: sa.types.TypeEngine, dialect: str) -> Target:
    """How values of ``col`` are validated and sent for ``sa_type`` on ``dialect``."""
    family, base, params = column_family(col)
    length = getattr(sa_type, "length", None)
    if dialect == "sqlite" or family != "text" or not isinstance(length, int):
        length = None
    if isinstance(sa_type, mysql.DECIMAL) and base == "NUMERIC" and not params:
        params = _MYSQL_DECIMAL_DEFAULT
    enum_values = col.enum_values if base == "ENUM" and dialect != "sqlite" else None
    return Target(family, base, params, dialect, length=length, enum_values=enum_values)


# -- creating -------------------------------------------------------------------------------


def create_tables(
    conn: Connection,
    meta: Metadata,
    schema: Schema,
    create: Collection[str],
    *,
    foreign_keys_later: bool = False,
) -> None:
    """Create the tables named in ``create`` with their checks and defaults.

    Runs on ``conn`` inside the caller's transaction (PostgreSQL, SQLite). Checks
    and defaults the target cannot compile are skipped and listed in
    ``schema.dropped``. With ``foreign_keys_later`` the foreign keys are left out;
    :func:`add_foreign_keys` adds them once the rows are in (PostgreSQL validates a
    new key with one query instead of one trigger call per row).
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        for name in create:
            _attach_sqlite_extras(conn, meta.table(name), schema)
    ordered = [schema.tables[n] for n in meta.tables if n in create]
    if foreign_keys_later:
        for table in ordered:
            for column in table.columns:
                if isinstance(column.type, postgresql.ENUM):
                    column.type.create(conn, checkfirst=True)
            conn.execute(sa.schema.CreateTable(table, include_foreign_key_constraints=[]))
            if table.comment:
                conn.execute(sa.schema.SetTableComment(table))
    else:
        schema.metadata.create_all(conn, tables=ordered, checkfirst=dialect == "postgresql")
    if dialect != "sqlite":
        for name in create:
            _alter_extras(conn, meta.table(name), schema)


def add_foreign_keys(conn: Connection, schema: Schema, tables: Collection[str]) -> None:
    """Add the foreign keys held by ``tables`` (created with ``foreign_keys_later``)."""
    for name in tables:
        for constraint in sorted(schema.tables[name].foreign_key_constraints, key=_fk_order):
            conn.execute(sa.schema.AddConstraint(constraint))


def _fk_order(constraint: sa.ForeignKeyConstraint) -> tuple[str, ...]:
    return tuple(constraint.column_keys)


def _attach_sqlite_extras(conn: Connection, table: Table, schema: Schema) -> None:
    sa_table = schema.tables[table.name]
    probe = _probe_row(conn, table)
    for col in table.columns:
        default = _usable_default(col)
        if default is None:
            continue
        text = translate_sql(default, conn.dialect, table.column_names)
        if _compiles(conn, f"SELECT ({text}) FROM ({probe}) AS relsynth_probe"):
            sa_table.c[col.name].server_default = sa.DefaultClause(sa.text(f"({text})"))
        else:
            schema.dropped.append(f"default {default!r} of {table.name}.{col.name}")
    for check in table.checks:
        text = translate_sql(check.sqltext, conn.dialect, table.column_names)
        if _compiles(conn, f"SELECT 1 FROM ({probe}) AS relsynth_probe WHERE NOT ({text})"):
            sa_table.append_constraint(sa.CheckConstraint(sa.text(text), name=check.name))
        else:
            schema.dropped.append(f"CHECK ({check.sqltext}) of {table.name}")


def _probe_row(conn: Connection, table: Table) -> str:
    quote = conn.dialect.identifier_preparer.quote_identifier
    return "SELECT " + ", ".join(f"NULL AS {quote(c)}" for c in table.column_names)


def _compiles(conn: Connection, sql: str) -> bool:
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(sql.replace("%", "%%") if _pyformat(conn) else sql).close()
    except sa.exc.DBAPIError as exc:
        logger.debug("does not compile on %s: %s (%s)", conn.dialect.name, sql, exc.orig)
        return False
    return True


def _pyformat(conn: Connection) -> bool:
    return conn.dialect.paramstyle in ("format", "pyformat")


def _alter_extras(conn: Connection, table: Table, schema: Schema) -> None:
    sa_table = schema.tables[table.name]
    preparer = conn.dialect.identifier_preparer
    qtable = preparer.format_table(sa_table)
    used: set[str] = set()
    for col in table.columns:
        default = _usable_default(col)
        if default is None:
            continue
        text = translate_sql(default, conn.dialect, table.column_names)
        sql = (
            f"ALTER TABLE {qtable} ALTER COLUMN {preparer.quote_identifier(col.name)} "
            f"SET DEFAULT {text if conn.dialect.name == 'postgresql' else f'({text})'}"
        )
        if not _try_ddl(conn, sql):
            schema.dropped.append(f"default {default!r} of {table.name}.{col.name}")
    for check in table.checks:
        text = translate_sql(check.sqltext, conn.dialect, table.column_names)
        name = ""
        if check.name and check.name not in used and len(check.name) <= 63:
            used.add(check.name)
            name = f"CONSTRAINT {preparer.quote_identifier(check.name)} "
        sql = f"ALTER TABLE {qtable} ADD {name}CHECK ({text})"
        if not _try_ddl(conn, sql):
            schema.dropped.append(f"CHECK ({check.sqltext}) of {table.name}")


def _try_ddl(conn: Connection, sql: str) -> bool:
    stmt = sql.replace("%", "%%") if _pyformat(conn) else sql
    if conn.dialect.name == "postgresql":
        return _compiles(conn, sql)
    try:  # MariaDB: DDL is not transactional; a failed ALTER changes nothing
        conn.exec_driver_sql(stmt).close()
    except sa.exc.DBAPIError as exc:
        logger.debug("not added on %s: %s (%s)", conn.dialect.name, sql, exc.orig)
        return False
    return True


def _usable_default(col: Column) -> str | None:
    if col.default is None or col.autoincrement:
        return None
    if "nextval(" in col.default.lower():
        return None
    return col.default


def translate_sql(sqltext: str, dialect: sa.engine.Dialect, columns: Collection[str]) -> str:
    """Re-quote the identifiers of a CHECK or DEFAULT expression for ``dialect``.

    Quoted identifiers in any style (``[x]``, ```x```, ``"x"``) and bare words that
    are column names (not function calls) are quoted the target's way; PostgreSQL
    ``::type`` casts are dropped for other dialects; string literals are left alone.
    """
    quote = dialect.identifier_preparer.quote_identifier
    known = set(columns)

    def repl(match: re.Match[str]) -> str:
        cast, bracket, backtick, double, bare = match.groups()
        if cast is not None:  # PostgreSQL's value::type casts ('none'::character varying)
            return cast if dialect.name == "postgresql" else ""
        ident = bracket or backtick or double
        if ident is not None:
            return quote(ident)
        if bare is not None and bare in known:
            return quote(bare)
        return match.group(0)

    return _TOKEN.sub(repl, sqltext)
