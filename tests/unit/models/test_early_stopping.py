"""Deterministic early stopping of ConditionalWGAN on held-back rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.models import ConditionalWGAN, SequenceModel

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
    # a two-column table stops improving long before 2,000 steps (never before half)
    assert 1000 <= a.steps_ < 2000
    assert a.steps_ == b.steps_
    pd.testing.assert_frame_equal(a.sample(n_rows=300, seed=2), b.sample(n_rows=300, seed=2))


def test_without_early_stopping_every_step_runs_and_small_tables_never_hold_back():
    plain = ConditionalWGAN(seed=1, steps=60, **SMALL).fit(_table())
    assert plain.steps_ == 60
    tiny = ConditionalWGAN(seed=1, steps=60, early_stopping=True, **SMALL).fit(_table(1999))
    assert tiny.steps_ == 60
    # nothing held back: the very model that trains without early stopping
    same = ConditionalWGAN(seed=1, steps=60, **SMALL).fit(_table(1999))
    pd.testing.assert_frame_equal(tiny.sample(n_rows=200, seed=2), same.sample(n_rows=200, seed=2))


SEQ = {"n_threads": 1, "device": "cpu", "hidden_dim": 16, "noise_dim": 8, "batch_size": 32}


def _sequences(n_seq: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 6, n_seq)
    rate = rng.choice([1.0, 5.0], n_seq)
    rows = int(lengths.sum())
    table = pd.DataFrame(
        {
            "seq": np.concatenate([np.arange(1, k + 1) for k in lengths]).astype(np.int64),
            "v": np.repeat(rate, lengths) + rng.normal(size=rows),
            "kind": rng.choice(["x", "y"], rows),
        }
    )
    return table, pd.DataFrame({"parent.rate": rate}), lengths


def test_sequence_model_stops_early_deterministically_and_keeps_every_step_without_it():
    table, ctx, lengths = _sequences(1200)

    def fit(**kw: object) -> SequenceModel:
        return SequenceModel(order_column="seq", seed=3, calibrate=False, **SEQ, **kw).fit(
            table, ctx, lengths=lengths
        )

    a, b = fit(steps=1500, early_stopping=True), fit(steps=1500, early_stopping=True)
    # a three-column sequence table stops improving long before 1,500 steps (never
    # before half of them)
    assert 750 <= a.steps_ < 1500
    assert a.steps_ == b.steps_
    pd.testing.assert_frame_equal(
        a.sample(ctx, lengths=lengths, seed=2), b.sample(ctx, lengths=lengths, seed=2)
    )
    assert fit(steps=60).steps_ == 60
    # under 1,000 sequences nothing is held back and every step runs
    small, small_ctx, small_lengths = _sequences(900)
    few = SequenceModel(order_column="seq", seed=3, steps=60, early_stopping=True, **SEQ)
    assert few.fit(small, small_ctx, lengths=small_lengths).steps_ == 60
    same = SequenceModel(order_column="seq", seed=3, steps=60, **SEQ)
    same.fit(small, small_ctx, lengths=small_lengths)
    pd.testing.assert_frame_equal(
        few.sample(small_ctx, lengths=small_lengths, seed=1),
        same.sample(small_ctx, lengths=small_lengths, seed=1),
    )


def test_early_stopping_by_default_only_where_the_data_set_the_steps():
    from relsynth.models.budget import early_stopping_on

    for cls in (ConditionalWGAN, SequenceModel):
        assert early_stopping_on(cls())  # steps from the data
        assert not early_stopping_on(cls(steps=100))
        assert not early_stopping_on(cls(epochs=3))
        assert early_stopping_on(cls(steps=100, early_stopping=True))
        assert not early_stopping_on(cls(early_stopping=False))
