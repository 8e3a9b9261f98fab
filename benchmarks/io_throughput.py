"""Throughput of ``read_tables`` and ``write_tables`` on nycflights13 (all 5 tables).

Builds the nycflights13 SQLite database with ``datasets/nycflights13.py`` (unless
``--source`` names one), reads it once, then writes it into a fresh database of
each dialect and reads it back, printing rows/s. A script, not a test::

    .venv/bin/python benchmarks/io_throughput.py
    .venv/bin/python benchmarks/io_throughput.py --dialects sqlite postgresql --repeat 3

PostgreSQL/MariaDB are the test servers (``RELSYNTH_TEST_POSTGRES_URL``,
``RELSYNTH_TEST_MARIADB_URL``, defaults as in ``tests/conftest.py``); a database
named ``relsynth_bench_<random>`` is created and dropped on each.
Targets on a 2-core machine: write >= 100k rows/s (PostgreSQL), >= 50k (SQLite),
>= 30k (MariaDB).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets import nycflights13  # noqa: E402
from relsynth.io.sql import read_tables, write_tables  # noqa: E402

SERVERS = {
    "postgresql": os.environ.get(
        "RELSYNTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "RELSYNTH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}


@contextmanager
def fresh_database(dialect: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of a new empty database of ``dialect``; drop it afterwards."""
    if dialect == "sqlite":
        path = workdir / f"bench_{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        path.unlink(missing_ok=True)
        return
    admin = sa.create_engine(SERVERS[dialect], isolation_level="AUTOCOMMIT")
    name = f"relsynth_bench_{uuid.uuid4().hex[:8]}"
    q = '"' if dialect == "postgresql" else "`"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {q}{name}{q}")
    try:
        yield sa.make_url(SERVERS[dialect]).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {q}{name}{q}")
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="an existing nycflights13 SQLite file")
    parser.add_argument("--n-flights", type=int, default=None, help="sample of flights")
    parser.add_argument(
        "--dialects",
        nargs="+",
        default=["sqlite", "postgresql", "mariadb"],
        choices=["sqlite", "postgresql", "mariadb"],
    )
    parser.add_argument("--repeat", type=int, default=1, help="writes per dialect (best kept)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source = Path(args.source) if args.source else workdir / "nycflights13.db"
        if not args.source:
            nycflights13.build(source, source=nycflights13.csv_folder(), n_flights=args.n_flights)
        meta = nycflights13.metadata()
        url = f"sqlite:///{source}"
        start = time.perf_counter()
        tables = read_tables(url, meta)
        seconds = time.perf_counter() - start
        n_rows = sum(len(f) for f in tables.values())
        print(
            f"rows: {n_rows:,} in {len(tables)} tables "
            f"({', '.join(f'{k}={len(v):,}' for k, v in tables.items())})"
        )
        print(f"{'read  sqlite':<20} {seconds:7.2f} s {n_rows / seconds:>12,.0f} rows/s")
        for dialect in args.dialects:
            best = float("inf")
            for _ in range(args.repeat):
                with fresh_database(dialect, workdir) as target:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        report = write_tables(target, meta, tables)
                    best = min(best, report.seconds)
                    start = time.perf_counter()
                    back = read_tables(target, meta)
                    read_s = time.perf_counter() - start
            assert sum(len(f) for f in back.values()) == n_rows
            print(f"{'write ' + dialect:<20} {best:7.2f} s {n_rows / best:>12,.0f} rows/s")
            print(f"{'read  ' + dialect:<20} {read_s:7.2f} s {n_rows / read_s:>12,.0f} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
