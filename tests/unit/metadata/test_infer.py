"""Kind rules (refine_kinds), infer() from DataFrames, FK strings and FK suggestions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, MetadataError, Table
from relsynth.metadata.infer import (
    infer,
    parse_foreign_key,
    pii_from_name,
    refine_kinds,
    suggest_foreign_keys,
)


def _kind(values: list[object], sql_type: str = "TEXT", name: str = "c") -> tuple[str, str | None]:
    columns = (Column("pk", "id", "INTEGER"), Column(name, "categorical", sql_type))
    meta = Metadata({"t": Table("t", columns, primary_key=("pk",))})
    frame = pd.DataFrame({name: pd.Series(values, dtype=object)})
    col = refine_kinds(meta, {"t": frame})["t"].column(name)
    return col.kind, col.pii


@pytest.mark.parametrize(
    ("values", "sql_type", "name", "expected"),
    [
        (["0", "1", "1"], "TEXT", "Discontinued", ("boolean", None)),
        (["Y", "N", "N"], "CHAR(1)", "flag", ("boolean", None)),
        (["true", "False"], "TEXT", "flag", ("boolean", None)),
        ([0, 1, 1, 0], "INTEGER", "monday", ("boolean", None)),
        (
            ["1996-07-04 00:00:00.000", "1998-05-06 00:00:00.000"],
            "TEXT",
            "OrderDate",
            ("datetime", None),
        ),
        (["2014-05-01", "2014-06-01"], "TEXT", "issued", ("datetime", None)),
        (["20140501", "20140601"], "TEXT", "start_date", ("datetime", None)),
        (
            ["20140501", "20140601"],
            "TEXT",
            "route_code",
            ("categorical", None),
        ),  # no 'date' in name
        (["23:50:00", "25:10:00", "6:00:00"], "TEXT", "arrival_time", ("categorical", None)),
        (["a@x.org", "b@y.com", "c@z.net"], "TEXT", "contact", ("text", "email")),
        (["http://x.org/a", "https://y.com"], "TEXT", "link", ("text", "url")),
        (["(503) 555-9831", "030-0074321", "+44 20 7946 0958"], "TEXT", "num", ("text", "phone")),
        (["1.000000", "2.000000"], "TEXT", "block_id", ("categorical", None)),  # not phones
        (["12 Main Street", "4 Elm Rd", "77 Sunset Blvd"], "TEXT", "where", ("text", "address")),
        (["Maria Anders", "Ana Trujillo"], "TEXT", "ContactName", ("text", "name")),
        (["Alfreds", "Around"], "TEXT", "CompanyName", ("text", "company")),
        ([], "TEXT", "email", ("text", "email")),  # empty: the name still says PII
        (["Berlin", "Paris", "Berlin"], "TEXT", "City", ("categorical", None)),  # few places
        ([f"city{i}" for i in range(60)], "TEXT", "City", ("text", "city")),
        (
            [" ".join(["word"] * 10) + str(i) for i in range(6)],
            "TEXT",
            "Notes",
            ("text", "free_text"),
        ),
        ([f"N{i:03d}AB" for i in range(30)], "TEXT", "tailnum", ("id", None)),  # unique codes
        (
            ["01581", "01730", "01581"],
            "TEXT",
            "territory",
            ("categorical", None),
        ),  # leading zeros kept text
        ([12, 24, 36] * 40, "INTEGER", "duration", ("categorical", None)),
        (list(range(100)), "INTEGER", "amount", ("numerical", None)),
        (list(range(100)), "INTEGER", "account_no", ("id", None)),
        ([1.5, 2.25, 3.0], "FLOAT", "price", ("numerical", None)),
        (["open", "closed"], "ENUM", "status", ("categorical", None)),
        ([b"\x00"], "BLOB", "photo", ("binary", None)),
    ],
)
def test_kind_rules(
    values: list[object], sql_type: str, name: str, expected: tuple[str, str | None]
) -> None:
    assert _kind(values, sql_type, name) == expected


def test_key_columns_are_ids_but_composite_pk_parts_keep_value_kinds() -> None:
    meta = Metadata(
        tables={
            "trips": Table(
                "trips", (Column("trip_id", "categorical", "TEXT"),), primary_key=("trip_id",)
            ),
            "stop_times": Table(
                "stop_times",
                (
                    Column("trip_id", "categorical", "TEXT"),
                    Column("stop_sequence", "numerical", "INTEGER"),
                ),
                primary_key=("trip_id", "stop_sequence"),
            ),
        },
        foreign_keys=(ForeignKey("stop_times", ("trip_id",), "trips", ("trip_id",)),),
    )  # fmt: skip
    refined = refine_kinds(meta, {})
    assert refined["trips"].column("trip_id").kind == "id"
    assert refined["stop_times"].column("trip_id").kind == "id"
    assert refined["stop_times"].column("stop_sequence").kind == "numerical"


@pytest.mark.parametrize(
    ("name", "pii"),
    [("email", "email"), ("E-Mail", "email"), ("HomePhone", "phone"), ("Fax", "phone"),
     ("first_name", "first_name"), ("LastName", "last_name"), ("surname", "last_name"),
     ("CompanyName", "company"), ("ContactName", "name"), ("customer_name", "name"),
     ("PostalCode", "postcode"), ("zip", "postcode"), ("ShipAddress", "address"),
     ("HomePage", "url"), ("agency_url", "url"), ("ShipCity", "city"), ("Country", "country"),
     ("stop_name", None), ("ProductName", None), ("Region", None)],
)  # fmt: skip
def test_pii_from_name(name: str, pii: str | None) -> None:
    assert pii_from_name(name) == pii


def test_infer_types_keys_and_kinds() -> None:
    customers = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "email": ["a@x.org", "b@x.org", None],
            "joined": pd.to_datetime(["2020-01-01", "2021-02-03", "2022-03-04"]),
            "vip": [True, False, True],
            "score": [1.5, 2.5, np.nan],
            "blob": [b"a", b"b", b"c"],
            "born": [dt.date(1990, 1, 1)] * 3,
        }
    )
    orders = pd.DataFrame({"order_id": [1, 2, 3, 4], "customer_id": [1, 1, 2, None]})
    meta = infer(
        {"customers": customers, "orders": orders},
        foreign_keys=["orders.customer_id -> customers.id"],
    )
    c = meta["customers"]
    assert c.primary_key == ("id",)
    assert meta["orders"].primary_key == ("order_id",)  # <singular>_id
    assert [col.sql_type for col in c.columns] == [
        "BIGINT", "TEXT", "DATETIME", "BOOLEAN", "FLOAT", "BLOB", "DATE"
    ]  # fmt: skip
    assert c.column("id").nullable is False and c.column("email").nullable is True
    assert c.column("email").pii == "email"
    assert c.column("vip").kind == "boolean"
    fk = meta.foreign_keys[0]
    assert fk.nullable is True and meta["orders"].column("customer_id").kind == "id"
    assert meta["orders"].column("customer_id").sql_type == "FLOAT"  # ints with NaN


def test_infer_given_keys_and_errors() -> None:
    tables = {
        "a": pd.DataFrame({"x": [1, 1], "y": [1, 2]}),
        "b": pd.DataFrame({"x": [1], "y": [2]}),
    }
    meta = infer(tables, primary_keys={"a": ["x", "y"], "b": "x"},
                 foreign_keys=[ForeignKey("b", ("x", "y"), "a", ("x", "y"))])  # fmt: skip
    assert meta["a"].primary_key == ("x", "y") and meta["b"].primary_key == ("x",)
    with pytest.raises(MetadataError, match="unknown table"):
        infer(tables, primary_keys={"zzz": "x"})
    with pytest.raises(MetadataError, match="neither the primary key"):
        infer(tables, foreign_keys=["b.y -> a.y"])
    with pytest.raises(MetadataError, match="must be a pandas DataFrame"):
        infer({"a": [1, 2]})  # type: ignore[dict-item]
    assert infer({"t": pd.DataFrame({"id": [1, 1]})})["t"].primary_key == ()  # not unique


def test_parse_foreign_key() -> None:
    fk = parse_foreign_key("Order Details.OrderID -> Orders.OrderID")
    assert (fk.child, fk.columns, fk.parent, fk.parent_columns) == (
        "Order Details",
        ("OrderID",),
        "Orders",
        ("OrderID",),
    )
    fk = parse_foreign_key("flights.(origin, time_hour)->weather.(origin, time_hour)")
    assert fk.columns == ("origin", "time_hour")
    for bad in ("orders.customer_id", "a -> b", "a.x -> b.y -> c.z"):
        with pytest.raises(MetadataError, match="Cannot parse foreign key"):
            parse_foreign_key(bad)


def test_suggest_foreign_keys() -> None:
    tables = {
        "customers": pd.DataFrame({"id": [1, 2, 3]}),
        "orders": pd.DataFrame({"id": [10, 11], "customer_id": [1, 3], "total": [1, 2]}),
        "stores": pd.DataFrame({"store_code": ["A", "B"]}),
        "visits": pd.DataFrame({"id": [1], "store_code": ["A"], "customer_id": [99]}),
    }
    meta = infer(tables, primary_keys={"stores": "store_code"})
    suggested = suggest_foreign_keys(tables, meta)
    assert [fk.label for fk in suggested] == [
        "orders(customer_id) -> customers(id)",
        "visits(store_code) -> stores(store_code)",
    ]  # visits.customer_id = 99 has no parent: not suggested
    assert meta.foreign_keys == ()  # suggestions are not applied
    again = suggest_foreign_keys(tables, meta.with_foreign_keys(*suggested))
    assert again == []


def test_foreign_key_columns_take_the_parent_kind() -> None:
    from relsynth import ForeignKey
    from relsynth.metadata.infer import refine_kinds

    stamps = [f"2013-01-01T{h:02d}:00:00Z" for h in range(20)]
    meta = Metadata(
        {
            "obs": Table(
                "obs",
                (Column("station", "categorical", "TEXT"), Column("ts", "categorical", "TEXT")),
                primary_key=("station", "ts"),
            ),
            "reading": Table(
                "reading",
                (Column("station", "categorical", "TEXT"), Column("ts", "categorical", "TEXT")),
            ),
        },
        foreign_keys=(ForeignKey("reading", ("station", "ts"), "obs", ("station", "ts")),),
    )
    frame = pd.DataFrame({"station": ["S1"] * 20, "ts": stamps})
    refined = refine_kinds(meta, {"obs": frame, "reading": frame})
    for col in ("station", "ts"):
        assert refined["reading"].column(col).kind == refined["obs"].column(col).kind
    assert refined["obs"].column("ts").kind == "datetime"


def test_json_text_is_text_not_categories_or_codes() -> None:
    from relsynth.metadata.infer import refine_kinds

    docs = [f'{{"a": {i}, "b": [1, 2]}}' for i in range(30)]
    meta = Metadata({"t": Table("t", (Column("doc", "categorical", "TEXT"),))})
    refined = refine_kinds(meta, {"t": pd.DataFrame({"doc": docs})})
    assert refined["t"].column("doc").kind == "text"


def test_phone_detection_on_plain_strings() -> None:
    """pd.unique gives an ndarray on pandas 2: ``if distinct`` must not be asked of it."""
    from relsynth.metadata.infer import refine_kinds

    phones = [f"+1 (555) 010-{i:04d}" for i in range(30)]
    meta = Metadata({"t": Table("t", (Column("contact", "categorical", "TEXT"),))})
    refined = refine_kinds(meta, {"t": pd.DataFrame({"contact": phones})})
    assert refined["t"].column("contact").pii == "phone"
