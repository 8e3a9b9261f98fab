"""Lookup tables: found conservatively, copied verbatim by default, overridable per table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, Synthesizer, Table, evaluate
from relsynth.rules.lookup import find_lookups, lookup_tables


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


def _codes_and_people(n_codes: int = 300, n_rows: int = 4000) -> tuple[Metadata, dict]:
    """station (codes with names) <- trip -> member (usernames), trip -> plane (codes,
    no name), trip -> shop (integer key, unique names); all larger than a lookup."""
    rng = np.random.default_rng(1)
    meta = Metadata(
        tables={
            "station": Table("station", (Column("code", "id"), Column("name", "categorical"),
                                         Column("lat", "numerical"), Column("zone", "categorical")),
                             primary_key=("code",)),
            "member": Table("member", (Column("username", "id"), Column("shown", "categorical"),
                                       Column("karma", "numerical")), primary_key=("username",)),
            "plane": Table("plane", (Column("tail", "id"), Column("seats", "numerical")),
                           primary_key=("tail",)),
            "shop": Table("shop", (Column("id", "id"), Column("name", "categorical")),
                          primary_key=("id",)),
            "trip": Table("trip", (Column("id", "id"), Column("station", "id"),
                                   Column("member", "id"), Column("plane", "id"),
                                   Column("shop", "id"), Column("km", "numerical")),
                          primary_key=("id",)),
        },
        foreign_keys=(
            ForeignKey("trip", ("station",), "station", ("code",)),
            ForeignKey("trip", ("member",), "member", ("username",)),
            ForeignKey("trip", ("plane",), "plane", ("tail",)),
            ForeignKey("trip", ("shop",), "shop", ("id",)),
        ),
    )  # fmt: skip
    codes = [f"S{i:03d}" for i in range(n_codes)]
    handles = [f"user_{i}" for i in range(n_codes)]
    tails = [f"N{i:04d}X" for i in range(n_codes)]
    tables = {
        "station": pd.DataFrame({"code": codes, "name": [f"Station {i} Central" for i in
                                 range(n_codes)], "lat": rng.normal(0, 1, n_codes),
                                 "zone": rng.choice(["a", "b"], n_codes)}),
        "member": pd.DataFrame({"username": handles, "shown": [f"Member {i}" for i in
                                range(n_codes)], "karma": rng.integers(0, 99, n_codes)}),
        "plane": pd.DataFrame({"tail": tails, "seats": rng.integers(50, 300, n_codes)}),
        "shop": pd.DataFrame({"id": range(n_codes), "name": [f"Shop {i}" for i in range(n_codes)]}),
        "trip": pd.DataFrame({"id": range(n_rows), "station": rng.choice(codes, n_rows),
                              "member": rng.choice(handles, n_rows),
                              "plane": rng.choice(tails, n_rows),
                              "shop": rng.integers(0, n_codes, n_rows),
                              "km": rng.gamma(2.0, 10.0, n_rows)}),
    }  # fmt: skip
    return meta, tables


def test_reference_tables_are_code_lists_with_names_behind_a_much_larger_table():
    meta, tables = _codes_and_people()
    found = find_lookups(meta, tables)
    # usernames (lower-case handles), tail numbers without names, integer keys: modelled
    assert [(t.name, t.rule) for t in found] == [("station", "reference")]
    assert "codes (code)" in found[0].reason and "names (name)" in found[0].reason
    assert "used by trip (4,000 rows, 13 per code)" in found[0].reason
    # the same member table keyed by upper-case codes still has a personal column
    flagged = meta.with_table(
        replace(
            meta.table("member"),
            columns=(Column("username", "id", pii="username"), *meta.table("member").columns[1:]),
        )
    )
    upper = {
        **tables,
        "member": tables["member"].assign(username=lambda f: f.username.str.upper()),
        "trip": tables["trip"].assign(member=lambda f: f.member.str.upper()),
    }
    assert "member" not in lookup_tables(flagged, upper)
    # its codes not used 10 times each on average (2,000 trips over 300 stations)
    few = {**tables, "trip": tables["trip"].iloc[:2000]}
    assert lookup_tables(meta, few) == ()
    # names that are free text (long sentences) are no labels
    wordy = {
        **tables,
        "station": tables["station"].assign(
            name=[f"A long description of station {i} " + "word " * 20 for i in range(300)]
        ),
    }
    assert lookup_tables(meta, wordy) == ()
    # a date makes it a record of something that happened
    dated = meta.with_table(
        replace(
            meta.table("station"),
            columns=(*meta.table("station").columns, Column("opened", "datetime")),
        )
    )
    opened = {**tables, "station": tables["station"].assign(opened=pd.Timestamp("2001-01-01"))}
    assert lookup_tables(dated, opened) == ()


def test_reference_tables_are_copied_shown_and_overridable():
    meta, tables = _codes_and_people()
    synth = Synthesizer(meta, seed=0, steps=10, n_threads=1).fit(tables)
    assert synth.fit_info_.models["station"] == "copy"
    assert synth.fit_info_.models["member"] != "copy"
    assert synth.lookup_reasons_["station"].startswith("reference: 300 rows of codes")
    fake = synth.sample(seed=0)
    pd.testing.assert_frame_equal(fake["station"], tables["station"])
    assert set(fake["trip"]["station"]) <= set(tables["station"]["code"])
    report = evaluate(meta, tables, fake, max_rows=500)
    assert report.info["copied_reasons"]["station"].startswith("reference: 300 rows")
    assert "station (reference: 300 rows" in str(report)
    off = meta.with_table(replace(meta.table("station"), reference=False))
    synth = Synthesizer(off, seed=0, steps=10, n_threads=1).fit(tables)
    assert synth.fit_info_.models["station"] != "copy"
