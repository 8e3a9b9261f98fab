"""A small hand-built shop with one rule of each kind (shared by the rule tests)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from relsynth import Column, ForeignKey, Metadata, Table


def shop_metadata() -> Metadata:
    """customer <- rental <- payment (and payment -> customer: a diamond);
    invoice <- line (total = sum(price * qty))."""
    return Metadata(
        tables={
            "customer": Table(
                "customer",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("country", "categorical", "VARCHAR(20)"),
                    Column("joined", "datetime", "DATE"),
                ),
                primary_key=("id",),
            ),
            "rental": Table(
                "rental",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("customer_id", "id", "INTEGER", False),
                    Column("rental_date", "datetime", "DATE"),
                    Column("rate", "numerical", "NUMERIC(6, 2)"),
                ),
                primary_key=("id",),
            ),
            "payment": Table(
                "payment",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("customer_id", "id", "INTEGER", False),
                    Column("rental_id", "id", "INTEGER", False),
                    Column("payment_date", "datetime", "DATE"),
                    Column("amount", "numerical", "NUMERIC(6, 2)"),
                    Column("country", "categorical", "VARCHAR(20)"),
                ),
                primary_key=("id",),
            ),
            "invoice": Table(
                "invoice",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("total", "numerical", "NUMERIC(8, 2)"),
                    Column("n_lines", "numerical", "INTEGER"),
                ),
                primary_key=("id",),
            ),
            "line": Table(
                "line",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("invoice_id", "id", "INTEGER", False),
                    Column("price", "numerical", "NUMERIC(6, 2)"),
                    Column("qty", "numerical", "INTEGER"),
                ),
                primary_key=("id",),
            ),
        },
        foreign_keys=(
            ForeignKey("rental", ("customer_id",), "customer", ("id",)),
            ForeignKey("payment", ("rental_id",), "rental", ("id",)),
            ForeignKey("payment", ("customer_id",), "customer", ("id",)),
            ForeignKey("line", ("invoice_id",), "invoice", ("id",)),
        ),
    )


def shop_tables(seed: int = 0, n_customers: int = 120) -> dict[str, pd.DataFrame]:
    """Data where every rule of :func:`shop_metadata` holds exactly."""
    rng = np.random.default_rng(seed)
    countries = np.array(["FR", "DE", "US", "JP", "BR"])
    joined = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n_customers), "D")
    customer = pd.DataFrame(
        {"id": np.arange(1, n_customers + 1), "country": rng.choice(countries, n_customers),
         "joined": joined}
    )  # fmt: skip
    n_rent = n_customers * 3
    cust = rng.integers(1, n_customers + 1, n_rent)
    rdate = (
        customer["joined"].to_numpy()[cust - 1]
        + pd.to_timedelta(rng.integers(0, 300, n_rent), "D").to_numpy()
    )
    rental = pd.DataFrame(
        {"id": np.arange(1, n_rent + 1), "customer_id": cust, "rental_date": rdate,
         "rate": rng.choice([0.99, 2.99, 4.99], n_rent)}
    )  # fmt: skip
    n_pay = n_rent * 2
    rent = rng.integers(1, n_rent + 1, n_pay)
    payment = pd.DataFrame(
        {
            "id": np.arange(1, n_pay + 1),
            "customer_id": rental["customer_id"].to_numpy()[rent - 1],
            "rental_id": rent,
            "payment_date": rental["rental_date"].to_numpy()[rent - 1]
            + pd.to_timedelta(rng.integers(0, 10, n_pay), "D").to_numpy(),
            "amount": np.round(rng.gamma(2.0, 3.0, n_pay), 2),
            "country": customer["country"].to_numpy()[
                rental["customer_id"].to_numpy()[rent - 1] - 1
            ],
        }
    )
    n_inv = n_customers * 2
    n_line = n_inv * 4
    inv = rng.integers(1, n_inv + 1, n_line)
    line = pd.DataFrame(
        {"id": np.arange(1, n_line + 1), "invoice_id": inv,
         "price": rng.choice([0.99, 1.99, 4.5, 9.99], n_line), "qty": rng.integers(1, 5, n_line)}
    )  # fmt: skip
    totals = (line["price"] * line["qty"]).groupby(line["invoice_id"]).sum()
    counts = line.groupby("invoice_id").size()
    ids = np.arange(1, n_inv + 1)
    invoice = pd.DataFrame(
        {"id": ids, "total": np.round(totals.reindex(ids, fill_value=0.0).to_numpy(), 2),
         "n_lines": counts.reindex(ids, fill_value=0).to_numpy()}
    )  # fmt: skip
    return {"customer": customer, "rental": rental, "payment": payment, "invoice": invoice,
            "line": line}  # fmt: skip


def shop_with_due(
    seed: int = 5, n_customers: int = 120
) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """The shop with ``rental.due`` (3 to 12 days after the rental) and every payment
    between its rental and that due date: two order rules on one column."""
    meta, tables = shop_metadata(), shop_tables(n_customers=n_customers)
    rental = meta.tables["rental"]
    due = Column("due", "datetime", "DATE")
    meta = replace(
        meta, tables={**meta.tables, "rental": replace(rental, columns=(*rental.columns, due))}
    )
    rng = np.random.default_rng(seed)
    rent = tables["rental"].copy()
    rent["due"] = rent["rental_date"] + pd.to_timedelta(rng.integers(3, 13, len(rent)), "D")
    pay = tables["payment"].copy()
    start = pay["rental_id"].map(rent.set_index("id")["rental_date"])
    span = (pay["rental_id"].map(rent.set_index("id")["due"]) - start).dt.days
    days = np.floor(rng.random(len(pay)) * (span + 1))
    pay["payment_date"] = start + pd.to_timedelta(days, "D")
    return meta, {**tables, "rental": rent, "payment": pay}
