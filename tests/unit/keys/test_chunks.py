"""Moving key values between chunks (relsynth.keys.chunks): each representation of a
number or a date survives the move, NULLs included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.keys.chunks import _as_numbers
from relsynth.keys.ids import KeyFormat


@pytest.mark.parametrize("dtype", [object, "string"])
def test_text_dates_move_in_their_own_format(dtype):
    fmt = KeyFormat("date_text", {"format": "%Y%m%d", "lo": 0, "step": 86400})
    values = pd.Series(["20200101", None, "20200131"], dtype=dtype)
    numbers, back = _as_numbers(values, fmt)
    moved = back(numbers + 86400 * 2, values)
    assert list(moved) == ["20200103", None, "20200202"]


def test_zoned_timestamps_and_nullable_integers_move_and_keep_their_dtype():
    fmt = KeyFormat("datetime", {"lo": 0, "step": 3600})
    stamps = pd.Series(pd.to_datetime(["2020-01-01 10:00", None]).tz_localize("Europe/Paris"))
    numbers, back = _as_numbers(stamps, fmt)
    moved = back(numbers + 3600, stamps)
    assert moved.dtype == stamps.dtype and moved.iloc[0].hour == 11 and pd.isna(moved.iloc[1])
    ints = pd.Series([1, None, 3], dtype="Int64")
    numbers, back = _as_numbers(ints, KeyFormat("integer", {"lo": 1, "hi": 3, "dense": True}))
    moved = back(numbers + 10, ints)
    assert moved.dtype == ints.dtype and moved.tolist()[0] == 11 and pd.isna(moved.iloc[1])
    assert np.isnan(numbers[1])
