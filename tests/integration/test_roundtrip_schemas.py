"""Every edge-case schema of ``schemas/*.sql`` round-trips through every dialect.

For each case: create it from its DDL in a source database, append a few generated
rows that satisfy its keys (:func:`generated_rows`, written with ``write_tables(...,
if_exists="append")``), reflect, read, write into the target, check, read back and
compare. The NOT NULL cycle and the self-reference are also checked to load with the
target enforcing its foreign keys.
"""

from __future__ import annotations

import re
import uuid
import warnings

import pandas as pd
import pytest
import sqlalchemy as sa

from relsynth import Metadata, SchemaWarning, plan
from relsynth.io._convert import column_family
from relsynth.io.sql import check_database, read_tables, write_tables
from relsynth.metadata.schema import Column, Table
from tests.integration.test_roundtrip_datasets import assert_same_tables, reflect_quietly
from tests.schemas import SCHEMA_CASES, load_schema

pytestmark = pytest.mark.servers

N_ROWS = 3
SERVER_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}


def _allowed(table: Table, col: Column) -> tuple[str, ...]:
    """Values allowed by an ENUM or by a ``col IN ('a', 'b')`` CHECK (SQLite enums)."""
    if col.enum_values:
        return col.enum_values
    for check in table.checks:
        match = re.search(rf"\b{re.escape(col.name)}\W*\s+IN\s*\(([^)]*)\)", check.sqltext, re.I)
        if match:
            return tuple(re.findall(r"'((?:[^']|'')*)'", match.group(1)))
    return ()


def _value(col: Column, i: int, table: Table | None = None) -> object:  # noqa: PLR0911
    family, base, params = column_family(col)
    allowed = _allowed(table, col) if table is not None else col.enum_values or ()
    if allowed:
        return allowed[i % len(allowed)]
    if "inet" in col.name:  # PostgreSQL INET
        return f"10.0.0.{i + 1}"
    if "cidr" in col.name:
        return f"10.{i}.0.0/16"
    if "macaddr" in col.name:
        return f"08:00:2b:01:02:{i:02x}"
    if "ubig" in col.name:  # BIGINT UNSIGNED (near 2**64: test_column_types)
        return 2**63 - 1 - i
    if family in ("int", "any"):
        return i + 1
    if family in ("float", "numeric"):
        return i + 1.25
    if family in ("date", "datetime", "datetimetz"):
        return pd.Timestamp(2024, 1, 1 + i, 0 if family == "date" else 10 + i, 0)
    if family == "time":
        return f"{10 + i:02d}:30:00"
    if family == "bool":
        return bool(i % 2)
    if family == "binary":
        return bytes([i, 0, 255])
    if family == "json":
        return f'{{"i": {i}}}'
    if family == "array":
        return f"[{i}, {i + 1}]" if "int" in col.name else f'["a{i}", "b \\"{i}\\""]'
    if family == "uuid":
        return str(uuid.UUID(int=i + 1))
    if family == "interval":
        return pd.Timedelta(hours=i + 1)
    length = params[0] if params else 20
    return f"{col.name[:3]}{i}"[-length:]


def generated_rows(meta: Metadata) -> dict[str, pd.DataFrame]:
    """``N_ROWS`` rows per table: row i points at parent row i (self-references at i-1)."""
    frames: dict[str, pd.DataFrame] = {}
    the_plan = plan(meta)
    for name in the_plan.order:
        table = meta.table(name)
        data = {c.name: [_value(c, i, table) for i in range(N_ROWS)] for c in table.columns}
        fks = sorted(meta.parents(name), key=lambda fk: -len(fk.columns))
        assigned: set[str] = set()
        for fk in fks:
            if fk.is_self_reference:
                continue
            if assigned & set(fk.columns):
                continue
            parent = frames.get(fk.parent)
            if parent is None:  # a deferred key: the parent comes later in plan order
                parent_rows = {
                    c: [_value(meta.table(fk.parent).column(c), i) for i in range(N_ROWS)]
                    for c in fk.parent_columns
                }
            else:
                parent_rows = {c: parent[c].tolist() for c in fk.parent_columns}
            for col, pcol in zip(fk.columns, fk.parent_columns, strict=True):
                data[col] = parent_rows[pcol][:N_ROWS]
            assigned |= set(fk.columns)
        for fk in meta.parents(name):
            if fk.is_self_reference:
                for col, pcol in zip(fk.columns, fk.parent_columns, strict=True):
                    keys = data[pcol]
                    data[col] = [None if fk.nullable else keys[0]] + keys[:-1]
        frames[name] = pd.DataFrame(data, columns=list(table.column_names))
    return frames


