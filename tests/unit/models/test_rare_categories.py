"""One-off categories are withheld: never emitted, never stored, marginals of the rest kept."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from relsynth.models.encoding import CategoricalEncoder, TableEncoder


def _decode(enc: CategoricalEncoder, n: int, rng: np.random.Generator) -> pd.Series:
    level = rng.choice(len(enc.members), size=n, p=np.asarray(enc.level_freq) / sum(enc.level_freq))
    block = np.zeros((n, len(enc.members)), dtype=np.float32)
    block[np.arange(n), level] = 1.0
    return enc.inverse(block, rng)


def test_nothing_is_withheld_by_default() -> None:
    values = pd.Series(["a"] * 50 + ["b"] * 30 + ["solo"], dtype=object)
    enc = CategoricalEncoder("v").fit(values)
    assert enc.min_count == 1
    assert enc.withheld == 0 and "solo" in enc.categories
    enc = TableEncoder({"v": "categorical"}).fit(values.to_frame("v"), np.random.default_rng(0))
    assert enc.encoders[0].withheld == 0


def test_values_held_by_one_row_are_withheld_and_replaced_by_frequent_levels() -> None:
    rng = np.random.default_rng(0)
    values = pd.Series(["a"] * 600 + ["b"] * 300 + [f"solo{i}" for i in range(100)] + [None] * 50)
    enc = CategoricalEncoder("diagnosis", min_count=2).fit(values, rng)
    assert CategoricalEncoder("other").min_count == 1  # a parameter, no shared state
    assert enc.withheld == 100 and enc.other["method"] == "frequent"
    state = json.dumps(CategoricalEncoder.from_state(enc.state()).state())
    assert "solo" not in state
    out = _decode(enc, 20000, rng)
    assert not any(str(v).startswith("solo") for v in out)
    a, b = (out == "a").mean(), (out == "b").mean()
    assert abs(a / b - 2.0) < 0.15  # the kept values keep their relative shares
    assert abs(out.isna().mean() - 50 / 1050) < 0.01


def test_threshold_k_withholds_values_below_k_rows() -> None:
    values = pd.Series(["a"] * 50 + ["b"] * 3 + ["c"] * 2 + ["d"])
    enc = CategoricalEncoder("v", min_count=3).fit(values, np.random.default_rng(0))
    assert enc.withheld == 2 and set(enc.categories) == {"a", "b"}


def test_named_places_are_replaced_by_faker_values() -> None:
    rng = np.random.default_rng(1)
    towns = [f"Smalltown{i}" for i in range(40)]
    values = pd.Series(["London"] * 300 + ["Paris"] * 200 + towns)
    enc = CategoricalEncoder("city", min_count=2).fit(values, rng)
    assert enc.other["method"] == "faker"
    out = _decode(enc, 5000, rng)
    new = set(out) - {"London", "Paris"}
    assert new and not new & set(towns)
    # the frequent values keep their own shares exactly in expectation
    assert abs((out == "London").mean() - 300 / 540) < 0.03


def test_all_distinct_column_gets_new_words_and_numbers_get_digits() -> None:
    rng = np.random.default_rng(2)
    names = pd.Series([f"Product number {i}" for i in range(60)])
    enc = CategoricalEncoder("ProductName", min_count=2).fit(names, rng)
    out = _decode(enc, 100, rng)
    assert enc.withheld == 60 and not set(out) & set(names)
    assert all(len(str(v).split()) == 3 for v in out)
    codes = pd.Series([7] * 100 + [12345, 23456, 34567], dtype="int64")
    enc = CategoricalEncoder("code", min_count=2).fit(codes, rng)
    out = _decode(enc, 500, rng)
    assert set(out) == {7}  # replaced by the frequent level


def test_distinct_names_keep_their_word_counts_and_shared_last_words() -> None:
    rng = np.random.default_rng(4)
    places = [f"Place{i}" for i in range(200)]
    names = pd.Series(
        [f"{p} Regional Airport" for p in places[:120]]  # 3 words, "Airport"
        + [f"{p} Field" for p in places[120:170]]  # 2 words, "Field"
        + [f"{p} {p}ville Heliport" for p in places[170:171]]  # a one-off last word
        + places[171:]  # 1 word
    )
    enc = CategoricalEncoder("name", min_count=2).fit(names, rng)
    assert enc.other["method"] == "words"
    state = json.dumps(CategoricalEncoder.from_state(enc.state()).state())
    assert "Place" not in state and "Heliport" not in state  # shared words only
    out = _decode(enc, 4000, rng).astype(str)
    assert not set(out) & set(names)
    words = out.str.split().str.len()
    assert abs((words == 3).mean() - 121 / 200) < 0.04
    assert abs((words == 1).mean() - 29 / 200) < 0.03
    assert abs(out.str.endswith(" Airport").mean() - 120 / 200) < 0.04
    assert abs(out.str.endswith(" Field").mean() - 50 / 200) < 0.04
    assert not out.str.endswith("Heliport").any()


def test_mostly_one_off_names_get_new_names_and_the_kept_ones_their_own_share() -> None:
    rng = np.random.default_rng(5)
    solo = [f"Place{i} Municipal Airport" for i in range(180)]
    names = pd.Series(solo + ["Regional Airport"] * 12 + ["Executive"] * 8)
    enc = CategoricalEncoder("name", min_count=2).fit(names, rng)
    assert enc.other["method"] == "words"  # not 180 rows shared by the 2 kept names
    out = _decode(enc, 5000, rng).astype(str)
    assert not set(out) & set(solo)
    assert abs((out == "Regional Airport").mean() - 12 / 200) < 0.02
    assert out.nunique() > 1000
    # only the shared last word is kept, not the words before it
    assert out.str.endswith(" Municipal Airport").mean() < 0.1
    assert abs(out.str.endswith(" Airport").mean() - 192 / 200) < 0.03


def test_table_encoder_round_trip_and_booleans_untouched() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"flag": [True] * 99 + [False], "cat": ["x"] * 60 + ["y"] * 39 + ["z"]})
    enc = TableEncoder({"flag": "boolean", "cat": "categorical"}, min_count=2).fit(frame, rng)
    flag, cat = enc.encoders
    assert flag.withheld == 0 and cat.withheld == 1
    x = enc.transform(frame, rng)
    back = TableEncoder.from_state(json.loads(json.dumps(enc.state()))).inverse(x, rng)
    assert "z" not in set(back["cat"]) and set(back["flag"]) == {True, False}


def test_dependency_lookup_tables_hold_no_one_off_value() -> None:
    from relsynth.models.dependencies import find_dependencies

    cities = ["Paris"] * 100 + ["Lyon"] * 80 + ["Tinyville"]
    countries = ["France"] * 180 + ["Ruritania"]
    frame = pd.DataFrame({"city": cities, "country": countries})
    deps = find_dependencies(frame)
    assert any("Tinyville" in str(d.state()) for d in deps)  # without withholding: kept
    deps = find_dependencies(frame, min_count=2)
    text = json.dumps([d.state() for d in deps])
    assert "Tinyville" not in text and "Ruritania" not in text
