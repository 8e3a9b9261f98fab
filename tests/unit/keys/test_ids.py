"""Unit tests of key value formats."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from relsynth.keys import KeyFormat, learn_format

CASES = {
    "integer": [3, 4, 5, 6, 7, 9],
    "prefix_number": [
        "CNS2014-CNS_MUL-Weekday-00-4165878",
        "CNS2014-CNS_MUL-Weekday-00-4165879",
        "CNS2014-CNS_MUL-Saturday-00-4166001",
    ],
    "template": ["ALFKI", "ANATR", "ANTON", "AROUT", "BERGS", "BLAUS"],
    "uuid": ["550e8400-e29b-41d4-a716-446655440000", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"],
    "date_text": ["20140609", "20141006", "20141225"],
}


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_values_are_distinct_by_construction(kind, n, rng):
    fmt = learn_format(pd.Series(CASES[kind]))
    assert fmt.kind == kind
    values = fmt.generate(n, rng)
    assert len(values) == n and len(set(values.tolist())) == n


def test_codes_avoid_source_values_and_keep_shape(rng):
    source = ["ALFKI", "ANATR", "ANTON", "AROUT", "BERGS", "BLAUS", "BOLID"]
    values = learn_format(pd.Series(source)).generate(500, rng)
    assert not set(values) & set(source)
    assert all(re.fullmatch(r"[A-Z]{5}", v) for v in values)


def test_zero_padded_numbers_keep_padding(rng):
    source = ["01581", "01730", "02116", "10019", "98052"]
    values = learn_format(pd.Series(source)).generate(200, rng)
    assert all(re.fullmatch(r"\d{5}", v) for v in values)
    assert not set(values) & set(source)


def test_tail_numbers_keep_literal_prefix(rng):
    tails = ["UW", "US", "AA", "DN"] * 10
    source = [f"N{n}{s}" for n, s in zip(range(100, 140), tails, strict=True)]
    values = learn_format(pd.Series(source)).generate(300, rng)
    assert all(v.startswith("N") for v in values)
    assert len(set(values)) == 300 and not set(values) & set(source)


def test_sparse_integers_are_distinct_and_sorted(rng):
    values = learn_format(pd.Series([5, 900, 12000, 55555])).generate(100, rng)
    assert len(set(values)) == 100 and np.all(np.diff(values) > 0)


def test_positions_inside_groups_follow_the_source_steps(rng):
    fmt = learn_format(pd.Series([1, 2, 3, 1, 2]), groups=np.array([0, 0, 0, 1, 1]))
    out = fmt.at(np.array([0, 1, 2, 0, 1]), rng, groups=np.array([0, 0, 0, 1, 1]))
    assert out.tolist() == [1, 2, 3, 1, 2]


def test_datetime_keys(rng):
    stamps = pd.Series(pd.date_range("2013-01-01", periods=10, freq="h"))
    values = learn_format(stamps).generate(5, rng)
    assert pd.Series(values).diff().dropna().eq(pd.Timedelta("1h")).all()


def test_round_trip(rng):
    fmt = learn_format(pd.Series(CASES["template"]))
    again = KeyFormat.from_dict(fmt.to_dict())
    a = fmt.generate(20, np.random.default_rng(3))
    b = again.generate(20, np.random.default_rng(3))
    assert a.tolist() == b.tolist()


def test_datetime_keys_with_gaps_stay_spread_over_the_source_span(rng):
    # Setup: two airports, each with a random half of a year's hours (a split source).
    hours = pd.date_range("2013-01-01", "2013-12-31 23:00", freq="h")
    parts = [
        pd.Series(np.sort(rng.choice(hours, len(hours) // 2, replace=False))) for _ in range(2)
    ]
    values = pd.concat(parts, ignore_index=True)
    groups = np.repeat([0, 1], [len(p) for p in parts])
    fmt = learn_format(values, groups=groups)
    # Run: three synthetic airports of the same size.
    sizes = [len(parts[0])] * 3
    gid = np.repeat(np.arange(3), sizes)
    pos = pd.Series(gid).groupby(gid).cumcount().to_numpy()
    out = pd.Series(fmt.at(pos, rng, groups=gid))
    # Assert: distinct and increasing inside each airport, on whole hours, and spread
    # over the whole year (not January to June hour by hour).
    for g in range(3):
        stamps = out[gid == g]
        assert stamps.is_monotonic_increasing and stamps.is_unique
    assert (out.dt.minute == 0).all() and out.min() >= hours[0] and out.max() <= hours[-1]
    months = out.dt.month.value_counts(normalize=True)
    assert len(months) == 12 and months.max() < 0.1
    assert out.dt.hour.nunique() == 24


def test_a_split_hourly_series_keeps_its_hourly_grid(rng):
    # Setup: three stations, each with a random half of a year's hours: the median gap
    # of a half is 1 or 2 hours by chance, the most frequent gap is 1 hour.
    hours = pd.date_range("2013-01-01", "2013-12-31 23:00", freq="h")
    parts = [pd.Series(hours[rng.random(len(hours)) < 0.45]) for _ in range(3)]
    values = pd.concat(parts, ignore_index=True)
    groups = np.repeat(np.arange(3), [len(p) for p in parts])
    # Run
    fmt = learn_format(values, groups=groups)
    gid = np.repeat(np.arange(6), 3000)
    pos = pd.Series(gid).groupby(gid).cumcount().to_numpy()
    out = pd.Series(fmt.at(pos, rng, groups=gid))
    # Assert: every group steps by the hour, so odd and even hours are equally common.
    assert fmt.params["steps"] == [3600.0] * 3
    odd = (out.dt.hour % 2 == 1).mean()
    assert 0.47 < odd < 0.53


def test_irregular_gaps_keep_the_median_step(rng):
    fmt = learn_format(pd.Series([0, 3, 4, 9, 11, 30, 37]), groups=np.zeros(7, dtype=int))
    assert fmt.params["steps"] == [4.0]


def test_a_few_dates_on_a_calendar_keep_their_median_step():
    # Setup: two services' exception dates (GTFS calendar_dates): every gap is a whole
    # number of days and one gap is a single day, but 4 dates over 200 days fill 2 % of
    # the days: they are events, not a daily series with holes.
    dates = pd.to_datetime(["2014-06-09", "2014-10-06", "2014-12-25", "2014-12-26"] * 2)
    groups = np.repeat([0, 1], 4)
    # Run
    fmt = learn_format(pd.Series(dates), groups=groups)
    # Assert: each service steps by its median gap (80 days), not by one day.
    assert fmt.params["steps"] == [80 * 86400.0] * 2
