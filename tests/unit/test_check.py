"""check(metadata, tables) on DataFrames: every violation kind, composite keys, NULL rules."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from relsynth import (
    Column,
    ForeignKey,
    Metadata,
    ParameterError,
    ReferentialIntegrityError,
    Table,
    check,
)


@pytest.fixture
def meta() -> Metadata:
    return Metadata(
        {
            "orders": Table(
                "orders",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("customer", "id", "CHAR(5)", nullable=True),
                    Column("code", "categorical", "TEXT", nullable=False),
                ),
                primary_key=("id",),
                unique=(("code",),),
            ),
            "customers": Table(
                "customers",
                (Column("cid", "id", "CHAR(5)", nullable=False),),
                primary_key=("cid",),
            ),
            "lines": Table(
                "lines",
                (
                    Column("order_id", "id", "INTEGER", nullable=False),
                    Column("pos", "id", "INTEGER", nullable=False),
                    Column("qty", "numerical", "INTEGER"),
                ),
                primary_key=("order_id", "pos"),
            ),
            "returns": Table(
                "returns",
                (
                    Column("id", "id", "INTEGER", nullable=False),
                    Column("order_id", "id", "INTEGER"),
                    Column("pos", "id", "INTEGER"),
                ),
                primary_key=("id",),
            ),
        },
        (
            ForeignKey("orders", ("customer",), "customers", ("cid",), nullable=True),
            ForeignKey("lines", ("order_id",), "orders", ("id",)),
            ForeignKey("returns", ("order_id", "pos"), "lines", ("order_id", "pos"), True),
        ),
    )


@pytest.fixture
def clean(meta: Metadata) -> dict[str, pd.DataFrame]:
    return {
        "customers": pd.DataFrame({"cid": ["01581", "ALFKI"]}),
        "orders": pd.DataFrame(
            {"id": [1, 2, 3], "customer": ["01581", None, "ALFKI"], "code": ["a", "b", "c"]}
        ),
        "lines": pd.DataFrame({"order_id": [1, 1, 2], "pos": [1, 2, 1], "qty": [5, None, 1]}),
        "returns": pd.DataFrame({"id": [1, 2], "order_id": [1, None], "pos": [2, 7]}),
    }


def test_clean_tables_pass(meta, clean):
    report = check(meta, clean)
    assert report.ok and bool(report)
    assert report.n_tables == 4 and report.n_rows == 10
    assert "no violations" in str(report)
    report.raise_for_violations()


def test_text_key_with_leading_zero_does_not_match_an_integer(meta, clean):
    clean["customers"] = pd.DataFrame({"cid": ["1581", "ALFKI"]})
    report = check(meta, clean)
    [v] = report.violations
    assert v.kind == "orphan_foreign_key" and v.examples == ("01581",)


def test_every_violation_kind_is_found(meta, clean):
    tables = dict(clean)
    tables["orders"] = pd.DataFrame(
        {
            "id": [1, 1, None, 4],
            "customer": ["01581", "ZZZZZ", None, "YYYYY"],
            "code": ["a", "a", None, "d"],
        }
    )
    tables["lines"] = pd.DataFrame({"order_id": [1, 9], "pos": [1, 1], "qty": [1, 2]})
    tables["returns"] = pd.DataFrame({"id": [1, 2], "order_id": [9, 1], "pos": [1, 5]})
    del tables["customers"]
    report = check(meta, tables)
    kinds = sorted(v.kind for v in report.violations)
    assert kinds == [
        "duplicate_primary_key",
        "duplicate_unique",
        "missing_table",
        "not_null",
        "null_primary_key",
        "orphan_foreign_key",
        "orphan_foreign_key",
    ]
    by_kind = {v.kind: v for v in report.violations}
    assert by_kind["duplicate_primary_key"].n_rows == 2
    assert by_kind["duplicate_primary_key"].examples == (1,)
    assert by_kind["null_primary_key"].n_rows == 1
    assert by_kind["not_null"].columns == ("code",)
    orphans = {v.foreign_key.parent: v for v in report.violations if v.kind == "orphan_foreign_key"}
    # the missing customers table means that key is not checked; the others are
    assert set(orphans) == {"orders", "lines"}
    assert orphans["orders"].examples == (9,)
    assert orphans["lines"].examples == ((1, 5),)  # (9, 1) exists in lines itself
    assert "lines(order_id, pos)" in orphans["lines"].message
    with pytest.raises(ReferentialIntegrityError) as info:
        report.raise_for_violations()
    assert info.value.report is report
    assert "returns(order_id, pos) -> lines(order_id, pos) has 1 row(s) with no parent" in str(
        info.value
    )


def test_missing_column_is_reported(meta, clean):
    clean["lines"] = clean["lines"].drop(columns=["qty"])
    [v] = check(meta, clean).violations
    assert (v.kind, v.table, v.columns) == ("missing_column", "lines", ("qty",))


def test_integral_floats_match_integer_parents(meta, clean):
    clean["lines"] = clean["lines"].astype({"order_id": "float64"})
    assert check(meta, clean).ok


def test_examples_are_capped_at_five(meta, clean):
    clean["lines"] = pd.DataFrame({"order_id": range(100, 120), "pos": 1, "qty": 1})
    clean["returns"] = clean["returns"].iloc[:0]
    [v] = check(meta, clean).violations
    assert v.n_rows == 20 and len(v.examples) == 5


def test_report_serialises(meta, clean):
    clean["orders"].loc[0, "customer"] = "NOPE!"
    report = check(meta, clean)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert data["violations"][0]["examples"] == ["NOPE!"]
    frame = report.to_frame()
    assert list(frame["kind"]) == ["orphan_foreign_key"]


def test_bad_arguments(meta):
    with pytest.raises(ParameterError, match="mapping of table name"):
        check(meta, None)
