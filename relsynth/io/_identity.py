"""What a database *is*, so that relsynth never writes into its source.

Comparing URL text is not enough: ``localhost``, ``127.0.0.1``, an ``/etc/hosts``
alias and the machine's IP address reach the same server, and a hard link or a
``file:`` URI opens the same SQLite file. An identity is asked of the database
itself:

========== ================================================================
PostgreSQL ``system_identifier`` of ``pg_control_system()`` (unique per cluster)
           and the database's oid. Without the right to call it: the server's
           address and port as the server sees them, and the oid.
MariaDB    ``@@server_uuid`` (MySQL), else ``@@hostname``, ``@@port`` and
MySQL      ``@@datadir`` (MariaDB has no server UUID), and the schema (database)
           read or written.
SQLite     the device and inode of the file (``os.stat``), so hard links and
           every spelling of the path are one database; in-memory: no identity.
CSV folder the resolved path.
========== ================================================================

On PostgreSQL the identity is the database, not the schema: writing into another
schema of the source database is refused too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from relsynth.io._connect import connect, create_engine, parse_url, sqlite_path

__all__ = ["connection_identity", "engine_identity", "source_identity"]

logger = logging.getLogger(__name__)


def connection_identity(conn: Connection, schema: str | None = None) -> str | None:
    """The identity of the database ``conn`` is connected to (``schema``: MariaDB's database)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        rows = conn.exec_driver_sql("PRAGMA database_list").all()
        files = {str(row[1]): str(row[2] or "") for row in rows}
        return _file_identity(files.get(schema or "main", ""))
    if dialect == "postgresql":
        return _postgres_identity(conn)
    if dialect in ("mysql", "mariadb"):
        return _mysql_identity(conn, schema)
    return None  # pragma: no cover - other dialects: no identity known


def engine_identity(engine: Engine, schema: str | None = None) -> str | None:
    """The identity of ``engine``'s database; a SQLite file that does not exist has none
    (and is not created)."""
    if engine.dialect.name == "sqlite":
        path = sqlite_path(engine.url)
        return _file_identity(str(path)) if path is not None else None
    with connect(engine, action="identify the database") as conn:
        try:
            return connection_identity(conn, schema)
        finally:
            conn.rollback()


def source_identity(
    source: str | sa.URL | Engine | os.PathLike[str], schema: str | None = None
) -> str | None:
    """The identity of a URL, an engine or a CSV folder (see the module docstring)."""
    if isinstance(source, Engine):
        return engine_identity(source, schema)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "://" not in source):
        return f"folder:{Path(source).expanduser().resolve()}"
    url = parse_url(source)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        return _file_identity(str(path)) if path is not None else None
    engine = create_engine(url, "read")
    try:
        return engine_identity(engine, schema)
    finally:
        engine.dispose()


def _file_identity(path: str) -> str | None:
    if not path:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return f"sqlite:{stat.st_dev}:{stat.st_ino}"


def _postgres_identity(conn: Connection) -> str:
    oid = conn.exec_driver_sql(
        "SELECT oid FROM pg_database WHERE datname = current_database()"
    ).scalar()
    try:
        with conn.begin_nested():
            system = conn.exec_driver_sql(
                "SELECT system_identifier FROM pg_control_system()"
            ).scalar()
        return f"postgresql:{system}:{oid}"
    except sa.exc.DBAPIError as exc:  # no right to call it: where the server listens
        logger.debug("pg_control_system() refused (%s); using the server address", type(exc))
        addr, port = conn.exec_driver_sql("SELECT inet_server_addr(), inet_server_port()").one()
        return f"postgresql:{addr}:{port}:{oid}"


def _mysql_identity(conn: Connection, schema: str | None) -> str:
    row = conn.exec_driver_sql("SHOW VARIABLES LIKE 'server_uuid'").first()
    server = str(row[1]) if row is not None and row[1] else ""
    if not server:  # MariaDB has no server UUID
        host, port, datadir = conn.exec_driver_sql("SELECT @@hostname, @@port, @@datadir").one()
        server = f"{host}:{port}:{datadir}"
    database = schema or conn.exec_driver_sql("SELECT DATABASE()").scalar() or ""
    return f"mysql:{server}/{database}"
