"""benchmarks/trend_keys.py: per-key trends, parent means and within-parent shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.trend_keys import (
    conditional_shapes,
    key_rows,
    order_agreement,
    parent_means,
    parents_with_children,
)
from relsynth import Column, ForeignKey, Metadata, Table

LABEL = "trips(hub) -> hubs(code)"


def _meta() -> Metadata:
    hubs = Table(
        "hubs",
        (Column("code", "id"), Column("alt", "numerical")),
        primary_key=("code",),
    )
    trips = Table(
        "trips",
        (Column("id", "id"), Column("hub", "id"), Column("delay", "numerical")),
        primary_key=("id",),
    )
    return Metadata(
        {"hubs": hubs, "trips": trips},
        (ForeignKey("trips", ("hub",), "hubs", ("code",)),),
    )


def _db(delay_of: dict[str, float], seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    hub = np.repeat(["a", "b", "c"], 200)
    delay = np.array([delay_of[h] for h in hub]) + rng.normal(0, 1, len(hub))
    return {
        "hubs": pd.DataFrame({"code": ["a", "b", "c", "d"], "alt": [1.0, 2.0, 3.0, 4.0]}),
        "trips": pd.DataFrame({"id": np.arange(len(hub)), "hub": hub, "delay": delay}),
    }


def test_a_swapped_parent_order_loses_the_pair_and_the_within_parent_shape() -> None:
    meta = _meta()
    assert meta.foreign_keys[0].label == LABEL
    real = _db({"a": 0.0, "b": 5.0, "c": 10.0}, seed=0)
    same = _db({"a": 0.0, "b": 5.0, "c": 10.0}, seed=1)
    swapped = _db({"a": 10.0, "b": 5.0, "c": 0.0}, seed=1)
    rows = key_rows(meta, real, [same, swapped]).set_index("child_aggregate")
    # three parents with children: rank correlations of +-1 only
    assert rows.loc["mean(delay)", "real"] == pytest.approx(1.0)
    assert rows.loc["mean(delay)", "score_0"] == pytest.approx(1.0)
    assert rows.loc["mean(delay)", "score_1"] == pytest.approx(0.0)
    assert parents_with_children(meta, real) == {LABEL: 3}

    means = parent_means(meta, real, [same, swapped], LABEL)
    assert set(means["source"]) == {"real", "synthetic_0", "synthetic_1"}
    agree = order_agreement(means, 2).set_index("aggregate")
    assert agree.loc["mean(delay)", "real order"] == "a < b < c"
    assert bool(agree.loc["mean(delay)", "same_0"]) and not agree.loc["mean(delay)", "same_1"]

    good = conditional_shapes(meta, real, same, LABEL)["delay"]
    bad = conditional_shapes(meta, real, swapped, LABEL)["delay"]
    assert good > 0.85  # two samples of N(mu, 1), 200 rows a parent
    # parents a and c lose their whole shape, b (the middle) keeps it
    assert bad == pytest.approx(1 / 3, abs=0.1)
