"""Numbers stored as text keep their source's format: learned, parsed, written back."""

from __future__ import annotations

import pandas as pd
import pytest

from relsynth import Column, Metadata, Table
from relsynth.metadata._numberformats import (
    format_text_numbers,
    learn_number_format,
    parse_text_numbers,
)
from relsynth.metadata.infer import refine_kinds


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["12", "-3", "450"], "d"),
        (["12.50", "0.05", "-1.00"], ".2f"),
        (["3.1", "10.0"], ".1f"),
        (["0007", "0120", "1000"], "04d"),
        (["007.50", "120.25"], "06.2f"),
        (["1,234", "12", "999"], ",d"),
        (["1,234.00", "12.50", "-3,000,000.10"], ",.2f"),
    ],
)
def test_formats_are_learned_and_round_trip(values, fmt) -> None:
    assert learn_number_format(values) == fmt
    parsed = parse_text_numbers(pd.Series(values, dtype=object), fmt)
    assert parsed is not None
    assert format_text_numbers(parsed, fmt).tolist() == values


@pytest.mark.parametrize(
    "values",
    [
        ["12.5", "3.25"],  # decimals vary
        ["1,234", "5678"],  # grouped and not
        ["0007", "12"],  # padded to different widths
        ["-007", "0012"],  # a sign beside padding
        ["+12", "3"],
        ["1e5", "2"],
        ["12 ", "3"],
        [".5", "0.5"],
        ["twelve"],
        [],
    ],
)
def test_mixed_or_odd_values_get_no_format(values) -> None:
    assert learn_number_format(values) is None


def test_whole_formats_round_and_read_as_integers() -> None:
    out = format_text_numbers(pd.Series([7.4, 7.6, None, float("nan")]), "03d")
    assert out.tolist() == ["007", "008", None, None]
    parsed = parse_text_numbers(pd.Series(["007", None], dtype=object), "03d")
    assert str(parsed.dtype) == "Int64" and parsed.tolist()[0] == 7
    assert parse_text_numbers(pd.Series(["7.5"], dtype=object), "d") is None


def test_a_format_that_is_not_a_number_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not a number format"):
        format_text_numbers(pd.Series([1.0]), "%Y")
    assert parse_text_numbers(pd.Series(["1"], dtype=object), "x") is None


def _kinds(**columns: list[str]) -> dict[str, tuple[str, str | None]]:
    cols = tuple(Column(name, "categorical", "TEXT") for name in columns)
    meta = refine_kinds(Metadata({"t": Table("t", cols)}), {"t": pd.DataFrame(columns)})
    return {c.name: (c.kind, c.format) for c in meta["t"].columns}


def test_reflection_learns_text_numbers_as_numerical_with_their_format() -> None:
    n = 60
    kinds = _kinds(
        price=[f"{i * 1.37:.2f}" for i in range(n)],
        qty=[f"{i % 40:04d}" for i in range(n)],  # padded, repeated: a quantity
        total=[f"{i * 1234.5:,.2f}" for i in range(n)],
        zip=[f"{i * 7:05d}" for i in range(n)],  # padded and all distinct: a code
        grade=[str(i % 3) for i in range(n)],  # few values: a code
        word=[f"w{i % 9}" for i in range(n)],
    )
    assert kinds["price"] == ("numerical", ".2f")
    assert kinds["qty"] == ("numerical", "04d")
    assert kinds["total"] == ("numerical", ",.2f")
    assert kinds["zip"][0] != "numerical" and kinds["zip"][1] is None
    assert kinds["grade"] == ("categorical", None)
    assert kinds["word"] == ("categorical", None)


def test_only_text_types_get_a_number_format() -> None:
    from relsynth.metadata._textformats import column_text_format

    codes = pd.Series(["01", "02", "01"])
    assert column_text_format("numerical", "VARCHAR", codes, None) == "02d"
    assert column_text_format("numerical", "REAL", pd.Series([1.5, 2.0]), None) is None
    assert column_text_format("numerical", "TEXT", pd.Series([], dtype=object), "d") == "d"
