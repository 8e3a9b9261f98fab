"""The foreign-key graph and the generation plan.

Stage 1 of the pipeline, after the metadata. The graph is a
``networkx.MultiDiGraph`` with an edge ``parent -> child`` per foreign key (a
*multi*-graph because two keys may join the same pair of tables:
``flights.origin`` and ``flights.dest`` both point at ``airports``).

:func:`plan` turns it into a :class:`Plan`:

* ``order``: every table, parents before children (ties broken by name, so the
  order is deterministic);
* ``driver``: for each child table, the one foreign key its rows are generated
  under (per parent row); the child's other keys are ``secondary``;
* ``self_references``: keys from a table to itself (a forest inside the table);
* ``deferred``: keys removed from the ordering to break cycles. They are filled
  after both tables exist. A cycle is broken at a nullable key when it has one;
  a cycle made only of NOT NULL keys (Sakila's ``store <-> staff``) is still
  planned, its key listed in ``deferred_not_null``, and the writer loads it with
  deferred constraints or foreign-key checks off, proving integrity afterwards.

No real schema is refused.

Driver choice (when the caller does not name one), in order of preference:

1. a key whose columns are the leading columns of the child's primary key
   (``stop_times(trip_id, stop_sequence) -> trips``, ``order_details(order_id,
   product_id) -> orders``): the child rows are positions under that parent;
2. a NOT NULL key over a nullable one: every child row has that parent;
3. the deeper parent (longest path from a root): it is the more specific one
   (``payment -> rental`` over ``payment -> customer``; the customer follows from
   the rental);
4. declaration order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from relsynth.errors import MetadataError
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["Plan", "fk_graph", "plan"]


@dataclass(frozen=True)
class Plan:
    """How a database is generated: order, driver keys and deferred keys."""

    order: tuple[str, ...]
    driver: Mapping[str, ForeignKey | None]
    secondary: Mapping[str, tuple[ForeignKey, ...]]
    self_references: tuple[ForeignKey, ...] = ()
    deferred: tuple[ForeignKey, ...] = ()
    depth: Mapping[str, int] = field(default_factory=dict)

    @property
    def deferred_not_null(self) -> tuple[ForeignKey, ...]:
        """Deferred keys that cannot be left NULL while loading (need deferred constraints)."""
        return tuple(fk for fk in self.deferred if not fk.nullable)

    @property
    def roots(self) -> tuple[str, ...]:
        """Tables without a driver key: their size is set by ``scale``."""
        return tuple(t for t in self.order if self.driver.get(t) is None)

    def is_deferred(self, fk: ForeignKey) -> bool:
        """Whether ``fk`` is filled after both of its tables exist."""
        return fk in self.deferred


def fk_graph(meta: Metadata) -> nx.MultiDiGraph:
    """Return the foreign-key graph: one node per table, one edge ``parent -> child`` per key.

    Each edge has the key ``i`` (the index in ``meta.foreign_keys``) and the attribute
    ``fk`` holding the :class:`ForeignKey`.
    """
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(meta.tables)
    for i, fk in enumerate(meta.foreign_keys):
        graph.add_edge(fk.parent, fk.child, key=i, fk=fk)
    return graph


def plan(meta: Metadata, drivers: Mapping[str, ForeignKey | None] | None = None) -> Plan:
    """Plan the generation of ``meta``.

    Parameters
    ----------
    meta : Metadata
        A valid metadata.
    drivers : Mapping of str to ForeignKey or None, optional
        Driver key overrides per child table; ``None`` makes the table a root
        (its size is set by ``scale`` and all its keys are matched as secondary).

    Returns
    -------
    Plan

    Raises
    ------
    MetadataError
        If an override names a key the table does not hold, or a deferred one.
    """
    drivers = dict(drivers or {})
    self_refs = tuple(fk for fk in meta.foreign_keys if fk.is_self_reference)
    deferred = _break_cycles(meta)
    graph = nx.DiGraph()
    graph.add_nodes_from(meta.tables)
    for fk in meta.foreign_keys:
        if not fk.is_self_reference and fk not in deferred:
            graph.add_edge(fk.parent, fk.child)
    order = tuple(nx.lexicographical_topological_sort(graph))
    depth: dict[str, int] = {}
    for name in order:
        preds = list(graph.predecessors(name))
        depth[name] = 1 + max(depth[p] for p in preds) if preds else 0

    driver: dict[str, ForeignKey | None] = {}
    secondary: dict[str, tuple[ForeignKey, ...]] = {}
    problems: list[str] = []
    for name in order:
        candidates = [
            fk for fk in meta.parents(name) if not fk.is_self_reference and fk not in deferred
        ]
        if name in drivers:
            chosen = drivers[name]
            if chosen is not None and chosen not in candidates:
                problems.append(
                    f"The driver key given for {name!r} ({chosen.label}) is not one of its "
                    "non-deferred foreign keys: "
                    + (", ".join(fk.label for fk in candidates) or "(none)")
                    + "."
                )
                chosen = None
        else:
            chosen = _default_driver(meta, name, candidates, depth)
        driver[name] = chosen
        secondary[name] = tuple(fk for fk in candidates if fk != chosen)
    if problems:
        raise MetadataError("Invalid driver overrides:", problems)
    return Plan(
        order=order,
        driver=driver,
        secondary=secondary,
        self_references=self_refs,
        deferred=deferred,
        depth=depth,
    )


def _default_driver(
    meta: Metadata, table: str, candidates: list[ForeignKey], depth: Mapping[str, int]
) -> ForeignKey | None:
    if not candidates:
        return None
    pk = meta.table(table).primary_key

    def rank(item: tuple[int, ForeignKey]) -> tuple[int, int, int, int]:
        i, fk = item
        n = len(fk.columns)
        leads_pk = len(pk) > n and tuple(pk[:n]) == fk.columns
        return (0 if leads_pk else 1, 1 if fk.nullable else 0, -depth[fk.parent], i)

    return min(enumerate(candidates), key=rank)[1]


def _break_cycles(meta: Metadata) -> tuple[ForeignKey, ...]:
    """Choose keys to defer until the graph (self-references aside) is acyclic.

    Repeatedly finds a cycle and removes one key from it: the nullable key with
    the most columns-nullable-and-latest-declared preference (deterministic), else
    a NOT NULL key. Simple cycles are found by networkx on the remaining graph.
    """
    edges: dict[int, ForeignKey] = {
        i: fk for i, fk in enumerate(meta.foreign_keys) if not fk.is_self_reference
    }
    deferred: list[ForeignKey] = []
    while True:
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(meta.tables)
        for i, fk in edges.items():
            graph.add_edge(fk.parent, fk.child, key=i)
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return tuple(deferred)
        in_cycle = [edges[key] for (_, _, key) in cycle]
        keyed = {id(fk): i for i, fk in edges.items()}
        # Prefer a nullable key; among several, the one declared last (usually the
        # "back" reference, e.g. store.manager_staff_id after staff.store_id).
        victim = max(in_cycle, key=lambda fk: (fk.nullable, keyed[id(fk)]))
        deferred.append(victim)
        del edges[keyed[id(victim)]]
