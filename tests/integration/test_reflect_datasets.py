"""reflect() on the shared real datasets: facts taken from their README files."""

from __future__ import annotations

import pytest

from relsynth import plan
from relsynth.io.reflect import reflect
from tests.conftest import dataset_url

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("error")]


def _labels(meta) -> set[str]:  # noqa: ANN001
    return {fk.label for fk in meta.foreign_keys}


def test_northwind() -> None:
    meta = reflect(dataset_url("northwind"))
    assert len(meta) == 13  # views and sqlite_sequence are not tables
    assert len(meta.foreign_keys) == 13
    assert "Order Details" in meta and "sqlite_sequence" not in meta
    assert meta["Order Details"].primary_key == ("OrderID", "ProductID")
    assert "Employees(ReportsTo) -> Employees(EmployeeID)" in _labels(meta)
    reports_to = next(fk for fk in meta.foreign_keys if fk.is_self_reference)
    assert reports_to.nullable and reports_to.name is None  # SQLite FKs are unnamed
    assert meta["Territories"].column("TerritoryID").sql_type == "TEXT"
    assert meta["Territories"].column("TerritoryID").kind == "id"
    assert "Orders(ShipVia) -> Shippers(ShipperID)" in _labels(meta)
    # SQLite allows NULL in a non-INTEGER PK; the declared nullability is kept.
    assert meta["Customers"].column("CustomerID").nullable is True
    assert meta["Categories"].column("CategoryID").autoincrement is True
    # kinds from the data
    products = meta["Products"]
    assert products.column("Discontinued").kind == "boolean"  # TEXT '0'/'1'
    assert meta["Orders"].column("OrderDate").kind == "datetime"
    assert meta["Categories"].column("Picture").kind == "binary"
    assert meta["Customers"].column("CompanyName").pii == "company"
    assert meta["Customers"].column("ContactName").pii == "name"
    assert meta["Customers"].column("Phone").pii == "phone"
    assert meta["Employees"].column("FirstName").pii == "first_name"
    assert meta["Employees"].column("Notes").pii == "free_text"
    assert meta["Employees"].column("Address").kind == "text"
    # plan: self-reference is not a cycle
    generation = plan(meta)
    assert generation.deferred == ()
    assert generation.order.index("Orders") < generation.order.index("Order Details")


def test_gtfs_cairns() -> None:
    meta = reflect(dataset_url("gtfs_cairns"))
    assert list(meta.tables) == sorted(
        ["agency", "calendar", "calendar_dates", "routes", "trips", "stop_times", "stops", "shapes"]
    )
    assert meta["agency"].primary_key == ()
    assert meta["stop_times"].primary_key == ("trip_id", "stop_sequence")
    assert meta["shapes"].primary_key == ("shape_id", "shape_pt_sequence")
    assert "stops(parent_station) -> stops(stop_id)" in _labels(meta)
    # trips.shape_id is a logical reference only (not unique in shapes): not declared
    assert not any(fk.child == "trips" and fk.parent == "shapes" for fk in meta.foreign_keys)
    stop_times = meta["stop_times"]
    assert stop_times.column("stop_id").sql_type == "TEXT"  # numeric-looking but text
    # times past midnight (up to 29:39:00) are not datetimes
    assert stop_times.column("arrival_time").kind == "categorical"
    assert meta["calendar"].column("monday").kind == "boolean"  # 0/1 integers
    assert meta["calendar"].column("start_date").kind == "datetime"  # YYYYMMDD, named date
    assert meta["routes"].column("route_type").kind == "categorical"  # always 3


def test_gtfs_sample() -> None:
    meta = reflect(dataset_url("gtfs_sample"))
    assert len(meta) == 13
    assert meta["fare_rules"].primary_key == ()
    assert meta["feed_info"].primary_key == ()
    assert meta["frequencies"].primary_key == ("trip_id", "start_time")
    assert {fk.label for fk in meta.parents("attributions")} == {
        "attributions(agency_id) -> agency(agency_id)",
        "attributions(route_id) -> routes(route_id)",
        "attributions(trip_id) -> trips(trip_id)",
    }
    # empty tables (feed_info, shapes) reflect with their columns and type-based kinds
    assert meta["shapes"].column("shape_pt_lat").kind == "numerical"
    assert meta["feed_info"].column("feed_publisher_url").pii == "url"
    # times without a leading zero ('6:00:00') are not datetimes either
    assert meta["frequencies"].column("start_time").kind != "datetime"
    assert len(meta.foreign_keys) == 12


def test_berka() -> None:
    meta = reflect(dataset_url("berka"))
    assert list(meta.tables) == ["account", "card", "client", "disp", "district", "loan", "order"]
    assert len(meta.foreign_keys) == 7
    assert meta["order"].primary_key == ("order_id",)
    assert "order(account_id) -> account(account_id)" in _labels(meta)
    assert {fk.child for fk in meta.children("district")} == {"account", "client"}
    assert meta["order"].column("account_to").kind != "id"  # a foreign bank's number, not an FK
    assert meta["loan"].column("date").kind == "datetime"  # ISO text
    assert meta["loan"].column("duration").kind == "categorical"  # 12/24/36/48/60


def test_sample_rows_zero_keeps_type_kinds() -> None:
    meta = reflect(dataset_url("northwind"), sample_rows=0)
    assert meta["Products"].column("Discontinued").kind == "categorical"  # TEXT, unsampled
    assert meta["Orders"].column("CustomerID").kind == "id"  # keys need no data
    assert meta["Customers"].column("Phone").pii == "phone"  # names need no data


def test_include_unknown_table_lists_known_ones() -> None:
    from relsynth import ReflectionError

    with pytest.raises(ReflectionError, match=r"'Nope'.*Known tables: Categories"):
        reflect(dataset_url("northwind"), include=["Nope"])
