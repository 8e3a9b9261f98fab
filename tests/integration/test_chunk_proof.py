"""SQLite's foreign key proof of a chunked write, chunk by chunk
(``relsynth.io._chunkproof``): the same report as one scan after the last chunk, and
the final proof scans no child again for its foreign keys."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

import relsynth
from relsynth.errors import ReferentialIntegrityError
from relsynth.io import _write
from relsynth.io.sql import write_table_chunks

DDL = """
CREATE TABLE stores (code TEXT PRIMARY KEY, size REAL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, store TEXT NOT NULL REFERENCES stores(code));
CREATE TABLE readings (store TEXT NOT NULL REFERENCES stores(code), ts INTEGER NOT NULL,
                       PRIMARY KEY (store, ts));
"""


@pytest.fixture
def meta(tmp_path):
    con = sqlite3.connect(tmp_path / "schema.db")
    con.executescript(DDL)
    con.close()
    return relsynth.reflect(f"sqlite:///{tmp_path / 'schema.db'}")


def _chunk(stores, orders, readings) -> dict[str, pd.DataFrame]:
    return {
        "stores": pd.DataFrame({"code": stores, "size": [1.0] * len(stores)}),
        "orders": pd.DataFrame({"id": [i for i, _ in orders], "store": [s for _, s in orders]}),
        "readings": pd.DataFrame(
            {"store": [s for s, _ in readings], "ts": [t for _, t in readings]}
        ),
    }


def _violations(exc: pytest.ExceptionInfo) -> dict[str, tuple[int, tuple]]:
    return {
        v.table: (v.n_rows, v.examples)
        for v in exc.value.report.violations
        if v.kind == "orphan_foreign_key"
    }


def test_orphans_of_later_chunks_are_reported_as_one_scan_would(meta, tmp_path):
    chunks = [
        _chunk(["A", "B"], [(1, "A"), (2, "B")], [("A", 1), ("B", 1)]),
        _chunk(["C"], [(3, "C"), (4, "Z"), (5, "Y"), (6, "Z")], [("C", 1), ("X", 1)]),
        _chunk(["D"], [(7, "D"), (8, "W")], [("D", 1), ("V", 2), ("X", 2)]),
    ]
    with pytest.raises(ReferentialIntegrityError) as exc:
        write_table_chunks(f"sqlite:///{tmp_path / 'out.db'}", meta, chunks)
    # orders: the rowid is its INTEGER PRIMARY KEY; readings: SQLite's own rowid
    assert _violations(exc) == {"orders": (4, ("W", "Y", "Z")), "readings": (3, ("V", "X"))}
    con = sqlite3.connect(tmp_path / "out.db")  # nothing was committed
    assert con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []


def test_keys_below_an_earlier_chunk_are_left_to_the_final_scan(meta, tmp_path):
    chunks = [
        _chunk(["A"], [(10, "A"), (11, "A")], [("A", 1)]),
        _chunk(["B"], [(1, "B"), (2, "Q")], [("B", 1)]),  # ids under chunk 0's
    ]
    with pytest.raises(ReferentialIntegrityError) as exc:
        write_table_chunks(f"sqlite:///{tmp_path / 'out.db'}", meta, chunks)
    assert _violations(exc) == {"orders": (1, ("Q",))}


def test_the_final_proof_does_not_scan_the_children_again(meta, tmp_path, monkeypatch):
    seen: list = []

    def spy(*args, **kwargs):
        seen.append(dict(kwargs.get("known") or {}))
        return check(*args, **kwargs)

    check = _write.check_connection
    monkeypatch.setattr(_write, "check_connection", spy)
    chunks = [
        _chunk(["A"], [(1, "A")], [("A", 1)]),
        _chunk(["B"], [(2, "B"), (3, "A")], [("B", 1), ("A", 2)]),
    ]
    written = write_table_chunks(f"sqlite:///{tmp_path / 'out.db'}", meta, chunks)
    assert written.integrity.ok and written.integrity.n_rows == 8
    assert len(seen) == 1
    assert set(seen[0]) == set(meta.foreign_keys)
    assert all(found is None for found in seen[0].values())


def test_a_column_named_rowid_leaves_its_table_to_the_final_scan(tmp_path):
    con = sqlite3.connect(tmp_path / "schema.db")
    con.executescript(
        "CREATE TABLE stores (code TEXT PRIMARY KEY);"
        'CREATE TABLE notes ("rowid" INTEGER NOT NULL, store TEXT REFERENCES stores(code));'
    )
    con.close()
    meta = relsynth.reflect(f"sqlite:///{tmp_path / 'schema.db'}")
    chunks = [
        {
            "stores": pd.DataFrame({"code": [f"S{i}"]}),
            "notes": pd.DataFrame({"rowid": [9 - i], "store": ["S0" if i < 2 else "Q"]}),
        }
        for i in range(3)
    ]
    with pytest.raises(ReferentialIntegrityError) as exc:
        write_table_chunks(f"sqlite:///{tmp_path / 'out.db'}", meta, chunks)
    assert _violations(exc) == {"notes": (1, ("Q",))}
