"""Hypothesis strategies for the keys layer: random schemas with consistent data.

``key_schemas()`` draws a database of 1 to 8 tables made of *blocks*, each a
small schema of one shape that breaks naive key generators:

star, chain, diamond, implied diamond (the child's secondary key always equals the
value reached through its driver parent), two keys to one parent, overlapping keys
(``flights.origin`` inside ``flights.(origin, time_hour)``), self-reference
(a nullable forest), nullable cycle, NOT NULL cycle, composite primary/foreign key,
junction table, parent + position key, natural composite key (airport + hourly
timestamp), and tables that may be empty. Root keys are integers, text codes,
zero-padded numbers or UUIDs.

The data are generated with numpy from a drawn seed (fast), and always pass
``relsynth.check``.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from relsynth import Column, ForeignKey, Metadata, Table

__all__ = ["BLOCKS", "KeySchema", "key_schemas"]


@dataclass
class KeySchema:
    """A drawn schema: metadata, tables, and which shapes it holds."""

    metadata: Metadata
    tables: dict[str, pd.DataFrame]
    shapes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.tables.items()}
        return f"KeySchema(shapes={self.shapes}, sizes={sizes})"


@dataclass
class _Builder:
    rng: np.random.Generator
    prefix: str
    tables: dict[str, Table] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    fks: list[ForeignKey] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def add(
        self,
        name: str,
        frame: pd.DataFrame,
        pk: tuple[str, ...],
        nullable: tuple[str, ...] = (),
        kinds: dict[str, str] | None = None,
    ) -> None:
        kinds = kinds or {}
        cols = tuple(
            Column(
                c,
                kinds.get(c, "id" if c in pk or c.endswith("_id") else "numerical"),
                nullable=c in nullable,
            )
            for c in frame.columns
        )
        self.tables[name] = Table(name, cols, primary_key=pk)
        self.frames[name] = frame.reset_index(drop=True)

    def fk(
        self,
        child: str,
        cols: tuple[str, ...],
        parent: str,
        pcols: tuple[str, ...],
        nullable: bool = False,
    ) -> None:
        self.fks.append(ForeignKey(child, cols, parent, pcols, nullable=nullable))

    def keys(self, n: int, kind: str) -> np.ndarray:
        if kind == "int":
            return np.arange(1, n + 1, dtype=np.int64) * int(self.rng.integers(1, 4)) + int(
                self.rng.integers(0, 100)
            )
        if kind == "code":
            letters = np.array(list(string.ascii_uppercase))
            codes: set[str] = set()
            while len(codes) < n:
                codes.add("".join(self.rng.choice(letters, 5)))
            return np.array(sorted(codes), dtype=object)
        if kind == "padded":
            return np.array(
                [f"{i:05d}" for i in self.rng.choice(99999, n, replace=False)], dtype=object
            )
        return np.array(
            [str(uuid.UUID(int=int(x))) for x in self.rng.choice(2**62, n, replace=False)],
            dtype=object,
        )

    def root(self, base: str, n: int, kind: str) -> str:
        name = self.name(base)
        frame = pd.DataFrame({"id": self.keys(n, kind), "x": self.rng.random(n)})
        self.add(name, frame, ("id",))
        return name

    def children(self, parent: str, base: str, mean: float, *, nullable: bool = False) -> str:
        """A child with a surrogate int key and an FK to ``parent``; count ~ parent's x."""
        p = self.frames[parent]
        lam = mean * (0.2 + 1.6 * p["x"].to_numpy()) if len(p) else np.zeros(0)
        counts = self.rng.poisson(lam) if len(p) else np.zeros(0, dtype=int)
        ids = np.repeat(p["id"].to_numpy(), counts)
        frame = pd.DataFrame(
            {
                "id": np.arange(1, len(ids) + 1, dtype=np.int64),
                "parent_id": ids,
                "x": self.rng.random(len(ids)),
            }
        )
        if nullable and len(frame):
            extra = pd.DataFrame(
                {"id": len(frame) + np.arange(1, 3), "parent_id": [None, None], "x": [0.5, 0.5]}
            )
            frame = pd.concat([frame.astype({"parent_id": object}), extra], ignore_index=True)
        name = self.name(base)
        self.add(name, frame, ("id",), nullable=("parent_id",) if nullable else ())
        self.fk(name, ("parent_id",), parent, ("id",), nullable=nullable)
        return name


def _star(b: _Builder, n: int, kind: str) -> None:
    r = b.root("hub", n, kind)
    b.children(r, "spoke_a", 2.0)
    b.children(r, "spoke_b", 1.0, nullable=True)


def _chain(b: _Builder, n: int, kind: str) -> None:
    a = b.root("a", n, kind)
    c = b.children(a, "b", 2.0)
    b.children(c, "c", 1.5)


