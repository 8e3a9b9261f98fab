"""Seeding test databases from a saved model: deterministic, cached, fast."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import relsynth
from relsynth.testing import seeded_database
from relsynth.testing.seeding import seed_database, template_key
from tests.conftest import POSTGRES_ADMIN_URL, dataset_url, query


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Northwind model (seconds of training: seeding speed, not fidelity, is tested)."""
    url = dataset_url("northwind")
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    synth = relsynth.Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    path = tmp_path_factory.mktemp("model") / "northwind.relsynth"
    synth.save(path)
    return path


def _dump(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY 1, 2').fetchall() for n in names}


@pytest.mark.timing
def test_sqlite_seeding_is_deterministic_cached_and_clean(model_file, tmp_path):
    cache = tmp_path / "cache"
    one, two, other = tmp_path / "one.db", tmp_path / "two.db", tmp_path / "other.db"
    seed_database(model_file, f"sqlite:///{one}", seed=3, scale=2.0, cache_dir=cache)
    assert (cache / f"template-{template_key(model_file, 3, 2.0)}.db").is_file()
    started = time.perf_counter()
    seed_database(model_file, f"sqlite:///{two}", seed=3, scale=2.0, cache_dir=cache)
    copy_seconds = time.perf_counter() - started
    seed_database(model_file, f"sqlite:///{other}", seed=4, scale=2.0, cache_dir=cache)

    first = _dump(one)
    assert first == _dump(two)
    assert first != _dump(other)
    assert sum(len(rows) for rows in first.values()) > 5_000  # Orders etc. at scale 2
    assert copy_seconds < 5, f"a cached seed took {copy_seconds:.1f}s"
    assert relsynth.check_database(f"sqlite:///{one}").ok
    with pytest.raises(relsynth.DatabaseError, match="already exists"):
        seed_database(model_file, f"sqlite:///{one}", seed=3, scale=2.0, cache_dir=cache)


def test_postgres_seeding_uses_a_template_and_matches_sqlite(model_file, tmp_path):
    import uuid

    admin = sa.make_url(POSTGRES_ADMIN_URL)
    name = f"relsynth_seed_{uuid.uuid4().hex[:10]}"
    pg_url = admin.set(database=name).render_as_string(hide_password=False)
    sqlite_file = tmp_path / "seed.db"
    seed_database(model_file, f"sqlite:///{sqlite_file}", seed=5, cache_dir=tmp_path / "c")
    try:
        orders = 'SELECT "OrderID", "CustomerID" FROM "Orders" ORDER BY 1'
        with seeded_database(model_file, pg_url, seed=5) as url:
            pg_orders = query(url, orders)
            assert relsynth.check_database(url).ok
        # same model + seed, any dialect
        assert pg_orders == query(f"sqlite:///{sqlite_file}", orders)
        # the context manager dropped the database, the template stays for the next run
        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as conn:
            names = {r[0] for r in conn.execute(sa.text("SELECT datname FROM pg_database"))}
        engine.dispose()
        assert name not in names
        assert f"relsynth_tpl_{template_key(model_file, 5, 1.0)}" in names
    finally:
        _drop_templates(model_file)


def _drop_templates(model_file: Path) -> None:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                f'DROP DATABASE IF EXISTS "relsynth_tpl_{template_key(model_file, 5, 1.0)}" '
                "WITH (FORCE)"
            )
        )
    engine.dispose()


def test_database_fixture_in_a_pytest_session(model_file, pytester):
    pytester.makeconftest(
        "from relsynth.testing import database_fixture\n"
        f"shop = database_fixture({str(model_file)!r}, seed=1, scale=0.5)\n"
    )
    pytester.makepyfile(
        "import sqlite3, sqlalchemy as sa\n"
        "def test_one(shop):\n"
        "    engine = sa.create_engine(shop)\n"
        "    with engine.connect() as conn:\n"
        "        n = conn.execute(sa.text('SELECT COUNT(*) FROM \"Customers\"')).scalar()\n"
        "    engine.dispose()\n"
        "    assert n > 0\n"
        "def test_same_database(shop):\n"
        "    assert shop.startswith('sqlite:///')\n"
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore")
    result.assert_outcomes(passed=2)
