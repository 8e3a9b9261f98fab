"""check_database / check(url): the SQL integrity checks agree with the DataFrame ones."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table, check
from relsynth.io.sql import check_database

pytestmark = pytest.mark.servers


def declared_without_keys() -> Metadata:
    """Keys the database does not enforce (as in CSV-loaded or legacy databases)."""
    return Metadata(
        tables={
            "parent": Table(
                "parent",
                (Column("a", "id", "INTEGER", nullable=False),
                 Column("b", "id", "VARCHAR(5)", nullable=False),
                 Column("code", "categorical", "VARCHAR(5)")),
                primary_key=("a", "b"),
                unique=(("code",),),
            ),
            "child": Table(
                "child",
                (Column("id", "id", "INTEGER", nullable=False),
                 Column("a", "id", "INTEGER"),
                 Column("b", "id", "VARCHAR(5)"),
                 Column("note", "text", "TEXT", nullable=False)),
                primary_key=("id",),
            ),
        },
        foreign_keys=(ForeignKey("child", ("a", "b"), "parent", ("a", "b"), nullable=True),),
    )  # fmt: skip


def bad_tables() -> dict[str, pd.DataFrame]:
    return {
        "parent": pd.DataFrame({"a": [1, 1, 2, 2], "b": ["x", "y", "x", "x"],
                                "code": ["k1", "k1", None, None]}),
        "child": pd.DataFrame({"id": [1, 2, 3, 4, 5, 5],
                               "a": [1, 1, 3, 2, None, 9],
                               "b": ["x", "z", "x", "y", "x", None],
                               "note": ["n", None, "n", "n", "n", "n"]}),
    }  # fmt: skip


def load_unconstrained(url: str, meta: Metadata, tables: dict[str, pd.DataFrame]) -> None:
    """Create the tables without any constraint and insert the rows as they are."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name, table in meta.tables.items():
            types = {"INTEGER": sa.Integer(), "VARCHAR(5)": sa.String(5), "TEXT": sa.Text()}
            sa_table = sa.Table(
                name, sa.MetaData(), *[sa.Column(c.name, types[c.sql_type]) for c in table.columns]
            )
            sa_table.create(conn)
            rows = tables[name].astype(object).where(tables[name].notna(), None)
            conn.execute(sa.insert(sa_table), rows.to_dict("records"))
    engine.dispose()


def summary(report) -> set[tuple[str, str, tuple[str, ...], int]]:  # noqa: ANN001
    return {(v.kind, v.table, v.columns, v.n_rows) for v in report.violations}


def test_sql_checks_match_dataframe_checks(db_url: str) -> None:
    meta, tables = declared_without_keys(), bad_tables()
    load_unconstrained(db_url, meta, tables)

    in_db = check_database(db_url, meta)
    in_frames = check(meta, tables)

    assert summary(in_db) == summary(in_frames)
    assert summary(in_db) == {
        ("duplicate_primary_key", "parent", ("a", "b"), 2),
        ("duplicate_unique", "parent", ("code",), 2),
        ("duplicate_primary_key", "child", ("id",), 2),
        ("not_null", "child", ("note",), 1),
        ("orphan_foreign_key", "child", ("a", "b"), 3),  # NULL keys are skipped
    }
    orphan = next(v for v in in_db.violations if v.kind == "orphan_foreign_key")
    assert orphan.examples == ((1, "z"), (2, "y"), (3, "x"))
    assert "child(a, b) -> parent(a, b) has 3 row(s) with no parent" in str(in_db)
    dup = next(
        v for v in in_db.violations if v.kind == "duplicate_primary_key" and v.table == "parent"
    )
    assert dup.examples == ((2, "x"),)
    # check(url, metadata) still dispatches to check_database, with a deprecation warning
    with pytest.warns(DeprecationWarning, match=r"use relsynth.check_database\(url"):
        assert not check(db_url, meta).ok
    assert not relsynth.check_database(db_url, meta).ok


def test_missing_table_and_column(sqlite_url: str) -> None:
    meta, tables = declared_without_keys(), bad_tables()
    load_unconstrained(sqlite_url, meta.without_tables("child"), tables)
    wider = meta.with_table(
        Table(
            "parent",
            (*meta.table("parent").columns, Column("extra", "text", "TEXT")),
            primary_key=("a", "b"),
        )
    )
    kinds = {(v.kind, v.table, v.columns) for v in check_database(sqlite_url, wider).violations}
    assert ("missing_table", "child", ()) in kinds
    assert ("missing_column", "parent", ("extra",)) in kinds


def test_reflects_when_no_metadata(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id))"
        )
        conn.exec_driver_sql("INSERT INTO p VALUES (1)")
        conn.exec_driver_sql("INSERT INTO c VALUES (1, 1), (2, 7)")  # FKs not enforced
    engine.dispose()
    report = check_database(sqlite_url)
    assert [(v.kind, v.examples) for v in report.violations] == [("orphan_foreign_key", (7,))]
    assert report.n_rows == 3
