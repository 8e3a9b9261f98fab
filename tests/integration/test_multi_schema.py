"""Several schemas: reflected together, keys across them kept, written back in place.

A PostgreSQL source with a ``sales`` and an ``hr`` schema (``sales.orders`` points at
``hr.employees``) is reflected with both schemas, fitted, saved, loaded and sampled,
then written into a PostgreSQL target (each table in its own schema, the schemas
created, the cross-schema key recreated) and into SQLite and MariaDB targets (the
schemas flattened into the URL's database); the integrity check finds every table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import relsynth
from relsynth import Metadata, Synthesizer
from relsynth.cli import main
from relsynth.errors import MetadataError, ReflectionError
from relsynth.io.sql import as_written, check_database
from tests.conftest import POSTGRES_ADMIN_URL, _server_database

pytestmark = pytest.mark.servers

FAST = {"steps": 20, "n_threads": 1}

_SOURCE = [
    "CREATE SCHEMA sales",
    "CREATE SCHEMA hr",
    "CREATE TABLE hr.employees (id int PRIMARY KEY, name text NOT NULL)",
    "CREATE TABLE sales.customers (id int PRIMARY KEY, name text)",
    "CREATE TABLE sales.orders (id int PRIMARY KEY, "
    "customer_id int NOT NULL REFERENCES sales.customers (id), "
    "rep_id int REFERENCES hr.employees (id), amount numeric(10, 2))",
    "INSERT INTO hr.employees SELECT g, 'e' || g FROM generate_series(1, 20) g",
    "INSERT INTO sales.customers SELECT g, 'c' || g FROM generate_series(1, 30) g",
    "INSERT INTO sales.orders SELECT g, 1 + mod(g, 30), CASE WHEN mod(g, 7) = 0 THEN NULL "
    "ELSE 1 + mod(g, 20) END, g * 1.5 FROM generate_series(1, 120) g",
]


def _execute(url: str, statements: list[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _scalars(url: str, sql: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.exec_driver_sql(sql).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def source(postgres_url: str) -> str:
    _execute(postgres_url, _SOURCE)
    return postgres_url


@pytest.fixture
def postgres_target() -> Iterator[str]:
    """A second fresh PostgreSQL database."""
    yield from _server_database(POSTGRES_ADMIN_URL, "postgresql")


def _fake(source: str, tmp_path: Path) -> tuple[Metadata, dict[str, object]]:
    """Reflect both schemas, fit, save and load the model, sample."""
    meta = relsynth.reflect(source, schema=["sales", "hr"])
    tables = relsynth.read_tables(source, meta)
    synth = Synthesizer(meta, seed=0, **FAST).fit(tables)
    path = tmp_path / "model.relsynth"
    synth.save(path, overwrite=True)
    loaded = Synthesizer.load(path)
    assert {n: t.schema for n, t in loaded.metadata.tables.items()} == {
        n: t.schema for n, t in meta.tables.items()
    }
    fake = loaded.sample(seed=1)
    assert relsynth.check(meta, fake).ok
    return meta, fake


def test_reflect_two_schemas_keeps_each_schema_and_the_key_between(
    source: str, tmp_path: Path
) -> None:
    # Run
    meta = relsynth.reflect(source, schema=["sales", "hr"], sample_rows=0)
    same = relsynth.reflect(source, schemas=["sales", "hr"], sample_rows=0)

    # Assert: every table keeps its schema; the cross-schema key is kept
    assert meta.schema is None
    assert {n: t.schema for n, t in meta.tables.items()} == {
        "customers": "sales",
        "employees": "hr",
        "orders": "sales",
    }
    assert meta.schemas == ("sales", "hr")
    assert {fk.label for fk in meta.foreign_keys} == {
        "orders(customer_id) -> customers(id)",
        "orders(rep_id) -> employees(id)",
    }
    assert same == meta
    # the metadata file stores the schemas and loads them back
    path = tmp_path / "meta.json"
    meta.save(path)
    stored = json.loads(path.read_text("utf-8"))
    assert stored["tables"]["employees"]["schema"] == "hr"
    assert "schema" not in stored
    assert Metadata.load(path) == meta


def test_one_schema_is_unchanged_and_drops_the_key_into_the_other(source: str) -> None:
    # Run
    meta = relsynth.reflect(source, schema="sales", sample_rows=0)
    listed = relsynth.reflect(source, schema=["sales"], sample_rows=0)

    # Assert: the single-schema form (tables carry no schema of their own)
    assert meta.schema == "sales"
    assert all(t.schema is None for t in meta)
    assert [fk.label for fk in meta.foreign_keys] == ["orders(customer_id) -> customers(id)"]
    assert listed == meta


def test_clone_two_schemas_postgres_to_postgres(
    source: str, postgres_target: str, tmp_path: Path
) -> None:
    # Setup
    meta, fake = _fake(source, tmp_path)

    # Run: twice, the second replacing the first (drops find each table in its schema)
    for _ in range(2):
        report = relsynth.write_tables(postgres_target, meta, fake, if_exists="replace")

    # Assert: each table in its own schema, none in public, the key across schemas
    assert report.n_rows == sum(len(f) for f in fake.values())
    placed = _scalars(
        postgres_target,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    assert placed == ["hr.employees", "sales.customers", "sales.orders"]
    keys = _scalars(
        postgres_target,
        "SELECT conrelid::regclass::text || ' -> ' || confrelid::regclass::text "
        "FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
    assert keys == ["sales.orders -> hr.employees", "sales.orders -> sales.customers"]
    integrity = check_database(postgres_target, meta)
    assert integrity.ok, integrity
    assert integrity.n_tables == 3
    back = relsynth.reflect(postgres_target, schema=["sales", "hr"], sample_rows=0)
    assert {fk.label for fk in back.foreign_keys} == {fk.label for fk in meta.foreign_keys}


@pytest.mark.parametrize("target_fixture", ["sqlite_url", "mariadb_url"])
def test_clone_two_schemas_flattened(
    source: str, target_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Setup
    target = str(request.getfixturevalue(target_fixture))
    meta, fake = _fake(source, tmp_path)

    # Run
    report = relsynth.write_tables(target, meta, fake, if_exists="fail")

    # Assert: every table in the URL's database, keys (the cross-schema one too) intact
    assert report.schema is None
    back = relsynth.reflect(target, sample_rows=0)
    assert sorted(back.tables) == ["customers", "employees", "orders"]
    assert all(t.schema is None for t in back) and back.schema is None
    assert {fk.label for fk in back.foreign_keys} == {fk.label for fk in meta.foreign_keys}
    dialect = sa.make_url(target).get_backend_name()
    integrity = check_database(target, as_written(meta, dialect))
    assert integrity.ok, integrity
    assert integrity.n_tables == 3
    assert check_database(target).ok


_SAME_NAME = [
    "CREATE SCHEMA sales",
    "CREATE SCHEMA hr",
    "CREATE TABLE sales.customers (id int PRIMARY KEY, name text)",
    "CREATE TABLE hr.employees (id int PRIMARY KEY, name text)",
    "CREATE TABLE sales.notes (id int PRIMARY KEY, "
    "customer_id int NOT NULL REFERENCES sales.customers (id), body text)",
    "CREATE TABLE hr.notes (id int PRIMARY KEY, "
    "employee_id int NOT NULL REFERENCES hr.employees (id), body text)",
    "INSERT INTO sales.customers SELECT g, 'c' || g FROM generate_series(1, 25) g",
    "INSERT INTO hr.employees SELECT g, 'e' || g FROM generate_series(1, 15) g",
    "INSERT INTO sales.notes SELECT g, 1 + mod(g, 25), 'n' || g FROM generate_series(1, 80) g",
    "INSERT INTO hr.notes SELECT g, 1 + mod(g, 15), 'h' || g FROM generate_series(1, 40) g",
]


def test_same_table_name_in_two_schemas_is_qualified_and_written_back(
    postgres_url: str, postgres_target: str, sqlite_url: str, tmp_path: Path
) -> None:
    # Setup
    _execute(postgres_url, _SAME_NAME)

    # Run: reflect, fit, sample, write into PostgreSQL
    meta = relsynth.reflect(postgres_url, schema=["sales", "hr"])
    tables = relsynth.read_tables(postgres_url, meta)
    synth = Synthesizer(meta, seed=0, **FAST).fit(tables)
    fake = synth.sample(seed=1)
    relsynth.write_tables(postgres_target, meta, fake, if_exists="replace")

    # Assert: the shared name is qualified, its database name kept, keys per schema
    assert sorted(meta.tables) == ["customers", "employees", "hr.notes", "sales.notes"]
    assert meta["hr.notes"].sql_name == "notes" and meta["hr.notes"].schema == "hr"
    assert meta["customers"].sql_name is None
    assert {fk.label for fk in meta.foreign_keys} == {
        "sales.notes(customer_id) -> customers(id)",
        "hr.notes(employee_id) -> employees(id)",
    }
    assert len(tables["hr.notes"]) == 40 and len(tables["sales.notes"]) == 80
    path = tmp_path / "meta.json"
    meta.save(path)
    assert Metadata.load(path) == meta
    placed = _scalars(
        postgres_target,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('sales', 'hr', 'public') ORDER BY 1",
    )
    assert placed == ["hr.employees", "hr.notes", "sales.customers", "sales.notes"]
    keys = _scalars(
        postgres_target,
        "SELECT conrelid::regclass::text || ' -> ' || confrelid::regclass::text "
        "FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
    assert keys == ["hr.notes -> hr.employees", "sales.notes -> sales.customers"]
    integrity = check_database(postgres_target, meta)
    assert integrity.ok and integrity.n_tables == 4, integrity
    back = relsynth.read_tables(postgres_target, meta)
    assert len(back["hr.notes"]) == len(fake["hr.notes"])
    # include/exclude take the qualified name
    only = relsynth.reflect(postgres_url, schema=["sales", "hr"], include=["sales.notes"])
    assert list(only.tables) == ["sales.notes"]

    # A target without schemas: the clash is named before anything is written
    with pytest.raises(MetadataError, match=r"'hr\.notes' and 'sales\.notes' .* 'notes'"):
        relsynth.write_tables(sqlite_url, meta, fake)
    assert relsynth.reflect(sqlite_url, sample_rows=0).tables == {}


def test_missing_schema_in_the_list_is_named(source: str) -> None:
    with pytest.raises(ReflectionError, match=r"Schema\(s\) 'payroll' do not exist"):
        relsynth.reflect(source, schema=["sales", "payroll"])
    with pytest.raises(ReflectionError, match="'schema' or as 'schemas', not both"):
        relsynth.reflect(source, schema="sales", schemas=["hr"])


def test_cli_reflect_and_check_with_two_schema_flags(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Setup
    out = tmp_path / "meta.json"

    # Run
    rc = main(["reflect", source, "--schema", "sales", "--schema", "hr", "-o", str(out)])
    checked = main(["check", source, "--schema", "sales", "--schema", "hr"])
    from_file = main(["check", source, "--metadata", str(out)])

    # Assert
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert checked == 0 and from_file == 0, captured.err
    stored = Metadata.load(out)
    assert {n: t.schema for n, t in stored.tables.items()} == {
        "customers": "sales",
        "employees": "hr",
        "orders": "sales",
    }
    assert "orders(rep_id) -> employees(id)" in {fk.label for fk in stored.foreign_keys}
    assert "employees" in captured.out
    # one --schema cannot move a file spanning two schemas into one: a one-line error
    assert main(["check", source, "--metadata", str(out), "--schema", "sales"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "spans schemas sales, hr" in err[0], err


def test_cli_clone_two_schemas_into_sqlite(
    source: str, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Run
    rc = main(
        [
            "clone",
            source,
            sqlite_url,
            "--schema",
            "sales",
            "--schema",
            "hr",
            "--steps",
            "20",
            "--threads",
            "1",
            "--jobs",
            "1",
        ]
    )

    # Assert: exit 0, the final integrity check found the three flattened tables
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "integrity OK: 3 table(s)" in captured.out
    assert sorted(relsynth.reflect(sqlite_url, sample_rows=0).tables) == [
        "customers",
        "employees",
        "orders",
    ]
    # evaluate reads the real side from both schemas and the synthetic side flattened
    rc = main(["evaluate", source, sqlite_url, "--schema", "sales", "--schema", "hr", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "orders" in captured.out and "employees" in captured.out


def test_tables_only_outside_the_default_schema_name_every_flag(source: str) -> None:
    # Run / Assert: not an empty metadata; the fix names both schemas
    with pytest.raises(ReflectionError, match="--schema hr --schema sales") as caught:
        relsynth.reflect(source)
    assert "schema=['hr', 'sales']" in str(caught.value)
