"""A value the keys determine is a condition of the table model, not a value set after it.

``flights.(origin_id, dest_id) determines flights.distance``: the route is sampled
before the row's values, so its distance is known before the model draws them. The
model sees it as context (``__rule.distance``) at fit time (the source rows' routes)
and at sample time (the skeleton's routes), so ``air_time`` is drawn given the
distance the row ends with. The keys it is read from are not re-matched on the
values afterwards (the distance would move away from the one the values were drawn
for).
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.rules import DeterminedValue, fit_rules, parse_rule
from relsynth.rules._values import known_values
from relsynth.synthesis._context import RULE_PREFIX, determined_features
from relsynth.synthesis._sample import row_context
from relsynth.synthesis._state import TableFit

RULE = "flights.(origin_id, dest_id) determines flights.distance"
ORIGIN = ForeignKey("flights", ("origin_id",), "airports", ("code",))
DEST = ForeignKey("flights", ("dest_id",), "airports", ("code",))
CONTEXT = f"{RULE_PREFIX}distance"


def _metadata() -> Metadata:
    flights = (
        Column("id", "id", "INTEGER", False),
        Column("origin_id", "id", "TEXT", False),
        Column("dest_id", "id", "TEXT", False),
        Column("distance", "numerical", "REAL"),
        Column("air_time", "numerical", "REAL"),
    )
    airports = (Column("code", "id", "TEXT", False), Column("lon", "numerical", "REAL"))
    return Metadata(
        tables={
            "airports": Table("airports", airports, primary_key=("code",), reference=True),
            "flights": Table("flights", flights, primary_key=("id",)),
        },
        foreign_keys=(ORIGIN, DEST),
    )


def _tables(seed: int = 0, n: int = 1500) -> dict[str, pd.DataFrame]:
    """3 origins, 20 destinations, 24 routes; air time follows the route's distance."""
    rng = np.random.default_rng(seed)
    codes = [f"A{i:02d}" for i in range(23)]
    lon = rng.uniform(-120, -70, len(codes))
    routes = [(int(rng.integers(0, 3)), int(rng.integers(3, 23))) for _ in range(24)]
    pick = rng.choice(len(routes), n)
    origin = np.array([routes[i][0] for i in pick])
    dest = np.array([routes[i][1] for i in pick])
    distance = np.round(np.abs(lon[origin] - lon[dest]) * 50.0) + 50.0
    flights = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "origin_id": [codes[i] for i in origin],
            "dest_id": [codes[i] for i in dest],
            "distance": distance,
            "air_time": np.round(distance / 8.0 + rng.normal(0, 5, n)),
        }
    )
    return {"airports": pd.DataFrame({"code": codes, "lon": lon}), "flights": flights}


@pytest.fixture(scope="module")
def source() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    meta = _metadata()
    return meta.with_rules(parse_rule(RULE, meta)), _tables()


@pytest.fixture(scope="module")
def fitted(source) -> relsynth.Synthesizer:
    meta, tables = source
    synth = relsynth.Synthesizer(
        meta, seed=0, steps=30, n_threads=1, drivers={"flights": ORIGIN}, rules="metadata"
    )
    return synth.fit(tables)


def _rule(source) -> DeterminedValue:
    meta, tables = source
    (rule,) = fit_rules(meta, tables, find=False)
    assert isinstance(rule, DeterminedValue) and rule.values
    return rule


def test_known_values_give_each_row_its_routes_value_and_null_elsewhere(source):
    rule = _rule(source)
    frame = source[1]["flights"].head(6).copy()
    frame.loc[0, "dest_id"] = "ZZZ"  # a route the rule does not know
    frame.loc[1, "origin_id"] = None  # a NULL key
    got = known_values(frame, rule, "float64")
    assert got.dtype == "float64" and got.index.equals(frame.index)
    assert got.iloc[:2].isna().all()
    assert (got.iloc[2:] == frame["distance"].iloc[2:]).all()
    stamps = known_values(frame, rule, "datetime64[ns]")  # in the column's family
    assert pd.api.types.is_datetime64_any_dtype(stamps.dtype) and stamps.iloc[:2].isna().all()
    assert known_values(frame.drop(columns=["dest_id"]), rule, "float64").isna().all()


def test_determined_features_name_the_column_and_fill_a_dropped_rule_with_nulls(source):
    rule = _rule(source)
    keys = source[1]["flights"].head(4)
    out = determined_features(keys, [("distance", rule), ("gone", None)], {})
    assert list(out.columns) == [CONTEXT, f"{RULE_PREFIX}gone"]
    assert (out[CONTEXT].to_numpy() == keys["distance"].to_numpy()).all()
    assert out[f"{RULE_PREFIX}gone"].isna().all()
    assert determined_features(keys, [], {}) is None


