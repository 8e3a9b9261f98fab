"""Reflect a live database into :class:`~relsynth.metadata.schema.Metadata`.

Stage 1 of the pipeline, in the database layer (:mod:`relsynth.io`, the one
boundary with databases: it connects and redacts through :mod:`relsynth.io._connect`
as the I/O functions do); it builds the pure :mod:`relsynth.metadata` objects.
:func:`reflect` calls ``sqlalchemy.inspect(engine)`` once, reads everything with the batch
``get_multi_*`` methods, converts SQLAlchemy's ``Reflected*`` dicts into the
frozen dataclasses at once (:mod:`relsynth.io._reflected`), then refines the column
kinds from a sample of rows (:func:`relsynth.metadata.infer.refine_kinds`).

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
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

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
from relsynth.io._reflected import RawCatalog, build_foreign_keys, build_metadata, build_table
from relsynth.io.urls import redact
from relsynth.metadata.infer import refine_kinds
from relsynth.metadata.schema import ForeignKey, Metadata, Table

__all__ = ["reflect"]

logger = logging.getLogger(__name__)


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
    _check_sample_rows(sample_rows)
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
    meta = _validated(refine_kinds(meta, samples), where)
    logger.info(
        "Reflected %d tables and %d foreign keys from %s", len(meta), len(meta.foreign_keys), where
    )
    return meta


def _check_sample_rows(sample_rows: object) -> None:
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 0:
        raise ReflectionError(
            f"The 'sample_rows' parameter of reflect must be an int >= 0. Got {sample_rows!r}."
        )


def _validated(meta: Metadata, where: str) -> Metadata:
    try:
        meta.validate()
    except MetadataError as exc:  # pragma: no cover - build_metadata keeps only valid pieces
        raise ReflectionError(
            f"The schema reflected from {where} is inconsistent:", exc.problems
        ) from exc
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
    return build_metadata(raw, schema, sqlite_rowid)


def _read_raw(engine: Engine, schema: str | None, names: list[str]) -> tuple[RawCatalog, set[str]]:
    """What the Inspector (and the dialect's own catalog) report for ``names``."""
    raw = RawCatalog.read(sa.inspect(engine), schema, names)
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
            table = build_table(name, raw, name in rowid)
            tables[key] = replace(table, name=key, schema=schema, sql_name=_sql_name(key, name))
    tables = dict(sorted(tables.items()))
    fks: list[ForeignKey] = []
    for schema, (raw, _) in raws.items():
        fks.extend(build_foreign_keys(raw, tables, schema, key_of=kept_keys))
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
