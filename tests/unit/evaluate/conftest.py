"""A small shop database with known structure, for the evaluation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, Table


def shop_metadata() -> Metadata:
    """customers -> orders -> items, items -> products (secondary); employees self-reference."""
    return Metadata(
        {
            "customers": Table(
                "customers",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("name", "text", "TEXT", pii="name"),
                    Column("age", "numerical", "INTEGER"),
                    Column("segment", "categorical", "TEXT"),
                    Column("signup", "datetime", "DATETIME"),
                ),
                primary_key=("id",),
            ),
            "products": Table(
                "products",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("price", "numerical", "REAL"),
                    Column("category", "categorical", "TEXT"),
                ),
                primary_key=("id",),
            ),
            "orders": Table(
                "orders",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("customer_id", "id", "INTEGER", False),
                    Column("amount", "numerical", "REAL"),
                    Column("status", "categorical", "TEXT"),
                    Column("paid", "boolean", "BOOLEAN"),
                ),
                primary_key=("id",),
            ),
            "items": Table(
                "items",
                (
                    Column("order_id", "id", "INTEGER", False),
                    Column("product_id", "id", "INTEGER", False),
                    Column("quantity", "numerical", "INTEGER"),
                ),
                primary_key=("order_id", "product_id"),
            ),
        },
        (
            ForeignKey("orders", ("customer_id",), "customers", ("id",)),
            ForeignKey("items", ("order_id",), "orders", ("id",)),
            ForeignKey("items", ("product_id",), "products", ("id",)),
        ),
    )


def shop_tables(seed: int = 0, n_customers: int = 400) -> dict[str, pd.DataFrame]:
    """Tables for :func:`shop_metadata`: older customers order more and spend more."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_customers)
    customers = pd.DataFrame(
        {
            "id": np.arange(1, n_customers + 1),
            "name": [f"person {i}" for i in range(n_customers)],
            "age": age,
            "segment": rng.choice(["retail", "pro", "vip"], n_customers, p=[0.6, 0.3, 0.1]),
            "signup": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, n_customers), unit="D"),
        }
    )
    n_products = 30
    products = pd.DataFrame(
        {
            "id": np.arange(1, n_products + 1),
            "price": rng.gamma(2.0, 10.0, n_products).round(2),
            "category": rng.choice(["a", "b", "c"], n_products),
        }
    )
    per_customer = rng.poisson(age / 20)
    owner = np.repeat(customers["id"].to_numpy(), per_customer)
    n_orders = len(owner)
    owner_age = np.repeat(age, per_customer)
    amount = (owner_age * 2 + rng.normal(0, 10, n_orders)).round(2)
    orders = pd.DataFrame(
        {
            "id": np.arange(1, n_orders + 1),
            "customer_id": owner,
            "amount": amount,
            "status": np.where(amount > 100, "large", rng.choice(["new", "done"], n_orders)),
            "paid": rng.random(n_orders) < 0.8,
        }
    )
    rows = []
    for order_id in orders["id"]:
        for product_id in rng.choice(n_products, rng.integers(1, 4), replace=False) + 1:
            rows.append((order_id, product_id, int(rng.integers(1, 5))))
    items = pd.DataFrame(rows, columns=["order_id", "product_id", "quantity"])
    return {"customers": customers, "products": products, "orders": orders, "items": items}


@pytest.fixture(scope="session")
def shop_meta() -> Metadata:
    return shop_metadata()


@pytest.fixture(scope="session")
def shop() -> dict[str, pd.DataFrame]:
    return shop_tables(0)


@pytest.fixture(scope="session")
def shop_other() -> dict[str, pd.DataFrame]:
    """An independent draw from the same generator (fresh data, same distributions)."""
    return shop_tables(1)
