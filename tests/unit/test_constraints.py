"""CHECK constraints: parsing the spellings of three dialects, and repairing sampled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.constraints import (
    And,
    Between,
    Compare,
    InList,
    IsNull,
    Or,
    enforce_checks,
    evaluate_check,
    parse_check,
)
from relsynth.constraints import Column as Col

PARSED = [
    # SQLite (Northwind): bracket quoting, parenthesized literals
    ("[Discount]>=(0) AND [Discount]<=(1)",
     And((Compare("Discount", ">=", 0), Compare("Discount", "<=", 1)))),
    ("([Quantity]>(0))", Compare("Quantity", ">", 0)),
    # PostgreSQL: double quotes and casts, IN lists as = ANY (ARRAY[...])
    ('(("Discount" >= (0)::double precision) AND ("Discount" <= (1)::double precision))',
     And((Compare("Discount", ">=", 0), Compare("Discount", "<=", 1)))),
    ("(balance >= (0)::numeric)", Compare("balance", ">=", 0)),
    ("((kind)::text = ANY ((ARRAY['a'::character varying, 'b''s'::character varying])::text[]))",
     InList("kind", ("a", "b's"))),
    ("((kind)::text <> ALL ((ARRAY['x'::character varying])::text[]))",
     InList("kind", ("x",), negated=True)),
    # MariaDB: backticks
    ("`closed` is null or `closed` >= `opened`",
     Or((IsNull("closed"), Compare("closed", ">=", Col("opened"))))),
    # portable forms
    ("0 < amount", Compare("amount", ">", 0)),
    ("score BETWEEN -1.5 AND 2e3", Between("score", -1.5, 2000.0)),
    ("status NOT IN ('gone')", InList("status", ("gone",), negated=True)),
    ("a IS NOT NULL AND (b = 1 OR c <> 'x')",
     And((IsNull("a", negated=True), Or((Compare("b", "=", 1), Compare("c", "<>", "x")))))),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "expected"), PARSED)
def test_parse_dialect_spellings(sql, expected):
    assert parse_check(sql) == expected


@pytest.mark.parametrize(
    "sql", ["length(name) > 2", "price * qty < 100", "x NOT BETWEEN 1 AND 2", "a >", "a = b = c"]
)
def test_unsupported_forms_are_none(sql):
    assert parse_check(sql) is None


def test_evaluation_follows_sql_three_valued_logic():
    frame = pd.DataFrame({"a": [1.0, -1.0, np.nan], "b": [None, "x", "y"]})
    assert evaluate_check(parse_check("a >= 0"), frame).tolist() == [1, 0, -1]
    # FALSE OR UNKNOWN is UNKNOWN: the database accepts the row
    assert evaluate_check(parse_check("a >= 0 OR b = 'z'"), frame).tolist() == [1, 0, -1]
    assert evaluate_check(parse_check("a < 0 AND b IS NULL"), frame).tolist() == [0, 0, 0]


def test_repairs_make_every_check_hold_and_leave_good_rows_and_keys_alone():
    rng = np.random.default_rng(0)
    n = 2_000
    opened = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    closed = opened + pd.to_timedelta(rng.integers(-200, 400, n), unit="D")
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "parent": rng.integers(-3, 3, n),
            "qty": rng.integers(-5, 10, n),
            "discount": rng.normal(0.2, 0.5, n),
            "kind": rng.choice(["a", "b", "zzz"], n),
            "opened": opened,
            "closed": closed.where(rng.random(n) < 0.7),
        }
    )
    checks = [
        (f"c{i}", parse_check(sql))
        for i, sql in enumerate(
            [
                "qty > 0",
                "discount BETWEEN 0 AND 1",
                "kind IN ('a', 'b')",
                "closed IS NULL OR closed >= opened",
                "parent >= 0",  # on a key column: never changed
            ]
        )
    ]
    before = frame.copy()
    repaired = enforce_checks(frame, checks, protected=["id", "parent"], integers=["qty"], rng=rng)
    for label, expr in checks[:4]:
        assert (evaluate_check(expr, frame) != 0).all(), label
        assert repaired[label] > 0
    assert "c4" not in repaired
    pd.testing.assert_series_equal(frame["parent"], before["parent"])
    assert frame["qty"].min() == 1 and frame["qty"].dtype == np.int64
    good = (before["qty"] > 0).to_numpy()
    assert (frame.loc[good, "qty"] == before.loc[good, "qty"]).all()
    bad_dates = (before["closed"] < before["opened"]).to_numpy()
    assert (frame.loc[bad_dates, "closed"] == frame.loc[bad_dates, "opened"]).all()
    assert frame["closed"].isna().sum() == before["closed"].isna().sum()  # no NULLs invented
    assert set(frame["kind"]) == {"a", "b"}
