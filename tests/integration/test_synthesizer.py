"""Synthesizer end to end on real data: fit, sample, check, save/load, determinism."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import ArtifactError, DataError, NotFittedError, ParameterError, Synthesizer
from tests.conftest import dataset_url

FAST = {"steps": 50, "n_threads": 1}


@pytest.fixture(scope="module")
def northwind():
    meta = relsynth.reflect(dataset_url("northwind"))
    tables = relsynth.read_tables(dataset_url("northwind"), meta)
    return meta, tables


@pytest.fixture(scope="module")
def fitted(northwind):
    meta, tables = northwind
    return Synthesizer(meta, seed=3, **FAST).fit(tables)


def test_sample_is_clean_and_sized(northwind, fitted):
    meta, tables = northwind
    fake = fitted.sample(seed=11)
    assert relsynth.check(meta, fake).ok
    assert set(fake) == set(meta.tables)
    for name in fitted.plan_.roots:
        assert len(fake[name]) == len(tables[name]), name
    for name, frame in fake.items():
        assert list(frame.columns) == list(tables[name].columns), name
    # child sizes follow the learned cardinalities (within 10% of the source for big tables)
    for name in ("Orders", "Order Details"):
        assert abs(len(fake[name]) - len(tables[name])) <= 0.1 * len(tables[name]), name


def test_scale_multiplies_roots(fitted, northwind):
    meta, tables = northwind
    small = fitted.sample(scale=0.5, seed=1)
    big = fitted.sample(scale=3, seed=1)
    assert relsynth.check(meta, small).ok and relsynth.check(meta, big).ok
    for name in fitted.plan_.roots:
        if name in fitted.copies_:
            continue
        assert len(small[name]) == round(len(tables[name]) * 0.5), name
        assert len(big[name]) == round(len(tables[name]) * 3), name
    assert len(big["Orders"]) > 2 * len(tables["Orders"])


def test_same_seed_same_database(fitted):
    a = fitted.sample(seed=5)
    b = fitted.sample(seed=5)
    c = fitted.sample(seed=6)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["Orders"].equals(c["Orders"])


def test_personal_text_is_never_copied(northwind, fitted):
    meta, tables = northwind
    fake = fitted.sample(seed=2)
    checked = 0
    for name, table in meta.tables.items():
        for col in table.columns:
            if col.kind == "text" and col.pii in (
                "name",
                "company",
                "email",
                "phone",
                "street",
                "address",
                "url",
            ):
                real = set(tables[name][col.name].dropna().astype(str))
                synth = set(fake[name][col.name].dropna().astype(str))
                assert not real & synth, f"{name}.{col.name} copies {sorted(real & synth)[:3]}"
                checked += 1
    assert checked >= 3  # Customers.CompanyName/ContactName/Phone at least


def test_save_load_gives_identical_samples(fitted, tmp_path):
    path = tmp_path / "northwind.relsynth"
    fitted.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "manifest.json" in names and "metadata.json" in names
        blob = b"".join(zf.read(n) for n in names)
    assert b"Maria Anders" not in blob  # a source contact name is not stored
    loaded = Synthesizer.load(path, device="cpu")
    a = fitted.sample(seed=9)
    b = loaded.sample(seed=9)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    with pytest.raises(ArtifactError, match="already exists"):
        fitted.save(path)


def test_state_dict_round_trip_gives_identical_samples(fitted):
    from relsynth.synthesis._state import TableFit

    state = fitted.state_dict()
    assert list(state["tables"]) == list(fitted.plan_.order)
    tables = {
        name: TableFit.from_dict(fit.to_dict(), device="cpu")
        for name, fit in state["tables"].items()
    }
    copied = {n for n, fit in tables.items() if fit.copy is not None}
    assert copied == set(fitted.copies_)
    for name, fit in tables.items():
        assert fit.layout == fitted.layouts_[name] and fit.dtypes == fitted.dtypes_[name]
        assert type(fit.model) is type(fitted.models_[name])
    rebuilt = Synthesizer.from_state_dict({**state, "tables": tables}, device="cpu")
    a = fitted.sample(seed=4)
    b = rebuilt.sample(seed=4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_newer_model_file_is_refused(fitted, tmp_path):
    import json

    path = tmp_path / "m.relsynth"
    fitted.save(path)
    newer = tmp_path / "newer.relsynth"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "manifest.json":
                manifest = json.loads(data)
                manifest["format_version"] = 99
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    with pytest.raises(ArtifactError, match="format_version 99"):
        Synthesizer.load(newer)


def test_global_rng_state_is_untouched(northwind):
    import torch

    meta, tables = northwind
    small = meta.subset(["Regions", "Territories"])
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    synth = Synthesizer(small, seed=0, steps=5, n_threads=1).fit(tables)
    synth.sample(seed=0)
    assert (np.random.get_state()[1] == np_state).all()
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_errors_are_clear(northwind):
    meta, tables = northwind
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Synthesizer(meta).sample()
    with pytest.raises(ParameterError, match="'max_seconds' parameter of Synthesizer"):
        Synthesizer(meta, max_seconds=-1).fit(tables)
    with pytest.raises(DataError, match="Tables missing from the data: Regions"):
        Synthesizer(meta).fit({k: v for k, v in tables.items() if k != "Regions"})


def test_orphans_are_reported_or_dropped(northwind):
    meta, tables = northwind
    small = meta.subset(["Regions", "Territories"])
    broken = dict(tables)
    territories = tables["Territories"].copy()
    territories.loc[0, "RegionID"] = 999
    broken["Territories"] = territories
    with pytest.raises(DataError, match=r"Territories\(RegionID\) -> Regions\(RegionID\)"):
        Synthesizer(small, steps=5).fit(broken)
    synth = Synthesizer(small, steps=5, n_threads=1, seed=0).fit(broken, on_violations="drop")
    assert synth.fit_info_.dropped_rows == {"Territories": 1}
    assert relsynth.check(small, synth.sample(seed=0)).ok


def test_same_seed_same_model_and_settings_reach_the_models(northwind):
    # a fixed number of training steps: the same seed gives the same model
    meta, tables = northwind
    one = Synthesizer(meta, seed=8, steps=4, n_threads=1).fit(tables)
    two = Synthesizer(meta, seed=8, steps=4, n_threads=1).fit(tables)
    model = one.models_["Orders"]
    assert model is not None and model.n_threads == 1 and model.steps == 4 == model.steps_
    a, b = one.sample(seed=4), two.sample(seed=4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


@pytest.mark.timing
def test_time_budget_is_shared_by_size_and_kept(northwind, tmp_path):
    # Setup: 12 s for the whole fit of Northwind's 13 tables.
    meta, tables = northwind
    synth = Synthesizer(
        meta, seed=0, n_threads=1, time_budget=12.0, copy_reference_tables=False
    ).fit(tables)  # every table modelled, Regions (a lookup table) included
    # Assert: the fit stays within the budget (a little slack for the last table's
    # encoders), and the big tables got bigger training slices than the tiny ones.
    assert synth.fit_info_.seconds["total"] < 12.0 + 3.0
    budgets = {n: m.max_seconds for n, m in synth.models_.items() if m is not None}
    assert max(budgets, key=budgets.get) in ("Orders", "Order Details")
    assert budgets["Order Details"] > 2 * budgets["Regions"]
    assert budgets["Orders"] > 2 * budgets["Regions"]
    # The budget is a setting of the saved model.
    path = tmp_path / "nw.relsynth"
    synth.save(path)
    assert relsynth.Synthesizer.load(path).time_budget == 12.0


def _two_parent_shop(rng: np.random.Generator) -> tuple[relsynth.Metadata, dict[str, pd.DataFrame]]:
    """Orders of customers (the driver) for products (a secondary parent): an order's
    amount follows its *product's* tier, not its customer."""
    from relsynth import Column, ForeignKey, Metadata, Table

    meta = Metadata(
        {
            "customers": Table(
                "customers",
                (
                    Column("cid", "id", "INTEGER", nullable=False),
                    Column("segment", "categorical", "TEXT"),
                ),
                primary_key=("cid",),
            ),
            "products": Table(
                "products",
                (
                    Column("pid", "id", "INTEGER", nullable=False),
                    Column("tier", "categorical", "TEXT"),
                    Column("name", "categorical", "TEXT"),  # distinct: left out of the context
                ),
                primary_key=("pid",),
            ),
            "orders": Table(
                "orders",
                (
                    Column("oid", "id", "INTEGER", nullable=False),
                    Column("cid", "id", "INTEGER", nullable=False),
                    Column("pid", "id", "INTEGER", nullable=False),
                    Column("amount", "numerical", "REAL"),
                ),
                primary_key=("oid",),
            ),
        },
        (
            ForeignKey("orders", ("cid",), "customers", ("cid",), nullable=False),
            ForeignKey("orders", ("pid",), "products", ("pid",), nullable=False),
        ),
    )
    n_c, n_p, n_o = 200, 60, 3000
    tier = rng.choice(["budget", "premium"], n_p)
    tables = {
        "customers": pd.DataFrame({"cid": np.arange(n_c), "segment": rng.choice(list("abc"), n_c)}),
        "products": pd.DataFrame(
            {"pid": np.arange(n_p), "tier": tier, "name": [f"product {i}" for i in range(n_p)]}
        ),
    }
    pid = rng.integers(0, n_p, n_o)
    amount = np.where(tier[pid] == "premium", 500.0, 20.0) * rng.lognormal(0.0, 0.1, n_o)
    tables["orders"] = pd.DataFrame(
        {"oid": np.arange(n_o), "cid": rng.integers(0, n_c, n_o), "pid": pid, "amount": amount}
    )
    return meta, tables


