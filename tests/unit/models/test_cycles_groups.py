"""``_cycles._snapped`` by one sort of the values gives the loop of ``==`` per value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.models._cycles import _numeric_groups, _snapped


def _by_equality(x, generated, keys, values):  # noqa: ANN001, ANN202
    """The loop ``_snapped`` ran before (one pass over the rows per value)."""
    out = x.copy()
    for value in pd.unique(values):
        rows = np.flatnonzero((generated == value) & ~np.isnan(x))
        if not len(rows):
            continue
        k = keys[values == value]
        if len(k) == 1:
            out[rows] = k[0]
            continue
        pos = np.searchsorted(k, x[rows]).clip(1, len(k) - 1)
        left = np.abs(x[rows] - k[pos - 1]) <= np.abs(k[pos] - x[rows])
        out[rows] = np.where(left, k[pos - 1], k[pos])
    return out


def _objects(items) -> np.ndarray:  # noqa: ANN001
    items = list(items)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


@pytest.mark.parametrize("as_int", [False, True])
def test_same_as_the_loop_of_equality(as_int: bool) -> None:
    rng = np.random.default_rng(3)
    keys = np.sort(rng.uniform(-500, 500, 3000))
    levels = rng.integers(0, 300, len(keys)).astype(float)
    levels[::97] = -0.0  # compares equal to 0.0
    values = _objects(int(v) if as_int else float(v) for v in levels)
    x = rng.uniform(-600, 600, 20_000)
    x[::13] = np.nan
    drawn = rng.integers(-5, 310, len(x)).astype(object)  # some values no key has
    generated = _objects(None if i % 17 == 0 else (float(v) if i % 2 else int(v))
                         for i, v in enumerate(drawn))  # fmt: skip
    assert _numeric_groups(x, generated, values) is not None
    got = _snapped(x, generated, keys, values)
    np.testing.assert_array_equal(got, _by_equality(x, generated, keys, values))
    assert (got != x)[~np.isnan(x)].any()


def test_text_values_keep_the_loop() -> None:
    rng = np.random.default_rng(4)
    keys = np.sort(rng.uniform(0, 100, 200))
    values = _objects(rng.choice(["a", "b", "c"], len(keys)).tolist())
    x = rng.uniform(0, 100, 500)
    generated = _objects(rng.choice(["a", "b", "d"], len(x)).tolist())
    assert _numeric_groups(x, generated, values) is None
    np.testing.assert_array_equal(
        _snapped(x, generated, keys, values), _by_equality(x, generated, keys, values)
    )


def test_ints_past_float_precision_keep_the_loop() -> None:
    keys = np.array([0.0, 1.0, 2.0])
    values = _objects([2**53, 2**53, 5])
    x = np.array([0.4, 1.7])
    generated = _objects([2**53 + 1, 2**53])
    assert _numeric_groups(x, generated, values) is None
    np.testing.assert_array_equal(
        _snapped(x, generated, keys, values), _by_equality(x, generated, keys, values)
    )
