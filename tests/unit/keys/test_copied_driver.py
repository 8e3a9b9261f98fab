"""A table driven by a parent copied verbatim (a lookup or reference table): each
parent row keeps its own source child count's rank, so the children of the busy
source rows go to those rows, not to rows whose features look alike."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from relsynth import Column, ForeignKey, Metadata, Synthesizer, Table, check
from relsynth.keys._frames import locate
from relsynth.keys.drivers import DriverFit


def _stations() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """city (60 rows, two look-alike groups) <- station (driver): three cities hold
    every station, the other 57 none; the cities' features do not tell them apart."""
    rng = np.random.default_rng(0)
    meta = Metadata(
        tables={
            "city": Table("city", (Column("code", "id"), Column("zone", "categorical")),
                          primary_key=("code",), reference=True),
            "station": Table("station", (Column("id", "id"), Column("city", "id"),
                                         Column("load", "numerical")), primary_key=("id",)),
        },
        foreign_keys=(ForeignKey("station", ("city",), "city", ("code",)),),
    )  # fmt: skip
    codes = [f"C{i:02d}" for i in range(60)]
    city = pd.DataFrame({"code": codes, "zone": ["a", "b"] * 30})
    busy = np.repeat(["C07", "C22", "C41"], [500, 300, 200])
    station = pd.DataFrame(
        {"id": range(len(busy)), "city": busy, "load": rng.normal(size=len(busy))}
    )
    return meta, {"city": city, "station": station}


def _counts(child: pd.DataFrame, parent: pd.DataFrame) -> np.ndarray:
    idx = locate(child, ["city"], parent, ["code"])
    return np.bincount(idx[idx >= 0], minlength=len(parent))


def test_children_of_a_copied_driver_parent_go_to_its_busy_rows():
    meta, tables = _stations()
    synth = Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    assert synth.fit_info_.models["city"] == "copy"
    driver = synth.key_generator_.states_["station"].driver
    assert driver is not None
    assert driver.source_counts == {"C07": 500, "C22": 300, "C41": 200}
    assert DriverFit.from_dict(driver.to_dict()).source_counts == driver.source_counts
    for scale in (1.0, 2.0):
        fake = synth.sample(scale=scale, seed=3)
        assert check(meta, fake).ok
        got = _counts(fake["station"], fake["city"])
        busy = got[[7, 22, 41]]
        # every station in a city the source's stations are in, the busiest first
        assert busy.sum() == got.sum() > 0
        assert busy[0] >= busy[1] >= busy[2], busy


def test_a_parent_that_is_not_copied_keeps_no_source_counts():
    meta, tables = _stations()
    meta = meta.with_table(replace(meta.table("city"), reference=False))
    synth = Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    driver = synth.key_generator_.states_["station"].driver
    assert driver is not None and driver.source_counts is None


def test_given_rows_of_a_copied_driver_parent_keep_their_source_counts():
    # seeded sampling: a handful of drawn counts says nothing of which rows are busy
    meta, tables = _stations()
    synth = Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    given = tables["city"].iloc[[7, 22, 0]].reset_index(drop=True)
    for scale in (1.0, 0.01):  # the scale sizes the roots, not the given rows' children
        fake = synth.sample(parents={"city": given}, scale=scale, seed=2)
        assert check(meta, fake).ok
        got = fake["station"]["city"].value_counts().to_dict()
        assert got == {"C07": 500, "C22": 300}, got
