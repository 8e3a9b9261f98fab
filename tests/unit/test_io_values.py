"""Value conversions of the database boundary that need no database (io/_values, _convert)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from relsynth import Column
from relsynth.io._convert import to_pandas
from relsynth.io._prepare import Target, prepare_column
from relsynth.io._values import pg_array


@pytest.mark.parametrize(
    ("value", "unit"),
    [(1_600_000_000, "seconds"), (1_600_000_000_000, "milliseconds"), (1.6e15, "microseconds")],
)
def test_epoch_numbers_in_a_date_column_by_magnitude(value, unit, caplog):
    col = Column("at", "datetime", "DATETIME")
    with caplog.at_level(logging.WARNING):
        out = to_pandas([value, None, "2020-09-13 12:26:40"], col, where="ev.at")
    assert out[0] == pd.Timestamp("2020-09-13 12:26:40") == out[2]
    assert pd.isna(out[1])
    assert "ev.at" in caplog.text and unit in caplog.text


def test_mixed_text_date_formats_are_parsed_per_value():
    col = Column("d", "datetime", "DATE")
    out = to_pandas(["2020-01-02", "2020/02/03", None], col, where="t.d")
    assert out.tolist()[:2] == [pd.Timestamp("2020-01-02"), pd.Timestamp("2020-02-03")]


def test_unsigned_read_and_prepared_exactly():
    col = Column("u", "numerical", "BIGINT UNSIGNED")
    out = to_pandas([2**64 - 1, None, 0], col, where="t.u")
    assert str(out.dtype) == "UInt64" and int(out[0]) == 2**64 - 1
    target = Target("int", "BIGINT UNSIGNED", (), "mariadb")
    prepared, problem = prepare_column(pd.Series([2**64 - 1, None], dtype=object), target)
    assert problem is None and int(prepared[0]) == 2**64 - 1
    _, problem = prepare_column(pd.Series([-1]), target)
    assert problem is not None and "outside [0, 18446744073709551615]" in problem


def test_nulls_stay_null_through_text_conversion():
    col = Column("doc", "text", "JSON")
    out = to_pandas(['{"a": 1}', None], col, where="t.doc")
    assert out[0] == '{"a": 1}' and pd.isna(out[1])  # pandas 2 made it 'None'
    text, problem = prepare_column(
        pd.Series(["x", None], dtype=object), Target("text", "TEXT", (), "sqlite")
    )
    assert problem is None and pd.isna(text[1])


def test_postgres_array_literal():
    assert pg_array([1, None, 'a "b"', "c\\d", [2, 3], True]) == (
        '{1,NULL,"a \\"b\\"","c\\\\d",{2,3},t}'
    )
    target = Target("array", "ARRAY", (), "postgresql")
    out, problem = prepare_column(pd.Series(["[1, 2]", None, "[]"]), target)
    assert problem is None and out.tolist()[0] == "{1,2}" and pd.isna(out[1])
    _, problem = prepare_column(pd.Series(["not a list"]), target)
    assert problem is not None and "not JSON arrays" in problem


def test_infinity_refused_only_where_it_cannot_be_stored():
    values = pd.Series([1.0, float("inf")])
    for dialect in ("postgresql", "sqlite"):
        _, problem = prepare_column(values, Target("float", "FLOAT", (), dialect))
        assert problem is None
    _, problem = prepare_column(values, Target("float", "FLOAT", (), "mariadb"))
    assert problem is not None and "MariaDB/MySQL cannot store" in problem


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int64", "uint64", "Int64", "UInt8"])
def test_copy_text_of_integers_is_python_text_narrow_or_wide(dtype):
    import numpy as np

    from relsynth.io._text import copy_text, mysql_values

    info = np.iinfo(pd.Series([], dtype=dtype).dtype.numpy_dtype if dtype[0] in "IU" else dtype)
    narrow = [info.max - k % 3 for k in range(100)] + [info.min]  # a table of few values
    wide = list(range(int(info.min), int(info.min) + 101))  # one text per value
    for values in (narrow, wide):
        series = pd.Series(values, dtype=dtype)
        if dtype[0] in "IU":
            series[5] = pd.NA
        target = Target("int", None, (), "postgresql")
        expected = ["\\N" if pd.isna(v) else str(int(v)) for v in series]
        assert copy_text({"n": series}, {"n": target}) == "\n".join(expected) + "\n"
        rows = "".join(mysql_values({"n": series}, {"n": target}, 1_000_000))
        assert rows == ",".join(f"({e})" if e != "\\N" else "(NULL)" for e in expected)
