"""Deterministic early stopping of ConditionalWGAN on held-back rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.models import ConditionalWGAN

SMALL = {
    "generator_dims": (32,),
    "critic_dims": (32,),
    "embedding_dim": 16,
    "batch_size": 100,
    "pac": 5,
    "n_threads": 1,
    "device": "cpu",
    "calibrate": False,
    "dependencies": False,
}


def _table(n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)})


def test_early_stopping_stops_before_the_steps_and_is_deterministic():
    table = _table()
    a = ConditionalWGAN(seed=1, steps=2000, early_stopping=True, **SMALL).fit(table)
    b = ConditionalWGAN(seed=1, steps=2000, early_stopping=True, **SMALL).fit(table)
    # a two-column table stops improving long before 2,000 steps
    assert 500 <= a.steps_ < 2000
    assert a.steps_ == b.steps_
    pd.testing.assert_frame_equal(a.sample(n_rows=300, seed=2), b.sample(n_rows=300, seed=2))


def test_without_early_stopping_every_step_runs_and_small_tables_never_hold_back():
    plain = ConditionalWGAN(seed=1, steps=60, **SMALL).fit(_table())
    assert plain.steps_ == 60
    tiny = ConditionalWGAN(seed=1, steps=60, early_stopping=True, **SMALL).fit(_table(300))
    assert tiny.steps_ == 60
