"""Seeding test databases from a saved model, fast and deterministically.

A test suite wants a realistic database per test (or per session) in seconds. The
expensive part, sampling and writing, is done **once** per (model file, seed,
scale) into a *template*, and each request copies the template:

* SQLite: the template is a file in a cache folder; a copy is a file copy
  (``sqlite3`` backup API, consistent even while another process reads it).
* PostgreSQL: the template is a database ``relsynth_tpl_<hash>``; a copy is
  ``CREATE DATABASE <name> TEMPLATE relsynth_tpl_<hash>`` (a file-level clone).
* MariaDB/MySQL has no template databases: the model is sampled and written each
  time (still deterministic).

The hash covers the model file's bytes, the seed, the scale and the conditions
(``where``, ``parents``: conditional and seeded sampling, docs/synthesizer.md), so a
retrained model never reuses a stale template. :func:`seeded_database` (a context manager)
and :func:`database_fixture` (a pytest fixture) are the test-facing wrappers,
exported from :mod:`relsynth.testing`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from relsynth.errors import DatabaseError
from relsynth.io.urls import redact

__all__ = [
    "database_fixture",
    "drop_database",
    "seed_database",
    "seeded_database",
    "template_key",
]

logger = logging.getLogger(__name__)


def template_key(
    model: str | os.PathLike[str],
    seed: int,
    scale: float,
    where: str | list[str] | None = None,
    parents: dict[str, pd.DataFrame] | None = None,
) -> str:
    """A short hash of the model file's bytes, the seed, the scale and the conditions."""
    digest = hashlib.sha256(Path(model).read_bytes())
    digest.update(f"|{seed}|{scale!r}".encode())
    if where is not None:
        digest.update(f"|where={[where] if isinstance(where, str) else list(where)!r}".encode())
    for name, frame in sorted((parents or {}).items()):
        digest.update(f"|parents={name}|".encode() + frame.to_csv(index=False).encode())
    return digest.hexdigest()[:16]


def seed_database(
    model: str | os.PathLike[str],
    url: str,
    *,
    seed: int = 0,
    scale: float = 1.0,
    cache_dir: str | os.PathLike[str] | None = None,
    where: str | list[str] | None = None,
    parents: dict[str, pd.DataFrame] | None = None,
) -> str:
    """Fill the empty database at ``url`` with a synthetic database sampled from ``model``.

    Parameters
    ----------
    model : path
        A model file from ``relsynth fit`` / ``Synthesizer.save``.
    url : str
        Target database URL. For SQLite the file must not exist yet; for PostgreSQL
        the database must not exist yet (it is created from the template); for
        MariaDB/MySQL it must exist and be empty.
    seed, scale : int, float
        Same model, seed and scale give the same database.
    cache_dir : path, optional
        Where SQLite templates are kept (default ``~/.cache/relsynth``).
    where, parents : optional
        Conditions and given rows, as in :meth:`Synthesizer.sample
        <relsynth.Synthesizer.sample>` (conditional and seeded sampling).

    Returns
    -------
    str
        ``url``, now holding the synthetic database.
    """
    from relsynth.io._connect import parse_url

    key = template_key(model, seed, scale, where, parents)
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    asked = {"where": where, "parents": parents}
    if backend == "sqlite":
        _seed_sqlite(model, parsed, key, seed, scale, cache_dir, asked)
    elif backend == "postgresql":
        _seed_postgres(model, parsed, key, seed, scale, asked)
    else:
        _write_sample(model, url, seed, scale, asked)
    logger.info("seeded %s from %s (seed %s, scale %s)", redact(url), model, seed, scale)
    return url


def _write_sample(
    model: str | os.PathLike[str], url: str, seed: int, scale: float, asked: dict[str, Any]
) -> None:
    from relsynth.io.sql import write_tables
    from relsynth.synthesis.synthesizer import Synthesizer

    synth = Synthesizer.load(model, device="cpu")
    tables = synth.sample(scale=scale, seed=seed, **asked)
    write_tables(url, synth.metadata, tables, if_exists="fail")


