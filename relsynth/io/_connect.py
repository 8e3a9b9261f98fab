"""The one database boundary: URLs, engines, identities, error mapping.

Used by reflection (:mod:`relsynth.io.reflect`) and by the SQL I/O
functions alike, so a URL is parsed, checked, connected to and shown the same
way everywhere:

* :func:`parse_url` turns text into a SQLAlchemy ``URL``; text that is not a URL is
  refused without being echoed (it may be ``user:password@host``).
* :func:`open_engine` creates the engine (a 10 s connect timeout on servers) after
  :func:`check_url` has refused what a read would otherwise create or guess: a
  SQLite file that does not exist (connecting would create it empty) and a server
  URL without a database name (the login database would be read instead).
* :func:`connect` maps a failed connection (refused, bad password, a driver that
  rejects an option such as ``?charset=bogus``) to a one-line
  :class:`~relsynth.errors.DatabaseError`; :func:`database_error` does the same for
  any driver error. Every message goes through :func:`relsynth.io.urls.redact`.
* :func:`identity` says what a database *is* (``relsynth.io._identity``), so the
  source is recognised under any host name, IP address or hard link.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from relsynth.errors import DatabaseError, ParameterError
from relsynth.io.urls import redact

__all__ = [
    "check_url",
    "create_engine",
    "connect",
    "database_error",
    "open_engine",
    "parse_url",
    "read_only",
    "scrub",
    "sqlite_path",
    "sqlite_manual_transactions",
]

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10
_SERVERS = ("postgresql", "mysql", "mariadb")
# What a driver raises for an option it does not understand (PyMySQL's
# ?charset=bogus is an AttributeError): reported as a bad URL, not a traceback.
_DRIVER_OPTION_ERRORS = (AttributeError, KeyError, LookupError, TypeError, ValueError)
_URL_FORM = (
    "Use the form dialect+driver://user:password@host:port/database, e.g. "
    "'sqlite:///path/to/file.db' or 'postgresql+psycopg://user@host/dbname'."
)

Purpose = Literal["read", "write"]


def parse_url(source: str | URL) -> URL:
    """``source`` as a SQLAlchemy URL; a ParameterError (that does not echo it) if it is not one."""
    if isinstance(source, URL):
        return source
    text = str(source)
    if "://" not in text:
        raise ParameterError(
            "The database URL given is not a database URL (it has no 'dialect://' part; it "
            f"is not shown, as it may hold a password). {_URL_FORM}"
        )
    try:
        url = sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ParameterError(f"{redact(text)!r} is not a database URL. {_URL_FORM}") from exc
    if url.host and "@" in url.host:  # user:p@ss@host: the driver would look up "ss@host"
        raise ParameterError(
            f"The database URL {redact(text)} has an unencoded '@' in its password or user "
            "name; percent-encode it as %40 (user:p%40ss@host) or put the password in a "
            "~/.pgpass / option file."
        )
    return url


def sqlite_path(url: URL) -> Path | None:
    """The file a SQLite URL opens (``file:`` URIs decoded), or None for an in-memory one."""
    database = url.database or ""
    if url.query.get("uri") in ("true", "1", "True") and database.startswith("file:"):
        if url.query.get("mode") == "memory" or "mode=memory" in database:
            return None
        database = database[len("file:") :].split("?", 1)[0]
        if database.startswith("//"):  # file://[host]/path
            database = "/" + database[2:].split("/", 1)[1] if "/" in database[2:] else ""
        database = unquote(database)
    if database in ("", ":memory:"):
        return None
    return Path(database)  # as sqlite opens it (no "~" expansion)


def check_url(url: URL, purpose: Purpose) -> None:
    """Refuse a URL that would create or guess its database (see the module docstring)."""
    backend = url.get_backend_name()
    shown = redact(url)
    if backend == "sqlite":
        path = sqlite_path(url)
        if purpose == "read" and path is not None and not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            raise DatabaseError(
                f"The SQLite database {path} {what}; nothing was read or created. Check the "
                "path (sqlite:///relative/path.db, sqlite:////absolute/path.db)."
            ) from FileNotFoundError(str(path))
        return
    if backend in _SERVERS and not url.database:
        raise DatabaseError(
            f"The URL {shown} names no database; add it after the host "
            f"({url.drivername}://user@host/DATABASE). relsynth does not fall back to the "
            "login's default database."
        )


@contextlib.contextmanager
def open_engine(source: str | URL | Engine, purpose: Purpose = "read") -> Iterator[Engine]:
    """Yield an engine for ``source``; one made here is disposed on exit.

    ``purpose="read"`` refuses a SQLite file that does not exist (reading would
    create it); both purposes refuse a server URL without a database name.
    """
    if isinstance(source, Engine):
        yield source
        return
    engine = create_engine(source, purpose)
    try:
        yield engine
    finally:
        engine.dispose()


def create_engine(source: str | URL, purpose: Purpose = "read", **options: Any) -> Engine:
    """A new engine for ``source`` (checked by :func:`check_url`), with a connect timeout.

    ``options`` go to :func:`sqlalchemy.create_engine` (e.g. ``isolation_level``).
    """
    url = parse_url(source)
    check_url(url, purpose)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() in _SERVERS:
        connect_args["connect_timeout"] = _CONNECT_TIMEOUT_S
    try:
        return sa.create_engine(url, connect_args=connect_args, **options)
    except sa.exc.NoSuchModuleError as exc:
        raise DatabaseError(
            f"No SQLAlchemy dialect/driver for {redact(url)}; check the URL's scheme "
            "(sqlite, postgresql+psycopg, mysql+pymysql, mariadb+pymysql...) and install "
            "the driver."
        ) from exc
    except ImportError as exc:
        raise DatabaseError(
            f"The database driver for {redact(url)} is not installed ({exc.name or exc}); "
            "install it (e.g. pip install psycopg or pymysql)."
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(
            f"Cannot use database URL {redact(url)}: {scrub(exc, url)}. Fix the URL."
        ) from exc


@contextlib.contextmanager
def connect(engine: Engine, *, action: str) -> Iterator[Connection]:
    """Connect, mapping a connection failure to :class:`DatabaseError`."""
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise database_error(
            exc,
            f"Could not connect to {redact(engine.url)} to {action}",
            engine.url,
            hint="Check that the server is running and the "
            "URL (host, port, database, user, password) is right.",
        ) from exc
    except _DRIVER_OPTION_ERRORS as exc:
        options = ", ".join(f"{k}={v}" for k, v in engine.url.query.items())
        raise DatabaseError(
            f"Could not connect to {redact(engine.url)} to {action}: the driver rejected the "
            f"connection options ({redact(options) or 'none'}): {scrub(exc, engine.url)}. "
            "Fix or remove the option in the URL (e.g. ?charset=utf8mb4)."
        ) from exc
    with conn:
        yield conn


def scrub(exc: BaseException | str, url: URL | None = None) -> str:
    """The first line of a driver message, every password hidden."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    secrets = [str(url.password)] if url is not None and url.password else []
    if url is not None and url.host and "@" in url.host:  # the rest of an unencoded-@ password
        secrets.append(url.host.rsplit("@", 1)[0])
    for secret in list(secrets):
        secrets.append(unquote(secret))
    return redact(line, secrets)


def database_error(
    exc: BaseException, what: str, url: URL | None = None, *, hint: str = ""
) -> DatabaseError:
    """A :class:`DatabaseError` for ``exc``: ``what`` + the driver's first line + ``hint``."""
    orig = getattr(exc, "orig", None) or exc
    message = f"{redact(what)}: {scrub(orig, url)}"
    if hint:
        message = f"{message}. {hint}"
    return DatabaseError(message)


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
