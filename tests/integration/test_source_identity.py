"""The source is recognised by what it is, under any name; reads create and guess nothing.

Every dialect: a target that reaches the source through ``localhost``, the IP
address, an ``/etc/hosts`` alias (servers), a hard link, a ``file:`` URI or a
dotted path (SQLite) is refused before anything is written, by ``write_tables``
and by ``check_target``, and the source keeps its rows.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from relsynth import DatabaseError, ReflectionError, TargetExistsError, reflect
from relsynth.io.sql import check_target, read_tables, source_identity, write_tables
from relsynth.metadata.schema import Column, ForeignKey, Metadata, Table
from tests.conftest import query


def shop(schema: str | None = None) -> Metadata:
    return Metadata(
        {
            "customers": Table(
                "customers",
                (Column("id", "id", sql_type="INTEGER", nullable=False),
                 Column("name", "categorical", sql_type="VARCHAR(20)")),
                primary_key=("id",),
            ),
            "orders": Table(
                "orders",
                (Column("id", "id", sql_type="INTEGER", nullable=False),
                 Column("customer_id", "id", sql_type="INTEGER", nullable=False)),
                primary_key=("id",),
            ),
        },
        (ForeignKey("orders", ("customer_id",), "customers", ("id",), nullable=False),),
        schema=schema,
    )  # fmt: skip


def shop_tables() -> dict[str, pd.DataFrame]:
    return {
        "customers": pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]}),
        "orders": pd.DataFrame({"id": [10, 11], "customer_id": [1, 3]}),
    }


def _alias_host() -> str | None:
    for line in Path("/etc/hosts").read_text().splitlines():
        parts = line.split("#", 1)[0].split()
        if parts and parts[0] == "127.0.0.1":
            for name in parts[1:]:
                if name != "localhost" and socket.gethostbyname(name) == "127.0.0.1":
                    return name
    return None


def _other_names(url: str, tmp_path: Path) -> list[str]:
    """The same database under other names (the source is written with host 127.0.0.1)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        os.link(path, tmp_path / "hardlink.db")
        return [
            f"sqlite:///{tmp_path / 'hardlink.db'}",
            f"sqlite:///file:{path}?mode=ro&uri=true",
            f"sqlite:///{path.parent}/./{path.name}",
        ]
    show = lambda u: u.render_as_string(hide_password=False)  # noqa: E731
    names = [show(parsed.set(host="localhost")), show(parsed.set(host="127.0.0.1"))]
    alias = _alias_host()
    if alias is not None:
        names.append(show(parsed.set(host=alias)))
    return names


def _rows(url: str) -> list[tuple]:
    return query(url, "SELECT id, customer_id FROM orders ORDER BY id")


def test_the_source_under_another_name_is_refused(db_url: str, tmp_path: Path) -> None:
    write_tables(db_url, shop(), shop_tables())
    before = _rows(db_url)
    tables = read_tables(db_url, shop())
    for other in _other_names(db_url, tmp_path):
        for if_exists in ("replace", "append"):
            with pytest.raises(DatabaseError, match="Refusing to write into"):
                write_tables(other, shop(), tables, if_exists=if_exists)
        plain = {n: pd.DataFrame(f) for n, f in tables.items()}
        for frame in plain.values():
            frame.attrs.clear()
        with pytest.raises(DatabaseError, match="Refusing to write into"):
            write_tables(other, shop(), plain, if_exists="replace", source=db_url)
        with pytest.raises(DatabaseError, match="Refusing to write into"):
            check_target(other, shop(), if_exists="replace", source=db_url)
    assert _rows(db_url) == before


def test_another_database_on_the_same_server_is_not_the_source(
    db_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    write_tables(db_url, shop(), shop_tables())
    tables = read_tables(db_url, shop())
    other = sqlite_url if not db_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'o.db'}"
    write_tables(other, shop(), tables)
    assert source_identity(other) != source_identity(db_url)


def test_a_missing_sqlite_source_is_an_error_and_no_file_appears(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(ReflectionError, match="does not exist"):
        reflect(f"sqlite:///{missing}")
    with pytest.raises(DatabaseError, match="does not exist"):
        read_tables(f"sqlite:///{missing}", shop())
    from relsynth.io.sql import check_database

    with pytest.raises(DatabaseError, match="does not exist"):
        check_database(f"sqlite:///{missing}", shop())
    assert not missing.exists()


@pytest.mark.parametrize("fixture", ["postgres_url", "mariadb_url"])
def test_a_server_url_without_a_database_is_an_error(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    url = sa.make_url(request.getfixturevalue(fixture))._replace(database=None)
    text = url.render_as_string(hide_password=False)
    with pytest.raises(ReflectionError, match="names no database"):
        reflect(text)
    with pytest.raises(DatabaseError, match="names no database"):
        read_tables(text, shop())
    with pytest.raises(DatabaseError, match="names no database"):
        write_tables(text, shop(), shop_tables())


def test_existing_tables_error_is_structured(sqlite_url: str) -> None:
    write_tables(sqlite_url, shop(), shop_tables())
    with pytest.raises(TargetExistsError) as info:
        write_tables(sqlite_url, shop(), shop_tables())
    assert info.value.tables == ("customers", "orders")
    assert info.value.options == ("replace", "append")
    assert "if_exists='replace'" in str(info.value)  # the library speaks Python


def test_tables_outside_the_default_schema_are_reported(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA sales")
        conn.exec_driver_sql("CREATE TABLE sales.t (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(ReflectionError, match=r"schema\(s\) 'sales' \(1 table\(s\)\).*--schema"):
        reflect(postgres_url)
    assert list(reflect(postgres_url, schema="sales").tables) == ["t"]


def test_postgres_writes_into_the_metadata_schema_and_checks_there(
    postgres_url: str, sqlite_url: str
) -> None:
    from relsynth.io.sql import check_database

    report = write_tables(postgres_url, shop("sales"), shop_tables())
    assert report.schema == "sales"  # created, as it was missing
    assert query(postgres_url, "SELECT count(*) FROM sales.orders") == [(2,)]
    assert query(
        postgres_url, "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
    ) == [(0,)]
    assert check_database(postgres_url, shop("sales")).ok
    with pytest.raises(TargetExistsError, match="schema 'sales'"):
        write_tables(postgres_url, shop("sales"), shop_tables())
    # SQLite has no schemas: flattened into the file
    flat = write_tables(sqlite_url, shop("sales"), shop_tables())
    assert flat.schema is None and query(sqlite_url, "SELECT count(*) FROM orders") == [(2,)]


def test_a_saved_model_never_samples_into_its_source(db_url: str, tmp_path: Path) -> None:
    """The model file keeps a digest of its source's identity (not the identity), so
    ``relsynth sample MODEL SOURCE --if-exists replace`` is refused, under any name."""
    from relsynth.cli import main
    from relsynth.synthesis.synthesizer import Synthesizer

    write_tables(db_url, shop(), shop_tables())
    before = _rows(db_url)
    synth = Synthesizer(shop(), seed=0, steps=5, n_threads=1).fit(read_tables(db_url, shop()))
    model = tmp_path / "shop.relsynth"
    synth.save(model)
    assert Synthesizer.load(model).source_digests_ == synth.source_digests_ != []
    for other in [db_url, *_other_names(db_url, tmp_path)]:
        rc = main(["sample", str(model), other, "--if-exists", "replace", "--seed", "1"])
        assert rc == 1
    assert _rows(db_url) == before
    elsewhere = tmp_path / "copy.db"  # any other database is fine
    assert main(["sample", str(model), f"sqlite:///{elsewhere}", "--seed", "1"]) == 0
