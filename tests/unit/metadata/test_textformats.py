"""Dates stored as text keep their source's format: learned, parsed, written back."""

from __future__ import annotations

import pandas as pd
import pytest

from relsynth import Column, Metadata, Table
from relsynth.metadata._textformats import format_text_dates, learn_text_format, parse_text_dates
from relsynth.metadata.infer import refine_kinds


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2004-04-06", "1999-12-31"], "%Y-%m-%d"),
        (["2004-04-06 13:05"], "%Y-%m-%d %H:%M"),
        (["2004-04-06 13:05:09"], "%Y-%m-%d %H:%M:%S"),
        (["1996-07-04 00:00:00.000"], "%Y-%m-%d %H:%M:%S.%3f"),
        (["2004-04-06T13:05:09"], "%Y-%m-%dT%H:%M:%S"),
        (["2004-04-06T13:05:09Z", "2004-04-07T00:00:00Z"], "%Y-%m-%dT%H:%M:%SZ"),
        (["2004-04-06T13:05:09.5Z", "2004-04-06T13:05:09.25Z"], "%Y-%m-%dT%H:%M:%S.%2fZ"),
        (["31/12/2020", "01/02/2021"], "%d/%m/%Y"),
        (["12/31/2020", "01/02/2021"], "%m/%d/%Y"),
        (["06.04.2004"], "%d.%m.%Y"),
        (["06-04-2004"], "%d-%m-%Y"),
        (["20040406"], "%Y%m%d"),
    ],
)
def test_formats_are_learned_and_round_trip(values, fmt) -> None:
    assert learn_text_format(values) == fmt
    parsed = parse_text_dates(pd.Series(values, dtype=object), fmt)
    assert parsed is not None and parsed.notna().all()
    if "%2f" not in fmt:  # fraction digits vary in the source
        assert format_text_dates(parsed, fmt).tolist() == values


def test_mixed_or_foreign_values_have_no_format() -> None:
    assert learn_text_format(["2004-04-06", "06/04/2004"]) is None
    assert learn_text_format(["2004-04-06T10:00:00+02:00"]) is None
    assert learn_text_format(["hello"]) is None
    assert learn_text_format(["13/13/2020"]) is None


def test_refine_kinds_records_the_format_of_text_dates_only() -> None:
    meta = Metadata(
        {
            "t": Table(
                "t",
                (
                    Column("born", "categorical", "TEXT"),
                    Column("hired", "categorical", "VARCHAR(10)"),
                    Column("native", "datetime", "DATE"),
                ),
            )
        }
    )
    sample = pd.DataFrame(
        {
            "born": ["2004-04-06", "1999-12-31", None],
            "hired": ["31/12/2020", "01/02/2021", "15/06/2019"],
            "native": pd.to_datetime(["2004-04-06", "1999-12-31", None]),
        }
    )
    t = refine_kinds(meta, {"t": sample})["t"]
    assert (t.column("born").kind, t.column("born").format) == ("datetime", "%Y-%m-%d")
    assert (t.column("hired").kind, t.column("hired").format) == ("datetime", "%d/%m/%Y")
    assert t.column("native").format is None


def test_format_survives_the_metadata_file(tmp_path) -> None:
    meta = Metadata({"t": Table("t", (Column("d", "datetime", "TEXT", format="%d/%m/%Y"),))})
    path = tmp_path / "m.json"
    meta.save(path)
    assert Metadata.load(path)["t"].column("d").format == "%d/%m/%Y"
