"""CHECK constraints: reading the spellings of three dialects (sqlglot), evaluating, repairing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, Table
from relsynth.constraints import (
    compute_generated,
    enforce_checks,
    evaluate_check,
    evaluate_expression,
    parse_check,
)

PARSED = [
    # SQLite (Northwind): bracket quoting, parenthesized literals
    ("[Discount]>=(0) AND [Discount]<=(1)", '"Discount" >= (0) AND "Discount" <= (1)'),
    ("([Quantity]>(0))", '"Quantity" > (0)'),
    # PostgreSQL: double quotes and casts, IN lists as = ANY (ARRAY[...])
    ('(("Discount" >= (0)::double precision) AND ("Discount" <= (1)::double precision))',
     '("Discount" >= CAST((0) AS DOUBLE)) AND ("Discount" <= CAST((1) AS DOUBLE))'),
    ("(balance >= (0)::numeric)", '"balance" >= CAST((0) AS DECIMAL)'),
    ("((kind)::text = ANY ((ARRAY['a'::character varying, 'b''s'::character varying])::text[]))",
     """CAST(("kind") AS TEXT) IN (CAST('a' AS VARCHAR), CAST('b''s' AS VARCHAR))"""),
    ("((kind)::text <> ALL ((ARRAY['x'::character varying])::text[]))",
     """NOT CAST(("kind") AS TEXT) IN (CAST('x' AS VARCHAR))"""),
    # MariaDB: backticks
    ("`closed` is null or `closed` >= `opened`", '"closed" IS NULL OR "closed" >= "opened"'),
    # portable forms, and what the old hand-written parser could not read
    ("0 < amount", '0 < "amount"'),
    ("score BETWEEN -1.5 AND 2e3", '"score" BETWEEN -1.5 AND 2e3'),
    ("status NOT IN ('gone')", """NOT "status" IN ('gone')"""),
    ("length(name) > 2", 'LENGTH("name") > 2'),
    ("price * qty < 100", '"price" * "qty" < 100'),
    ("closed <= opened + interval '30 days'", '"closed" <= "opened" + INTERVAL \'30\' DAYS'),
    ("typeof(x) = 'integer'", 'TYPEOF("x") = \'integer\''),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "expected"), PARSED)
def test_parse_dialect_spellings(sql, expected):
    assert parse_check(sql).sql(identify=True) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "a >",
        "pg_sleep(10) > 0",
        "x IN (SELECT id FROM other)",
        "true); DROP TABLE victim; SELECT (1",
        "a > 0; DROP TABLE victim",
        "other.a > 0",
        "a > interval '1; DROP TABLE t' day",
        "a > INTERVAL '1' FORTNIGHT",
        "load_extension('x') IS NULL",
    ],
)
def test_refused_forms_are_none(sql):
    assert parse_check(sql) is None


def test_columns_must_belong_to_the_table():
    assert parse_check("a > 0", columns=["a"]) is not None
    assert parse_check('"b" > 0', columns=["a"]) is None  # never read as the string 'b'
    assert parse_check("`a` > 0", columns=["a"]).sql(identify=True) == '"a" > 0'
    assert parse_check("A > 0", columns=["a"]).sql(identify=True) == '"a" > 0'
    assert parse_check("b > 0", columns=["a"]) is None


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


def test_expressions_beyond_simple_forms_are_evaluated():
    frame = pd.DataFrame({"name": ["ab", "abc", None], "price": [1.0, 30.0, 2.0], "qty": [5, 4, 3]})
    assert evaluate_check(parse_check("length(name) > 2"), frame).tolist() == [0, 1, -1]
    assert evaluate_check(parse_check("price * qty < 100"), frame).tolist() == [1, 0, 1]
    assert evaluate_check(
        parse_check("x NOT BETWEEN 1 AND 2"), frame.rename(columns={"qty": "x"})
    ).tolist() == [1, 1, 1]
    assert evaluate_check(parse_check("name LIKE 'ab%'"), frame).tolist() == [1, 1, -1]
    case = parse_check("CASE WHEN qty > 4 THEN 'many' ELSE 'few' END")
    assert evaluate_expression(case, frame).tolist() == ["many", "few", "few"]
    total = evaluate_expression(parse_check("price * qty"), frame)
    assert total.tolist() == [5.0, 120.0, 6.0]
    assert evaluate_expression(parse_check("lower(name) || '-x'"), frame).tolist()[:2] == [
        "ab-x",
        "abc-x",
    ]


def test_unrepairable_forms_are_left_to_the_database():
    frame = pd.DataFrame({"name": ["a", "abc"]})
    checks = [("len", parse_check("length(name) > 2"))]
    repaired = enforce_checks(frame, checks, rng=np.random.default_rng(0))
    assert repaired == {} and frame["name"].tolist() == ["a", "abc"]


def test_generated_columns_are_computed_from_their_expression():
    table = Table(
        "items",
        (
            Column("price", "numerical", "FLOAT"),
            Column("qty", "numerical", "INTEGER"),
            Column("total", "numerical", "FLOAT", generated='"price" * "qty"'),
            Column("code", "text", "TEXT", generated='upper(substr("name", 1, 2))'),
            Column("name", "text", "TEXT"),
            Column("stamp", "text", "TEXT", generated="CURRENT_TIMESTAMP"),  # not computable
        ),
    )
    frame = pd.DataFrame(
        {
            "price": [2.5, 4.0, None],
            "qty": [2, 3, 1],
            "total": [0.0, 0.0, 0.0],
            "code": ["?", "?", "?"],
            "name": ["alpha", "beta", None],
            "stamp": ["s1", "s2", "s3"],
        }
    )
    out = compute_generated(table, frame)
    assert out["total"].tolist()[:2] == [5.0, 12.0] and np.isnan(out["total"].iloc[2])
    assert out["code"].tolist()[:2] == ["AL", "BE"] and pd.isna(out["code"].iloc[2])
    assert out["stamp"].tolist() == ["s1", "s2", "s3"]
    assert frame["total"].tolist() == [0.0, 0.0, 0.0]  # the input is not changed
