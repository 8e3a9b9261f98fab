"""Secondary keys matched on the child's values (keys/preference.py): a child whose
number depends on its secondary parent's value keeps that dependence, and every
parent keeps its in-degree."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth import Column, ForeignKey, Metadata, Synthesizer, Table, check
from relsynth.keys import KeyGenerator
from relsynth.keys._frames import locate
from relsynth.keys.preference import ValuePreference


def _trips(n_trips: int = 3000) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """person <- trip (driver) -> city (secondary); trip.km = 3 * city.x + noise, so a
    trip's distance says where it went; city in-degrees are skewed."""
    rng = np.random.default_rng(0)
    meta = Metadata(
        tables={
            "person": Table("person", (Column("id", "id"), Column("age", "numerical")),
                            primary_key=("id",)),
            "city": Table("city", (Column("id", "id"), Column("x", "numerical"),
                                   Column("hilly", "boolean")), primary_key=("id",)),
            "trip": Table("trip", (Column("id", "id"), Column("person_id", "id"),
                                   Column("city_id", "id"), Column("km", "numerical"),
                                   Column("month", "categorical")), primary_key=("id",)),
        },
        foreign_keys=(
            ForeignKey("trip", ("person_id",), "person", ("id",)),
            ForeignKey("trip", ("city_id",), "city", ("id",)),
        ),
    )  # fmt: skip
    n_city = 80
    x = rng.uniform(0, 100, n_city)
    weight = rng.gamma(0.7, 1.0, n_city)
    city_of = rng.choice(n_city, n_trips, p=weight / weight.sum())
    tables = {
        "person": pd.DataFrame({"id": range(600), "age": rng.normal(40, 10, 600)}),
        "city": pd.DataFrame({"id": range(n_city), "x": x, "hilly": rng.random(n_city) < 0.3}),
        "trip": pd.DataFrame({
            "id": range(n_trips),
            "person_id": rng.integers(0, 600, n_trips),
            "city_id": city_of,
            "km": 3 * x[city_of] + rng.normal(0, 2, n_trips),
            "month": rng.choice(["jan", "feb", "mar"], n_trips),
        }),
    }  # fmt: skip
    return meta, tables


def _matched_x(trip: pd.DataFrame, city: pd.DataFrame) -> np.ndarray:
    idx = locate(trip, ["city_id"], city, ["id"])
    return city["x"].to_numpy()[idx]


def _degrees(trip: pd.DataFrame, city: pd.DataFrame) -> np.ndarray:
    idx = locate(trip, ["city_id"], city, ["id"])
    return np.bincount(idx[idx >= 0], minlength=len(city))


def test_preference_reads_the_columns_that_explain_the_parent():
    meta, tables = _trips()
    gen = KeyGenerator().fit(meta, tables)
    (sec,) = gen.states_["trip"].secondary
    assert sec.preference is not None
    assert sec.preference.columns == ("km",)  # not the month: it says nothing of the city
    state = sec.preference.to_dict()
    again = ValuePreference.from_dict(state)
    assert again.columns == ("km",) and again.points.shape == sec.preference.points.shape
    assert KeyGenerator.from_dict(gen.to_dict()).states_["trip"].secondary[0].preference


def test_values_drawn_apart_from_their_parent_are_matched_back_degrees_kept():
    meta, tables = _trips()
    gen = KeyGenerator().fit(meta, tables)
    rng = np.random.default_rng(3)
    done = {"person": tables["person"], "city": tables["city"]}
    keys = gen.sample_table("trip", done, rng=rng)
    # the values as a model that ignored the parent would draw them: real distances,
    # in random order
    frame = keys.assign(km=rng.permutation(tables["trip"]["km"].to_numpy())[: len(keys)])
    before = np.corrcoef(frame["km"], _matched_x(frame, tables["city"]))[0, 1]
    matched = gen.match_values("trip", frame, done, rng=rng)
    after = np.corrcoef(matched["km"], _matched_x(matched, tables["city"]))[0, 1]
    assert abs(before) < 0.2 and after > 0.95, (before, after)
    # every parent keeps the in-degree it was dealt; nothing else moves
    np.testing.assert_array_equal(
        _degrees(matched, tables["city"]), _degrees(frame, tables["city"])
    )
    pd.testing.assert_frame_equal(matched.drop(columns="city_id"), frame.drop(columns="city_id"))
    # without the parent's values (keys sampled alone) nothing is matched
    bare = {"person": tables["person"][["id"]], "city": tables["city"][["id"]]}
    assert gen.match_values("trip", frame, bare, rng=rng) is frame


