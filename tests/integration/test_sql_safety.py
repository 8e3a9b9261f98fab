"""No SQL text from a file reaches a database: CHECK/DEFAULT/GENERATED text is parsed and refused.

A model file's metadata.json (whose checksum is not a signature: anyone can recompute
it) or a ``--metadata`` file carrying ``true); DROP TABLE victim; SELECT (1`` in a
CHECK constraint or a column default is refused when it is loaded, before any
target is touched: the ``victim`` table survives and nothing else is created, in
SQLite, PostgreSQL and MariaDB. The same text in a Metadata built in Python is
refused by ``write_tables`` before it connects.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
from relsynth import CheckConstraint, MetadataError
from relsynth.cli import main
from tests.conftest import query

INJECTION = "true); DROP TABLE victim; SELECT (1"


def _source(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, "
            "amount REAL NOT NULL DEFAULT 0 CHECK (amount >= 0), label TEXT)"
        )
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?)",
            [(i, float(i % 17), f"l{i % 3}") for i in range(1, 61)],
        )
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    url = _source(folder / "source.db")
    meta = relsynth.reflect(url)
    assert meta.table("items").checks[0].sqltext == '"amount" >= 0'
    assert meta.table("items").column("amount").default == "0"
    tables = relsynth.read_tables(url, meta)
    synth = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    path = folder / "items.relsynth"
    synth.save(path)
    return path


def _tamper(model: Path, out: Path, where: str) -> Path:
    """A copy of ``model`` whose metadata carries the injection, checksum recomputed."""
    with zipfile.ZipFile(model) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    data = json.loads(members["metadata.json"])
    _inject(data, where)
    meta_bytes = json.dumps(data, indent=2).encode("utf-8")
    manifest = json.loads(members["manifest.json"])
    manifest["metadata_sha256"] = hashlib.sha256(meta_bytes).hexdigest()
    members["metadata.json"] = meta_bytes
    members["manifest.json"] = json.dumps(manifest).encode("utf-8")
    with zipfile.ZipFile(out, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return out


def _inject(data: dict, where: str) -> None:
    table = data["tables"]["items"]
    if where == "check":
        table["checks"] = [{"sqltext": INJECTION, "name": "ck"}]
    else:
        for col in table["columns"]:
            if col["name"] == "amount":
                col["default"] = INJECTION


def _with_victim(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE victim (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO victim VALUES (42)")
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _assert_untouched(url: str) -> None:
    assert _tables(url) == {"victim"}
    assert query(url, "SELECT id FROM victim") == [(42,)]


@pytest.mark.parametrize("where", ["check", "default"])
def test_tampered_model_file_is_refused_before_anything_is_written(
    model: Path, tmp_path: Path, db_url: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_victim(db_url)
    bad = _tamper(model, tmp_path / "bad.relsynth", where)
    rc = main(["sample", str(bad), db_url, "--if-exists", "append", "--seed", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "bad.relsynth" in err and "metadata.json" in err and "items" in err
    assert "does not parse" in err
    _assert_untouched(db_url)


@pytest.mark.parametrize("where", ["check", "default"])
def test_tampered_metadata_file_is_refused_before_anything_is_written(
    model: Path, tmp_path: Path, db_url: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_victim(db_url)
    source = _source(tmp_path / "source.db")
    data = relsynth.reflect(source).to_dict()
    _inject(data, where)
    meta_file = tmp_path / "meta.json"
    meta_file.write_text(json.dumps(data), encoding="utf-8")
    rc = main(
        ["clone", source, db_url, "--metadata", str(meta_file), "--if-exists", "append",
         "--steps", "20", "--threads", "1", "--jobs", "1", "--seed", "0"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert str(meta_file) in err and "items" in err and "refused" in err.lower()
    _assert_untouched(db_url)
    with pytest.raises(MetadataError, match=r"(?s)meta\.json.*items"):
        relsynth.Metadata.load(meta_file)


@pytest.mark.parametrize(
    "text",
    [
        INJECTION,
        "amount > 0; DROP TABLE victim",
        "amount > (SELECT count(*) FROM victim)",
        "pg_sleep(5) IS NULL",
        "victim.id > 0",
    ],
)
def test_python_metadata_is_refused_before_connecting(postgres_url: str, text: str) -> None:
    _with_victim(postgres_url)
    meta = relsynth.Metadata(
        {
            "items": relsynth.Table(
                "items",
                (
                    relsynth.Column("id", "id", "INTEGER", nullable=False),
                    relsynth.Column("amount", "numerical", "FLOAT"),
                ),
                primary_key=("id",),
                checks=(CheckConstraint(text, name="ck"),),
            )
        }
    )
    frames = {"items": pd.DataFrame({"id": [1, 2], "amount": [1.0, 2.0]})}
    with pytest.raises(MetadataError, match="items"):
        relsynth.write_tables(postgres_url, meta, frames, if_exists="append")
    _assert_untouched(postgres_url)


def test_expressions_are_translated_across_dialects(tmp_path: Path, db_url: str) -> None:
    """A SQLite CHECK and DEFAULT written by sqlglot for the target; the target enforces them."""
    path = tmp_path / "src.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE [people] ([id] INTEGER PRIMARY KEY, [Name] TEXT NOT NULL "
            "CHECK (length([Name]) >= 2), [kind] TEXT DEFAULT ('a') "
            "CHECK ([kind] IN ('a', 'b')))"
        )
    meta = relsynth.reflect(f"sqlite:///{path}")
    people = meta.table("people")
    assert {c.sqltext for c in people.checks} == {
        'LENGTH("Name") >= 2',
        """"kind" IN ('a', 'b')""",
    }
    good = pd.DataFrame({"id": [1, 2], "Name": ["Ann", "Bo"], "kind": ["a", "b"]})
    report = relsynth.write_tables(db_url, meta, {"people": good})
    assert report.dropped == ()
    engine = sa.create_engine(db_url)
    table = sa.table("people", sa.column("id"), sa.column("Name"), sa.column("kind"))
    try:
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:  # the CHECK holds
            conn.execute(table.insert().values(id=3, Name="X", kind="a"))
        with engine.begin() as conn:  # the default holds
            conn.execute(table.insert().values(id=4, Name="Cy"))
        with engine.connect() as conn:
            kind = conn.execute(sa.select(table.c.kind).where(table.c.id == 4)).scalar()
    finally:
        engine.dispose()
    assert kind == "a"
