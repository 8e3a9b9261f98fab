"""write_tables failure modes: nothing half written, clear errors, no passwords."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import sqlalchemy as sa

from relsynth import (
    Column,
    DatabaseError,
    DataError,
    ForeignKey,
    Metadata,
    ParameterError,
    SchemaWarning,
    Table,
)
from relsynth.io.sql import check_database, read_tables, write_tables

pytestmark = pytest.mark.servers


def shop() -> Metadata:
    """customers <- orders <- items, with a unique email and a composite key."""
    return Metadata(
        tables={
            "customers": Table(
                "customers",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("email", "text", "VARCHAR(40)", nullable=False),
                ),
                primary_key=("id",),
                unique=(("email",),),
            ),
            "orders": Table(
                "orders",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("customer_id", "id", "INTEGER", nullable=False),
                    Column("placed", "datetime", "DATETIME"),
                ),
                primary_key=("id",),
            ),
            "order items": Table(
                "order items",
                (
                    Column("order_id", "id", "INTEGER", nullable=False),
                    Column("line", "numerical", "INTEGER", nullable=False),
                    Column("sku", "categorical", "VARCHAR(10)", nullable=False),
                ),
                primary_key=("order_id", "line"),
                unique=(("order_id", "sku"),),
            ),
        },
        foreign_keys=(
            ForeignKey("orders", ("customer_id",), "customers", ("id",)),
            ForeignKey("order items", ("order_id",), "orders", ("id",)),
        ),
    )


def shop_tables(n: int = 3) -> dict[str, pd.DataFrame]:
    return {
        "customers": pd.DataFrame({"id": range(1, n + 1),
                                   "email": [f"c{i}@x.org" for i in range(1, n + 1)]}),
        "orders": pd.DataFrame({"id": [10, 11], "customer_id": [1, 2],
                                "placed": pd.to_datetime(["2024-01-02 03:04:05", None])}),
        "order items": pd.DataFrame({"order_id": [10, 10, 11], "line": [1, 2, 1],
                                     "sku": ["A-1", "B-2", "A-1"]}),
    }  # fmt: skip


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the database with its rows, sorted (what 'unchanged' means)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for name in sorted(sa.inspect(conn).get_table_names()):
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                out[name] = sorted(tuple(map(str, r)) for r in conn.execute(sa.select(table)))
            return out
    finally:
        engine.dispose()


def test_write_then_read(db_url: str) -> None:
    report = write_tables(db_url, shop(), shop_tables())
    assert report.rows == {"customers": 3, "orders": 2, "order items": 3}
    assert report.n_rows == 8
    back = read_tables(db_url, shop())
    assert back["orders"]["placed"].iloc[0] == pd.Timestamp("2024-01-02 03:04:05")
    assert back["order items"]["sku"].tolist() == ["A-1", "B-2", "A-1"]
    assert check_database(db_url, shop()).ok


def test_failure_midway_leaves_target_unchanged(db_url: str) -> None:
    # Setup: the target already holds an unrelated table and, for append, the shop.
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE keepme (k INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO keepme (k) VALUES (1)")
    engine.dispose()
    before = snapshot(db_url)
    bad = shop_tables()
    # The last table in plan order violates its unique (order_id, sku) constraint.
    bad["order items"] = pd.DataFrame({"order_id": [10, 10], "line": [1, 2], "sku": ["A", "A"]})

    # Run / Assert: fail mode creates tables, inserts two tables, then fails.
    with pytest.raises(DatabaseError, match=r"order items.*Nothing was written"):
        write_tables(db_url, shop(), bad)
    assert snapshot(db_url) == before

    # Same with replace and append over an existing copy of the shop.
    write_tables(db_url, shop(), shop_tables())
    before = snapshot(db_url)
    for mode in ("replace", "append"):
        with pytest.raises(DatabaseError, match="Nothing was written"):
            write_tables(db_url, shop(), bad, if_exists=mode)  # type: ignore[arg-type]
        assert snapshot(db_url) == before, mode


def test_replace_and_append(db_url: str) -> None:
    write_tables(db_url, shop(), shop_tables())
    report = write_tables(db_url, shop(), shop_tables(n=5), if_exists="replace")
    assert report.rows["customers"] == 5
    assert len(read_tables(db_url, shop())["customers"]) == 5
    more = shop_tables(n=0)
    more["customers"] = pd.DataFrame({"id": [6], "email": ["c6@x.org"]})
    more["orders"] = pd.DataFrame({"id": [12], "customer_id": [6], "placed": [pd.NaT]})
    more["order items"] = pd.DataFrame({"order_id": [12], "line": [1], "sku": ["Z"]})
    write_tables(db_url, shop(), more, if_exists="append")
    back = read_tables(db_url, shop())
    assert sorted(back["customers"]["id"]) == [1, 2, 3, 4, 5, 6]
    assert check_database(db_url, shop()).ok


def test_fail_if_exists_names_the_tables(db_url: str) -> None:
    write_tables(db_url, shop(), shop_tables())
    before = snapshot(db_url)
    with pytest.raises(DatabaseError, match=r"already has table\(s\) 'customers', 'orders'"):
        write_tables(db_url, shop(), shop_tables())
    assert snapshot(db_url) == before


def test_refuses_to_write_into_the_source(db_url: str) -> None:
    write_tables(db_url, shop(), shop_tables())
    tables = read_tables(db_url, shop())  # tagged with their source
    with pytest.raises(DatabaseError, match="Refusing to write into"):
        write_tables(db_url, shop(), tables, if_exists="replace")
    plain = {n: pd.DataFrame(f) for n, f in tables.items()}
    for frame in plain.values():
        frame.attrs.clear()
    with pytest.raises(DatabaseError, match="Refusing to write into"):
        write_tables(db_url, shop(), plain, if_exists="replace", source=db_url)


def test_refuses_sqlite_source_under_another_spelling(tmp_path) -> None:
    path = tmp_path / "src.db"
    write_tables(f"sqlite:///{path}", shop(), shop_tables())
    tables = read_tables(f"sqlite:///file:{path}?mode=ro&uri=true", shop())
    with pytest.raises(DatabaseError, match="Refusing"):
        write_tables(f"sqlite:///{tmp_path}/./src.db", shop(), tables, if_exists="replace")


def test_missing_frames_and_columns_are_named(sqlite_url: str) -> None:
    tables = shop_tables()
    del tables["orders"]
    tables["customers"] = tables["customers"].drop(columns="email")
    with pytest.raises(DataError, match=r"'orders' has no DataFrame.*customers\.email"):
        write_tables(sqlite_url, shop(), tables)
    assert snapshot(sqlite_url) == {}


def test_values_that_do_not_fit_are_reported_before_writing(db_url: str) -> None:
    tables = shop_tables()
    tables["customers"]["email"] = ["x" * 41, "ok", "y" * 50]
    tables["orders"]["customer_id"] = ["1", "two"]
    with pytest.raises(DataError) as info:
        write_tables(db_url, shop(), tables)
    message = str(info.value)
    assert "orders.customer_id" in message and "'two'" in message
    if not db_url.startswith("sqlite"):  # SQLite does not enforce VARCHAR lengths
        assert "customers.email" in message and "longer than 40" in message
    assert snapshot(db_url) == {}


def test_unreachable_target_hides_the_password() -> None:
    url = "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseError) as info:
        write_tables(url, shop(), shop_tables())
    assert "s3cr3t-pw" not in str(info.value)
    assert "***" in str(info.value) or "alice" in str(info.value)
    with pytest.raises(DatabaseError) as info:
        read_tables("mysql+pymysql://bob:hunter2-pw@127.0.0.1:1/x", shop())
    assert "hunter2-pw" not in str(info.value)
    with pytest.raises(DatabaseError) as info:
        check_database("postgresql+psycopg://carol:pa55-pw@127.0.0.1:1/x", shop())
    assert "pa55-pw" not in repr(info.value) and "pa55-pw" not in str(info.value.__cause__ or "")


def test_bad_url_and_parameters() -> None:
    with pytest.raises(ParameterError, match="not a database URL"):
        write_tables("::not a url::", shop(), shop_tables())
    with pytest.raises(DatabaseError, match="driver") as info:
        write_tables("nodriver://x:pw-123@host/db", shop(), shop_tables())
    assert "pw-123" not in str(info.value)
    with pytest.raises(ParameterError, match="if_exists"):
        write_tables("sqlite://", shop(), shop_tables(), if_exists="overwrite")  # type: ignore[arg-type]


def test_missing_table_in_source(db_url: str) -> None:
    write_tables(db_url, shop(), shop_tables())
    extra = shop().with_table(Table("ghost", (Column("id", "id", "INTEGER"),)))
    with pytest.raises(DatabaseError, match=r"table 'ghost' does not exist"):
        read_tables(db_url, extra)
    wider = shop().with_table(
        Table(
            "orders",
            (*shop().table("orders").columns, Column("note", "text", "TEXT")),
            primary_key=("id",),
        )
    )
    with pytest.raises(DatabaseError, match=r"column orders\.note does not exist"):
        read_tables(db_url, wider)


def test_foreign_check_is_dropped_with_a_warning(db_url: str) -> None:
    from relsynth import CheckConstraint

    meta = shop()
    customers = meta.table("customers")
    checked = Table(
        "customers",
        customers.columns,
        primary_key=customers.primary_key,
        unique=customers.unique,
        checks=(CheckConstraint("[id] > 0"), CheckConstraint("email GLOB '*@*'")),
    )
    meta = meta.with_table(checked)
    if db_url.startswith("sqlite"):
        report = write_tables(db_url, meta, shop_tables())  # both compile on SQLite
        assert report.dropped == ()
    else:
        with pytest.warns(SchemaWarning, match="GLOB"):
            report = write_tables(db_url, meta, shop_tables())
        assert len(report.dropped) == 1
    bad = shop_tables()
    bad["customers"]["id"] = [-1, 2, 3]
    bad["orders"]["customer_id"] = [2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        with pytest.raises(DatabaseError, match="customers"):  # the kept [id] > 0 check
            write_tables(db_url, meta, bad, if_exists="replace")
