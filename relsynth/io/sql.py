"""Reading and writing relational tables: the outside world of the pipeline.

Stage 6 of the pipeline (and its start): :func:`read_tables` reads a database (or
a folder of CSV files) into DataFrames whose dtypes follow the metadata;
:func:`write_tables` creates the schema in any supported dialect and bulk-loads
the tables so that a failure leaves nothing half written; :func:`check_database`
runs :func:`relsynth.check`'s integrity checks as SQL on a live database.

Only this package and :mod:`relsynth.io.reflect` import SQLAlchemy. The work
is split into private modules: ``_convert`` (values <-> pandas), ``_connect``
(engines, read-only transactions, error mapping), ``_ddl`` (target schema),
``_write`` (loading) and ``_dbcheck`` (SQL integrity checks). ``docs/io.md``
describes the behaviour per dialect.
"""

from __future__ import annotations

import hashlib
import logging
import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.engine import URL, Engine

from relsynth.check import IntegrityReport
from relsynth.errors import DatabaseError, ParameterError
from relsynth.io._connect import connect, database_error, open_engine, parse_url, read_only
from relsynth.io._identity import engine_identity, source_identity
from relsynth.io._write import as_written, target_schema, write_database
from relsynth.io._write_job import WriteReport
from relsynth.io.urls import folder_writable, redact
from relsynth.metadata.schema import Metadata

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "WriteReport",
    "check_database",
    "check_target",
    "check_values",
    "read_tables",
    "source_identity",
    "as_written",
    "target_schema",
    "write_table_chunks",
    "write_tables",
]

logger = logging.getLogger(__name__)

_IF_EXISTS = ("fail", "replace", "append")


def read_tables(
    source: str | Engine | os.PathLike[str],
    metadata: Metadata,
    *,
    tables: Sequence[str] | None = None,
    chunksize: int = 50_000,
) -> dict[str, pd.DataFrame]:
    """Read tables from a database, or from a folder of CSV files, as DataFrames.

    The database is read inside one read-only transaction with a consistent
    snapshot (PostgreSQL ``REPEATABLE READ, READ ONLY``; MariaDB ``START
    TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY``; SQLite ``PRAGMA
    query_only`` + ``BEGIN``), in chunks of ``chunksize`` rows, ordered by primary
    key. Dtypes follow the metadata: integers ``int64`` (``Int64`` when the column
    holds NULLs), floats and decimals ``float64`` (``Decimal`` objects for
    ``NUMERIC(p, s)`` with ``p > 15``), dates and timestamps ``datetime64[ns]``,
    booleans ``boolean``, text ``str`` (leading zeros kept), BLOBs ``bytes``.
    See ``docs/io.md`` for the full table.

    Parameters
    ----------
    source : str, Engine or path-like
        A database URL, an SQLAlchemy engine, or a folder holding ``<table>.csv``.
    metadata : Metadata
        The tables to read and their column types (see :func:`relsynth.reflect`).
    tables : sequence of str, optional
        Only these tables (default: every table of the metadata).
    chunksize : int
        Rows fetched per round trip.

    Returns
    -------
    dict of str to DataFrame
        One frame per table, columns in metadata order. Each frame's
        ``attrs["relsynth_source"]`` holds the identity of the source (what the
        database is, not its URL: see ``relsynth.io._identity``), which
        :func:`write_tables` uses to refuse writing back into it.

    Raises
    ------
    DatabaseError
        If the database cannot be reached or lacks a table or column, the SQLite
        file does not exist (it is not created), or a server URL names no database.
    DataError
        If a CSV file or column is missing.

    Examples
    --------
    >>> import relsynth
    >>> meta = relsynth.reflect("sqlite:///shop.db")  # doctest: +SKIP
    >>> tables = relsynth.read_tables("sqlite:///shop.db", meta)  # doctest: +SKIP
    """
    if not isinstance(metadata, Metadata):
        raise ParameterError(
            f"read_tables: 'metadata' must be a Metadata, got {type(metadata).__name__}."
        )
    if not isinstance(chunksize, numbers.Integral) or chunksize < 1:
        raise ParameterError(
            f"The 'chunksize' parameter of read_tables must be an int >= 1. Got {chunksize!r}."
        )
    names = list(tables) if tables is not None else list(metadata.tables)
    for name in names:
        metadata.table(name)  # MetadataError naming the known tables
    if _is_folder(source):
        from relsynth.io.files import read_csv_folder

        return read_csv_folder(source, metadata, tables=names)  # type: ignore[arg-type]
    from relsynth.io._read import read_database

    with open_engine(source) as engine:  # type: ignore[arg-type]
        return read_database(engine, metadata, names, chunksize=int(chunksize))


def _is_folder(source: object) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and "://" not in source and ":" not in source.split("/")[0]