def test_a_value_follows_its_secondary_parent(rng, tmp_path):
    # Setup: the amount of an order is set by its product (premium about 500, budget
    # about 20); the customer, the driver parent, says nothing about it.
    meta, tables = _two_parent_shop(rng)
    driver = next(fk for fk in meta.foreign_keys if fk.parent == "customers")
    synth = Synthesizer(meta, seed=0, steps=240, n_threads=1, drivers={"orders": driver})
    synth.fit(tables)
    # the product's tier joins the context; so does its (distinct) name, as the products
    # are a lookup table copied verbatim (a modelled table's new names would mean nothing)
    products = next(i for i, fk in enumerate(meta.foreign_keys) if fk.parent == "products")
    assert synth.fit_info_.models["products"] == "copy"
    assert synth.context_keys_["orders"] == [[products, ["tier", "name"]]]
    modelled = Synthesizer(
        meta, seed=0, steps=2, n_threads=1, drivers={"orders": driver}, copy_reference_tables=False
    ).fit(tables)
    assert modelled.context_keys_["orders"] == [[products, ["tier"]]]
    # Run: a new database, new products among them.
    fake = synth.sample(seed=1)
    orders = fake["orders"].merge(fake["products"], on="pid")
    premium = orders["tier"] == "premium"
    # Assert: the amount follows the new product's tier (without its context, both
    # tiers would get the same mix of amounts).
    high = orders["amount"] > 100
    assert (high == premium).mean() > 0.9, (high == premium).mean()
    # and a saved model keeps the context (same samples after loading)
    path = tmp_path / "shop.relsynth"
    synth.save(path)
    again = Synthesizer.load(path).sample(seed=1)
    pd.testing.assert_frame_equal(again["orders"], fake["orders"])
