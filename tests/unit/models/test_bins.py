"""Quantile bins of continuous columns in the WGAN's conditional vector (models/_bins.py),
their training-by-sampling, the numeric feed of conditional sampling and the model file."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from relsynth.models._bins import EDGES, NumericBins, fit_bins
from relsynth.models._conditioned import category_feed, column_bins, fed, numeric_feed
from relsynth.models.encoding import TableEncoder
from relsynth.models.wgan import ConditionalWGAN
from relsynth.models.wgan_networks import ConditionalSampler

SMALL = {"generator_dims": (64, 64), "critic_dims": (64, 64), "batch_size": 200}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    delay = rng.exponential(20.0, n).round(1)
    # the late rows are mostly in the evening: a dependence a plain tail sample loses
    evening = rng.random(n) < np.where(delay > np.quantile(delay, 0.95), 0.9, 0.2)
    return pd.DataFrame(
        {
            "delay": delay,
            "when": np.where(evening, "evening", "morning"),
            "constant": np.ones(n),
        }
    )


def test_bins_cut_the_quantile_rank_finer_in_the_tails():
    table = _table()
    enc = TableEncoder(method="quantile").fit(table, np.random.default_rng(0))
    x = enc.transform(table, np.random.default_rng(0))
    bins = fit_bins(enc, x)
    assert [b.column for b in bins] == ["delay"]  # a constant column has one bin: none
    (b,) = bins
    assert b.width == len(EDGES) - 1 and b.edges[0] == -1.0 and b.edges[-1] == 1.0
    # each bin holds the share of rows its quantile ranks say
    assert np.allclose(b.freq, np.diff(EDGES), atol=0.01)
    levels = b.levels(x[:, b.start])
    top = table["delay"].to_numpy() >= np.quantile(table["delay"], 0.995)
    assert (levels[top] == b.width - 1).all()
    assert NumericBins.from_state(b.state()) == b
    assert fit_bins(enc, x, exclude=["delay"]) == []


def test_training_by_sampling_draws_real_rows_of_the_asked_bin():
    table = _table()
    enc = TableEncoder(method="quantile").fit(table, np.random.default_rng(0))
    x = enc.transform(table, np.random.default_rng(0))
    bins = fit_bins(enc, x)
    sampler = ConditionalSampler(enc, x, 0.0, bins)
    idx, cond, col, level = sampler.sample(20_000, np.random.default_rng(1))
    n_disc = len(sampler.spans)
    binned = col == n_disc
    # a share of the rows asks for a bin, the rest for a category
    assert 0.1 < binned.mean() < 0.3 and (col[~binned] < n_disc).all()
    real_levels = bins[0].levels(x[idx[binned], bins[0].start])
    assert (real_levels == level[binned]).all()  # the real row is in the asked bin
    slot = sampler.offsets[n_disc] + level[binned]
    assert (cond[np.flatnonzero(binned), slot] == 1).all() and (cond.sum(axis=1) == 1).all()
    # the rare top bin is asked for far more often than its 1 % of rows
    assert (level[binned] == bins[0].width - 1).mean() > 0.05
    # without bins the sampler draws exactly as before them
    a = ConditionalSampler(enc, x, 0.5).sample(500, np.random.default_rng(3))
    b = ConditionalSampler(enc, x, 0.5, ()).sample(500, np.random.default_rng(3))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.fixture(scope="module")
def fitted():
    return ConditionalWGAN(steps=300, seed=0, numeric_bins=True, **SMALL).fit(_table())


def test_a_numeric_range_is_fed_as_its_bins_and_the_generator_follows(fitted):
    model = fitted
    assert [b.column for b in model.bins_] == ["delay"]
    table = _table()
    cut = float(np.quantile(table["delay"], 0.99))
    feed = numeric_feed(model, "delay", cut, None)
    bins, offset = column_bins(model, "delay")
    assert feed is not None and feed.slots[-1] == offset + bins.width - 1
    assert 0.005 < feed.share < 0.02  # about the 1 % of training rows above the cut
    plain = model.sample(n_rows=2000, seed=1)
    with fed(model, feed):
        asked = model.sample(n_rows=2000, seed=1)
    assert "_sampling_conditions" not in vars(model)  # the feed is gone after the block
    plain_rate = (plain["delay"] > cut).mean()
    asked_rate = (asked["delay"] > cut).mean()
    # asked for the top bin, the generator gives several times more rows above the cut
    # (at 300 steps only 7 %: why the bins are off by default, docs/models.md)
    assert asked_rate > 3 * plain_rate, (plain_rate, asked_rate)
    # and its rows there lean to the evening, as the real late rows do
    inside = asked[asked["delay"] > cut]
    assert (inside["when"] == "evening").mean() > (plain["when"] == "evening").mean()
    # ranges outside the data, and columns without bins, give no feed
    assert numeric_feed(model, "delay", None, -1.0) is None
    assert numeric_feed(model, "when", 1.0, None) is None
    assert category_feed(model, "when", ["evening"]) is not None


def test_per_row_feed_asks_each_row_for_its_own_slot(fitted):
    model = fitted
    bins, offset = column_bins(model, "delay")
    feed = numeric_feed(model, "delay", None, None)
    rows = np.array([offset] * 300 + [offset + bins.width - 1] * 300)
    with fed(model, feed, rows=rows):
        out = model.sample(n_rows=600, seed=2)
    table = _table()
    low, high = np.quantile(table["delay"], [0.05, 0.95])
    first, last = out["delay"][:300], out["delay"][300:]
    assert (first < low).mean() > 2 * (last < low).mean()
    assert (last > high).mean() > 2 * (first > high).mean()


def test_the_bins_travel_in_the_model_file_and_old_files_have_none(fitted):
    model = fitted
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    again = ConditionalWGAN.from_state_dict(torch.load(buf, weights_only=True))
    assert again.bins_ == model.bins_
    a, b = model.sample(n_rows=50, seed=4), again.sample(n_rows=50, seed=4)
    pd.testing.assert_frame_equal(a, b)
    # a model fitted without bins (the default): the conditional vector as before them
    off = ConditionalWGAN(steps=20, seed=0, **SMALL).fit(_table(300))
    assert list(off.bins_) == []
    old = off.state_dict()
    del old["fitted"]["bins"], old["params"]["numeric_bins"]  # a file saved before the bins
    loaded = ConditionalWGAN.from_state_dict(old)
    assert list(loaded.bins_) == [] and loaded._cond_dim() == off._cond_dim()
    assert numeric_feed(loaded, "delay", 10.0, None) is None
