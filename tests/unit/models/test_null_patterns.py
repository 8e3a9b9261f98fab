"""Columns that are NULL together (null_patterns.py): found, learned as one pattern, kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.models.null_patterns import (
    NullGroup,
    apply_null_groups,
    fill_null_groups,
    find_null_groups,
)


def _trips(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Cancelled trips lack start, end and length; a few more lack only the end; a note
    is NULL on its own, independently."""
    rng = np.random.default_rng(seed)
    cancelled = rng.random(n) < 0.05
    lost = ~cancelled & (rng.random(n) < 0.02)
    start = rng.integers(0, 1000, n).astype(float)
    length = np.round(rng.gamma(3.0, 10.0, n))
    frame = pd.DataFrame(
        {
            "start": start,
            "end": start + length,
            "length": pd.array(length.astype(int), dtype="Int64"),
            "kind": rng.choice(["a", "b", "c"], n),
            "note": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1, n)),
        }
    )
    frame.loc[cancelled, ["start", "end", "length"]] = np.nan
    frame.loc[lost, "end"] = np.nan
    return frame


def _patterns(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    flags = frame[columns].isna().astype(int).astype(str)
    return flags.apply("".join, axis=1).value_counts(normalize=True)


def test_columns_null_together_form_one_group_and_independent_ones_none() -> None:
    table = _trips()
    groups = find_null_groups(table)
    assert [g.columns for g in groups] == [("start", "end", "length")]
    assert groups[0].name.startswith("__nulls.")
    assert find_null_groups(table, excluded=["start", "end"]) == []
    # 20 NULLs at least: a column NULL on a handful of rows is left alone
    assert find_null_groups(table.head(100)) == []
    assert NullGroup.from_state(groups[0].state()) == groups[0]


def test_fill_keeps_every_set_value_and_apply_restores_the_nulls() -> None:
    table = _trips()
    groups = find_null_groups(table)
    learned = fill_null_groups(table, table, groups)
    name = groups[0].name
    assert learned[["start", "end", "length"]].notna().all().all()
    assert learned["note"].isna().equals(table["note"].isna())  # not in a group
    set_ = table["end"].notna()
    assert (learned.loc[set_, "end"] == table.loc[set_, "end"]).all()
    # a filled row is one donor's values: the relations inside the group hold
    filled = table["start"].isna()
    done = learned.loc[filled]
    assert (done["end"] - done["start"] == done["length"].astype(float)).all()
    assert set(learned[name]) == {"000", "111", "010"}
    back = apply_null_groups(learned.copy(), groups)
    assert name not in back.columns
    pd.testing.assert_frame_equal(back, table)
    # same input, same fill (its own fixed seed)
    pd.testing.assert_frame_equal(fill_null_groups(table, table, groups), learned)


def test_apply_makes_integer_columns_nullable_and_ignores_unknown_words() -> None:
    group = NullGroup("__nulls.0", ("a", "b"))
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [True, False, True], "__nulls.0": ["10", "01", "x"]})
    out = apply_null_groups(frame, [group])
    assert list(out.columns) == ["a", "b"]
    assert out["a"].dtype == "Int64" and out["a"].isna().tolist() == [True, False, False]
    assert out["b"].dtype == "boolean" and out["b"].isna().tolist() == [False, True, False]


def test_wgan_keeps_the_joint_null_pattern_and_loads_old_files() -> None:
    pytest.importorskip("torch")
    from relsynth.models import ConditionalWGAN

    table = _trips()
    model = ConditionalWGAN(seed=0, epochs=3, n_threads=1, device="cpu").fit(table)
    assert [g.columns for g in model.null_groups_] == [("start", "end", "length")]
    out = model.sample(n_rows=3000, seed=1)
    assert list(out.columns) == list(table.columns)
    real = _patterns(table, ["start", "end", "length"])
    fake = _patterns(out, ["start", "end", "length"])
    assert set(fake.index) <= set(real.index)  # never one column of the trio alone
    assert abs(fake.get("111", 0.0) - real["111"]) < 0.02
    state = model.state_dict()
    again = ConditionalWGAN.from_state_dict(state).sample(n_rows=500, seed=2)
    pd.testing.assert_frame_equal(again, model.sample(n_rows=500, seed=2))
    # a model file written before NULL groups has no "null_groups": it still loads
    del state["fitted"]["null_groups"]
    assert ConditionalWGAN.from_state_dict(state).null_groups_ == []