def write_tables(
    target: str | Engine,
    metadata: Metadata,
    tables: Mapping[str, pd.DataFrame],
    *,
    if_exists: Literal["fail", "replace", "append"] = "fail",
    source: str | None = None,
    batch_size: int = 10_000,
) -> WriteReport:
    """Create the schema of ``metadata`` in ``target`` and load ``tables``; all or nothing.

    Types are mapped to the target dialect; primary keys, foreign keys, unique
    constraints and NOT NULL are created, CHECK constraints and defaults where the
    target can compile them. Rows are inserted in plan order (PostgreSQL ``COPY``,
    batched ``executemany`` elsewhere), cycle-breaking foreign keys are filled
    afterwards, sequences/identity columns are reset to the largest key, and the
    database's integrity is proven with the SQL checks of :func:`check_database`
    before committing. PostgreSQL and SQLite do all of it in one transaction;
    MariaDB (whose DDL auto-commits) rolls back the rows and drops the tables the
    call created when anything fails, and swaps replaced tables in atomically.

    Parameters
    ----------
    target : str or Engine
        The database to write into.
    metadata : Metadata
        The tables, types and keys to create.
    tables : Mapping of str to DataFrame
        One frame per metadata table, with every column.
    if_exists : {"fail", "replace", "append"}
        When a metadata table already exists in ``target``: raise before touching
        anything (``fail``), drop and recreate the metadata's tables (``replace``),
        or insert into the existing tables and create the missing ones (``append``).
    source : str, optional
        URL of the database the tables came from; writing into it is refused.
        Frames read by :func:`read_tables` carry their source already.
    batch_size : int
        Rows converted and sent per batch.

    Returns
    -------
    WriteReport
        Rows per table, seconds, dialect, and the checks/defaults not created.

    Raises
    ------
    MetadataError
        A CHECK, default or generated expression is not one allow-listed SQL
        expression over its table's columns (raised before connecting; SQL text
        from metadata is never run as text).
    DataError
        A frame or column is missing, or values do not fit their column type
        (all problems listed, before anything is written).
    DatabaseError
        The target is unreachable, already has the tables (``fail``), is the
        source, or the database rejected the data (named table; nothing written).
    ReferentialIntegrityError
        The loaded tables violate their keys (nothing committed).

    Examples
    --------
    >>> report = relsynth.write_tables("sqlite:///copy.db", meta, tables)  # doctest: +SKIP
    >>> report.rows["orders"]  # doctest: +SKIP
    830
    """
    _check_write_parameters(metadata, if_exists, batch_size)
    with open_engine(target, "write") as engine:
        _refuse_source(engine, metadata, tables, source)
        return write_database(
            engine, metadata, tables, if_exists=if_exists, batch_size=int(batch_size)
        )


def write_table_chunks(
    target: str | Engine,
    metadata: Metadata,
    chunks: Iterable[Mapping[str, pd.DataFrame]],
    *,
    if_exists: Literal["fail", "replace", "append"] = "fail",
    source: str | None = None,
    batch_size: int = 10_000,
    on_chunk: Callable[[int, int], None] | None = None,
) -> WriteReport:
    """Write a database given as chunks (e.g. :meth:`Synthesizer.sample_chunks
    <relsynth.Synthesizer.sample_chunks>`) as :func:`write_tables` writes one: all
    or nothing.

    Every chunk maps every metadata table to a frame (empty where a chunk adds no
    rows); the chunks are taken one at a time and inserted in order into the same
    tables, inside the one transaction on PostgreSQL and SQLite (the foreign keys
    are added or checked once, after the last chunk). MariaDB/MySQL commits its DDL
    implicitly: the tables are created first and the rows of every chunk go in one
    transaction; on failure it is rolled back and the tables this call created are
    dropped (``replace`` loads into staging tables swapped in at the end). So a
    failure in any chunk, the chunk producer's included, leaves nothing written.
    ``on_chunk(chunk, rows)`` is called after each chunk with the rows written so far.
    """
    _check_write_parameters(metadata, if_exists, batch_size)
    it = iter(chunks)
    first = next(it, None)
    if first is None:
        raise ParameterError("write_table_chunks was given no chunk; give at least one.")
    with open_engine(target, "write") as engine:
        _refuse_source(engine, metadata, first, source)
        return write_database(
            engine,
            metadata,
            first,
            if_exists=if_exists,
            batch_size=int(batch_size),
            more=it,
            on_chunk=on_chunk,
        )


def _check_write_parameters(metadata: Metadata, if_exists: str, batch_size: Any) -> None:
    """write_tables' arguments, checked before connecting (``ParameterError``)."""
    if if_exists not in _IF_EXISTS:
        raise ParameterError(
            "The 'if_exists' parameter of write_tables must be one of 'fail', 'replace', "
            f"'append'. Got {if_exists!r} instead."
        )
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ParameterError(
            f"The 'batch_size' parameter of write_tables must be an int >= 1. Got {batch_size!r}."
        )
    if not isinstance(metadata, Metadata):
        raise ParameterError(
            f"write_tables: 'metadata' must be a Metadata, got {type(metadata).__name__}."
        )
    metadata.validate()


