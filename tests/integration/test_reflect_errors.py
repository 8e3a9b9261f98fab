"""Every way reflection can fail maps to ReflectionError, chained, without the password.

In the spirit of httpx's ``test_exceptions.py``: each SQLAlchemy/driver failure
mode is provoked for real and must surface as one relsynth error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from relsynth import ReflectionError, RelsynthError
from relsynth.io.reflect import reflect

SECRET = "s3cr3t-Pa55word"


def _refused_port_url(scheme: str) -> str:
    return f"{scheme}://someone:{SECRET}@127.0.0.1:9/nodb"  # port 9 (discard): refused


CASES: dict[str, Callable[[pytest.FixtureRequest], dict[str, object]]] = {
    "bad url": lambda r: {"url": f"not a url :{SECRET}"},
    "unknown dialect": lambda r: {"url": f"nosuchdb://u:{SECRET}@h/db"},
    "unknown driver": lambda r: {"url": f"postgresql+nosuchdriver://u:{SECRET}@h/db"},
    "postgres unreachable": lambda r: {"url": _refused_port_url("postgresql+psycopg")},
    "mariadb unreachable": lambda r: {"url": _refused_port_url("mysql+pymysql")},
    "sqlite missing file": lambda r: {
        "url": "sqlite:///file:/nonexistent/dir/x.db?mode=ro&uri=true"
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_failures_map_to_reflection_error(
    case: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    kwargs = CASES[case](request)
    with caplog.at_level(logging.DEBUG), pytest.raises(ReflectionError) as info:
        reflect(**kwargs)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, RelsynthError) and isinstance(err, ValueError)
    assert SECRET not in str(err)
    assert SECRET not in caplog.text
    assert "\n" not in str(err)  # one line
    assert err.__cause__ is not None  # chained from the SQLAlchemy/driver error


def _with_password(url: str) -> str:
    return sa.make_url(url).set(password=SECRET).render_as_string(hide_password=False)


@pytest.mark.servers
def test_wrong_password_on_mariadb(mariadb_url: str) -> None:
    bad = sa.make_url(mariadb_url).set(username="relsynth_nobody", password=SECRET)
    with pytest.raises(ReflectionError, match="Could not connect") as info:
        reflect(bad.render_as_string(hide_password=False))
    assert SECRET not in str(info.value)


@pytest.mark.servers
def test_missing_schema(postgres_url: str) -> None:
    with pytest.raises(ReflectionError, match=r"Schema 'nope' does not exist.*public") as info:
        reflect(_with_password(postgres_url), schema="nope")
    assert SECRET not in str(info.value)


@pytest.mark.servers
def test_missing_include_table(db_url: str) -> None:
    from tests.schemas import load_schema

    load_schema("star", db_url)
    with pytest.raises(ReflectionError, match=r"'nope' given in include.*Known tables: calendar"):
        reflect(db_url, include=["nope"])
    with pytest.raises(ReflectionError, match="given in exclude"):
        reflect(db_url, exclude=["nope"])
    with pytest.raises(ReflectionError, match="list of table names"):
        reflect(db_url, include="sales")  # type: ignore[arg-type]


def test_bad_sample_rows() -> None:
    with pytest.raises(ReflectionError, match="sample_rows"):
        reflect("sqlite://", sample_rows=-1)


def test_engine_is_not_disposed_and_schema_is_kept(sqlite_url: str) -> None:
    from tests.schemas import load_schema

    load_schema("self_ref", sqlite_url)
    engine = sa.create_engine(sqlite_url)
    meta = reflect(engine, schema="main")
    assert meta.schema == "main" and list(meta.tables) == ["employees"]
    with engine.connect() as conn:  # still usable, and not left read-only
        conn.exec_driver_sql("INSERT INTO employees VALUES (4, 1, 'Edsger')")
        conn.commit()
    engine.dispose()
