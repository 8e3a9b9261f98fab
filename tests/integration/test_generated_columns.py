"""Generated columns and DEFERRABLE foreign keys: reflected, stored, recreated in every dialect.

A generated column is recreated as generated where the target accepts the expression
(no values inserted: the database computes them); where it does not, it becomes a plain
column filled with the values computed from the expression, never with sampled values.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlglot import exp

import relsynth
from relsynth import Column, ForeignKey, Metadata, SchemaWarning, Table
from relsynth.constraints import columns_of, parse_check
from tests.conftest import query

_GENERATED_DDL = {
    "sqlite": "total REAL GENERATED ALWAYS AS (price * qty) STORED",
    "postgresql": "total DOUBLE PRECISION GENERATED ALWAYS AS (price * qty) STORED",
    "mysql": "total DOUBLE AS (price * qty) PERSISTENT",
}


def _dialect(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _items_meta(generated: str = '"price" * "qty"', stored: bool = True) -> Metadata:
    return Metadata(
        {
            "items": Table(
                "items",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("price", "numerical", "FLOAT", nullable=False),
                    Column("qty", "numerical", "INTEGER", nullable=False),
                    Column("total", "numerical", "FLOAT", generated=generated,
                           generated_stored=stored),
                ),
                primary_key=("id",),
            )
        }
    )  # fmt: skip


def _items(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "price": np.round(rng.uniform(1, 50, n), 2),
            "qty": rng.integers(1, 9, n),
            "total": rng.uniform(0, 1, n),  # sampled nonsense: must not reach the target
        }
    )


def _is_generated(url: str, table: str, column: str) -> bool:
    dialect = _dialect(url)
    if dialect == "sqlite":
        rows = query(url, f"PRAGMA table_xinfo({table})")
        return any(r[1] == column and r[6] in (2, 3) for r in rows)
    if dialect == "postgresql":
        sql = (
            "SELECT is_generated FROM information_schema.columns "
            f"WHERE table_name = '{table}' AND column_name = '{column}'"
        )
        return query(url, sql) == [("ALWAYS",)]
    sql = (
        "SELECT IS_GENERATED FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        f"AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'"
    )
    return query(url, sql) == [("ALWAYS",)]


def test_generated_column_is_reflected_and_recreated_across_dialects(
    db_url: str, tmp_path: Path
) -> None:
    _execute(
        db_url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price DOUBLE PRECISION NOT NULL, "
        f"qty INTEGER NOT NULL, {_GENERATED_DDL[_dialect(db_url)]})"
        if _dialect(db_url) != "sqlite"
        else f"CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL NOT NULL, "
        f"qty INTEGER NOT NULL, {_GENERATED_DDL['sqlite']})",
        "INSERT INTO items (id, price, qty) VALUES (1, 2.5, 4), (2, 10, 3)",
    )
    meta = relsynth.reflect(db_url)
    total = meta.table("items").column("total")
    expr = parse_check(total.generated)  # PostgreSQL spells it price * (qty)::double precision
    assert isinstance(expr, exp.Mul) and columns_of(expr) == {"price", "qty"}
    assert total.generated_stored is True
    assert relsynth.Metadata.from_dict(meta.to_dict()) == meta
    tables = relsynth.read_tables(db_url, meta)
    assert tables["items"]["total"].tolist() == [10.0, 30.0]
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    frames = {"items": _items()}
    report = relsynth.write_tables(target, meta, frames)
    assert report.dropped == ()
    assert _is_generated(target, "items", "total")
    back = query(target, "SELECT price * qty, total FROM items ORDER BY id")
    assert all(a == pytest.approx(b) for a, b in back)


def test_generated_column_is_written_as_generated(db_url: str) -> None:
    frames = {"items": _items()}
    report = relsynth.write_tables(db_url, _items_meta(stored=False), frames)
    assert report.dropped == ()
    assert _is_generated(db_url, "items", "total")
    back = query(db_url, "SELECT price, qty, total FROM items ORDER BY id")
    assert len(back) == 20
    assert all(float(t) == pytest.approx(float(p) * q) for p, q, t in back)
    assert relsynth.reflect(db_url).table("items").column("total").generated is not None
    more = _items(5).assign(id=lambda f: f["id"] + 100)
    relsynth.write_tables(db_url, _items_meta(stored=False), {"items": more}, if_exists="append")
    back = query(db_url, "SELECT price, qty, total FROM items WHERE id > 100")
    assert len(back) == 5 and all(float(t) == pytest.approx(float(p) * q) for p, q, t in back)


def test_generated_column_the_target_refuses_holds_computed_values(postgres_url: str) -> None:
    """PostgreSQL refuses a non-immutable generation expression: computed values instead."""
    meta = Metadata(
        {
            "events": Table(
                "events",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("at", "datetime", "TIMESTAMP", nullable=False),
                    Column("label", "text", "TEXT", generated='CAST("at" AS TEXT)'),
                ),
                primary_key=("id",),
            )
        }
    )
    at = pd.to_datetime(["2020-01-02 03:04:05", "2021-06-07 08:09:10"])
    frames = {"events": pd.DataFrame({"id": [1, 2], "at": at, "label": ["x", "y"]})}
    with pytest.warns(SchemaWarning, match="GENERATED"):
        report = relsynth.write_tables(postgres_url, meta, frames)
    assert len(report.dropped) == 1 and "events.label" in report.dropped[0]
    assert not _is_generated(postgres_url, "events", "label")
    assert query(postgres_url, "SELECT label FROM events ORDER BY id") == [
        ("2020-01-02 03:04:05",),
        ("2021-06-07 08:09:10",),
    ]


def test_generated_expression_from_a_file_is_allow_listed() -> None:
    with pytest.raises(relsynth.MetadataError, match=r"items\.total"):
        _items_meta(generated="(SELECT 1)").validate()
    with pytest.raises(relsynth.MetadataError, match=r"items\.total.*'total'"):
        _items_meta(generated='"total" + 1').validate()  # not its own column


_PARENT_CHILD = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, "
    "CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) "
    "DEFERRABLE INITIALLY DEFERRED)",
)


def _deferrable_meta() -> Metadata:
    return Metadata(
        {
            "parent": Table("parent", (Column("id", "id", "INTEGER", nullable=False),),
                            primary_key=("id",)),
            "child": Table(
                "child",
                (Column("id", "id", "INTEGER", nullable=False),
                 Column("parent_id", "id", "INTEGER", nullable=False)),
                primary_key=("id",),
            ),
        },
        foreign_keys=(ForeignKey("child", ("parent_id",), "parent", ("id",), name="child_parent",
                                 deferrable=True, initially_deferred=True),),
    )  # fmt: skip


def _frames() -> dict[str, pd.DataFrame]:
    return {
        "parent": pd.DataFrame({"id": [1, 2]}),
        "child": pd.DataFrame({"id": [1, 2, 3], "parent_id": [1, 2, 2]}),
    }


def test_deferrable_foreign_key_is_kept_on_postgresql(postgres_url: str) -> None:
    _execute(postgres_url, *_PARENT_CHILD)
    meta = relsynth.reflect(postgres_url)
    (fk,) = meta.foreign_keys
    assert fk.deferrable and fk.initially_deferred
    assert relsynth.Metadata.from_dict(meta.to_dict()) == meta
    relsynth.write_tables(postgres_url, meta, _frames(), if_exists="replace")
    flags = query(
        postgres_url,
        "SELECT condeferrable, condeferred FROM pg_constraint WHERE contype = 'f'",
    )
    assert flags == [(True, True)]


@pytest.mark.parametrize("fixture", ["sqlite_url", "mariadb_url"])
def test_deferrable_foreign_key_on_sqlite_and_mariadb(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    db_url = str(request.getfixturevalue(fixture))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        relsynth.write_tables(db_url, _deferrable_meta(), _frames())
    assert relsynth.check_database(db_url).ok
    if _dialect(db_url) == "sqlite":
        (sql,) = query(db_url, "SELECT sql FROM sqlite_master WHERE name = 'child'")[0]
        assert "DEFERRABLE INITIALLY DEFERRED" in sql
        path = sa.make_url(db_url).database
        with sqlite3.connect(path) as conn:  # a deferred key is checked at COMMIT
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("INSERT INTO child VALUES (9, 99)")
            conn.execute("INSERT INTO parent VALUES (99)")
        (fk,) = relsynth.reflect(db_url).foreign_keys  # SQLite's DEFERRABLE is reflected too
        assert fk.deferrable and fk.initially_deferred
    else:  # MariaDB has no deferrable keys: an ordinary foreign key
        (fk,) = relsynth.reflect(db_url).foreign_keys
        assert fk.label == "child(parent_id) -> parent(id)" and not fk.deferrable


def test_clone_keeps_generated_columns_consistent(tmp_path: Path, postgres_url: str) -> None:
    """SQLite VIRTUAL column -> PostgreSQL STORED column; every synthetic row is consistent."""
    from relsynth.cli import main

    source = tmp_path / "src.db"
    with sqlite3.connect(source) as conn:
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL NOT NULL, "
            "qty INTEGER NOT NULL, total REAL GENERATED ALWAYS AS (price * qty) VIRTUAL)"
        )
        conn.executemany(
            "INSERT INTO items (id, price, qty) VALUES (?, ?, ?)",
            [(i, 1.5 + i % 7, 1 + i % 5) for i in range(1, 81)],
        )
    rc = main(["clone", f"sqlite:///{source}", postgres_url, "--steps", "20", "--threads", "1",
               "--jobs", "1", "--seed", "0"])  # fmt: skip
    assert rc == 0
    assert _is_generated(postgres_url, "items", "total")
    rows = query(postgres_url, "SELECT price, qty, total FROM items")
    assert len(rows) == 80
    assert all(float(t) == pytest.approx(float(p) * q) for p, q, t in rows)


def test_sampled_frames_hold_computed_generated_values(tmp_path: Path) -> None:
    """Synthesizer.sample's frames already agree with the expression (not only the writer)."""
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as conn:
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL NOT NULL, "
            "qty INTEGER NOT NULL, total REAL GENERATED ALWAYS AS (price * qty) STORED)"
        )
        conn.executemany(
            "INSERT INTO items (id, price, qty) VALUES (?, ?, ?)",
            [(i, 1.5 + i % 7, 1 + i % 5) for i in range(1, 81)],
        )
    url = f"sqlite:///{source}"
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    fake = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables).sample(seed=1)
    items = fake["items"]
    np.testing.assert_allclose(items["total"], items["price"] * items["qty"])
