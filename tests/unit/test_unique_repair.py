"""Unique constraints on learned columns hold even when a model collapses on one value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, Metadata, Table
from relsynth._columns import TableLayout
from relsynth.synthesis._finish import enforce_unique as _enforce_unique


def _meta(unique: tuple[str, ...], kind: str) -> Metadata:
    table = Table(
        "t",
        (Column("id", "id"), Column("kind", "categorical"), Column("value", kind)),
        primary_key=("id",),
        unique=(unique,),
    )
    return Metadata({"t": table}, ())


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("datetime", pd.to_datetime(["2021-02-18"] * 300 + ["2021-02-19"] * 300)),
        ("numerical", np.array([7] * 300 + [8] * 300, dtype=np.int64)),
        ("numerical", np.array([0.5] * 600)),
        ("categorical", np.array(["x"] * 500 + ["x 2"] * 100, dtype=object)),
    ],
)
def test_collapsed_columns_become_unique(kind, values):
    frame = pd.DataFrame({"id": np.arange(600), "kind": ["a"] * 600, "value": values})
    layout = TableLayout(keys=("id",), learned=("kind", "value"), kinds={"value": kind})
    out = _enforce_unique(_meta(("kind", "value"), kind), "t", frame.copy(), layout)
    assert not out.duplicated(["kind", "value"]).any()
    assert out["id"].equals(frame["id"])  # keys untouched
    if kind != "categorical":  # text comes back as object; the synthesizer restores dtypes
        assert out["value"].dtype == frame["value"].dtype
    assert out["value"].iloc[0] == frame["value"].iloc[0]  # the first row is never moved