def _diamond(b: _Builder, n: int, kind: str, implied: bool = False) -> None:
    a = b.root("top", n, kind)
    mid = b.children(a, "mid", 2.0)
    m = b.frames[mid]
    counts = b.rng.poisson(1.5, len(m))
    rows = np.repeat(np.arange(len(m)), counts)
    top_ids = b.frames[a]["id"].to_numpy()
    if implied:
        side = m["parent_id"].to_numpy()[rows]
    else:
        side = top_ids[b.rng.integers(0, len(top_ids), len(rows))] if len(top_ids) else np.zeros(0)
    frame = pd.DataFrame(
        {"id": np.arange(1, len(rows) + 1), "mid_id": m["id"].to_numpy()[rows], "top_id": side}
    )
    name = b.name("bottom")
    b.add(name, frame, ("id",))
    b.fk(name, ("mid_id",), mid, ("id",))
    b.fk(name, ("top_id",), a, ("id",))


def _two_to_one(b: _Builder, n: int, kind: str) -> None:
    a = b.root("place", n, kind)
    ids = b.frames[a]["id"].to_numpy()
    m = 3 * n if n else 0
    src = ids[b.rng.integers(0, n, m)] if n else np.zeros(0)
    dst = ids[b.rng.integers(0, n, m)].astype(object) if n else np.zeros(0, dtype=object)
    if m:
        dst[b.rng.random(m) < 0.2] = None
    frame = pd.DataFrame({"id": np.arange(1, m + 1), "src_id": src, "dst_id": dst})
    name = b.name("trip")
    b.add(name, frame, ("id",), nullable=("dst_id",))
    b.fk(name, ("src_id",), a, ("id",))
    b.fk(name, ("dst_id",), a, ("id",), nullable=True)


def _hourly(b: _Builder, n: int, kind: str) -> tuple[str, str]:
    """Natural composite key: airport + hourly timestamp (weather)."""
    ap = b.root("airport", n, kind)
    codes = b.frames[ap]["id"].to_numpy()
    per = b.rng.integers(0, 6, n) if n else np.zeros(0, dtype=int)
    rows = np.repeat(np.arange(n), per)
    pos = pd.Series(rows).groupby(rows).cumcount().to_numpy() if len(rows) else np.zeros(0, int)
    start = pd.Timestamp("2013-01-01")
    ts = start + pd.to_timedelta(pos, unit="h")
    frame = pd.DataFrame(
        {
            "origin": codes[rows] if len(rows) else codes[:0],
            "time_hour": ts,
            "temp": b.rng.random(len(rows)),
        }
    )
    name = b.name("weather")
    b.add(name, frame, ("origin", "time_hour"), kinds={"origin": "id", "time_hour": "datetime"})
    b.fk(name, ("origin",), ap, ("id",))
    return ap, name


def _natural(b: _Builder, n: int, kind: str) -> None:
    _hourly(b, n, kind)


def _overlap(b: _Builder, n: int, kind: str) -> None:
    ap, wx = _hourly(b, n, kind)
    w = b.frames[wx]
    counts = b.rng.poisson(2.0, len(w))
    rows = np.repeat(np.arange(len(w)), counts)
    frame = pd.DataFrame(
        {
            "id": np.arange(1, len(rows) + 1),
            "origin": w["origin"].to_numpy()[rows],
            "time_hour": w["time_hour"].to_numpy()[rows],
        }
    )
    name = b.name("flight")
    b.add(name, frame, ("id",), kinds={"origin": "id", "time_hour": "datetime"})
    b.fk(name, ("origin",), ap, ("id",))
    b.fk(name, ("origin", "time_hour"), wx, ("origin", "time_hour"))


def _self_ref(b: _Builder, n: int, kind: str) -> None:
    name = b.name("staff")
    ids = np.arange(1, n + 1, dtype=np.int64)
    boss = np.full(n, None, dtype=object)
    for i in range(1, n):  # a forest: each row points to an earlier row, or is a root
        if b.rng.random() < 0.8:
            boss[i] = int(ids[b.rng.integers(0, i)])
    frame = pd.DataFrame({"id": ids, "boss_id": boss})
    b.add(name, frame, ("id",), nullable=("boss_id",))
    b.fk(name, ("boss_id",), name, ("id",), nullable=True)


def _cycle(b: _Builder, n: int, kind: str, not_null: bool = False) -> None:
    s, t = b.name("store"), b.name("clerk")
    s_ids = b.keys(n, kind)
    m = 2 * n
    t_ids = np.arange(1, m + 1, dtype=np.int64)
    t_store = s_ids[b.rng.integers(0, n, m)] if n else s_ids[:0]
    mgr = t_ids[b.rng.integers(0, m, n)].astype(object) if m else np.zeros(0, dtype=object)
    if not not_null and n:
        mgr[b.rng.random(n) < 0.3] = None
    b.add(
        s,
        pd.DataFrame({"id": s_ids, "manager_id": mgr}),
        ("id",),
        nullable=() if not_null else ("manager_id",),
    )
    b.add(t, pd.DataFrame({"id": t_ids, "store_id": t_store}), ("id",))
    b.fk(t, ("store_id",), s, ("id",))
    b.fk(s, ("manager_id",), t, ("id",), nullable=not not_null)


