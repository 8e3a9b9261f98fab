"""A determined key's values follow the rows' set keys (keys/mixing.py).

The fleet of ``tests/unit/rules/test_determines.py`` (each plane flies for one
airline), with each airline flying mostly out of its own hub: flights are driven
by their origin airport, the plane is dealt by in-degree, and the airline is drawn
once per plane. Without the mix a flight's airline has nothing to do with its
origin; with it, the origin x airline table is the source's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth.keys import KeyGenerator
from relsynth.keys.mixing import fit_margins, mix_determined, round_margins
from relsynth.rules import measure, parse_rule
from tests.unit.rules.test_determines import ORIGIN, RULE, fleet_metadata, fleet_tables

COPIED = ("airports", "airlines")


def hub_tables(seed: int = 0, n_flights: int = 4000) -> dict[str, pd.DataFrame]:
    """The fleet, each airline's flights leaving its hub (airport ``airline + 1``) 85 %
    of the time."""
    tables = fleet_tables(seed, n_flights)
    rng = np.random.default_rng(seed + 1)
    flights = tables["flights"].copy()
    n_airports = len(tables["airports"])
    hub = flights["airline_id"].to_numpy()
    stray = rng.random(len(flights)) >= 0.85
    origin = np.where(stray, rng.integers(1, n_airports + 1, len(flights)), hub)
    flights["origin_id"] = origin
    tables["flights"] = flights
    return tables


@pytest.fixture(scope="module")
def hubs() -> tuple[relsynth.Metadata, dict[str, pd.DataFrame]]:
    return fleet_metadata(), hub_tables()


def _tv(a: pd.DataFrame, b: pd.DataFrame) -> float:
    cols = ["origin_id", "airline_id"]
    pa = a.groupby(cols).size() / len(a)
    pb = b.groupby(cols).size() / len(b)
    return float(0.5 * pa.sub(pb, fill_value=0).abs().sum())


def _sample(meta, tables, copied, seed=3):
    gen = KeyGenerator().fit(
        meta, tables, plan=relsynth.plan(meta, {"flights": ORIGIN}), copied=copied
    )
    done = {t: tables[t] for t in ("airports", "airlines", "planes")}
    rules = [parse_rule(RULE, meta)]
    rng = np.random.default_rng(seed)
    return gen.sample_table("flights", done, rng=rng, rules=rules, copied=copied)


def test_the_airline_follows_the_origin_and_stays_one_per_plane(hubs):
    meta, tables = hubs
    source = tables["flights"]
    flights = _sample(meta, tables, COPIED)
    # the origins' own counts (drawn by the driver) are off by about 0.1 already
    assert _tv(flights, source) < 0.15
    full = tables | {"flights": flights}
    assert measure(meta, full, parse_rule(RULE, meta))[0] == 1.0
    # without the joint model (nothing copied): today's dealing, the airline blind to the origin
    alone = _sample(meta, tables, ())
    assert _tv(alone, source) > 0.6
    assert measure(meta, tables | {"flights": alone}, parse_rule(RULE, meta))[0] == 1.0
    # the same seed gives the same keys
    pd.testing.assert_frame_equal(flights, _sample(meta, tables, COPIED))


def test_the_mix_keeps_degrees_slots_and_set_keys(hubs):
    """Redealing moves (plane, airline) slots between rows: every plane keeps its
    in-degree and airline, the origins stay where they are."""
    meta, tables = hubs
    gen = KeyGenerator().fit(
        meta, tables, plan=relsynth.plan(meta, {"flights": ORIGIN}), copied=COPIED
    )
    joint = gen.states_["flights"].joint
    assert joint is not None
    fks = list(meta.foreign_keys)
    a, b = fks.index(fks[1]), fks.index(fks[2])  # plane_id determines airline_id
    rng = np.random.default_rng(0)
    n = 3000
    plane = rng.integers(1, 91, n).astype(float)
    plane[rng.random(n) < 0.03] = np.nan  # a NULL plane is a slot of its own
    owner = rng.integers(1, 8, 91)
    known = owner[np.nan_to_num(plane).astype(int)]
    airline = np.where(np.isnan(plane), rng.integers(1, 8, n), known)
    frame = pd.DataFrame(
        {
            "origin_id": rng.integers(1, 13, n),
            "plane_id": pd.array(plane, dtype="Int64"),
            "airline_id": airline,
        }
    )
    before = frame.copy()
    done = {t: tables[t] for t in ("airports", "airlines", "planes")}
    mix_determined(frame, joint, fks, done, b, {b: a}, rng)
    pd.testing.assert_series_equal(frame["origin_id"], before["origin_id"])
    slots = ["plane_id", "airline_id"]
    pd.testing.assert_series_equal(
        frame[slots].value_counts(dropna=False).sort_index(),
        before[slots].value_counts(dropna=False).sort_index(),
    )
    assert frame.dropna().groupby("plane_id")["airline_id"].nunique().max() == 1
    # flights leaving their airline's hub: the source 0.86; here 7 of the 12 airports
    # (as many rows each) are hubs, so about 7/12 of that at most, and 1/12 by chance
    assert (before["origin_id"] == before["airline_id"]).mean() < 0.12
    assert (frame["origin_id"] == frame["airline_id"]).mean() > 0.45
    # a key no Determines rule ties, or no joint model: nothing moves
    again = before.copy()
    mix_determined(again, joint, fks, done, b, {}, rng)
    mix_determined(again, None, fks, done, b, {b: a}, rng)
    pd.testing.assert_frame_equal(again, before)


def test_margins_are_fitted_and_rounded_exactly():
    rng = np.random.default_rng(5)
    for _ in range(30):
        seed = rng.integers(0, 20, (4, 6)) * (rng.random((4, 6)) < 0.6)
        rows = rng.integers(0, 40, 4)
        cols = rng.multinomial(int(rows.sum()), np.full(6, 1 / 6))
        table = fit_margins(seed, rows, cols)
        assert np.allclose(table.sum(axis=1), rows, atol=1e-3 * max(rows.sum(), 1) + 1e-9)
        counts = round_margins(table, rows, cols, rng)
        assert (counts >= 0).all()
        assert (counts.sum(axis=1) == rows).all() and (counts.sum(axis=0) == cols).all()
    # margins the source table fits: its shape is kept (a source zero stays zero)
    seed = np.array([[30.0, 0.0, 10.0], [0.0, 20.0, 20.0]])
    rows, cols = np.array([40, 40]), np.array([30, 20, 30])
    counts = round_margins(fit_margins(seed, rows, cols), rows, cols, rng)
    assert counts[0, 1] == 0 and counts[1, 0] == 0
    assert (counts == [[30, 0, 10], [0, 20, 20]]).all()


def test_synthesizer_chunks_keep_the_mix_and_agree_across_workers(hubs):
    """Airports and airlines as reference tables (copied, so the joint model exists):
    sampled in chunks on one or two workers, the flights are the same and leave their
    airline's hub as the source's do."""
    meta, tables = hubs
    for name in COPIED:
        meta = meta.with_table(replace(meta[name], reference=True))
    synth = relsynth.Synthesizer(meta, seed=0, steps=5, n_threads=1, drivers={"flights": ORIGIN})
    synth.fit(tables)
    runs = [
        list(synth.sample_chunks(scale=1.0, seed=2, chunk_rows=2000, n_jobs=jobs))
        for jobs in (1, 2)
    ]
    for one, two in zip(*runs, strict=True):
        pd.testing.assert_frame_equal(one["flights"], two["flights"])
    assert len(runs[0]) >= 2
    for chunk in runs[0]:  # each chunk draws its planes' airlines (the planes are shared)
        flights = chunk["flights"]
        assert (flights["origin_id"] == flights["airline_id"]).mean() > 0.65
        assert flights.dropna().groupby("plane_id")["airline_id"].nunique().max() == 1
