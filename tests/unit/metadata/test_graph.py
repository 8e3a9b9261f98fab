"""The foreign-key graph and the generation plan."""

from __future__ import annotations

import networkx as nx
import pytest

from relsynth import Column, ForeignKey, Metadata, MetadataError, Table, plan
from relsynth.metadata.graph import fk_graph


def _table(name: str, *cols: str, pk: tuple[str, ...] = ("id",), nullable: tuple[str, ...] = ()):
    names = ("id", *cols) if "id" in pk and "id" not in cols else cols
    return Table(
        name,
        tuple(Column(c, "id", "INTEGER", nullable=c in nullable) for c in names),
        primary_key=pk,
    )


def _fk(child: str, col: str, parent: str, nullable: bool = False) -> ForeignKey:
    return ForeignKey(child, (col,), parent, ("id",), nullable=nullable)


def test_two_keys_to_one_parent_are_two_edges():
    meta = Metadata(
        {
            "airports": _table("airports"),
            "flights": _table("flights", "origin", "dest"),
        },
        (_fk("flights", "origin", "airports"), _fk("flights", "dest", "airports")),
    )
    graph = fk_graph(meta)
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.number_of_edges("airports", "flights") == 2
    p = plan(meta)
    assert p.order == ("airports", "flights")
    assert p.driver["flights"] == meta.foreign_keys[0]
    assert p.secondary["flights"] == (meta.foreign_keys[1],)


def test_order_is_topological_and_deterministic():
    meta = Metadata(
        {
            "d": _table("d", "c_id"),
            "c": _table("c", "b_id"),
            "b": _table("b", "a_id"),
            "a": _table("a"),
            "z": _table("z"),
        },
        (_fk("d", "c_id", "c"), _fk("c", "b_id", "b"), _fk("b", "a_id", "a")),
    )
    p = plan(meta)
    assert p.order == ("a", "b", "c", "d", "z")
    assert p.depth == {"a": 0, "b": 1, "c": 2, "d": 3, "z": 0}
    assert p.roots == ("a", "z")


def test_self_reference_is_not_a_cycle():
    meta = Metadata(
        {"employees": _table("employees", "manager_id", nullable=("manager_id",))},
        (_fk("employees", "manager_id", "employees", nullable=True),),
    )
    p = plan(meta)
    assert p.order == ("employees",)
    assert p.self_references == meta.foreign_keys
    assert p.deferred == ()
    assert p.driver["employees"] is None


def test_nullable_cycle_breaks_at_the_nullable_key():
    store_manager = _fk("store", "manager_id", "staff", nullable=True)
    staff_store = _fk("staff", "store_id", "store")
    meta = Metadata(
        {
            "store": _table("store", "manager_id", nullable=("manager_id",)),
            "staff": _table("staff", "store_id"),
        },
        (staff_store, store_manager),
    )
    p = plan(meta)
    assert p.deferred == (store_manager,)
    assert p.deferred_not_null == ()
    assert p.order == ("store", "staff")


def test_not_null_cycle_is_planned_not_refused():
    a_b = _fk("a", "b_id", "b")
    b_a = _fk("b", "a_id", "a")
    meta = Metadata({"a": _table("a", "b_id"), "b": _table("b", "a_id")}, (a_b, b_a))
    p = plan(meta)
    assert len(p.deferred) == 1
    assert p.deferred_not_null == p.deferred
    remaining = [fk for fk in meta.foreign_keys if fk not in p.deferred]
    for fk in remaining:
        assert p.order.index(fk.parent) < p.order.index(fk.child)


def test_driver_prefers_the_key_leading_the_primary_key():
    meta = Metadata(
        {
            "stops": _table("stops"),
            "trips": _table("trips"),
            "stop_times": Table(
                "stop_times",
                tuple(
                    Column(c, "id", "INTEGER", nullable=False)
                    for c in ("stop_id", "trip_id", "stop_sequence")
                ),
                primary_key=("trip_id", "stop_sequence"),
            ),
        },
        (_fk("stop_times", "stop_id", "stops"), _fk("stop_times", "trip_id", "trips")),
    )
    p = plan(meta)
    assert p.driver["stop_times"].parent == "trips"
    assert [fk.parent for fk in p.secondary["stop_times"]] == ["stops"]


def test_driver_prefers_not_null_then_deeper_parent():
    meta = Metadata(
        {
            "customer": _table("customer"),
            "rental": _table("rental", "customer_id"),
            "payment": _table(
                "payment", "customer_id", "rental_id", "note_id", nullable=("note_id",)
            ),
            "note": _table("note"),
        },
        (
            _fk("rental", "customer_id", "customer"),
            _fk("payment", "note_id", "note", nullable=True),
            _fk("payment", "customer_id", "customer"),
            _fk("payment", "rental_id", "rental"),
        ),
    )
    p = plan(meta)
    assert p.driver["payment"].parent == "rental"


def test_driver_override_and_bad_override():
    meta = Metadata(
        {"a": _table("a"), "b": _table("b"), "c": _table("c", "a_id", "b_id")},
        (_fk("c", "a_id", "a"), _fk("c", "b_id", "b")),
    )
    p = plan(meta, drivers={"c": meta.foreign_keys[1]})
    assert p.driver["c"].parent == "b"
    assert plan(meta, drivers={"c": None}).driver["c"] is None
    stranger = _fk("a", "x", "b")
    with pytest.raises(MetadataError, match=r"driver key given for 'c'"):
        plan(meta, drivers={"c": stranger})
