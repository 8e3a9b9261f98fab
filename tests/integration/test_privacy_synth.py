"""One-off values are not copied; each column's treatment is reported and saved."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from relsynth import Synthesizer
from relsynth.errors import ParameterError
from relsynth.metadata.infer import infer

FAST = {"steps": 20, "n_threads": 1}


def _tables(n: int = 300) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    towns = ["Springfield", "Shelbyville"]
    solos = [f"Hamlet{i}" for i in range(15)]
    customers = pd.DataFrame(
        {
            "id": range(1, n + 1),
            "town": rng.choice(towns, n - len(solos)).tolist() + solos,
            "tier": rng.choice(["gold", "silver", "bronze"], n).tolist(),
            "diagnosis": ["common"] * (n - 3) + ["rare-a", "rare-b", "rare-c"],
            "username": [f"cust{i:04d}" for i in range(n)],
            "password": [hashlib.sha1(f"pw{i}".encode()).hexdigest() for i in range(n)],
            "region_id": rng.integers(1, 4, n),
        }
    )
    regions = pd.DataFrame({"region_id": [1, 2, 3], "label": ["North", "South", "Solo"]})
    return {"customers": customers, "regions": regions}


def _meta(tables):
    meta = infer(
        tables,
        primary_keys={"regions": "region_id"},
        foreign_keys=["customers.region_id -> regions.region_id"],
    )
    return meta.with_table(replace(meta["regions"], reference=True))


@pytest.fixture(scope="module")
def fitted():
    tables = _tables()
    meta = _meta(tables)
    synth = Synthesizer(meta, seed=0, **FAST).fit(tables)
    return tables, synth


def test_one_off_values_are_withheld_and_reported(fitted) -> None:
    tables, synth = fitted
    withheld = synth.fit_info_.withheld["customers"]
    assert withheld["town"] == 15 and withheld["diagnosis"] == 3
    fake = synth.sample(seed=1)["customers"]
    source = tables["customers"]
    counts = source["town"].value_counts()
    assert not set(fake["town"]) & set(counts[counts < 2].index)
    assert not set(fake["diagnosis"]) & {"rare-a", "rare-b", "rare-c"}
    assert not set(fake["username"]) & set(source["username"])
    assert not set(fake["password"]) & set(source["password"])


def test_privacy_summary_lists_each_column(fitted) -> None:
    _, synth = fitted
    privacy = synth.fit_info_.privacy
    customers = privacy["customers"]
    assert customers["id"] == "keys generated"
    assert customers["tier"] == "learned"
    assert customers["town"] == "learned, rare values withheld (15)"
    assert customers["password"] == "secret regenerated (hex 40)"
    assert customers["username"] == "account name faked"
    assert set(privacy["regions"].values()) == {"copied (reference table)"}


def test_model_file_holds_no_withheld_value_and_keeps_the_summary(fitted, tmp_path) -> None:
    _, synth = fitted
    path = tmp_path / "m.relsynth"
    synth.save(path)
    with zipfile.ZipFile(path) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
    for value in ["Hamlet3", "Hamlet14", "rare-a", "rare-c", "cust0001"]:
        assert value.encode() not in blob
    again = Synthesizer.load(path, device="cpu")
    assert again.fit_info_.privacy == synth.fit_info_.privacy
    assert again.fit_info_.withheld == synth.fit_info_.withheld
    assert again.min_category_count == 2
    assert not set(again.sample(seed=2)["customers"]["diagnosis"]) & {"rare-a", "rare-b"}


def test_min_category_count_one_keeps_every_value_and_is_validated() -> None:
    tables = _tables()
    meta = _meta(tables)
    synth = Synthesizer(meta, seed=0, min_category_count=1, **FAST).fit(tables)
    assert synth.fit_info_.withheld == {}
    with pytest.raises(ParameterError, match="min_category_count"):
        Synthesizer(meta, min_category_count=0).fit(tables)


def test_a_configured_model_gets_the_threshold_unless_it_sets_its_own() -> None:
    from relsynth.models import ConditionalWGAN

    tables = _tables()
    meta = _meta(tables)
    inherits = ConditionalWGAN(steps=5, seed=0)
    synth = Synthesizer(meta, seed=0, table_models={"customers": inherits}, **FAST).fit(tables)
    assert inherits.min_category_count == 2 and synth.fit_info_.withheld["customers"]["town"] == 15
    own = ConditionalWGAN(steps=5, seed=0, min_category_count=1)
    synth = Synthesizer(meta, seed=0, table_models={"customers": own}, **FAST).fit(tables)
    assert own.min_category_count == 1 and "customers" not in synth.fit_info_.withheld
