"""The column types real databases have: reflected, modelled, written and read back.

Each case builds a source database with the type, clones it (reflect, read, fit, save
and load the model file, sample, write) into a target of the same dialect and of
another one, reads the target back and checks the values: valid JSON with the
source's keys, arrays of the source's element kind, bytes (never all NULL), addresses
of the source's families, money as numbers, intervals as durations, unsigned 64-bit
values exact, ±Inf kept where the dialect stores it, epoch numbers read as seconds,
zoned datetime keys and key columns with one kind on both sides of a foreign key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
from relsynth import Synthesizer
from relsynth.errors import DataError
from tests.conftest import MARIADB_ADMIN_URL, POSTGRES_ADMIN_URL, _server_database

pytestmark = pytest.mark.servers

FAST = {"steps": 20, "n_threads": 1}


@pytest.fixture
def postgres_target() -> Iterator[str]:
    """A second fresh PostgreSQL database (the target of a PostgreSQL source)."""
    yield from _server_database(POSTGRES_ADMIN_URL, "postgresql")


@pytest.fixture
def mariadb_target() -> Iterator[str]:
    """A second fresh MariaDB database."""
    yield from _server_database(MARIADB_ADMIN_URL, "mysql")


def _execute(url: str, statements: list[tuple[str, object]]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for sql, params in statements:
                conn.exec_driver_sql(sql, params)
    finally:
        engine.dispose()


def _clone(source: str, target: str, tmp_path: Path, **kwargs: object) -> dict[str, pd.DataFrame]:
    """Clone ``source`` into ``target`` through a saved and reloaded model file."""
    meta = relsynth.reflect(source)
    tables = relsynth.read_tables(source, meta)
    synth = Synthesizer(meta, seed=0, **FAST).fit(tables)
    path = tmp_path / "model.relsynth"
    synth.save(path, overwrite=True)
    fake = Synthesizer.load(path).sample(seed=1, **kwargs)
    assert relsynth.check(meta, fake).ok
    relsynth.write_tables(target, meta, fake, if_exists="replace")
    back_meta = relsynth.reflect(target)
    return relsynth.read_tables(target, back_meta)


# -- PostgreSQL: json/jsonb, arrays, bytea, inet/cidr/macaddr, money, interval, inf -----


def _postgres_source(url: str) -> None:
    rnd = random.Random(0)
    statements: list[tuple[str, object]] = [
        ("CREATE TABLE plan (id int PRIMARY KEY, span interval, price money)", None),
        (
            "CREATE TABLE item (id int PRIMARY KEY, plan_id int REFERENCES plan (id), "
            "doc jsonb, meta json, tags text[], nums int[], data bytea, addr inet, "
            "net cidr, mac macaddr, amount double precision, stamps timestamp[])",
            None,
        ),
    ]
    for i in range(40):
        statements.append(
            (
                "INSERT INTO plan VALUES (%s, %s, %s)",
                (i, f"{i} hours {i % 7} minutes", f"{i * 2.5}"),
            )
        )
    for i in range(200):
        doc = {
            "name": f"user{i}",
            "age": rnd.randint(18, 90),
            "tags": ["a", "b", "c"][: rnd.randint(0, 3)],
            "address": {"city": rnd.choice(["x", "y"]), "zip": rnd.randint(1000, 9999)},
            "vip": rnd.random() < 0.3,
        }
        data = None if i % 4 == 0 else bytes(rnd.randrange(256) for _ in range(rnd.randint(4, 40)))
        addr = f"10.1.{i % 250}.{i % 200 + 1}" if i % 3 else f"2001:db8::{i + 1:x}"
        statements.append(
            (
                "INSERT INTO item VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    i,
                    i % 40,
                    json.dumps(doc),
                    json.dumps([i, {"k": "v"}]),
                    ["x", "y", "z"][: i % 4],
                    list(range(i % 5)),
                    data,
                    addr,
                    f"192.168.{i % 200}.0/24",
                    f"08:00:2b:01:02:{i % 256:02x}",
                    float("inf") if i % 10 == 0 else (float("-inf") if i % 10 == 1 else i / 2),
                    [dt.datetime(2024, 1, 1 + i % 28, i % 24)] * (i % 3),
                ),
            )
        )
    _execute(url, statements)


def _check_postgres_like(back: dict[str, pd.DataFrame], *, native: bool) -> None:
    item, plan = back["item"], back["plan"]
    assert len(item) == 200 and len(plan) == 40
    docs = [json.loads(v) for v in item["doc"].dropna()]
    assert len(docs) == 200
    assert all(set(d) <= {"name", "age", "tags", "address", "vip"} for d in docs)
    assert all(isinstance(d["age"], int) and 18 <= d["age"] <= 90 for d in docs)
    assert all(isinstance(d["tags"], list) and len(d["tags"]) <= 3 for d in docs)
    assert all(set(d["address"]) == {"city", "zip"} for d in docs)
    assert {d["name"] for d in docs}.isdisjoint({f"user{i}" for i in range(200)})  # not copied
    metas = [json.loads(v) for v in item["meta"]]
    assert all(isinstance(m, list) for m in metas)
    tags = [json.loads(v) for v in item["tags"]]
    nums = [json.loads(v) for v in item["nums"]]
    assert all(isinstance(t, list) and all(isinstance(x, str) for x in t) for t in tags)
    assert all(isinstance(t, list) and all(isinstance(x, int) for x in t) for t in nums)
    assert max(len(t) for t in nums) <= 4 and any(len(t) > 0 for t in nums)
    data = item["data"]
    assert 0.5 < data.notna().mean() < 0.95  # never all NULL, NULL rate kept (~25%)
    assert all(isinstance(b, bytes) and 4 <= len(b) <= 40 for b in data.dropna())
    addrs = [ipaddress.ip_interface(a) for a in item["addr"]]
    v4_share = np.mean([a.version == 4 for a in addrs])
    assert 0.4 < v4_share < 0.9  # two thirds IPv4 in the source
    nets = [ipaddress.ip_network(n) for n in item["net"]]  # strict: host bits zero
    assert all(n.prefixlen == 24 for n in nets)
    assert all(re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", m) for m in item["mac"])
    amount = item["amount"].to_numpy(dtype=float)
    assert np.isposinf(amount).any() and np.isneginf(amount).any()  # 10% each in the source
    assert np.isfinite(amount).mean() > 0.6
    stamps = [pd.Timestamp(s) for v in item["stamps"] for s in json.loads(v)]
    assert stamps and all(
        pd.Timestamp(2024, 1, 1) <= s <= pd.Timestamp(2024, 1, 29) for s in stamps
    )
    price = pd.to_numeric(plan["price"])
    assert price.between(0, 100).all()
    if native:
        span = plan["span"]
        assert pd.api.types.is_timedelta64_dtype(span.dtype)
        assert span.dropna().between(pd.Timedelta(0), pd.Timedelta(hours=40)).all()


def test_postgres_types_round_trip(postgres_url, postgres_target, tmp_path):
    _postgres_source(postgres_url)
    back = _clone(postgres_url, postgres_target, tmp_path)
    _check_postgres_like(back, native=True)
    item = relsynth.reflect(postgres_target)["item"]
    types = {c: item.column(c).sql_type for c in ("doc", "tags", "nums", "addr", "net", "mac")}
    assert types == {
        "doc": "JSON",
        "tags": "TEXT[]",
        "nums": "INTEGER[]",
        "addr": "INET",
        "net": "CIDR",
        "mac": "MACADDR",
    }


def test_postgres_to_sqlite(postgres_url, sqlite_url, tmp_path):
    _postgres_source(postgres_url)
    back = _clone(postgres_url, sqlite_url, tmp_path)
    _check_postgres_like(back, native=False)


def test_postgres_inf_to_mariadb_is_a_clear_error(postgres_url, mariadb_url, tmp_path):
    _execute(postgres_url, [("CREATE TABLE m (id int PRIMARY KEY, x float8)", None)])
    rows = [(i, float("inf") if i % 2 else 1.5) for i in range(20)]
    _execute(postgres_url, [("INSERT INTO m VALUES (%s, %s)", r) for r in rows])
    with pytest.raises(DataError, match=r"m\.x .*infinite.*MariaDB/MySQL cannot store"):
        _clone(postgres_url, mariadb_url, tmp_path)


# -- MariaDB: BIGINT UNSIGNED near 2**64, JSON, BLOB -----------------------------------


def _mariadb_source(url: str) -> list[int]:
    rnd = random.Random(1)
    ids = [2**64 - 1 - i for i in range(150)]
    statements: list[tuple[str, object]] = [
        (
            "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, big BIGINT UNSIGNED, "
            "small INT UNSIGNED, doc JSON, data BLOB, tiny TINYINT UNSIGNED)",
            None,
        )
    ]
    for i, key in enumerate(ids):
        doc = {"k": i, "list": [1, 2, 3][: i % 4], "s": rnd.choice(["aa", "bb"])}
        statements.append(
            (
                "INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    key,
                    2**64 - 1 - rnd.randrange(10**15) if i % 9 else None,
                    rnd.randrange(2**32),
                    json.dumps(doc),
                    None if i % 5 == 0 else bytes(rnd.randrange(256) for _ in range(8)),
                    rnd.randrange(256),
                ),
            )
        )
    _execute(url, statements)
    return ids


def _check_mariadb_like(back: dict[str, pd.DataFrame]) -> None:
    t = back["t"]
    assert len(t) == 150
    ids = [int(v) for v in t["id"]]
    assert len(set(ids)) == 150 and all(2**63 < v < 2**64 for v in ids)
    big = [int(v) for v in t["big"].dropna()]
    assert big and all(2**64 - 10**15 - 2**12 <= v < 2**64 for v in big)
    assert 0.02 < t["big"].isna().mean() < 0.3
    small = [int(v) for v in t["small"]]
    assert all(0 <= v < 2**32 for v in small)
    docs = [json.loads(v) for v in t["doc"]]
    assert all(set(d) == {"k", "list", "s"} and d["s"] in ("aa", "bb") for d in docs)
    assert t["data"].notna().mean() > 0.6
    assert all(len(b) == 8 for b in t["data"].dropna())


def test_mariadb_types_round_trip(mariadb_url, mariadb_target, tmp_path):
    _mariadb_source(mariadb_url)
    meta = relsynth.reflect(mariadb_url)
    assert meta["t"].column("id").sql_type == "BIGINT UNSIGNED"
    assert meta["t"].column("small").sql_type == "INTEGER UNSIGNED"
    source = relsynth.read_tables(mariadb_url, meta)["t"]
    assert int(source["id"].max()) == 2**64 - 1  # read exactly, not through float64
    back = _clone(mariadb_url, mariadb_target, tmp_path)
    _check_mariadb_like(back)
    assert relsynth.reflect(mariadb_target)["t"].column("big").sql_type == "BIGINT UNSIGNED"


def test_mariadb_to_postgres(mariadb_url, postgres_url, tmp_path):
    _mariadb_source(mariadb_url)
    back = _clone(mariadb_url, postgres_url, tmp_path)
    _check_mariadb_like(back)
    target = relsynth.reflect(postgres_url)["t"]
    assert target.column("id").sql_type == "NUMERIC(20, 0)"
    assert target.column("doc").sql_type == "JSON"


def test_unsigned_beyond_sqlite_is_a_clear_error(mariadb_url, sqlite_url):
    _mariadb_source(mariadb_url)
    meta = relsynth.reflect(mariadb_url)
    tables = relsynth.read_tables(mariadb_url, meta)
    with pytest.raises(DataError, match=r"t\.id .*SQLite integers are signed 64-bit"):
        relsynth.write_tables(sqlite_url, meta, tables)
    assert relsynth.reflect(sqlite_url).tables == {}  # nothing written


# -- SQLite: JSON text, BLOB, epoch numbers, zoned keys, key kinds across an FK --------


def _sqlite_source(url: str) -> None:
    rnd = random.Random(2)
    statements: list[tuple[str, object]] = [
        ("CREATE TABLE ev (id INTEGER PRIMARY KEY, payload TEXT, at DATETIME, data BLOB)", None),
        (
            "CREATE TABLE obs (station TEXT NOT NULL, ts TEXT NOT NULL, temp REAL, "
            "PRIMARY KEY (station, ts))",
            None,
        ),
        (
            "CREATE TABLE reading (id INTEGER PRIMARY KEY, station TEXT, ts TEXT, v REAL, "
            "FOREIGN KEY (station, ts) REFERENCES obs (station, ts))",
            None,
        ),
    ]
    for i in range(120):
        payload = {"a": i, "b": [rnd.random() for _ in range(i % 3)], "c": {"d": "x" * (i % 4)}}
        statements.append(
            (
                "INSERT INTO ev VALUES (?, ?, ?, ?)",
                (
                    i,
                    json.dumps(payload),
                    1_600_000_000 + i * 3600,
                    None if i % 3 == 0 else b"\x00" * (i % 7 + 1),
                ),
            )
        )
    for s in range(5):
        for h in range(20):
            temp = float("inf") if h == 3 else rnd.random() * 30
            statements.append(
                ("INSERT INTO obs VALUES (?, ?, ?)", (f"S{s}", f"2013-01-01T{h:02d}:00:00Z", temp))
            )
    k = 0
    for s in range(5):
        for h in range(0, 20, 2):
            statements.append(
                (
                    "INSERT INTO reading VALUES (?, ?, ?, ?)",
                    (k, f"S{s}", f"2013-01-01T{h:02d}:00:00Z", rnd.random()),
                )
            )
            k += 1
    _execute(url, statements)


def test_sqlite_types_round_trip(tmp_path, caplog):
    source = f"sqlite:///{tmp_path / 'src.db'}"
    target = f"sqlite:///{tmp_path / 'dst.db'}"
    _sqlite_source(source)
    meta = relsynth.reflect(source)
    # one kind on both sides of the composite foreign key
    assert meta["reading"].column("ts").kind == meta["obs"].column("ts").kind == "datetime"
    assert meta["reading"].column("station").kind == meta["obs"].column("station").kind
    with caplog.at_level(logging.WARNING, logger="relsynth.io._convert"):
        tables = relsynth.read_tables(source, meta)
    assert "ev.at" in caplog.text and "epoch seconds" in caplog.text
    assert tables["ev"]["at"].min() == pd.Timestamp("2020-09-13 12:26:40")
    assert relsynth.check(meta, tables).ok  # no child row is an orphan
    back = _clone(source, target, tmp_path)
    docs = [json.loads(v) for v in back["ev"]["payload"]]
    assert all(set(d) == {"a", "b", "c"} and set(d["c"]) == {"d"} for d in docs)
    at = back["ev"]["at"]
    assert at.between(pd.Timestamp("2020-09-01"), pd.Timestamp("2020-10-01")).all()
    assert 0.5 < back["ev"]["data"].notna().mean() < 0.85
    obs = back["obs"]
    assert isinstance(obs["ts"].dtype, pd.DatetimeTZDtype)
    assert np.isposinf(obs["temp"].to_numpy(dtype=float)).any()
    assert relsynth.check(relsynth.reflect(target), back).ok


def _json_or_none(value: object) -> object:
    return None if pd.isna(value) else json.loads(str(value))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mariadb"])
def test_json_array_binary_write_read_every_dialect(dialect, request):
    """Frames with JSON, array and binary columns written and read back as they were."""
    url = request.getfixturevalue(
        {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}[dialect]
    )
    meta = relsynth.Metadata(
        {
            "t": relsynth.Table(
                "t",
                (
                    relsynth.Column("id", "id", "INTEGER"),
                    relsynth.Column("doc", "text", "JSON"),
                    relsynth.Column("arr", "text", "TEXT[]"),
                    relsynth.Column("nums", "text", "INTEGER[]"),
                    relsynth.Column("data", "binary", "BLOB"),
                    relsynth.Column("big", "numerical", "BIGINT UNSIGNED"),
                ),
                primary_key=("id",),
            )
        }
    )
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "doc": ['{"a": [1, 2], "b": {"c": null}}', '{"a": []}', None],
            "arr": ['["x", "y \\"q\\"", "a,b"]', "[]", None],
            "nums": ["[1, 2, 3]", "[]", "[null, 4]"],
            "data": [b"\x00\x01\xff", None, b""],
            "big": pd.array([2**63 - 1, None, 5], dtype="UInt64"),
        }
    )
    relsynth.write_tables(url, meta, {"t": frame})
    back = relsynth.read_tables(url, meta)["t"]
    assert [_json_or_none(v) for v in back["doc"]] == [
        {"a": [1, 2], "b": {"c": None}},
        {"a": []},
        None,
    ]
    assert [_json_or_none(v) for v in back["arr"]] == [
        ["x", 'y "q"', "a,b"],
        [],
        None,
    ]
    assert [json.loads(v) for v in back["nums"]] == [[1, 2, 3], [], [None, 4]]
    assert back["data"].tolist()[0] == b"\x00\x01\xff" and pd.isna(back["data"][1])
    assert [None if pd.isna(v) else int(v) for v in back["big"]] == [2**63 - 1, None, 5]
