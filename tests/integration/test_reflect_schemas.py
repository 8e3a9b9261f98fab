"""Every edge-case schema in ``schemas/`` reflects correctly on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from relsynth import SchemaWarning, plan
from relsynth.io.reflect import reflect
from tests.schemas import SCHEMA_CASES, SchemaCase, load_schema

pytestmark = pytest.mark.filterwarnings("error")


def _dialect(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    return "mysql" if name in ("mysql", "mariadb") else name


@pytest.mark.parametrize("case_name", sorted(SCHEMA_CASES))
def test_schema_case_reflects(db_url: str, case_name: str) -> None:
    # Setup
    case: SchemaCase = SCHEMA_CASES[case_name]
    dialect = _dialect(db_url)
    if case_name == "types" and dialect == "sqlite":
        ctx = pytest.warns(SchemaWarning, match="c_untyped")  # untyped column -> TEXT, warned
    else:
        ctx = _no_warning()
    load_schema(case_name, db_url)

    # Run
    with ctx:
        meta = reflect(db_url)

    # Assert: tables (sorted by name), columns in order, primary keys
    expected_tables = case.tables or {t: meta[t].column_names for t in case.primary_keys}
    assert list(meta.tables) == sorted(expected_tables)
    for name, columns in expected_tables.items():
        assert meta[name].column_names == columns, name
        assert meta[name].primary_key == case.primary_keys[name], name
    # foreign keys as a set, with nullability
    got_fks = {
        (fk.child, fk.columns, fk.parent, fk.parent_columns, fk.nullable)
        for fk in meta.foreign_keys
    }
    assert got_fks == set(case.foreign_keys)
    # declared nullability
    for name, not_null in case.not_null.items():
        table = meta[name]
        assert {c.name for c in table.columns if not c.nullable} == set(not_null), name
    # portable types
    for where, sql_type in case.types_for(dialect).items():
        table, column = where.split(".", 1)
        if dialect == "sqlite" and case_name == "types" and column == "c_json":
            sql_type = "JSON"
        assert meta[table].column(column).sql_type == sql_type, where
    # unique constraints (the one equal to the PK excluded)
    for name, uniques in case.unique.items():
        assert {frozenset(u) for u in meta[name].unique} == uniques
    # CHECK constraints
    for name, n in case.n_checks.items():
        checks = meta[name].checks
        if case_name == "enum" and dialect == "sqlite":
            # SQLite has no ENUM: the idiom is VARCHAR + CHECK (col IN (...)).
            assert len(checks) == 2
            assert any("'on hold'" in c.sqltext for c in checks)
        else:
            assert len(checks) == n, [c.sqltext for c in checks]
    # autoincrement
    for name, cols in case.autoincrement.items():
        assert {c.name for c in meta[name].columns if c.autoincrement} == cols, name
    # plan: order respects the non-deferred keys; the right keys are deferred
    generation = plan(meta)
    assert {fk.label for fk in generation.deferred} == set(case.deferred)
    for before, after in case.order_constraints:
        assert generation.order.index(before) < generation.order.index(after)


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_enum_values(db_url: str) -> None:
    load_schema("enum", db_url)
    meta = reflect(db_url)
    status = meta["tickets"].column("status")
    if _dialect(db_url) == "sqlite":
        # No ENUM type in SQLite: the values only live in the CHECK constraint.
        assert status.enum_values is None
        assert status.sql_type == "VARCHAR(7)"
    else:
        assert status.enum_values == ("open", "closed", "on hold")
        assert meta["tickets"].column("priority").enum_values == ("low", "high")
    assert status.kind == "categorical"


def test_cycle_constraint_options(db_url: str) -> None:
    load_schema("not_null_cycle", db_url)
    meta = reflect(db_url)
    names = {fk.name for fk in meta.foreign_keys}
    plan_ = plan(meta)
    assert [fk.label for fk in plan_.deferred_not_null] == [
        "store(manager_staff_id) -> staff(staff_id)"
    ]
    if _dialect(db_url) == "sqlite":
        # SQLAlchemy reads SQLite constraint names from the CREATE TABLE text.
        assert names <= {"fk_store_manager", "fk_staff_store", None}
    else:
        # PostgreSQL: DEFERRABLE keys; MariaDB has no deferrable constraints and the
        # loader turns FOREIGN_KEY_CHECKS off instead. Both keep the names.
        assert names == {"fk_store_manager", "fk_staff_store"}


def test_kinds_on_edge_cases(db_url: str) -> None:
    load_schema("natural_keys", db_url)
    load_schema("sequential", db_url)
    load_schema("self_ref", db_url)
    meta = reflect(db_url)
    assert meta["territories"].column("territory_id").kind == "id"
    assert meta["stop_times"].column("trip_id").kind == "id"
    # part of the composite PK but in no FK: keeps a value kind
    assert meta["stop_times"].column("stop_sequence").kind in ("numerical", "categorical")
    # GTFS times past midnight are not datetimes
    assert meta["stop_times"].column("arrival_time").kind != "datetime"
    assert meta["employees"].column("manager_id").kind == "id"


def test_include_exclude_drop_foreign_keys(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    load_schema("star", db_url)
    with caplog.at_level("INFO", logger="relsynth.io.reflect"):
        meta = reflect(db_url, exclude=["stores"])
    assert "stores" not in meta
    assert {fk.parent for fk in meta.foreign_keys} == {"products", "calendar"}
    assert "parent table is not reflected" in caplog.text
    only = reflect(db_url, include=["sales", "products"], sample_rows=0)
    assert list(only.tables) == ["products", "sales"]
    assert [fk.label for fk in only.foreign_keys] == ["sales(product_id) -> products(product_id)"]
