"""PostgreSQL: a write's integrity report is what the database's validated constraints
prove (read from the catalogue), never more: a key it does not enforce means a scan."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
import sqlalchemy as sa

from relsynth.io._pgproof import enforced_report
from relsynth.io.reflect import reflect
from relsynth.io.sql import as_written, check_database, read_tables, write_tables


@pytest.fixture
def shop(tmp_path):
    """A parent, a child with a composite key and a UNIQUE column, NOT NULLs."""
    path = tmp_path / "shop.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE stores (code TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE sales (store TEXT NOT NULL REFERENCES stores(code), day INTEGER NOT NULL,
                            amount REAL, PRIMARY KEY (store, day));
        """
    )
    con.executemany("INSERT INTO stores VALUES (?, ?)", [(f"S{i}", f"Store {i}") for i in range(5)])
    con.executemany(
        "INSERT INTO sales VALUES (?, ?, ?)",
        [(f"S{i % 5}", i, i * 1.5) for i in range(40)],
    )
    con.commit()
    con.close()
    url = f"sqlite:///{path}"
    meta = reflect(url)
    return meta, read_tables(url, meta)


def test_the_write_reports_what_postgresql_validated(shop, postgres_url):
    # Setup / Run: write the tables (keys, UNIQUE, NOT NULL created; keys validated).
    meta, tables = shop
    written = write_tables(postgres_url, meta, tables)
    # Assert: a clean report counting every row, as the scan of every table gives.
    assert written.integrity is not None and written.integrity.ok
    scanned = check_database(postgres_url, as_written(meta, written.dialect))
    assert scanned.ok
    assert (written.integrity.n_rows, written.integrity.n_tables) == (45, 2)
    assert (scanned.n_rows, scanned.n_tables) == (45, 2)


def test_a_key_postgresql_does_not_enforce_gives_no_report(shop, postgres_url):
    # Setup: the tables written without the UNIQUE and without the foreign key.
    meta, tables = shop
    bare = dataclasses.replace(
        meta,
        tables={**meta.tables, "stores": dataclasses.replace(meta.tables["stores"], unique=())},
        foreign_keys=(),
    )
    write_tables(postgres_url, bare, tables)
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            names = {n: t.physical_name for n, t in meta.tables.items()}
            # Run / Assert: what the database enforces proves the bare metadata ...
            report = enforced_report(conn, as_written(bare, "postgresql"), names=names)
            assert report is not None and report.ok and report.n_rows == 45
            # ... but not the UNIQUE nor the foreign key: no report (the caller scans)
            full = as_written(meta, "postgresql")
            assert enforced_report(conn, full, names=names) is None
            no_fk = dataclasses.replace(full, foreign_keys=())
            assert enforced_report(conn, no_fk, names=names) is None  # the UNIQUE alone
            only_fk = dataclasses.replace(full, tables=bare.tables)
            assert enforced_report(conn, only_fk, names=names) is None  # the key alone
    finally:
        engine.dispose()