def test_the_model_is_fitted_with_the_value_as_context(fitted):
    fit = fitted.tables_["flights"]
    assert fit.rule_context == ["distance"]
    assert CONTEXT in fit.model.context_encoder.columns
    assert "distance" in fit.layout.learned  # still learned: the fallback of unknown routes


def test_sampled_rows_end_with_the_value_their_values_were_drawn_given(fitted, monkeypatch):
    model = fitted.tables_["flights"].model
    seen: list[pd.DataFrame] = []
    original = model.sample

    def spy(context, *args, **kwargs):
        seen.append(context.extra[[CONTEXT]].copy())
        return original(context, *args, **kwargs)

    monkeypatch.setattr(model, "sample", spy)
    fake = fitted.sample(seed=1)
    assert len(seen) == 1
    given = seen[0][CONTEXT].to_numpy()
    known = ~np.isnan(given)
    assert known.mean() > 0.9
    # the route was not re-matched after the values: the row keeps the distance
    # the model drew its air time for
    assert (fake["flights"]["distance"].to_numpy()[known] == given[known]).all()
    relsynth.check(fitted.metadata, fake).raise_for_violations()


def test_the_same_seed_gives_the_same_rows(fitted):
    a, b = fitted.sample(seed=4), fitted.sample(seed=4)
    pd.testing.assert_frame_equal(a["flights"], b["flights"])


def test_the_model_file_keeps_the_context_and_older_files_have_none(fitted, tmp_path):
    path = tmp_path / "m.relsynth"
    fitted.save(path)
    loaded = relsynth.Synthesizer.load(path)
    assert loaded.tables_["flights"].rule_context == ["distance"]
    again = loaded.sample(seed=2)["flights"]
    pd.testing.assert_frame_equal(again, fitted.sample(seed=2)["flights"])
    with zipfile.ZipFile(path) as archive:
        state = json.loads(archive.read("synthesizer.json"))
    assert state["rule_context"] == {"flights": ["distance"]}
    # a file from before: no rule_context, a model fitted without the value
    old = TableFit.from_dict({**fitted.tables_["flights"].to_dict(), "rule_context": None})
    assert old.rule_context is None
    keys = fitted.sample(seed=2)["flights"][["id", "origin_id", "dest_id"]]
    fitted.tables_["flights"], kept = old, fitted.tables_["flights"]
    try:
        context = row_context(fitted, "flights", keys, {"airports": _tables()["airports"]})
    finally:
        fitted.tables_["flights"] = kept
    assert context is None or context.extra is None or CONTEXT not in context.extra.columns


def test_differential_privacy_keeps_no_value_in_the_context(source):
    """Under DP a rule keeps its text only (no value per route): nothing joins a context."""
    from relsynth.synthesis import _rule_hooks
    from relsynth.synthesis._dp_rules import public_rule

    meta, _ = source
    synth = relsynth.Synthesizer(meta, seed=0)
    synth.rules_ = (_rule(source),)
    assert _rule_hooks.context_columns(synth, "flights", ("distance", "air_time")) == ["distance"]
    synth.rules_ = (public_rule(_rule(source)),)
    assert _rule_hooks.context_columns(synth, "flights", ("distance", "air_time")) == []


def test_the_keys_the_value_is_read_from_are_not_rematched_on_values(fitted):
    from relsynth.synthesis import _rule_hooks

    assert _rule_hooks.context_keys(fitted, "flights") == {ORIGIN, DEST}
    assert not _rule_hooks.context_keys(fitted, "airports")


def test_chunked_sampling_keeps_the_routes_values_on_one_or_two_workers(source, fitted):
    rule = _rule(source)
    one = list(fitted.sample_chunks(scale=2.0, seed=5, chunk_rows=1000, n_jobs=1))
    two = list(fitted.sample_chunks(scale=2.0, seed=5, chunk_rows=1000, n_jobs=2))
    assert len(one) == len(two) > 1
    for a, b in zip(one, two, strict=True):
        pd.testing.assert_frame_equal(a["flights"], b["flights"], check_exact=True)
        want = known_values(a["flights"], rule, "float64")
        known = want.notna().to_numpy()
        assert known.mean() > 0.9
        assert (a["flights"]["distance"].to_numpy()[known] == want.to_numpy()[known]).all()
