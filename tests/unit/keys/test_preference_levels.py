"""``preference._levels`` by distinct value gives the text ``str`` of each row gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.keys.preference import _levels


def _row_by_row(values: pd.Series) -> np.ndarray:
    return (
        values.astype(object)
        .map(lambda v: "\x00null" if v is None or v != v else str(v))
        .to_numpy(dtype=object)
    )


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["JFK", None, "LGA", "JFK", np.nan], dtype=object),
        pd.Series(["JFK", "LGA", "JFK"], dtype="string"),
        pd.Series(["UA", "AA", None, "UA"]).astype("category"),
        pd.Series([3.5, 1.0, None]).astype("category"),
        pd.Series([1, -7, 1, 2**62], dtype=np.int64),
        pd.Series([1, 7], dtype=np.uint64),
        pd.Series([1.0, np.nan, -0.0, 0.0, 2.5]),
        pd.Series([1, 1.0, "1", None, True], dtype=object),
        pd.Series(pd.to_datetime(["2013-01-01 05:00", None])),
        pd.Series([], dtype=object),
        pd.Series([], dtype=np.int64),
    ],
)
def test_same_text_as_row_by_row(values: pd.Series) -> None:
    got = _levels(values)
    want = _row_by_row(values)
    assert got.dtype == object and len(got) == len(want)
    assert [type(v) for v in got] == [type(v) for v in want]
    assert got.tolist() == want.tolist()


def test_missing_text_is_the_null_level() -> None:
    # row by row, ``pd.NA != pd.NA`` has no truth value; by distinct value it is NULL
    got = _levels(pd.Series(["JFK", None, "LGA"], dtype="string"))
    assert got.tolist() == ["JFK", "\x00null", "LGA"]