def check_values(
    target: str | Engine, metadata: Metadata, tables: Mapping[str, pd.DataFrame]
) -> None:
    """Raise now the :class:`~relsynth.errors.DataError` that :func:`write_tables` would
    raise about values like ``tables`` (the source's, read before a fit).

    A value the target's column types cannot hold (±Inf on MariaDB/MySQL, an unsigned
    value above 2**63 - 1 on SQLite, text longer than a target's ``VARCHAR``) is the
    data's error: a synthetic copy holds the same kinds of values, so it is reported
    before the long work, not after it. Validates only; connects to nothing.
    """
    from relsynth.io._write_job import prepare_job

    dialect = (
        target.dialect.name if isinstance(target, Engine) else parse_url(target).get_backend_name()
    )
    prepare_job(as_written(metadata, dialect), tables, dialect, staging=False, batch_size=1)


def check_target(
    target: str | Engine,
    metadata: Metadata,
    *,
    if_exists: Literal["fail", "replace", "append"] = "fail",
    source: str | None = None,
) -> None:
    """Raise now what :func:`write_tables` would raise about ``target`` later.

    Run before long work (fitting, sampling) so that a target that is the source,
    is unreachable, or already has the tables (``if_exists="fail"``) is reported at
    once. Reads the target's catalogue only; writes nothing.
    """
    from relsynth.io._write import existing_tables

    if if_exists not in _IF_EXISTS:
        raise ParameterError(
            "The 'if_exists' parameter must be one of 'fail', 'replace', 'append'. "
            f"Got {if_exists!r} instead."
        )
    from relsynth.io._connect import sqlite_path

    with open_engine(target, "write") as engine:
        _refuse_source(engine, metadata, {}, source)
        if engine.dialect.name == "sqlite":
            path = sqlite_path(engine.url)
            if path is not None and path.is_dir():
                raise DatabaseError(
                    f"The SQLite target {path} is a folder; give a file name inside it."
                )
            if path is not None and not path.exists():
                folder = path.absolute().parent
                if not folder.is_dir() or not folder_writable(folder):
                    what = "does not exist" if not folder.is_dir() else "is not writable"
                    raise DatabaseError(
                        f"Cannot create the SQLite target {path}: its folder {folder} {what}. "
                        "Create the folder or choose another path."
                    )
                return  # connecting would create an empty file: a new file has no tables
        with connect(engine, action="inspect the target") as conn:
            existing_tables(conn, metadata, if_exists)


def _refuse_source(
    engine: Engine,
    metadata: Metadata,
    tables: Mapping[str, object],
    source: str | Engine | os.PathLike[str] | None,
) -> None:
    """Raise when ``engine``'s database is the source (compared by identity, not URL)."""
    sources: set[str] = set()
    digests: set[str] = set()  # a sample's: its model's source, hashed (synthesis)
    for frame in tables.values():
        attrs = getattr(frame, "attrs", None) or {}
        if attrs.get("relsynth_source"):
            sources.add(str(attrs["relsynth_source"]))
        digests.update(str(d) for d in attrs.get("relsynth_source_digests") or ())
    if source is not None:
        found = source_identity(source, metadata.schema or (metadata.schemas or (None,))[0])
        if found is not None:
            sources.add(found)
    if not sources and not digests:
        return
    here = engine_identity(engine, target_schema(engine.dialect.name, metadata))
    if here is not None and (
        here in sources or hashlib.sha256(here.encode()).hexdigest() in digests
    ):
        raise DatabaseError(
            f"Refusing to write into {redact(engine.url)}: it is the database the tables "
            "were read from (the same server and database, or the same file, under another "
            "name), and relsynth never writes to its source. Write into another database "
            "(or another SQLite file)."
        )


def check_database(url: str | Engine | URL, metadata: Metadata | None = None) -> IntegrityReport:
    """Check a live database against its keys and constraints, without loading tables.

    Runs the checks of :func:`relsynth.check` as SQL in a read-only transaction:
    NULL and duplicate primary keys (``GROUP BY ... HAVING``), orphan foreign keys
    (``LEFT JOIN ... WHERE parent IS NULL`` over child rows whose key columns are
    all non-NULL, composite keys included), NULLs in NOT NULL columns and duplicate
    unique values, each with up to five example keys.

    Parameters
    ----------
    url : str or Engine
        The database.
    metadata : Metadata, optional
        The tables and keys to check (e.g. with foreign keys the database does not
        declare). By default the database is reflected.

    Returns
    -------
    IntegrityReport

    Raises
    ------
    DatabaseError
        If the database cannot be reached or a query fails.

    Examples
    --------
    >>> report = check_database("sqlite:///shop.db")  # doctest: +SKIP
    >>> report.ok  # doctest: +SKIP
    True
    """
    from sqlalchemy.exc import DBAPIError

    from relsynth.io._dbcheck import check_connection

    with open_engine(url) as engine:
        if metadata is None:
            from relsynth.io.reflect import reflect

            metadata = reflect(engine)
        with connect(engine, action="check its integrity") as conn:
            try:
                with read_only(conn):
                    return check_connection(conn, metadata, schema=metadata.schema)
            except DBAPIError as exc:
                raise database_error(
                    exc, f"Checking {redact(engine.url)} failed", engine.url
                ) from exc
