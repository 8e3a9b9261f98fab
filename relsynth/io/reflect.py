"""Reflect a live database into :class:`~relsynth.metadata.schema.Metadata`.

Stage 1 of the pipeline, in the database layer (:mod:`relsynth.io`, the one
boundary with databases: it connects and redacts through :mod:`relsynth.io._connect`
as the I/O functions do); it builds the pure :mod:`relsynth.metadata` objects.
:func:`reflect` calls ``sqlalchemy.inspect(engine)`` once, reads everything with the batch
``get_multi_*`` methods, converts SQLAlchemy's ``Reflected*`` dicts into the
frozen dataclasses at once, then refines the column kinds from a sample of rows
(:func:`relsynth.metadata.infer.refine_kinds`).

Decisions (see ``docs/metadata.md``):

* Tables are sorted by name (Python string order), so the result does not depend
  on the order a server happens to list them in. Columns keep database order.
* Views are ignored (logged at INFO); ``sqlite_*`` system tables are excluded.
* Declared nullability is kept as is, even for an SQLite primary-key column
  declared without ``NOT NULL`` (SQLite allows NULL there); :func:`relsynth.check`
  reports NULL primary keys anyway.
* A foreign key is dropped, with a log line, when its parent table is not
  reflected (``include``/``exclude``, or another schema); it is dropped with a
  :class:`~relsynth.errors.SchemaWarning` when its parent columns are neither the
  primary key nor a unique constraint of the parent (SQLite allows this).
* Unique indexes count as unique constraints (MariaDB reports unique constraints
  as indexes); the one equal to the primary key and partial indexes are left out.
* MariaDB's automatic ``json_valid(col)`` CHECK on a JSON column is dropped and
  the column's type is reported as ``JSON``.
* Autoincrement: PostgreSQL identity and ``nextval(...)`` defaults (serial; the
  default is then dropped since it names a sequence), MySQL ``AUTO_INCREMENT``,
  and the SQLite rowid alias (a single ``INTEGER PRIMARY KEY`` column, with or
  without ``AUTOINCREMENT``).
* CHECK constraints, defaults and generated-column expressions are parsed with
  sqlglot in the source dialect and stored in portable form
  (:mod:`relsynth.metadata.expressions`); one outside the allow-list (a call to a
  user-defined function...) is left out with a ``SchemaWarning`` (a generated
  column then becomes a plain column). ``DEFERRABLE``/``INITIALLY DEFERRED``
  foreign keys keep those options.
* Every SQLAlchemy and driver error becomes a :class:`~relsynth.errors.ReflectionError`
  whose message never contains the password; SQLAlchemy's reflection warnings
  (an unrecognised type...) are re-emitted as ``SchemaWarning``.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, Inspector

from relsynth.errors import MetadataError, ReflectionError, RelsynthError, SchemaWarning
from relsynth.io._catalog import (
    mariadb_column_checks,
    sqlite_catalog,
)
from relsynth.io._connect import connect, create_engine, scrub
from relsynth.io.types import to_portable
from relsynth.io.urls import redact
from relsynth.metadata.expressions import portable_expression
from relsynth.metadata.infer import refine_kinds
from relsynth.metadata.schema import CheckConstraint, Column, ForeignKey, Metadata, Table
from relsynth.metadata.types import kind_from_type

__all__ = ["reflect"]

logger = logging.getLogger(__name__)

_JSON_VALID_RE = re.compile(r"^\s*json_valid\(\s*[`\"]?(?P<col>[^`\"()]+)[`\"]?\s*\)\s*$", re.I)
_NEXTVAL_RE = re.compile(r"^\s*nextval\(", re.I)

TableKey = tuple[str | None, str]


def reflect(
    url: str | sa.engine.URL | Engine,
    *,
    schema: str | Sequence[str] | None = None,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    sample_rows: int = 10_000,
    schemas: Sequence[str] | None = None,
) -> Metadata:
    """Read the schema of a database: tables, columns, keys, constraints and kinds.

    Parameters
    ----------
    url : str, sqlalchemy.engine.URL or sqlalchemy.engine.Engine
        The database (``sqlite:///shop.db``, ``postgresql+psycopg://u@h/shop``,
        ``mysql+pymysql://u@h/shop``...). An engine passed in is not disposed.
    schema : str or sequence of str, optional
        The schema (PostgreSQL) or database (MySQL/MariaDB) to read; the
        connection's default one when omitted. Several (``["sales", "hr"]``) read
        the tables of each: every table keeps its schema (:attr:`Table.schema`), keys
        between them are kept, a table name held by two of them is refused.
    schemas : sequence of str, optional
        The same as a list given as ``schema`` (give one or the other).
    include : sequence of str, optional
        Only these tables. Each must exist.
    exclude : sequence of str, optional
        Leave these tables out. Each must exist. Foreign keys to left-out tables
        are dropped (logged).
    sample_rows : int
        Rows read per table (``LIMIT``, in a read-only transaction where the
        dialect allows) to refine the column kinds; 0 reads no data and keeps the
        kinds given by the SQL types and the key columns.

    Returns
    -------
    Metadata
        Validated metadata, tables sorted by name.

    Raises
    ------
    ReflectionError
        If the URL is invalid, the driver is not installed, the server cannot be
        reached, the schema does not exist, or a table named in ``include`` or
        ``exclude`` does not exist. The message names the fix and never
        contains the password.

    Warns
    -----
    SchemaWarning
        For a column type with no portable equivalent (treated as ``TEXT``) and
        for a foreign key that was dropped because it is invalid.

    Examples
    --------
    >>> import relsynth
    >>> meta = relsynth.reflect("sqlite://")  # an empty in-memory database
    >>> len(meta)
    0
    """
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 0:
        raise ReflectionError(
            f"The 'sample_rows' parameter of reflect must be an int >= 0. Got {sample_rows!r}."
        )
    wanted = _schema_list(schema, schemas)
    engine, owned = _engine(url)
    where = redact(engine.url)
    try:
        with _reflection_errors(where, engine.url):
            if len(wanted) > 1:
                meta = _build_many(engine, wanted, include, exclude, where)
            else:
                meta = _build_one(engine, wanted[0] if wanted else None, include, exclude, where)
            samples = _read_samples(engine, meta, sample_rows) if sample_rows else {}
    finally:
        if owned:
            engine.dispose()
    meta = refine_kinds(meta, samples)
    try:
        meta.validate()
    except MetadataError as exc:  # pragma: no cover - _build keeps only valid pieces
        raise ReflectionError(
            f"The schema reflected from {where} is inconsistent:", exc.problems
        ) from exc
    logger.info(
        "Reflected %d tables and %d foreign keys from %s", len(meta), len(meta.foreign_keys), where
    )
    return meta


def _schema_list(schema: str | Sequence[str] | None, schemas: Sequence[str] | None) -> list[str]:
    """The schemas asked for, in order, without repeats (empty: the default one)."""
    if schema is not None and schemas is not None:
        raise ReflectionError(
            "Give the schemas to reflect as 'schema' or as 'schemas', not both; write "
            f"schema={[*([schema] if isinstance(schema, str) else schema), *schemas]!r}."
        )
    given = schemas if schemas is not None else schema
    if given is None:
        return []
    listed = [given] if isinstance(given, str) else list(given)
    bad = [s for s in listed if not isinstance(s, str) or not s]
    if bad:
        raise ReflectionError(
            f"Schema names must be non-empty strings; got {bad[0]!r} in {listed!r}."
        )
    return list(dict.fromkeys(listed))


def _build_one(
    engine: Engine,
    schema: str | None,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    where: str,
) -> Metadata:
    """The tables of one schema (the connection's default one when None)."""
    with _sqlalchemy_warnings():
        names = _table_names(sa.inspect(engine), schema, include, exclude, where)
        raw, sqlite_rowid = _read_raw(engine, schema, names)
    return _build(raw, schema, sqlite_rowid)


def _read_raw(engine: Engine, schema: str | None, names: list[str]) -> tuple[_Raw, set[str]]:
    """What the Inspector (and the dialect's own catalog) report for ``names``."""
    raw = _Raw.read(sa.inspect(engine), schema, names)
    sqlite_rowid = sqlite_catalog(engine, schema, names, raw)
    for table, checks in mariadb_column_checks(engine, schema, names).items():
        raw.checks.setdefault(table, []).extend(checks)
    return raw, sqlite_rowid


def _build_many(
    engine: Engine,
    schemas: list[str],
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    where: str,
) -> Metadata:
    """Tables of several schemas, each keeping its schema; keys across them kept.

    A table name held by two of the schemas is qualified as ``schema.table`` in the
    metadata (its ``sql_name`` the bare name); ``include``/``exclude`` take bare or
    qualified names.
    """
    with _sqlalchemy_warnings():
        insp = sa.inspect(engine)
        per_schema = {
            s: _table_names(insp, s, None, None, where) for s in _schema_names(insp, schemas, where)
        }
        held: dict[str, int] = {}
        for names in per_schema.values():
            for name in names:
                held[name] = held.get(name, 0) + 1
        key_of = {
            (s, n): f"{s}.{n}" if held[n] > 1 else n
            for s, names in per_schema.items()
            for n in names
        }
        every = sorted({*key_of.values(), *(n for _, n in key_of)})
        _filter_names(every, include, exclude, where)
        keep = {k for k in key_of if _kept(k, key_of[k], include, exclude)}
        raws = {
            s: _read_raw(engine, s, [n for n in names if (s, n) in keep])
            for s, names in per_schema.items()
        }
    kept_keys = {k: v for k, v in key_of.items() if k in keep}
    tables: dict[str, Table] = {}
    for schema, (raw, rowid) in raws.items():
        for name in raw.names:
            key = kept_keys[(schema, name)]
            table = _table(name, raw, name in rowid)
            tables[key] = replace(table, name=key, schema=schema, sql_name=_sql_name(key, name))
    tables = dict(sorted(tables.items()))
    fks: list[ForeignKey] = []
    for schema, (raw, _) in raws.items():
        fks.extend(_foreign_keys(raw, tables, schema, key_of=kept_keys))
    return Metadata(tables=tables, foreign_keys=tuple(fks))


def _kept(
    where: tuple[str, str],
    key: str,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
) -> bool:
    names = {where[1], key}
    return (include is None or bool(names & set(include))) and not names & set(exclude or ())


def _sql_name(key: str, name: str) -> str | None:
    return None if key == name else name


def _schema_names(insp: Inspector, schemas: list[str], where: str) -> list[str]:
    existing = insp.get_schema_names()
    missing = [s for s in schemas if s not in existing]
    if missing:
        raise ReflectionError(
            f"Schema(s) {', '.join(map(repr, missing))} do not exist in {where}. Known "
            f"schemas: {', '.join(sorted(existing)) or '(none)'}."
        )
    return schemas


# -- connection and errors -----------------------------------------------------------------


def _engine(url: str | sa.engine.URL | Engine) -> tuple[Engine, bool]:
    """The engine of ``url`` through the one database boundary (``relsynth.io._connect``):
    a missing SQLite file or a server URL without a database is refused, not created."""
    if isinstance(url, Engine):
        return url, False
    engine = None
    try:
        engine = create_engine(url, "read")
        with connect(engine, action="reflect its schema"):  # a failed connection: one line
            pass
    except RelsynthError as exc:
        if engine is not None:
            engine.dispose()
        raise ReflectionError(str(exc)) from (exc.__cause__ or exc)
    return engine, True


@contextmanager
def _reflection_errors(where: str, url: sa.engine.URL) -> Iterator[None]:
    try:
        yield
    except sa_exc.OperationalError as exc:
        reason = scrub(exc.orig, url)
        raise ReflectionError(
            f"Could not connect to {where} or read its schema: {reason}. Check that the "
            "server is running and the host, port, user, password and database are right."
        ) from exc
    except sa_exc.DBAPIError as exc:
        reason = scrub(exc.orig, url)
        raise ReflectionError(
            f"The database {where} refused a reflection query: {reason}. Check that the "
            "user may read the catalog (information_schema / pg_catalog)."
        ) from exc
    except sa_exc.NoSuchTableError as exc:
        raise ReflectionError(
            f"Table {exc.args[0] if exc.args else '?'} disappeared from {where} while it "
            "was being reflected; run reflect again."
        ) from exc
    except sa_exc.SQLAlchemyError as exc:
        reason = scrub(exc, url)
        raise ReflectionError(f"Could not reflect {where}: {reason}.") from exc


@contextmanager
def _sqlalchemy_warnings() -> Iterator[None]:
    """Re-emit SQLAlchemy's reflection warnings (unknown types...) as SchemaWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if issubclass(w.category, sa_exc.SAWarning):
            warnings.warn(f"While reflecting: {w.message}", SchemaWarning, stacklevel=4)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _table_names(
    insp: Inspector,
    schema: str | None,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    where: str,
) -> list[str]:
    if schema is not None:
        schemas = insp.get_schema_names()
        if schema not in schemas:
            raise ReflectionError(
                f"Schema {schema!r} does not exist in {where}. Known schemas: "
                f"{', '.join(sorted(schemas)) or '(none)'}."
            )
    all_names = sorted(n for n in insp.get_table_names(schema=schema) if not _is_system(n))
    if not all_names and schema is None:
        _refuse_tables_elsewhere(insp, where)
    try:
        views = insp.get_view_names(schema=schema)
    except NotImplementedError:  # pragma: no cover - every supported dialect has views
        views = []
    if views:
        logger.info("Ignoring %d view(s): %s", len(views), ", ".join(sorted(views)))
    _filter_names(all_names, include, exclude, where)
    names = [n for n in all_names if include is None or n in set(include)]
    return [n for n in names if n not in set(exclude or ())]


def _filter_names(
    all_names: list[str],
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    where: str,
) -> None:
    """Refuse an ``include``/``exclude`` that is a string or names a missing table."""
    known = set(all_names)
    for label, given in (("include", include), ("exclude", exclude)):
        if isinstance(given, str):
            raise ReflectionError(
                f"The {label!r} parameter of reflect must be a list of table names, not a "
                f"string; write {label}=[{given!r}]."
            )
        missing = [n for n in (given or ()) if n not in known]
        if missing:
            raise ReflectionError(
                f"Table(s) {', '.join(map(repr, missing))} given in {label} do not exist in "
                f"{where}. Known tables: {', '.join(all_names) or '(none)'}."
            )


_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast"}


def _refuse_tables_elsewhere(insp: Inspector, where: str) -> None:
    """A PostgreSQL database whose default schema is empty but whose other schemas hold
    tables is a mistake to report, not an empty database to clone."""
    if insp.dialect.name != "postgresql":
        return
    found: dict[str, int] = {}
    for name in insp.get_schema_names():
        if name in _SYSTEM_SCHEMAS or name.startswith("pg_") or name == insp.default_schema_name:
            continue
        count = len(insp.get_table_names(schema=name))
        if count:
            found[name] = count
    if found:
        listing = ", ".join(f"{s!r} ({n} table(s))" for s, n in sorted(found.items()))
        names = sorted(found)
        python = names[0] if len(names) == 1 else names
        raise ReflectionError(
            f"{where} has no tables in its default schema {insp.default_schema_name!r}, but "
            f"has tables in schema(s) {listing}. Pass {' '.join(f'--schema {n}' for n in names)} "
            f"(schema={python!r} in Python) to read them."
        )


def _is_system(name: str) -> bool:
    return name.startswith("sqlite_")


# -- raw reflection ------------------------------------------------------------------------


@dataclass
class _Raw:
    """What the Inspector reported, keyed by table name."""

    columns: dict[str, list[Any]]
    pks: dict[str, Any]
    fks: dict[str, list[Any]]
    uniques: dict[str, list[Any]]
    indexes: dict[str, list[Any]]
    checks: dict[str, list[Any]]
    comments: dict[str, Any]
    names: list[str]
    dialect: str = ""

    @classmethod
    def read(cls, insp: Inspector, schema: str | None, names: list[str]) -> _Raw:
        if not names:
            return cls({}, {}, {}, {}, {}, {}, {}, [])
        kw: dict[str, Any] = {"schema": schema, "filter_names": names}
        return cls(
            columns=_by_table(insp.get_multi_columns(**kw)),
            pks=_by_table(insp.get_multi_pk_constraint(**kw)),
            fks=_by_table(insp.get_multi_foreign_keys(**kw)),
            uniques=_by_table(_optional(insp.get_multi_unique_constraints, kw)),
            # SQLite: a column-level UNIQUE only shows as an automatic index.
            indexes=_by_table(
                _optional(
                    insp.get_multi_indexes,
                    {**kw, "include_auto_indexes": True} if insp.dialect.name == "sqlite" else kw,
                )
            ),
            checks=_by_table(_optional(insp.get_multi_check_constraints, kw)),
            comments=_by_table(_optional(insp.get_multi_table_comment, kw)),
            names=names,
            dialect=insp.dialect.name,
        )


def _optional(method: Any, kw: dict[str, Any]) -> Mapping[TableKey, Any]:
    try:
        result: Mapping[TableKey, Any] = method(**kw)
    except NotImplementedError:
        return {}
    return result


def _by_table(multi: Mapping[TableKey, Any]) -> dict[str, Any]:
    return {name: value for (_, name), value in multi.items()}


# -- conversion ----------------------------------------------------------------------------


def _build(raw: _Raw, schema: str | None, sqlite_rowid: set[str]) -> Metadata:
    tables: dict[str, Table] = {}
    for name in raw.names:
        tables[name] = _table(name, raw, name in sqlite_rowid)
    fks = _foreign_keys(raw, tables, schema)
    return Metadata(tables=tables, foreign_keys=tuple(fks), schema=schema)


def _table(name: str, raw: _Raw, rowid_alias: bool) -> Table:
    pk = tuple((raw.pks.get(name) or {}).get("constrained_columns") or ())
    names = [str(c["name"]) for c in raw.columns.get(name, ())]
    checks: list[CheckConstraint] = []
    json_columns: set[str] = set()
    for i, chk in enumerate(raw.checks.get(name, ())):
        sqltext = str(chk.get("sqltext") or "").strip()
        match = _JSON_VALID_RE.match(sqltext)
        if match:  # MariaDB's automatic constraint on a JSON column
            json_columns.add(match.group("col"))
            continue
        label = repr(chk["name"]) if chk.get("name") else f"#{i + 1}"
        where = f"CHECK {label} of table {name!r}"
        portable = _portable(sqltext, raw.dialect, names, where) if sqltext else None
        if portable is not None:
            checks.append(CheckConstraint(sqltext=portable, name=chk.get("name")))
    columns = tuple(
        _column(name, c, pk, rowid_alias, c["name"] in json_columns, raw.dialect, names)
        for c in raw.columns.get(name, ())
    )
    comment = (raw.comments.get(name) or {}).get("text")
    return Table(
        name=name,
        columns=columns,
        primary_key=pk,
        unique=_uniques(name, raw, pk),
        checks=tuple(checks),
        comment=comment or None,
    )


def _portable(text: str, dialect: str, columns: Sequence[str], where: str) -> str | None:
    """``text`` in portable form, or ``None`` (with a warning) when it is refused."""
    try:
        return portable_expression(text, columns=columns, where=where, dialect=dialect)
    except MetadataError as exc:
        warnings.warn(f"{exc} It is left out of the metadata.", SchemaWarning, stacklevel=5)
        return None


def _column(
    table: str,
    col: Mapping[str, Any],
    pk: tuple[str, ...],
    rowid_alias: bool,
    is_json: bool,
    dialect: str,
    names: Sequence[str],
) -> Column:
    name = str(col["name"])
    sql_type = "JSON" if is_json else to_portable(col["type"], where=f"{table}.{name}")
    default = col.get("default")
    default_text = None if default is None else str(default)
    autoincrement = False
    if col.get("identity") or col.get("autoincrement") is True:
        autoincrement = True
    if default_text is not None and _NEXTVAL_RE.match(default_text):
        autoincrement, default_text = True, None
    if rowid_alias and pk == (name,):
        autoincrement = True
    if default_text is not None:
        where = f"default of column {table}.{name}"
        default_text = _portable(default_text, dialect, names, where)
    computed = col.get("computed") or {}
    generated = None
    if computed.get("sqltext") is not None:
        where = f"generated expression of column {table}.{name}"
        others = [n for n in names if n != name]
        generated = _portable(str(computed["sqltext"]), dialect, others, where)
        default_text = None
    enum_values = getattr(col["type"], "enums", None) if sql_type == "ENUM" else None
    return Column(
        name=name,
        kind=kind_from_type(sql_type),
        sql_type=sql_type,
        nullable=bool(col.get("nullable", True)),
        default=default_text,
        autoincrement=autoincrement,
        enum_values=tuple(enum_values) if enum_values else None,
        generated=generated,
        generated_stored=generated is not None and bool(computed.get("persisted")),
    )


def _uniques(name: str, raw: _Raw, pk: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    found: list[tuple[str, ...]] = []
    seen = {frozenset(pk)} if pk else set()
    candidates = [tuple(u.get("column_names") or ()) for u in raw.uniques.get(name, ())]
    for idx in raw.indexes.get(name, ()):
        if not idx.get("unique"):
            continue
        options = idx.get("dialect_options") or {}
        if any(k.endswith("_where") and v is not None for k, v in options.items()):
            logger.info("Ignoring partial unique index %s on %s", idx.get("name"), name)
            continue
        cols = tuple(idx.get("column_names") or ())
        if not cols or any(c is None for c in cols):  # expression index
            logger.info("Ignoring expression unique index %s on %s", idx.get("name"), name)
            continue
        candidates.append(cols)
    for cols in candidates:
        if cols and frozenset(cols) not in seen:
            seen.add(frozenset(cols))
            found.append(cols)
    return tuple(found)


def _foreign_keys(
    raw: _Raw,
    tables: Mapping[str, Table],
    schema: str | None,
    *,
    key_of: Mapping[tuple[str, str], str] | None = None,
) -> list[ForeignKey]:
    """The valid foreign keys of ``raw`` (read from ``schema``) among ``tables``.

    ``key_of`` (several schemas read) maps each (schema, table) read to its metadata
    name: a key whose parent lives in another schema read is kept, one into a schema
    not read dropped.
    """
    out: list[ForeignKey] = []
    seen: set[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = set()
    for raw_child in raw.names:
        child = raw_child if key_of is None else key_of[(str(schema), raw_child)]
        for fk in raw.fks.get(raw_child, ()):
            parent = fk.get("referred_table")
            if key_of is not None:  # None: a table of a schema not read
                parent = key_of.get((fk.get("referred_schema") or str(schema), str(parent)))
            columns = tuple(fk.get("constrained_columns") or ())
            parent_columns = tuple(fk.get("referred_columns") or ())
            shown = parent if parent is not None else fk.get("referred_table")
            label = f"{child}({', '.join(columns)}) -> {shown}({', '.join(parent_columns)})"
            referred_schema = fk.get("referred_schema")
            in_read = key_of is not None or referred_schema in (None, schema)
            if parent not in tables or not in_read:
                logger.info("Dropping foreign key %s: its parent table is not reflected", label)
                continue
            if not parent_columns:  # SQLite "REFERENCES parent" without columns: its PK
                parent_columns = tables[parent].primary_key
            key = (child, columns, parent, parent_columns)
            if key in seen:
                continue
            seen.add(key)
            problem = _fk_problem(tables, child, columns, parent, parent_columns)
            if problem:
                warnings.warn(
                    f"Foreign key {label} was dropped: {problem}. Declare a primary key or "
                    "unique constraint on the parent, or add the key back by hand with "
                    "Metadata.with_foreign_keys() after fixing the parent.",
                    SchemaWarning,
                    stacklevel=4,
                )
                continue
            child_table = tables[child]
            options = fk.get("options") or {}
            initially = str(options.get("initially") or "").upper() == "DEFERRED"
            out.append(
                ForeignKey(
                    child=child,
                    columns=columns,
                    parent=parent,
                    parent_columns=parent_columns,
                    nullable=all(child_table.column(c).nullable for c in columns),
                    name=fk.get("name") or None,
                    deferrable=bool(options.get("deferrable")) or initially,
                    initially_deferred=initially,
                )
            )
    return out


def _fk_problem(
    tables: Mapping[str, Table],
    child: str,
    columns: tuple[str, ...],
    parent: str,
    parent_columns: tuple[str, ...],
) -> str | None:
    if not columns or len(columns) != len(parent_columns):
        return "its child and parent columns do not pair up"
    missing = [c for c in columns if not tables[child].has_column(c)]
    if missing:
        return f"{child!r} has no column(s) {', '.join(missing)}"
    ptable = tables[parent]
    missing = [c for c in parent_columns if not ptable.has_column(c)]
    if missing:
        return f"{parent!r} has no column(s) {', '.join(missing)}"
    keys = [set(ptable.primary_key), *[set(u) for u in ptable.unique]]
    if set(parent_columns) not in keys:
        return (
            f"the parent columns ({', '.join(parent_columns)}) are neither the primary key nor "
            f"a unique constraint of {parent!r}"
        )
    return None


# -- data sample ---------------------------------------------------------------------------


def _read_samples(engine: Engine, meta: Metadata, limit: int) -> dict[str, pd.DataFrame]:
    """Read up to ``limit`` rows per table, raw driver values, in a read-only transaction."""
    samples: dict[str, pd.DataFrame] = {}
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect in ("postgresql", "mysql", "mariadb"):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        elif dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
        try:
            for table in meta:
                names = [c.name for c in table.columns if c.kind != "binary"]
                if not names:
                    continue
                # Untyped columns: no result processors, so values arrive as the driver
                # returns them (an SQLite DATETIME holding odd text cannot fail here).
                clause = sa.table(
                    table.physical_name,
                    *(sa.column(n) for n in names),
                    schema=meta.schema_of(table.name),
                )
                rows = conn.execute(sa.select(*clause.c).limit(limit)).all()
                samples[table.name] = pd.DataFrame(
                    [tuple(r) for r in rows], columns=pd.Index(names, dtype=object), dtype=object
                )
            logger.debug("Read samples of %d tables", len(samples))
        finally:
            conn.rollback()
            if dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = OFF")
    return samples