def _seed_sqlite(model, parsed, key, seed, scale, cache_dir, asked) -> None:  # noqa: ANN001
    target = Path(parsed.database or "")
    if not parsed.database or parsed.database == ":memory:":
        raise DatabaseError("seed_database needs a SQLite file URL, not an in-memory database.")
    if target.exists():
        raise DatabaseError(f"{target} already exists; seed_database fills a new file.")
    folder = Path(cache_dir or Path.home() / ".cache" / "relsynth")
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / f"template-{key}.db"
    if not template.exists():
        partial = folder / f"template-{key}.{os.getpid()}.tmp"
        partial.unlink(missing_ok=True)
        _write_sample(model, f"sqlite:///{partial}", seed, scale, asked)
        os.replace(partial, template)  # atomic: concurrent workers never see half a file
    with (
        sqlite3.connect(f"file:{template}?mode=ro", uri=True) as src,
        sqlite3.connect(target) as dst,
    ):
        src.backup(dst)


def _seed_postgres(model, parsed, key, seed, scale, asked) -> None:  # noqa: ANN001
    import sqlalchemy as sa

    from relsynth.io._connect import create_engine

    name = parsed.database
    template = f"relsynth_tpl_{key}"
    admin = create_engine(parsed.set(database="postgres"), "write", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}
            ).first()
            if exists is None:
                conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
                try:
                    target = parsed.set(database=template).render_as_string(False)
                    _write_sample(model, target, seed, scale, asked)
                except BaseException:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{template}"'))
                    raise
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            f"Could not seed {redact(parsed)} from template {template}: "
            f"{type(exc.orig or exc).__name__}"
        ) from exc
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    """Remove a database made by :func:`seed_database` (SQLite file, PostgreSQL database).

    MariaDB/MySQL databases are left alone: ``seed_database`` filled one that the
    caller created, so the caller drops it.
    """
    import sqlalchemy as sa

    from relsynth.io._connect import create_engine, parse_url

    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).unlink(missing_ok=True)
        return
    if backend != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), "write", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            f"Could not drop {redact(parsed)}: {type(exc.orig or exc).__name__}"
        ) from exc
    finally:
        admin.dispose()


@contextlib.contextmanager
def seeded_database(
    model: str | os.PathLike[str],
    url: str,
    *,
    seed: int = 0,
    scale: float = 1.0,
    cache_dir: str | os.PathLike[str] | None = None,
    where: str | list[str] | None = None,
    parents: dict[str, pd.DataFrame] | None = None,
) -> Iterator[str]:
    """A database at ``url`` filled from ``model``, removed on exit (SQLite, PostgreSQL).

    ``url`` must not exist yet for SQLite (a file) and PostgreSQL (a database, made
    from a template); a MariaDB/MySQL database must exist and be empty, and is left
    for the caller to drop.
    """
    seed_database(
        model, url, seed=seed, scale=scale, cache_dir=cache_dir, where=where, parents=parents
    )
    try:
        yield url
    finally:
        drop_database(url)


def database_fixture(
    model: str | os.PathLike[str],
    *,
    url: str | None = None,
    seed: int = 0,
    scale: float = 1.0,
    scope: str = "session",
    where: str | list[str] | None = None,
    parents: dict[str, pd.DataFrame] | None = None,
) -> Any:
    """A pytest fixture yielding the URL of a database seeded from ``model``.

    Parameters
    ----------
    model : path
        A model file (``relsynth fit -o MODEL`` or ``Synthesizer.save``).
    url : str, optional
        Where to create the database. Default: a SQLite file in pytest's temporary
        directory. A PostgreSQL URL names a database that does not exist yet; it is
        created from a template database and dropped after the scope ends.
    seed, scale : int, float
        Same model, seed and scale: the same database.
    scope : str
        The pytest fixture scope (default ``"session"``: seeded once per run).
    where, parents : optional
        Conditions (``"Customers.Country = 'Germany'"``) and given rows
        (``{"Customers": frame}``), as in :meth:`Synthesizer.sample
        <relsynth.Synthesizer.sample>`: a database of only the case a test needs.
    """
    import pytest

    @pytest.fixture(scope=scope)
    def _seeded(tmp_path_factory: Any) -> Iterator[str]:
        target = url or f"sqlite:///{tmp_path_factory.mktemp('relsynth') / 'seeded.db'}"
        with seeded_database(
            model, target, seed=seed, scale=scale, where=where, parents=parents
        ) as seeded:
            yield seeded

    return _seeded
