"""Dates stored as text come back in the source's own format, in every dialect."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import relsynth
from tests.conftest import query

FORMATS = {
    "day": (r"^\d{4}-\d{2}-\d{2}$", lambda i: f"20{i % 20:02d}-0{1 + i % 9}-1{i % 10}"),
    "stamp": (
        r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        lambda i: f"2021-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
    ),
    "millis": (
        r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$",
        lambda i: f"1996-07-{1 + i % 28:02d} 00:00:00.000",
    ),
    "euro": (r"^\d{2}/\d{2}/\d{4}$", lambda i: f"{1 + i % 28:02d}/{1 + i % 12:02d}/2019"),
}


def _source(path: Path, n: int = 120) -> str:
    with sqlite3.connect(path) as con:
        cols = ", ".join(f"{c} TEXT" for c in FORMATS)
        con.execute(f"CREATE TABLE events (id INTEGER PRIMARY KEY, {cols}, amount REAL)")
        con.executemany(
            f"INSERT INTO events VALUES (?, {', '.join('?' for _ in FORMATS)}, ?)",
            [(i, *(make(i) for _, make in FORMATS.values()), i * 1.5) for i in range(n)],
        )
    return f"sqlite:///{path}"


def test_text_dates_keep_their_format_in_every_dialect(tmp_path, db_url) -> None:
    url = _source(tmp_path / "src.db")
    meta = relsynth.reflect(url)
    events = meta["events"]
    assert {c: events.column(c).kind for c in FORMATS} == dict.fromkeys(FORMATS, "datetime")
    assert events.column("euro").format == "%d/%m/%Y"
    tables = relsynth.read_tables(url, meta)
    fake = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables).sample(seed=1)
    relsynth.write_tables(db_url, meta, fake)
    cols = ", ".join(FORMATS)
    rows = query(db_url, f"SELECT {cols} FROM events")
    assert len(rows) == 120
    for i, (col, (pattern, _)) in enumerate(FORMATS.items()):
        values = [r[i] for r in rows if r[i] is not None]
        assert values and all(re.match(pattern, str(v)) for v in values), (col, values[:3])


def test_reflect_shows_the_text_format(tmp_path, capsys) -> None:
    from relsynth.cli import main

    assert main(["reflect", _source(tmp_path / "src.db")]) == 0
    out = capsys.readouterr().out
    assert "format:%d/%m/%Y" in out and "format:%Y-%m-%d" in out


def test_sqlite_date_types_holding_text_keep_their_format(tmp_path) -> None:
    src = tmp_path / "typed.db"
    with sqlite3.connect(src) as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, d DATE, ts DATETIME, x REAL)")
        con.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            [
                (i, f"2004-0{1 + i % 9}-1{i % 10}", f"1996-07-{1 + i % 28:02d} 00:00:00.000", i)
                for i in range(80)
            ],
        )
    url = f"sqlite:///{src}"
    meta = relsynth.reflect(url)
    assert meta["t"].column("ts").format == "%Y-%m-%d %H:%M:%S.%3f"
    assert meta["t"].column("d").format == "%Y-%m-%d"
    tables = relsynth.read_tables(url, meta)
    assert str(tables["t"]["ts"].dtype) == "datetime64[ns]"
    fake = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables).sample(seed=1)
    target = f"sqlite:///{tmp_path / 'out.db'}"
    relsynth.write_tables(target, meta, fake)
    rows = query(target, "SELECT d, ts FROM t")
    assert all(re.match(r"^\d{4}-\d{2}-\d{2}$", r[0]) for r in rows)
    assert all(re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$", r[1]) for r in rows)


def test_northwind_dates_keep_their_milliseconds() -> None:
    from tests.conftest import dataset_url

    meta = relsynth.reflect(dataset_url("northwind"))
    assert meta["Orders"].column("OrderDate").format == "%Y-%m-%d %H:%M:%S.%3f"
