"""Engines, connections, fingerprints and error mapping for the SQL I/O functions.

Every SQLAlchemy/DB-API error that leaves :mod:`relsynth.io` is re-raised here as
a :class:`~relsynth.errors.DatabaseError` whose message names what was being
done and never contains a password (URLs are rendered with
``hide_password=True``, and the password text is scrubbed from driver messages).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from relsynth._urls import redact_url
from relsynth.errors import DatabaseError, ParameterError

__all__ = [
    "connect",
    "database_error",
    "fingerprint",
    "open_engine",
    "read_only",
    "sqlite_manual_transactions",
]

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_LOCALHOST = {"localhost", "127.0.0.1", "::1", ""}
_CONNECT_TIMEOUT_S = 10


def _parse(source: str | URL) -> URL:
    try:
        return sa.make_url(source)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ParameterError(
            f"{redact_url(source)!r} is not a database URL. Use e.g. "
            "'sqlite:///path/to/file.db' or 'postgresql+psycopg://user@host/dbname'."
        ) from exc


@contextlib.contextmanager
def open_engine(source: str | URL | Engine) -> Iterator[Engine]:
    """Yield an engine for ``source``; one made here is disposed on exit."""
    if isinstance(source, Engine):
        yield source
        return
    url = _parse(source)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = _CONNECT_TIMEOUT_S
    try:
        engine = sa.create_engine(url, connect_args=connect_args)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(
            f"Cannot use database URL {redact_url(url)}: {exc}. Install the driver named in "
            "the URL, or fix the URL."
        ) from exc
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def connect(engine: Engine, *, action: str) -> Iterator[Connection]:
    """Connect, mapping a connection failure to :class:`DatabaseError`."""
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise database_error(
            exc,
            f"Cannot connect to {redact_url(engine.url)} to {action}",
            engine.url,
            hint="Check that the server is running and the "
            "URL (host, port, database, user) is right.",
        ) from exc
    with conn:
        yield conn


def database_error(
    exc: BaseException, what: str, url: URL | None = None, *, hint: str = ""
) -> DatabaseError:
    """A :class:`DatabaseError` for ``exc``: ``what`` + the driver's first line + ``hint``."""
    orig = getattr(exc, "orig", None) or exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    password = url.password if url is not None else None
    if password:
        detail = detail.replace(str(password), "***")
    message = f"{what}: {detail}"
    if hint:
        message = f"{message}. {hint}"
    return DatabaseError(message)


def fingerprint(url: URL) -> str | None:
    """A password-free identity of the database ``url`` points at, or None (in-memory).

    ``dialect://host:port/database`` for servers (``localhost``, ``127.0.0.1`` and
    ``::1`` are the same host; MySQL and MariaDB are one family), and
    ``sqlite:<resolved path>`` for SQLite files.
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if url.query.get("uri") in ("true", "1") and database.startswith("file:"):
            database = database[len("file:") :].split("?", 1)[0]
            if "mode=memory" in (url.database or ""):
                return None
        if database in ("", ":memory:"):
            return None
        return f"sqlite:{Path(database).expanduser().resolve()}"
    family = "mysql" if backend in ("mysql", "mariadb") else backend
    host = (url.host or "").lower()
    host = "localhost" if host in _LOCALHOST else host
    port = url.port or _DEFAULT_PORTS.get(family, 0)
    return f"{family}://{host}:{port}/{url.database or ''}"


def source_fingerprint(source: str | URL | Engine | os.PathLike[str]) -> str | None:
    """Fingerprint of a URL, an engine or a CSV folder path."""
    if isinstance(source, Engine):
        return fingerprint(source.url)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "://" not in source):
        return f"folder:{Path(source).expanduser().resolve()}"
    return fingerprint(_parse(source))


@contextlib.contextmanager
def sqlite_manual_transactions(conn: Connection) -> Iterator[Any]:
    """Let us issue BEGIN/COMMIT ourselves on a pysqlite connection.

    pysqlite's legacy transaction handling begins transactions only before DML,
    so DDL would run outside the transaction; with ``isolation_level = None`` the
    statements we send are the transaction control.
    """
    dbapi_conn = conn.connection.driver_connection
    previous = dbapi_conn.isolation_level
    dbapi_conn.isolation_level = None
    try:
        yield dbapi_conn
    finally:
        if dbapi_conn.in_transaction:
            dbapi_conn.rollback()
        dbapi_conn.isolation_level = previous


@contextlib.contextmanager
def read_only(conn: Connection) -> Iterator[None]:
    """Run the body in a read-only, consistent-snapshot transaction, rolled back after.

    PostgreSQL: ``REPEATABLE READ, READ ONLY``; MariaDB/MySQL: ``START TRANSACTION
    WITH CONSISTENT SNAPSHOT, READ ONLY``; SQLite: ``PRAGMA query_only`` plus an
    explicit ``BEGIN`` (one snapshot for every table). Other dialects: a plain
    transaction that is rolled back.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        with sqlite_manual_transactions(conn):
            conn.exec_driver_sql("PRAGMA query_only = ON")
            try:
                conn.exec_driver_sql("BEGIN")
                yield
            finally:
                conn.rollback()  # ends our BEGIN too (pysqlite rolls back when in one)
                conn.exec_driver_sql("PRAGMA query_only = OFF")
                conn.rollback()
        return
    try:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        elif dialect in ("mysql", "mariadb"):
            conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        yield
    finally:
        conn.rollback()
