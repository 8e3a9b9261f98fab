"""Chunked sampling and writing (``Synthesizer.sample_chunks``, ``write_table_chunks``,
CLI ``--chunk-rows``): integrity, keys unique across chunks, the same chunks for 1
and 2 workers and on Ray, one transaction (a failure leaves nothing written)."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Synthesizer
from relsynth.io.sql import check_database, write_table_chunks
from tests.conftest import query

STEPS = {"steps": 3}


def _source(path) -> str:
    """A tiny shop: a copied lookup (regions), a text key (stores.code), a composite
    date key under the lookup (readings), integer keys, a UNIQUE text column."""
    rng = np.random.default_rng(0)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE regions (code TEXT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE stores (code TEXT PRIMARY KEY,
                             region TEXT NOT NULL REFERENCES regions(code), size REAL);
        CREATE TABLE readings (region TEXT NOT NULL REFERENCES regions(code),
                               ts DATETIME NOT NULL, value REAL, PRIMARY KEY (region, ts));
        CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT UNIQUE,
                                store TEXT NOT NULL REFERENCES stores(code), age INTEGER);
        CREATE TABLE orders (id INTEGER PRIMARY KEY,
                             customer_id INTEGER NOT NULL REFERENCES customers(id),
                             amount REAL NOT NULL);
        """
    )
    regions = ["NO", "SO", "EA", "WE"]
    con.executemany("INSERT INTO regions VALUES (?, ?)", [(r, f"Region {r}") for r in regions])
    stores = [f"S{i:03d}X" for i in range(30)]
    con.executemany(
        "INSERT INTO stores VALUES (?, ?, ?)",
        [(s, regions[i % 4], float(rng.normal(100, 20))) for i, s in enumerate(stores)],
    )
    stamps = pd.date_range("2020-01-01", periods=50, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    con.executemany(
        "INSERT INTO readings VALUES (?, ?, ?)",
        [(r, t, float(rng.normal())) for r in regions for t in stamps],
    )
    con.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?)",
        [(i + 1, f"user{i}@x.org", stores[i % 30], int(rng.integers(18, 80))) for i in range(150)],
    )
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?)",
        [(i + 1, int(rng.integers(1, 151)), float(rng.gamma(2, 10))) for i in range(400)],
    )
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    url = _source(tmp_path_factory.mktemp("chunked") / "shop.db")
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    synth = Synthesizer(meta, seed=1, table_models={"regions": "copy"}, **STEPS).fit(tables)
    return meta, synth


def _chunks(synth, **kw) -> list[dict[str, pd.DataFrame]]:
    return list(synth.sample_chunks(scale=3.0, seed=5, chunk_rows=300, **kw))


@pytest.fixture(scope="module")
def serial(fitted) -> list[dict[str, pd.DataFrame]]:
    """``_chunks`` on one worker, made once: the reference the other runs must equal
    (the tests only read these frames)."""
    return _chunks(fitted[1], n_jobs=1)


def _assert_same_chunks(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert list(x) == list(y)
        for name in x:
            pd.testing.assert_frame_equal(x[name], y[name], check_exact=True, obj=name)


def _whole(chunks) -> dict[str, pd.DataFrame]:
    return {t: pd.concat([c[t] for c in chunks], ignore_index=True) for t in chunks[0]}


def test_chunks_are_integrity_clean_with_keys_unique_across_chunks(fitted, serial):
    meta, _ = fitted
    chunks = serial
    assert len(chunks) > 3  # about 2,000 rows in chunks of 300
    whole = _whole(chunks)
    report = relsynth.check(meta, whole)
    assert report.ok, report
    # the copied lookup table once, in the first chunk
    assert len(chunks[0]["regions"]) == 4 and all(len(c["regions"]) == 0 for c in chunks[1:])
    # integer surrogate keys continue from chunk to chunk: 1..N as unchunked
    assert whole["orders"]["id"].tolist() == list(range(1, len(whole["orders"]) + 1))
    assert whole["customers"]["id"].is_unique and whole["customers"]["email"].dropna().is_unique
    assert whole["stores"]["code"].is_unique  # text keys re-drawn where a chunk repeats one
    # the date key under the shared lookup moves past the previous chunk's dates
    assert not whole["readings"].duplicated(["region", "ts"]).any()
    # every chunk's orders point at that chunk's customers
    for chunk in chunks:
        assert chunk["orders"]["customer_id"].isin(chunk["customers"]["id"]).all()


def test_one_chunk_is_exactly_sample(fitted):
    _, synth = fitted
    (only,) = synth.sample_chunks(scale=1.0, seed=5)  # below the default chunk size
    expected = synth.sample(scale=1.0, seed=5)
    _assert_same_chunks([only], [expected])


def test_one_or_two_workers_give_the_same_chunks(fitted, serial):
    _, synth = fitted
    _assert_same_chunks(serial, _chunks(synth, n_jobs=2))


@pytest.mark.skipif(
    os.environ.get("RELSYNTH_REQUIRE_RAY") != "1"
    and __import__("importlib").util.find_spec("ray") is None,
    reason="Ray is not installed (pip install 'relsynth[ray]'); set RELSYNTH_REQUIRE_RAY=1 "
    "to fail instead",
)
@pytest.mark.usefixtures("ray_exclusive")
def test_ray_gives_the_same_chunks_as_local_workers(fitted, serial):
    _, synth = fitted
    _assert_same_chunks(serial, _chunks(synth, n_jobs=2, executor="ray"))


FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}