def test_synthesizer_keeps_the_dependence_on_the_secondary_parent():
    meta, tables = _trips()
    synth = Synthesizer(meta, seed=0, steps=60, n_threads=1).fit(tables)
    fake = synth.sample(seed=1)
    assert check(meta, fake).ok
    real = np.corrcoef(tables["trip"]["km"], _matched_x(tables["trip"], tables["city"]))[0, 1]
    corr = np.corrcoef(fake["trip"]["km"], _matched_x(fake["trip"], fake["city"]))[0, 1]
    assert real > 0.99 and corr > 0.9, corr
    # the in-degrees follow the source's distribution (sorted, as shares of the rows)
    got = np.sort(_degrees(fake["trip"], fake["city"]))[::-1] / len(fake["trip"])
    want = np.sort(_degrees(tables["trip"], tables["city"]))[::-1] / len(tables["trip"])
    assert np.abs(np.cumsum(got) - np.cumsum(want)).max() < 0.05


def test_a_copied_parent_keeps_each_rows_source_in_degree():
    from dataclasses import replace

    meta, tables = _trips()
    meta = meta.with_table(replace(meta.table("city"), reference=True))
    synth = Synthesizer(meta, seed=0, steps=30, n_threads=1).fit(tables)
    assert synth.fit_info_.models["city"] == "copy"
    (sec,) = synth.key_generator_.states_["trip"].secondary
    real = _degrees(tables["trip"], tables["city"])
    assert sec.source_degree == {str(i): int(d) for i, d in enumerate(real) if d >= 2}
    fake = synth.sample(seed=1)
    got = _degrees(fake["trip"], fake["city"])
    # the busiest cities of the source are the busiest of the copy (rank correlation)
    rank = np.corrcoef(np.argsort(np.argsort(real)), np.argsort(np.argsort(got)))[0, 1]
    assert rank > 0.95, rank
    corr = np.corrcoef(fake["trip"]["km"], _matched_x(fake["trip"], fake["city"]))[0, 1]
    assert corr > 0.9, corr


def test_the_model_file_keeps_no_point_or_level_of_one_source_row():
    meta, tables = _trips()
    trip = tables["trip"].copy()
    # a level one row holds, and a value that strongly says where it went (the month
    # column now explains the city through the one-off level's row only)
    trip["month"] = np.where(trip.index == 7, "one-off", trip["month"])
    tables = {**tables, "trip": trip}
    gen = KeyGenerator().fit(meta, tables)
    pref = gen.states_["trip"].secondary[0].preference
    assert pref is not None
    state = pref.to_dict()
    assert "one-off" not in str(state)
    # every kept pair of a point and a parent stands for two or more source rows (3,000
    # rows: all of them are kept, none subsampled)
    pairs = np.round(np.hstack([pref.points, pref.targets]), 5)
    assert np.unique(pairs, axis=0, return_counts=True)[1].min() >= 2
    # km is continuous (nearly every value one row's, at the 5 digits stored): it is
    # kept to its percentile
    u = pref.points[:, 0] / np.sqrt(12.0) / np.sqrt(pref.encoders[0]["share"]) + 0.5
    assert (np.abs(u - np.round(u * 100) / 100) < 1e-4).mean() > 0.95


def test_a_value_many_rows_share_is_kept_exactly():
    meta, tables = _trips(1500)
    # every trip twice (as routes: a distance many flights to one city share)
    trip = pd.concat([tables["trip"], tables["trip"]], ignore_index=True)
    trip["id"] = range(len(trip))
    gen = KeyGenerator().fit(meta, {**tables, "trip": trip})
    pref = gen.states_["trip"].secondary[0].preference
    assert pref is not None
    u = pref.points[:, 0] / np.sqrt(12.0) / np.sqrt(pref.encoders[0]["share"]) + 0.5
    off_grid = np.abs(u - np.round(u * 100) / 100) > 1e-4
    assert off_grid.mean() > 0.9  # exact quantiles, not percentiles
