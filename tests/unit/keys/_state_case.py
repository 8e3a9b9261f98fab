"""A small database with every kind of key the generator learns (shared by the
state-compatibility test and the script that wrote its reference file).

region <- shop <-> staff (cycle, broken at the nullable shop.manager_id; staff.boss_id
is a self-reference), orders (region_id implied through shop), line (junction
(order_id, product_id)), profile (one-to-one with staff), product (text codes),
route (composite key (route_id, seq) that no foreign key sets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth import Column, ForeignKey, Metadata, Table


def _table(name: str, cols: dict[str, tuple[str, bool]], pk: tuple[str, ...]) -> Table:
    return Table(
        name, tuple(Column(c, kind, nullable=null) for c, (kind, null) in cols.items()), pk
    )


def state_case() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """The metadata and source tables (deterministic)."""
    rng = np.random.default_rng(5)
    n_region, n_shop, n_staff, n_order, n_product = 4, 8, 24, 60, 10
    region = pd.DataFrame({"id": np.arange(1, n_region + 1), "x": rng.normal(0, 1, n_region)})
    shop = pd.DataFrame(
        {
            "id": np.arange(1, n_shop + 1),
            "region_id": rng.integers(1, n_region + 1, n_shop),
            "manager_id": pd.array(
                [s * 3 if s % 3 else None for s in range(1, n_shop + 1)], dtype="Int64"
            ),
        }
    )
    boss = [None if i < 4 else int(rng.integers(1, i + 1)) for i in range(1, n_staff + 1)]
    staff = pd.DataFrame(
        {
            "id": np.arange(1, n_staff + 1),
            "shop_id": rng.integers(1, n_shop + 1, n_staff),
            "boss_id": pd.array(boss, dtype="Int64"),
        }
    )
    order_shop = rng.integers(1, n_shop + 1, n_order)
    orders = pd.DataFrame(
        {
            "id": np.arange(1, n_order + 1),
            "shop_id": order_shop,
            "region_id": shop["region_id"].to_numpy()[order_shop - 1],
        }
    )
    product = pd.DataFrame({"code": [f"P{i:03d}" for i in range(1, n_product + 1)]})
    pairs = {(int(o), f"P{int(p):03d}") for o, p in rng.integers(1, [n_order, n_product], (150, 2))}
    line = pd.DataFrame(sorted(pairs), columns=["order_id", "product_id"])
    profile = pd.DataFrame({"staff_id": rng.choice(np.arange(1, n_staff + 1), 15, replace=False)})
    sizes = rng.integers(2, 7, 6)
    route = pd.DataFrame(
        {
            "route_id": np.repeat(np.arange(101, 107), sizes),
            "seq": np.concatenate([np.arange(1, s + 1) for s in sizes]),
        }
    )
    tables = {
        "region": _table("region", {"id": ("id", False), "x": ("numerical", False)}, ("id",)),
        "shop": _table(
            "shop",
            {"id": ("id", False), "region_id": ("id", False), "manager_id": ("id", True)},
            ("id",),
        ),
        "staff": _table(
            "staff",
            {"id": ("id", False), "shop_id": ("id", False), "boss_id": ("id", True)},
            ("id",),
        ),
        "orders": _table(
            "orders",
            {"id": ("id", False), "shop_id": ("id", False), "region_id": ("id", False)},
            ("id",),
        ),
        "product": _table("product", {"code": ("id", False)}, ("code",)),
        "line": _table(
            "line",
            {"order_id": ("id", False), "product_id": ("id", False)},
            ("order_id", "product_id"),
        ),
        "profile": _table("profile", {"staff_id": ("id", False)}, ("staff_id",)),
        "route": _table(
            "route", {"route_id": ("id", False), "seq": ("id", False)}, ("route_id", "seq")
        ),
    }
    fks = (
        ForeignKey("shop", ("region_id",), "region", ("id",)),
        ForeignKey("shop", ("manager_id",), "staff", ("id",), nullable=True),
        ForeignKey("staff", ("shop_id",), "shop", ("id",)),
        ForeignKey("staff", ("boss_id",), "staff", ("id",), nullable=True),
        ForeignKey("orders", ("shop_id",), "shop", ("id",)),
        ForeignKey("orders", ("region_id",), "region", ("id",)),
        ForeignKey("line", ("order_id",), "orders", ("id",)),
        ForeignKey("line", ("product_id",), "product", ("code",)),
        ForeignKey("profile", ("staff_id",), "staff", ("id",)),
    )
    frames = {
        "region": region,
        "shop": shop,
        "staff": staff,
        "orders": orders,
        "product": product,
        "line": line,
        "profile": profile,
        "route": route,
    }
    return Metadata(tables, fks), frames
