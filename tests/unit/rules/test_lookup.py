"""Lookup tables: found conservatively, copied verbatim by default, overridable per table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, Synthesizer, Table, evaluate
from relsynth.rules.lookup import lookup_tables


def _music() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """genre <- subgenre (a chain of lookups) <- track; artist (personal text) <- track;
    big_code (200 rows) <- track; orphan_code (small, no child)."""
    rng = np.random.default_rng(0)
    meta = Metadata(
        tables={
            "genre": Table("genre", (Column("id", "id"), Column("name", "categorical")),
                           primary_key=("id",)),
            "subgenre": Table("subgenre", (Column("id", "id"), Column("genre_id", "id"),
                                           Column("name", "categorical")), primary_key=("id",)),
            "artist": Table("artist", (Column("id", "id"), Column("name", "text", pii="name")),
                            primary_key=("id",)),
            "big_code": Table("big_code", (Column("id", "id"), Column("label", "categorical")),
                              primary_key=("id",)),
            "orphan_code": Table("orphan_code", (Column("id", "id"), Column("x", "numerical")),
                                 primary_key=("id",)),
            "track": Table("track", (Column("id", "id"), Column("subgenre_id", "id"),
                                     Column("artist_id", "id"), Column("code_id", "id"),
                                     Column("seconds", "numerical")), primary_key=("id",)),
        },
        foreign_keys=(
            ForeignKey("subgenre", ("genre_id",), "genre", ("id",)),
            ForeignKey("track", ("subgenre_id",), "subgenre", ("id",)),
            ForeignKey("track", ("artist_id",), "artist", ("id",)),
            ForeignKey("track", ("code_id",), "big_code", ("id",)),
        ),
    )  # fmt: skip
    tables = {
        "genre": pd.DataFrame({"id": range(5), "name": ["rock", "jazz", "pop", "folk", "soul"]}),
        "subgenre": pd.DataFrame(
            {
                "id": range(12),
                "genre_id": rng.integers(0, 5, 12),
                "name": [f"sub{i}" for i in range(12)],
            }
        ),  # fmt: skip
        "artist": pd.DataFrame({"id": range(20), "name": [f"Person {i}" for i in range(20)]}),
        "big_code": pd.DataFrame({"id": range(200), "label": [f"c{i % 7}" for i in range(200)]}),
        "orphan_code": pd.DataFrame({"id": range(3), "x": [1.0, 2.0, 3.0]}),
        "track": pd.DataFrame(
            {
                "id": range(300),
                "subgenre_id": rng.integers(0, 12, 300),
                "artist_id": rng.integers(0, 20, 300),
                "code_id": rng.integers(0, 200, 300),
                "seconds": rng.gamma(5.0, 40.0, 300),
            }
        ),  # fmt: skip
    }
    return meta, tables


def test_lookup_tables_are_small_public_and_pointed_at():
    meta, tables = _music()
    assert lookup_tables(meta, tables) == ("genre", "subgenre")
    # a chain breaks where its parent is not a lookup
    small = {**tables, "genre": pd.concat([tables["genre"]] * 30, ignore_index=True)}
    small["genre"]["id"] = range(150)
    assert lookup_tables(meta, small) == ()
    assert lookup_tables(meta, tables, max_rows=250) == ("genre", "subgenre", "big_code")
    # a date makes a record of something that happened, not a code
    dated = meta.with_table(
        replace(meta.table("genre"), columns=(*meta.table("genre").columns,
                                              Column("created", "datetime")))
    )  # fmt: skip
    with_date = {**tables, "genre": tables["genre"].assign(created=pd.Timestamp("2020-01-01"))}
    assert lookup_tables(dated, with_date) == ()


def test_lookups_are_copied_by_default_and_overridable():
    meta, tables = _music()
    synth = Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(tables)
    assert synth.fit_info_.models["genre"] == "copy"
    assert synth.fit_info_.models["subgenre"] == "copy"
    assert synth.fit_info_.models["artist"] != "copy"
    fake = synth.sample(seed=1)
    pd.testing.assert_frame_equal(fake["genre"], tables["genre"])
    assert set(fake["track"]["subgenre_id"]) <= set(tables["subgenre"]["id"])
    report = evaluate(meta, tables, fake, max_rows=500)
    assert report.info["copied_tables"] == ["genre", "subgenre"]
    assert "Copied verbatim" in str(report)

    modelled = meta.with_table(replace(meta.table("subgenre"), reference=False))
    synth = Synthesizer(modelled, seed=0, steps=20, n_threads=1).fit(tables)
    assert synth.fit_info_.models["subgenre"] != "copy"
    assert synth.fit_info_.models["genre"] == "copy"
    off = Synthesizer(meta, seed=0, steps=20, n_threads=1, copy_reference_tables=False)
    assert "copy" not in off.fit(tables).fit_info_.models.values()


@pytest.mark.parametrize("value", [True, False, None])
def test_reference_round_trips_in_the_metadata_file(value):
    meta, _ = _music()
    meta = meta.with_table(replace(meta.table("genre"), reference=value))
    assert Metadata.from_dict(meta.to_dict()).table("genre").reference is value