def _composite(b: _Builder, n: int, kind: str) -> None:
    p = b.name("batch")
    groups = b.keys(max(n // 2, 1), "int") if n else np.zeros(0, dtype=np.int64)
    a = groups[b.rng.integers(0, len(groups), n)] if n else groups
    seq = pd.Series(a).groupby(a).cumcount().to_numpy() + 1 if n else np.zeros(0, int)
    b.add(p, pd.DataFrame({"a": a, "b": seq}), ("a", "b"), kinds={"a": "id", "b": "id"})
    m = 2 * n
    rows = b.rng.integers(0, n, m) if n else np.zeros(0, dtype=int)
    c = b.name("item")
    frame = pd.DataFrame(
        {"id": np.arange(1, m + 1), "pa": a[rows] if n else a, "pb": seq[rows] if n else seq}
    )
    b.add(c, frame, ("id",), kinds={"pa": "id", "pb": "id"})
    b.fk(c, ("pa", "pb"), p, ("a", "b"))


def _junction(b: _Builder, n: int, kind: str) -> None:
    o = b.root("order", n, "int")
    pr = b.root("product", max(n // 2, 0), kind)
    pids = b.frames[pr]["id"].to_numpy()
    rows = []
    for oid in b.frames[o]["id"].to_numpy():
        k = int(b.rng.integers(0, min(4, len(pids)) + 1)) if len(pids) else 0
        for p in b.rng.choice(pids, k, replace=False) if k else []:
            rows.append((oid, p))
    frame = (
        pd.DataFrame(rows, columns=["order_id", "product_id"])
        if rows
        else pd.DataFrame({"order_id": np.zeros(0, dtype=np.int64), "product_id": pids[:0]})
    )
    j = b.name("line")
    b.add(j, frame, ("order_id", "product_id"))
    b.fk(j, ("order_id",), o, ("id",))
    b.fk(j, ("product_id",), pr, ("id",))


def _position(b: _Builder, n: int, kind: str) -> None:
    t = b.root("route", n, kind)
    ids = b.frames[t]["id"].to_numpy()
    counts = b.rng.integers(0, 5, n) if n else np.zeros(0, dtype=int)
    rows = np.repeat(np.arange(n), counts)
    seq = pd.Series(rows).groupby(rows).cumcount().to_numpy() + 1 if len(rows) else np.zeros(0, int)
    frame = pd.DataFrame({"route_id": ids[rows] if len(rows) else ids[:0], "stop_sequence": seq})
    name = b.name("stop")
    b.add(name, frame, ("route_id", "stop_sequence"))
    b.fk(name, ("route_id",), t, ("id",))


#: Block name -> (builder, number of tables it adds).
BLOCKS: dict[str, tuple[Callable[..., None], int]] = {
    "star": (_star, 3),
    "chain": (_chain, 3),
    "diamond": (_diamond, 3),
    "implied_diamond": (lambda b, n, k: _diamond(b, n, k, implied=True), 3),
    "two_to_one": (_two_to_one, 2),
    "overlap": (_overlap, 3),
    "self_ref": (_self_ref, 1),
    "nullable_cycle": (_cycle, 2),
    "not_null_cycle": (lambda b, n, k: _cycle(b, n, k, not_null=True), 2),
    "composite": (_composite, 2),
    "junction": (_junction, 3),
    "position": (_position, 2),
    "natural": (_natural, 2),
}


@st.composite
def key_schemas(draw: st.DrawFn, max_tables: int = 8) -> KeySchema:
    """Draw a schema of 1 to ``max_tables`` tables made of shape blocks, with data."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    names = sorted(BLOCKS)
    chosen: list[str] = []
    total = 0
    first = draw(st.sampled_from(names))
    for name in [first, *draw(st.lists(st.sampled_from(names), max_size=3))]:
        size = BLOCKS[name][1]
        if total + size <= max_tables:
            chosen.append(name)
            total += size
    tables: dict[str, Table] = {}
    frames: dict[str, pd.DataFrame] = {}
    fks: list[ForeignKey] = []
    for i, name in enumerate(chosen):
        n = draw(st.sampled_from([0, 1, 2, 5, 12, 30]))
        kind = draw(st.sampled_from(["int", "code", "padded", "uuid"]))
        builder = _Builder(rng, prefix=f"b{i}_")
        BLOCKS[name][0](builder, n, kind)
        tables.update(builder.tables)
        frames.update(builder.frames)
        fks.extend(builder.fks)
    meta = Metadata(tables, tuple(fks))
    meta.validate()
    return KeySchema(meta, frames, chosen)
