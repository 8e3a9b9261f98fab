"""Cloning the real databases: integrity, sizes, scales, and across dialects.

Training budgets are tiny here (half a second per table): these tests are about the
pipeline (keys, sizes, integrity, dialects); the models' fidelity has its own tests
and benchmarks.
"""

from __future__ import annotations

import sqlite3

import pytest

import relsynth
from relsynth.cli import main
from tests.conftest import build_nycflights13, dataset_url, query

FAST = {"steps": 20, "n_threads": 1}
CLI_FAST = ["--steps", "20", "--threads", "1", "--jobs", "1", "--seed", "0"]


@pytest.fixture(scope="module")
def nyc20k_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = build_nycflights13(tmp_path_factory.mktemp("nyc") / "nyc20k.db", n_flights=20_000)
    return f"sqlite:///{path}"


def _source(name: str, nyc20k_url: str) -> str:
    return nyc20k_url if name == "nycflights13-20k" else dataset_url(name)


def _within(got: int, want: int) -> bool:
    """±10% of the source; small tables (under 200 rows) get ±25% (sampling noise)."""
    tolerance = 0.10 if want >= 200 else 0.25
    return abs(got - want) <= max(1, tolerance * want)


@pytest.mark.parametrize("name", ["northwind", "berka", "gtfs_cairns", "nycflights13-20k"])
def test_clone_keeps_integrity_and_sizes(name, nyc20k_url, tmp_path):
    url = _source(name, nyc20k_url)
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    synth = relsynth.Synthesizer(meta, seed=0, **FAST).fit(tables)
    roots = set(relsynth.plan(meta).roots)

    fake = synth.sample(scale=1.0, seed=1)
    assert relsynth.check(meta, fake).ok
    for table, frame in fake.items():
        n = len(tables[table])
        if table in roots:
            assert len(frame) == n, table
        else:
            assert _within(len(frame), n), f"{table}: {len(frame)} rows vs {n} in the source"

    copied = {t for t, model in synth.fit_info_.models.items() if model == "copy"}
    for scale in (0.1, 3.0):
        scaled = synth.sample(scale=scale, seed=2)
        assert relsynth.check(meta, scaled).ok
        for table in roots - copied:
            assert len(scaled[table]) == round(len(tables[table]) * scale), (table, scale)
        for table in copied:  # lookup tables keep their rows whatever the scale
            assert len(scaled[table]) == len(tables[table]), (table, scale)

    target = f"sqlite:///{tmp_path / 'synthetic.db'}"
    relsynth.write_tables(target, meta, fake)
    assert relsynth.check_database(target, meta).ok


def _count(url: str, table: str) -> int:
    import sqlalchemy as sa

    quoted = sa.make_url(url).get_dialect()().identifier_preparer.quote(table)
    return int(query(url, f"SELECT COUNT(*) FROM {quoted}")[0][0])


def _load(url: str, dataset: str) -> relsynth.Metadata:
    source = dataset_url(dataset)
    meta = relsynth.reflect(source)
    relsynth.write_tables(url, meta, relsynth.read_tables(source, meta))
    return meta


def test_clone_postgres_to_sqlite(postgres_url, tmp_path, capsys):
    meta = _load(postgres_url, "northwind")
    target = tmp_path / "northwind.db"
    assert main(["clone", postgres_url, f"sqlite:///{target}", *CLI_FAST]) == 0
    assert "integrity OK" in capsys.readouterr().out
    assert relsynth.check_database(f"sqlite:///{target}").ok
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT COUNT(*) FROM Customers").fetchone()[0] == _count(
            postgres_url, "Customers"
        )
    assert set(relsynth.reflect(f"sqlite:///{target}").tables) == set(meta.tables)


def test_clone_sqlite_to_postgres(postgres_url, capsys):
    assert main(["clone", dataset_url("berka"), postgres_url, *CLI_FAST]) == 0
    assert "integrity OK" in capsys.readouterr().out
    assert relsynth.check_database(postgres_url).ok
    assert _count(postgres_url, "district") == 77


def test_clone_mariadb_to_postgres(mariadb_url, postgres_url, capsys):
    _load(mariadb_url, "gtfs_cairns")
    assert main(["clone", mariadb_url, postgres_url, *CLI_FAST, "--scale", "0.5"]) == 0
    assert "integrity OK" in capsys.readouterr().out
    assert relsynth.check_database(postgres_url).ok
    assert _count(postgres_url, "stops") == round(416 * 0.5)


def test_clone_sqlite_to_mariadb_is_deterministic(mariadb_url, tmp_path, capsys):
    model = tmp_path / "northwind.relsynth"
    args = [*CLI_FAST, "--save", str(model)]
    assert main(["clone", dataset_url("northwind"), mariadb_url, *args]) == 0
    assert "integrity OK" in capsys.readouterr().out
    assert relsynth.check_database(mariadb_url).ok
    # the saved model and seed give the same rows in another dialect
    target = tmp_path / "again.db"
    assert main(["sample", str(model), f"sqlite:///{target}", "--seed", "0"]) == 0
    orders = "SELECT OrderID, CustomerID, EmployeeID FROM Orders ORDER BY OrderID"
    assert query(mariadb_url, orders) == query(f"sqlite:///{target}", orders)
