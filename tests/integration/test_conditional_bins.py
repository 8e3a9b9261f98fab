"""Conditional sampling with quantile bins in the WGANs' conditional vectors (opt-in,
``ConditionalWGAN(numeric_bins=True)``): a root's numeric range is asked of the model,
a child's kept rows are remade from their own bin; every row still meets the condition,
integrity holds, the same seed gives the same database, also from a saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Synthesizer
from relsynth.models.wgan import ConditionalWGAN
from tests.integration.test_conditional import build_shop


@pytest.fixture(scope="module")
def binned_shop(tmp_path_factory):
    url = build_shop(tmp_path_factory.mktemp("bins") / "shop.db")
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    models = {
        t: ConditionalWGAN(numeric_bins=True, steps=150, seed=i, n_threads=1)
        for i, t in enumerate(("customers", "orders"))
    }
    synth = Synthesizer(meta, seed=0, steps=150, n_threads=1, table_models=models)
    synth.fit(tables)
    path = tmp_path_factory.mktemp("bins-model") / "shop.relsynth"
    synth.save(path, overwrite=True)
    return meta, tables, synth, path


def test_models_fitted_with_bins_keep_them(binned_shop):
    _, _, synth, path = binned_shop
    # the numbers and the dates; the status category keeps its own slots
    assert [b.column for b in synth.models_["orders"].bins_] == ["freight", "shipped"]
    loaded = Synthesizer.load(path, device="cpu")
    assert loaded.models_["orders"].bins_ == synth.models_["orders"].bins_


def test_a_child_range_remakes_the_kept_rows_in_their_bin(binned_shop, monkeypatch):
    import relsynth.synthesis._proposal as proposal

    meta, tables, synth, path = binned_shop
    threshold = float(np.quantile(tables["orders"]["freight"], 0.99))
    where = f"orders.freight > {threshold:.2f}"
    synth.sample(seed=3, scale=10, where=where)
    assert synth.sample_report_.conditioned["orders"].refined == 0  # off by default
    monkeypatch.setattr(proposal, "REFINE", True)
    fake = synth.sample(seed=3, scale=10, where=where)
    report = synth.sample_report_.conditioned["orders"]
    assert len(fake["orders"]) and (fake["orders"]["freight"] > threshold).all()
    assert relsynth.check(meta, fake).ok
    assert 0 < report.refined <= report.kept
    assert "remade in their quantile bin" in str(synth.sample_report_)
    again = Synthesizer.load(path, device="cpu").sample(seed=3, scale=10, where=where)
    for name in fake:
        pd.testing.assert_frame_equal(fake[name], again[name])


def test_a_root_range_is_asked_of_the_model(binned_shop):
    meta, tables, synth, _ = binned_shop
    threshold = float(np.quantile(tables["customers"]["age"], 0.95))
    where = f"customers.age > {threshold:.0f}"
    fake = synth.sample(seed=4, scale=5, where=where)
    report = synth.sample_report_.conditioned["customers"]
    assert report.fed == "age" and (fake["customers"]["age"] > threshold).all()
    assert relsynth.check(meta, fake).ok
    plain = synth.sample(seed=4, scale=5)["customers"]
    assert report.rate > (plain["age"] > threshold).mean()  # a higher yield than rejection
