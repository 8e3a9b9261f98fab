"""The rows' key combinations looked up once per distinct combination, as row by row.

:func:`relsynth.rules._values._lookup` turns each distinct key value into text once
and each distinct combination into a lookup once (a chunk of 100,000 flights holds
a few hundred routes). The reference here is the per-row reading the rule's
semantics are defined by: every row's keys as text (``_norm``), NULL keys unknown,
and an unknown combination taking its first row's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from relsynth.metadata._rule import DeterminedValue, Ref
from relsynth.rules._values import _norm, _plain, _typed, apply_values, known_values


def _rule(keys: tuple[str, ...], pairs: tuple[tuple[tuple[Any, ...], Any], ...]) -> DeterminedValue:
    return DeterminedValue(Ref((("t", keys),)), Ref((("t", ("v",)),)), 1.0, True, pairs)


def _row_by_row(frame: pd.DataFrame, rule: DeterminedValue) -> tuple[list[Any], np.ndarray]:
    """Per row: its combination as text (None when a key is NULL) and its known value."""
    keys = rule.keys.target[1]
    lookup = {tuple(_norm(v) for v in combo): value for combo, value in rule.values}
    combos: list[Any] = []
    values = np.empty(len(frame), dtype=object)
    for i in range(len(frame)):
        row = [frame[k].astype(object).iloc[i] for k in keys]
        combo = None if any(pd.isna(v) for v in row) else tuple(_norm(v) for v in row)
        combos.append(combo)
        values[i] = lookup.get(combo) if combo is not None else None
    return combos, values


def _reference_known(frame: pd.DataFrame, rule: DeterminedValue, dtype: str) -> pd.Series:
    combos, values = _row_by_row(frame, rule)
    out = pd.Series(values, index=frame.index, dtype=object)
    out = _typed(out, dtype)
    return out.astype("float64") if pd.api.types.is_numeric_dtype(out.dtype) else out


def _reference_apply(frame: pd.DataFrame, rule: DeterminedValue) -> pd.DataFrame:
    combos, values = _row_by_row(frame, rule)
    target = frame["v"]
    known = np.array([c is not None and v is not None for c, v in zip(combos, values, strict=True)])
    new = _typed(pd.Series(values[known], dtype=object), target.dtype)
    merged = target.astype(object).to_numpy(copy=True)
    merged[known] = new.to_numpy(dtype=object)
    first: dict[Any, int] = {}
    for i, combo in enumerate(combos):
        if combo is not None and not known[i] and pd.notna(target.iloc[i]):
            merged[i] = merged[first.setdefault(combo, i)]
    out = frame.copy()
    try:
        out["v"] = pd.Series(merged, index=out.index).astype(target.dtype)
    except (TypeError, ValueError):
        out["v"] = pd.Series(merged, index=out.index)
    return out


def _key(kind: str, n: int, rng: np.random.Generator) -> pd.Series:
    if kind == "text":
        return pd.Series(rng.choice(np.array(["EWR", "JFK", "LGA", None], dtype=object), n))
    if kind == "mixed":  # 1, 1.0 and True are equal in a hash table, not as text
        values = np.array([1, 1.0, True, "1", None, 2, 2.5], dtype=object)
        return pd.Series(rng.choice(values, n), dtype=object)
    if kind == "Int64":
        values = rng.integers(0, 5, n).astype(object)
        values[rng.random(n) < 0.2] = None
        return pd.Series(pd.array(values, dtype="Int64"))
    if kind == "float":  # a nullable integer key read as floats
        return pd.Series(np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 5, n) / 2))
    if kind == "datetime":
        stamps = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 4, n), unit="h")
        return pd.Series(stamps).where(rng.random(n) > 0.2)
    return pd.Series(pd.Categorical(rng.choice(["AA", "B6", "UA"], n)))


KINDS = ("text", "mixed", "Int64", "float", "datetime", "category")


@pytest.mark.parametrize("first", KINDS)
@pytest.mark.parametrize("second", (None, *KINDS))
def test_lookup_per_combination_matches_the_row_by_row_reading(first, second):
    rng = np.random.default_rng(KINDS.index(first) * 10 + (KINDS.index(second) if second else 9))
    for n in (1, 7, 60):
        frame = pd.DataFrame({"a": _key(first, n, rng)})
        keys: tuple[str, ...] = ("a",)
        if second is not None:
            frame["b"] = _key(second, n, rng).to_numpy()
            keys = ("a", "b")
        frame["v"] = rng.normal(size=n)
        frame.index = rng.permutation(n) + 3  # positions, not labels
        present = frame[list(keys)].dropna().drop_duplicates()
        pairs = tuple(
            (tuple(_plain(v) for v in row), round(float(rng.normal()), 3))
            for row in present.itertuples(index=False, name=None)
            if rng.random() < 0.7
        )
        rule = _rule(keys, pairs)
        got = known_values(frame, rule, "float64")
        pd.testing.assert_series_equal(got, _reference_known(frame, rule, "float64"))
        applied = apply_values(frame, rule)
        pd.testing.assert_frame_equal(applied, _reference_apply(frame, rule))


def test_text_values_keep_their_type_and_unknown_rows_stay_null():
    frame = pd.DataFrame({"a": ["x", "y", None, "x", "z"], "v": ["p", None, "q", "r", "s"]})
    rule = _rule(("a",), ((("x",), "P"), (("y",), "Q")))
    got = known_values(frame, rule, "object")
    assert got.tolist() == ["P", "Q", None, "P", None]
    assert apply_values(frame, rule)["v"].tolist() == ["P", "Q", "q", "P", "s"]


def test_keys_that_read_as_the_same_text_are_one_combination():
    # 1, 1.0 and "1" read as "1"; True reads as "True" (not as 1)
    frame = pd.DataFrame({"a": pd.Series([1, 1.0, "1", True, 2.0], dtype=object)})
    frame["v"] = [10.0, 11.0, 12.0, 13.0, 14.0]
    rule = _rule(("a",), ((("True",), 7.0),))
    assert known_values(frame, rule, "float64").tolist()[3] == 7.0
    assert np.isnan(known_values(frame, rule, "float64").tolist()[:3]).all()
    # unknown combination "1": every row takes its first row's value
    assert apply_values(frame, rule)["v"].tolist() == [10.0, 10.0, 10.0, 7.0, 14.0]
