"""Numbers stored as text come back in the source's own format, in every dialect."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import relsynth
from tests.conftest import query

FORMATS = {
    "price": (".2f", r"^-?\d+\.\d{2}$", lambda i: f"{(i * 37 % 500) / 4 - 20:.2f}"),
    "qty": ("04d", r"^\d{4}$", lambda i: f"{i * 7 % 90:04d}"),
    "total": (",.2f", r"^-?\d{1,3}(,\d{3})*\.\d{2}$", lambda i: f"{i * 12345.5:,.2f}"),
    "count": ("d", r"^-?\d+$", lambda i: str(i * 13 % 1000 - 200)),
}


def _source(path: Path, n: int = 150) -> str:
    with sqlite3.connect(path) as con:
        cols = ", ".join(f'"{c}" TEXT' for c in FORMATS)
        con.execute(f"CREATE TABLE items (id INTEGER PRIMARY KEY, {cols}, label TEXT)")
        con.executemany(
            f"INSERT INTO items VALUES (?, {', '.join('?' for _ in FORMATS)}, ?)",
            [(i, *(f[2](i) for f in FORMATS.values()), f"l{i % 4}") for i in range(n)],
        )
    return f"sqlite:///{path}"


def _check(url: str) -> None:
    cols = ", ".join(
        f'"{c}"' if "sqlite" in url or "postgres" in url else f"`{c}`" for c in FORMATS
    )
    rows = query(url, f"SELECT {cols} FROM items")
    assert len(rows) == 150
    for i, (col, (_, pattern, _)) in enumerate(FORMATS.items()):
        values = [r[i] for r in rows if r[i] is not None]
        assert values and all(isinstance(v, str) for v in values), (col, values[:3])
        assert all(re.match(pattern, v) for v in values), (col, values[:5])


def test_text_numbers_keep_their_format_in_every_dialect(tmp_path, db_url) -> None:
    url = _source(tmp_path / "src.db")
    meta = relsynth.reflect(url)
    items = meta["items"]
    assert {c: (items.column(c).kind, items.column(c).format) for c in FORMATS} == {
        c: ("numerical", f[0]) for c, f in FORMATS.items()
    }
    tables = relsynth.read_tables(url, meta)
    assert str(tables["items"]["qty"].dtype) == "int64"
    assert str(tables["items"]["total"].dtype) == "float64"
    fake = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables).sample(seed=1)
    relsynth.write_tables(db_url, meta, fake)
    _check(db_url)
    # the written database, reflected in its own dialect, has the same formats
    again = relsynth.reflect(db_url)["items"]
    assert {c: again.column(c).format for c in FORMATS} == {c: f[0] for c, f in FORMATS.items()}
    assert {again.column(c).kind for c in FORMATS} == {"numerical"}


def test_reflect_shows_the_number_format(tmp_path, capsys) -> None:
    from relsynth.cli import main

    assert main(["reflect", _source(tmp_path / "src.db")]) == 0
    out = capsys.readouterr().out
    assert "format:.2f" in out and "format:04d" in out and "format:,.2f" in out
