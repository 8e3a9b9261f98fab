"""Metadata.validate() reports every problem at once; copies leave the original alone."""

from __future__ import annotations

import pytest

from relsynth import Column, ForeignKey, Metadata, MetadataError, Table


def _meta(**fk_overrides: object) -> Metadata:
    return Metadata(
        tables={
            "a": Table(
                "a", (Column("id", "id"), Column("code", "categorical")), primary_key=("id",)
            ),
            "b": Table("b", (Column("id", "id"), Column("a_id", "id")), primary_key=("id",)),
        },
        foreign_keys=(ForeignKey("b", ("a_id",), "a", ("id",)),),
    )


def test_valid() -> None:
    _meta().validate()


def test_all_problems_listed() -> None:
    meta = Metadata(
        tables={
            "a": Table(
                "a",
                (
                    Column("id", "id"),
                    Column("id", "weird"),
                    Column("t", "text", pii="ssn"),  # type: ignore[arg-type]
                    Column("c", "categorical"),
                ),
                primary_key=("nope",),
                unique=(("t", "t"),),
                sequence_index="zzz",
            ),
            "x": Table("y", ()),
        },
        foreign_keys=(
            ForeignKey("a", ("t",), "a", ("c",)),  # not a key of the parent
            ForeignKey("a", ("id",), "ghost", ("id",)),
            ForeignKey("a", ("id", "t"), "a", ("id",)),
        ),
    )
    with pytest.raises(MetadataError) as info:
        meta.validate()
    problems = "\n".join(info.value.problems)
    for needle in ("duplicate column", "unknown kind 'weird'", "unknown pii type 'ssn'",
                   "names unknown column(s): nope", "repeats a column", "sequence_index",
                   "registered as 'x'", "no columns", "neither the primary key",
                   "'ghost' does not exist", "must pair up"):  # fmt: skip
        assert needle in problems, needle
    assert len(info.value.problems) >= 11
    assert str(len(info.value.problems)) in str(info.value)


def test_copies() -> None:
    meta = _meta()
    changed = meta.with_column("a", "code", kind="text", pii="name")
    assert meta["a"].column("code").kind == "categorical"
    assert changed["a"].column("code").pii == "name"
    with pytest.raises(MetadataError, match="no column 'nope'"):
        meta.with_column("a", "nope", kind="text")
    with pytest.raises(MetadataError, match="Cannot change column"):
        meta.with_column("a", "code", colour="red")
    assert meta.without_tables("a").foreign_keys == ()
    assert list(meta.subset(["b"]).tables) == ["b"]
    with pytest.raises(MetadataError, match="Known tables: a, b"):
        meta.table("c")
