"""Columns whose synthetic values are mostly new ones stay out of children's contexts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, Synthesizer, Table
from relsynth._columns import TableLayout
from relsynth.synthesis._context import parent_features


def _shop(seed: int = 0) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """customer <- orders <- line: every customer's name its own (a date beside it: no
    lookup table), each order shipped to its customer's name (an equality rule), a
    line's quantity set by the customer's country."""
    meta = Metadata(
        tables={
            "customer": Table(
                "customer",
                (
                    Column("id", "id"),
                    Column("name", "categorical"),
                    Column("country", "categorical"),
                    Column("joined", "datetime"),
                ),
                primary_key=("id",),
            ),
            "orders": Table(
                "orders",
                (
                    Column("id", "id"),
                    Column("customer_id", "id"),
                    Column("ship_name", "categorical"),
                    Column("freight", "numerical"),
                ),
                primary_key=("id",),
            ),  # fmt: skip
            "line": Table(
                "line",
                (Column("id", "id"), Column("order_id", "id"), Column("qty", "numerical")),
                primary_key=("id",),
            ),
        },
        foreign_keys=(
            ForeignKey("orders", ("customer_id",), "customer", ("id",)),
            ForeignKey("line", ("order_id",), "orders", ("id",)),
        ),
    )
    rng = np.random.default_rng(seed)
    n_c, n_o, n_l = 60, 400, 1200
    country = rng.choice(["DE", "FR", "US"], n_c)
    joined = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n_c), "D")
    customer = pd.DataFrame(
        {"id": np.arange(n_c), "name": [f"Shop {i}" for i in range(n_c)], "country": country,
         "joined": joined}
    )  # fmt: skip
    cust = rng.integers(0, n_c, n_o)
    orders = pd.DataFrame(
        {"id": np.arange(n_o), "customer_id": cust, "ship_name": customer["name"].to_numpy()[cust],
         "freight": np.round(rng.gamma(2.0, 20.0, n_o), 2)}
    )  # fmt: skip
    order = rng.integers(0, n_o, n_l)
    big = country[cust[order]] == "US"
    line = pd.DataFrame(
        {"id": np.arange(n_l), "order_id": order,
         "qty": np.where(big, rng.integers(40, 60, n_l), rng.integers(1, 10, n_l))}
    )  # fmt: skip
    return meta, {"customer": customer, "orders": orders, "line": line}


@pytest.fixture(scope="module")
def fitted() -> tuple[Metadata, dict[str, pd.DataFrame], Synthesizer]:
    meta, tables = _shop()
    return meta, tables, Synthesizer(meta, seed=0, steps=30, n_jobs=1).fit(tables)


def test_withheld_names_and_their_copies_are_generated(fitted):
    _, tables, synth = fitted
    assert "orders.ship_name = orders.customer_id -> customer.name" in map(str, synth.rules_)
    layouts = synth.layouts_
    assert layouts["customer"].generated == ("name",)
    assert layouts["orders"].generated == ("ship_name",)
    assert layouts["line"].generated == ()
    # the line's context has the order's freight, not its ship name (new at sampling)
    features = parent_features(tables["orders"], "orders", layouts)
    assert list(features.columns) == ["orders.freight"]


def test_generated_columns_travel_in_the_model_file(fitted, tmp_path):
    _, _, synth = fitted
    synth.save(tmp_path / "m.rsm")
    loaded = Synthesizer.load(tmp_path / "m.rsm")
    assert loaded.layouts_ == synth.layouts_
    # a layout saved before the field reads with none
    data = synth.layouts_["orders"].to_dict()
    assert data["generated"] == ["ship_name"]
    del data["generated"]
    assert TableLayout.from_dict(data).generated == ()


def test_nothing_is_generated_when_nothing_is_withheld():
    meta, tables = _shop()
    synth = Synthesizer(meta, seed=0, steps=5, n_jobs=1, min_category_count=1).fit(tables)
    assert all(layout.generated == () for layout in synth.layouts_.values())