def populated_source(case: str, url: str) -> Metadata:
    """Create ``case`` at ``url``, add generated rows where the DDL inserts none."""
    load_schema(case, url)
    meta = reflect_quietly(url)
    existing = read_tables(url, meta)
    if all(len(f) == 0 for f in existing.values()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SchemaWarning)
            write_tables(url, meta, generated_rows(meta), if_exists="append")
    return meta


def roundtrip_case(case: str, source_url: str, target_url: str) -> None:
    meta = populated_source(case, source_url)
    tables = read_tables(source_url, meta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        write_tables(target_url, meta, tables)
    report = check_database(target_url, meta)
    assert report.ok, str(report)
    assert_same_tables(meta, tables, read_tables(target_url, meta))


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_schema_case_roundtrip(case: str, tmp_path, db_url: str) -> None:
    roundtrip_case(case, f"sqlite:///{tmp_path / 'source.db'}", db_url)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("postgresql", "sqlite"),
        ("postgresql", "mariadb"),
        ("mariadb", "postgresql"),
        ("mariadb", "sqlite"),
    ],
)
@pytest.mark.parametrize("case", ["enum", "identity", "types", "checks", "not_null_cycle"])
def test_dialect_specific_roundtrip(
    case: str, source: str, target: str, request: pytest.FixtureRequest
) -> None:
    source_url = request.getfixturevalue(SERVER_FIXTURES[source])
    target_url = request.getfixturevalue(SERVER_FIXTURES[target])
    roundtrip_case(case, source_url, target_url)


def _insert_fails(url: str, sql: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if url.startswith("sqlite"):
                conn.exec_driver_sql("PRAGMA foreign_keys = ON")
            conn.exec_driver_sql(sql)
    except sa.exc.IntegrityError:
        return True
    finally:
        engine.dispose()
    return False


@pytest.mark.parametrize("case", ["not_null_cycle", "self_ref", "nullable_cycle"])
def test_cycles_and_self_references_load_with_keys_enforced(
    case: str, tmp_path, db_url: str
) -> None:
    meta = populated_source(case, f"sqlite:///{tmp_path / 'source.db'}")
    tables = read_tables(f"sqlite:///{tmp_path / 'source.db'}", meta)
    if case == "self_ref":  # children first in the frame: the writer must reorder
        tables["employees"] = tables["employees"].iloc[::-1].reset_index(drop=True)
    write_tables(db_url, meta, tables)
    assert check_database(db_url, meta).ok
    assert_same_tables(meta, tables, read_tables(db_url, meta))
    # The target enforces the keys: an orphan is rejected.
    orphan = {
        "not_null_cycle": "INSERT INTO staff (staff_id, store_id, first_name) VALUES (99, 42, 'x')",
        "self_ref": "INSERT INTO employees (employee_id, manager_id, name) VALUES (99, 42, 'x')",
        "nullable_cycle": "INSERT INTO people (person_id, department_id) VALUES (99, 42)",
    }[case]
    assert _insert_fails(db_url, orphan)


def _next_id(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO {table} (label) VALUES ('next')")
            return int(conn.exec_driver_sql(f"SELECT MAX(id) FROM {table}").scalar())
    finally:
        engine.dispose()


@pytest.mark.parametrize("target", ["sqlite", "mariadb"])
def test_sequences_are_reset(postgres_url: str, target: str, request) -> None:  # noqa: ANN001
    # The append into the PostgreSQL source resets its sequences (setval) too.
    meta = populated_source("identity", postgres_url)
    assert _next_id(postgres_url, "with_serial") == N_ROWS + 1
    tables = read_tables(postgres_url, meta)
    target_url = request.getfixturevalue(SERVER_FIXTURES[target])
    write_tables(target_url, meta, tables)
    assert _next_id(target_url, "with_serial") == N_ROWS + 2
