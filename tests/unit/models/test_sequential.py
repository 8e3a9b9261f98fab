"""SequenceModel: order and monotone columns always hold; lengths honoured; GTFS stop_times."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from relsynth.errors import DataError, ParameterError  # noqa: E402
from relsynth.models import SequenceModel  # noqa: E402
from tests.conftest import dataset_path  # noqa: E402

SMALL = {"n_threads": 1, "device": "cpu", "hidden_dim": 32, "noise_dim": 8, "batch_size": 32}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _per_sequence_ok(frame: pd.DataFrame, lengths: np.ndarray, col: str, strict: bool) -> bool:
    seq = np.repeat(np.arange(len(lengths)), lengths)
    diffs = frame.groupby(seq)[col].apply(lambda s: np.diff(s.dropna().to_numpy(dtype=float)))
    return all(bool(np.all(d > 0 if strict else d >= 0)) for d in diffs)


def _stop_times() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    path = dataset_path("gtfs_cairns")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        st = pd.read_sql("select * from stop_times", con)
        trips = pd.read_sql("select * from trips", con).set_index("trip_id")
    for c in ("arrival_time", "departure_time"):  # GTFS times may pass 24:00:00
        parts = st[c].str.split(":", expand=True).astype(float)
        st[c] = parts[0] * 3600 + parts[1] * 60 + parts[2]
    st = st.sort_values(["trip_id", "stop_sequence"]).reset_index(drop=True)
    order = st["trip_id"].drop_duplicates().to_numpy()
    lengths = st.groupby("trip_id", sort=False).size().loc[order].to_numpy()
    ctx = trips.loc[order, ["route_id", "service_id", "direction_id"]].reset_index(drop=True)
    return st.drop(columns=["trip_id", "stop_id"]), ctx.add_prefix("trips."), lengths


def test_gtfs_stop_times_order_and_times_always_hold() -> None:
    table, ctx, lengths = _stop_times()
    model = SequenceModel(
        order_column="stop_sequence",
        monotone_columns=["arrival_time", "departure_time"],
        seed=0,
        epochs=1,
        **SMALL,
    )
    model.fit(table, ctx, lengths=lengths)
    out = model.sample(ctx, lengths=lengths, seed=0)
    assert len(out) == lengths.sum()
    pd.testing.assert_series_equal(out.dtypes, table.dtypes)
    assert _per_sequence_ok(out, lengths, "stop_sequence", strict=True)
    assert _per_sequence_ok(out, lengths, "arrival_time", strict=False)
    assert _per_sequence_ok(out, lengths, "departure_time", strict=False)
    assert out["arrival_time"].max() <= table["arrival_time"].max()


def _planted(rng: np.random.Generator, n_seq: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    lengths = rng.integers(0, 8, n_seq)
    rate = rng.choice([10.0, 100.0], n_seq)
    ctx = pd.DataFrame({"parent.rate": rate})
    seq = np.repeat(np.arange(n_seq), lengths)
    when = pd.Timestamp("2022-01-01") + pd.to_timedelta(
        np.concatenate([np.cumsum(rng.integers(0, 3, k)) for k in lengths]), "D"
    )
    table = pd.DataFrame(
        {
            "when": when.astype("datetime64[ns]"),
            "total": np.concatenate(
                [np.cumsum(rng.poisson(r, k)) for r, k in zip(rate, lengths, strict=True)]
            ).astype(np.int64),
            "kind": pd.Series(rng.choice(["x", "y"], len(seq)), dtype="str"),
        }
    )
    return table, ctx, lengths


def test_monotone_increments_follow_context_and_zero_lengths(rng) -> None:
    table, ctx, lengths = _planted(rng, 300)
    model = SequenceModel(
        order_column="when", monotone_columns=["total"], seed=0, epochs=50, **SMALL
    ).fit(table, ctx, lengths=lengths)
    new_lengths = np.array([0, 6, 6, 0, 6, 6] * 40)
    new_ctx = pd.DataFrame({"parent.rate": np.tile([10.0, 10.0, 100.0, 100.0, 10.0, 100.0], 40)})
    out = model.sample(new_ctx, lengths=new_lengths, seed=3)
    assert len(out) == new_lengths.sum()
    assert _per_sequence_ok(out, new_lengths, "when", strict=False)
    assert _per_sequence_ok(out, new_lengths, "total", strict=False)
    seq = np.repeat(np.arange(len(new_lengths)), new_lengths)
    last = out.groupby(seq)["total"].last() - out.groupby(seq)["total"].first()
    rate = new_ctx["parent.rate"].to_numpy()[new_lengths > 0]
    assert last[rate == 100.0].mean() > 1.8 * last[rate == 10.0].mean()


def test_empty_sample_and_errors(rng) -> None:
    table, ctx, lengths = _planted(rng, 20)
    model = SequenceModel(order_column="when", seed=0, epochs=1, **SMALL)
    with pytest.raises(ParameterError, match="needs 'lengths'"):
        model.fit(table, ctx)
    with pytest.raises(DataError, match="sums to"):
        model.fit(table, ctx, lengths=lengths + 1)
    with pytest.raises(ParameterError, match="'missing'"):
        SequenceModel(order_column="missing").fit(table, ctx, lengths=lengths)
    model.fit(table, ctx, lengths=lengths)
    empty = model.sample(ctx.iloc[:3], lengths=np.zeros(3, dtype=int), seed=0)
    assert len(empty) == 0
    pd.testing.assert_series_equal(empty.dtypes, table.dtypes)
    with pytest.raises(DataError, match="one context row per sequence"):
        model.sample(ctx, lengths=np.ones(3, dtype=int))


def test_calibration_fixes_step_marginals_and_keeps_order(rng) -> None:
    # Setup: 300 sequences; a skewed category per step and increasing times.
    lengths = rng.integers(3, 12, 300)
    n = int(lengths.sum())
    table = pd.DataFrame(
        {
            "t": np.concatenate([np.cumsum(rng.integers(1, 30, k)) for k in lengths]).astype(float),
            "kind": rng.choice(["walk", "bus", "ferry"], n, p=[0.75, 0.2, 0.05]),
        }
    )
    real = table["kind"].value_counts(normalize=True)

    def run(calibrate: bool) -> tuple[float, pd.DataFrame]:
        model = SequenceModel(
            monotone_columns=["t"], seed=0, epochs=2, calibrate=calibrate, **SMALL
        ).fit(table, lengths=lengths)
        out = model.sample(lengths=lengths, seed=1)
        tv = 0.5 * real.subtract(out["kind"].value_counts(normalize=True), fill_value=0).abs().sum()
        return float(tv), out

    raw_tv, _ = run(False)
    tv, out = run(True)
    assert tv < 0.03 and tv <= raw_tv, (raw_tv, tv)
    assert _per_sequence_ok(out, lengths, "t", strict=False)


def test_times_follow_the_length_and_categories_follow_the_times(rng) -> None:
    # Trips: a long trip starts later in the day (start rank-correlated ~0.8 with the
    # length); departure equals arrival at every stop; times never go backwards; the
    # latest fifth of the trips are drop-off only (pickup_type 1 at every stop).
    n_seq = 600
    lengths = rng.integers(3, 30, n_seq)
    start = 6 * 3600 + 1200 * (lengths - 3) + rng.normal(0, 6000, n_seq).clip(-20000, 20000)
    seq = np.repeat(np.arange(n_seq), lengths)
    hops = rng.choice([60.0, 120.0, 180.0], lengths.sum())
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    hops[first] = 0.0
    arrival = np.round(start[seq] + pd.Series(hops).groupby(seq).cumsum().to_numpy(), -1)
    table = pd.DataFrame(
        {
            "stop_sequence": np.concatenate([np.arange(1, k + 1) for k in lengths]),
            "arrival_time": arrival,
            "departure_time": arrival,
            "pickup_type": (start > np.quantile(start, 0.8)).astype(np.int64)[seq],
        }
    )
    model = SequenceModel(
        order_column="stop_sequence",
        monotone_columns=["arrival_time", "departure_time"],
        seed=0,
        epochs=2,
        **SMALL,
    ).fit(table, lengths=lengths)
    out = model.sample(lengths=lengths, seed=1)

    def start_corr(frame: pd.DataFrame) -> float:
        starts = frame["arrival_time"].to_numpy()[first]
        return float(pd.Series(starts).corr(pd.Series(lengths), method="spearman"))

    assert start_corr(table) > 0.5
    assert abs(start_corr(out) - start_corr(table)) < 0.1, (start_corr(out), start_corr(table))
    assert (out["arrival_time"] == out["departure_time"]).mean() > 0.99

    def late_share(frame: pd.DataFrame) -> tuple[float, float]:
        late = frame["arrival_time"] >= np.quantile(table["arrival_time"], 0.9)
        return frame["pickup_type"][late].mean(), frame["pickup_type"][~late].mean()

    (real_late, real_rest), (late, rest) = late_share(table), late_share(out)
    assert real_late > 0.8 and real_rest < 0.35
    assert abs(late - real_late) < 0.15 and abs(rest - real_rest) < 0.08, (late, rest)
    assert _per_sequence_ok(out, lengths, "stop_sequence", strict=True)
    assert _per_sequence_ok(out, lengths, "arrival_time", strict=False)
    assert _per_sequence_ok(out, lengths, "departure_time", strict=False)