@pytest.mark.parametrize("dialect", list(FIXTURES))
def test_chunks_are_written_in_one_transaction(fitted, serial, dialect, request):
    meta, synth = fitted
    url = request.getfixturevalue(FIXTURES[dialect])
    seen: list[tuple[int, int]] = []
    written = write_table_chunks(
        url, meta, synth.sample_chunks(scale=3.0, seed=5, chunk_rows=300, n_jobs=2),
        on_chunk=lambda i, rows: seen.append((i, rows)),
    )  # fmt: skip
    chunks = serial
    assert written.rows == {t: len(f) for t, f in _whole(chunks).items()}
    assert [i for i, _ in seen] == list(range(len(chunks)))
    assert seen[-1][1] == written.n_rows
    assert check_database(url, relsynth.io.sql.as_written(meta, written.dialect)).ok
    # the check the write ran before committing (the CLI shows it instead of a second
    # scan); on PostgreSQL, what its validated constraints prove (from the catalogue)
    assert written.integrity.ok and written.integrity.n_rows == written.n_rows
    assert query(url, "SELECT COUNT(*), MIN(id), MAX(id) FROM orders")[0] == (
        written.rows["orders"],
        1,
        written.rows["orders"],
    )


@pytest.mark.parametrize("dialect", list(FIXTURES))
def test_a_failure_mid_way_leaves_nothing_written(fitted, dialect, request):
    # MariaDB commits DDL: the tables this call created are dropped again
    meta, synth = fitted
    url = request.getfixturevalue(FIXTURES[dialect])

    def failing():
        for i, chunk in enumerate(synth.sample_chunks(scale=3.0, seed=5, chunk_rows=300)):
            if i == 2:
                raise RuntimeError("the sampler broke")
            yield chunk

    with pytest.raises(RuntimeError, match="sampler broke"):
        write_table_chunks(url, meta, failing())
    tables = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
        "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        "mariadb": "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = DATABASE()",
    }[dialect]
    assert query(url, tables) == []
    # replace: the old tables survive a failed chunked write
    relsynth.write_tables(url, meta, synth.sample(seed=0))
    before = query(url, "SELECT COUNT(*) FROM orders")
    with pytest.raises(RuntimeError, match="sampler broke"):
        write_table_chunks(url, meta, failing(), if_exists="replace")
    assert query(url, "SELECT COUNT(*) FROM orders") == before


def test_cli_sample_in_chunks_shows_rows_per_second(fitted, serial, tmp_path, capsys):
    from relsynth.cli import main

    _, synth = fitted
    model = tmp_path / "shop.relsynth"
    synth.save(model)
    target = f"sqlite:///{tmp_path / 'out.db'}"
    args = ["sample", str(model), target, "--scale", "3", "--seed", "5", "--chunk-rows", "300"]
    assert main([*args, "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    assert "rows/s" in captured.err and "integrity OK" in captured.out
    n = len(_whole(serial)["orders"])
    assert query(target, "SELECT COUNT(*) FROM orders") == [(n,)]


def test_a_chunk_seen_twice_gets_all_new_keys_and_its_foreign_keys_follow(fitted):
    from relsynth.keys.chunks import ChunkKeys
    from relsynth.synthesis._chunks import _UniqueValues

    meta, synth = fitted
    chunk = synth.sample(scale=1.0, seed=2)
    keys = ChunkKeys(synth.key_generator_, shared=("regions",))
    assert ("stores", "code") in keys.columns and ("orders", "id") in keys.columns
    rng = np.random.default_rng(0)
    first = keys.apply(chunk, rng)
    again = keys.apply(chunk, rng)  # the same values: every key repeats
    assert first["orders"].equals(chunk["orders"])  # the first chunk is kept as it is
    assert not set(again["stores"]["code"]) & set(chunk["stores"]["code"])
    n = len(chunk["orders"])
    assert again["orders"]["id"].tolist() == list(range(n + 1, 2 * n + 1))
    assert relsynth.check(meta, again).ok  # customers.store and orders.customer_id moved too
    # UNIQUE value columns (customers.email) are kept apart by the chunk stream's second pass
    unique = _UniqueValues(synth, ("regions",), set(keys.columns))
    first, again = unique.apply(dict(first), 0), unique.apply(dict(again), 1)
    assert again["customers"]["email"].str.endswith(" #1.1").sum() == 1
    both = {t: pd.concat([first[t], again[t]], ignore_index=True) for t in chunk}
    both["regions"] = chunk["regions"]
    assert relsynth.check(meta, both).ok
    # the readings' dates (unique per shared region) continue after the first chunk's
    assert again["readings"]["ts"].min() > chunk["readings"]["ts"].max()


def test_chunk_count_follows_rows_not_workers(fitted):
    from relsynth.synthesis._chunks import estimated_rows, n_chunks

    _, synth = fitted
    rows = estimated_rows(synth, 3.0)
    assert n_chunks(synth, 3.0, None, 300) == -(-rows // 300)
    assert n_chunks(synth, 3.0, None, None) == 1  # small: one chunk, sample()'s output
    with pytest.raises(relsynth.ParameterError, match="chunk_rows"):
        synth.sample_chunks(scale=1.0, chunk_rows=0)


def test_children_of_a_copied_table_scale_with_the_sample(fitted, serial):
    # readings hang under the copied regions: scale 3 is 3 times the readings per
    # region, unchunked and in chunks (whose rows then match the chunk count's estimate)
    from relsynth.synthesis._chunks import estimated_rows

    _, synth = fitted
    fake = synth.sample(scale=3.0, seed=2)
    assert len(fake["regions"]) == 4
    assert len(fake["readings"]) == 3 * 200
    chunks = serial  # the model's own n_jobs: one worker
    readings = sum(len(c["readings"]) for c in chunks)
    assert abs(readings - 600) <= len(chunks) * 4  # each chunk rounds per region
    total = sum(len(f) for c in chunks for f in c.values())
    assert total == pytest.approx(estimated_rows(synth, 3.0), rel=0.1)
