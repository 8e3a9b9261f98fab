"""ContextTails: P(value bin | context) of a child's numeric columns (relsynth/models/tails.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.models.tails import MIN_GAIN, ContextTails, TailColumn, _bins, fit_tails


def _planted(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    # a context of two features; the value's top tail sits where the first is high and
    # the second near 0 (a bump, not a line: a linear read of the context would miss it)
    rng = np.random.default_rng(seed)
    ctx = rng.normal(size=(n, 2)).astype(np.float32)
    storm = (ctx[:, 0] > 1.0) & (np.abs(ctx[:, 1]) < 0.5)
    value = rng.gamma(2.0, 10.0, n) + np.where(storm, rng.gamma(2.0, 60.0, n), 0.0)
    noise = rng.normal(size=n)  # a column the context says nothing about
    return pd.DataFrame({"delay": value, "noise": noise}), ctx


def test_the_tail_probability_follows_the_context_and_keeps_the_source_share():
    values, ctx = _planted()
    tails = fit_tails(values, ctx, seed=1, min_count=5)
    assert tails is not None
    threshold = float(np.quantile(values["delay"], 0.99))
    p = tails.probability(ctx, "delay", threshold, None)
    storm = (ctx[:, 0] > 1.0) & (np.abs(ctx[:, 1]) < 0.5)
    real = values["delay"].to_numpy() > threshold
    assert abs(p.sum() - real.sum()) < 0.25 * real.sum()  # the source's share of slots
    # the real tail is almost all storm rows; so are the slots the probability picks
    assert real[storm].mean() > 10 * real[~storm].mean()
    assert p[storm].mean() > 8 * p[~storm].mean()
    # the held-out skill at the tail's edge: the context explains much of it; the noise
    # column's edges none
    assert tails.range_skill("delay", threshold, None) > 0.2
    assert max(tails.skill["noise"]) < 0.05 and tails.range_skill("missing", 1.0, None) == 0.0
    # a column the context does not predict is left to the generator
    assert tails.gains["noise"] < MIN_GAIN <= tails.gains["delay"]
    assert tails.probability(ctx, "noise", 0.0, None) is None
    assert tails.probability(ctx, "missing", 0.0, None) is None


def test_no_signal_no_tails_and_the_state_round_trips():
    rng = np.random.default_rng(3)
    ctx = rng.normal(size=(5_000, 3)).astype(np.float32)
    assert fit_tails(pd.DataFrame({"x": rng.normal(size=5_000)}), ctx, 0, 5) is None
    values, ctx = _planted(8_000)
    tails = fit_tails(values, ctx, seed=2, min_count=5)
    back = ContextTails.from_state(tails.state())
    a = tails.probability(ctx, "delay", 50.0, 200.0)
    np.testing.assert_allclose(back.probability(ctx, "delay", 50.0, 200.0), a, rtol=1e-6)
    assert back.skill == tails.skill and back.gains == tails.gains
    assert back.share("delay", 50.0, None) == tails.share("delay", 50.0, None) > 0
    assert ContextTails.from_state(None) is None
    # deterministic by seed
    again = fit_tails(values, ctx, seed=2, min_count=5)
    np.testing.assert_array_equal(again.probability(ctx, "delay", 50.0, 200.0), a)


def test_bins_merge_rare_tails_and_share_a_range():
    x = np.r_[np.arange(1000.0), [np.nan] * 10]
    col = _bins("x", x, min_count=5)
    assert col is not None and col.null
    counts = np.bincount(col.labels(x), minlength=col.width)
    assert counts.min() >= 5  # the 0.1 % bins (one row each) merged inwards
    assert col.labels(np.array([np.nan]))[0] == col.width - 1
    edges = np.asarray(col.edges)
    # a bin inside the range counts whole, one outside not at all, NULL never
    share = col.share_in(float(edges[-3]), None)
    assert share[-2] == 1.0 and share[0] == 0.0 and share[-1] == 0.0
    # a one-value column has no bins; a bin of one value is in or out
    assert _bins("c", np.ones(100), 5) is None
    point = TailColumn("p", (0.0, 1.0, 1.0, 2.0), False)
    assert point.share_in(0.5, None).tolist() == [0.5, 1.0, 1.0]
    assert point.share_in(1.0, None).tolist()[1] == 0.0  # strictly above the point


def test_a_column_with_infinities_gets_finite_edges() -> None:
    # a float column may hold +-inf (PostgreSQL's 'Infinity'): the edges come from the
    # finite values, the infinities fall in the outer bins, no NaN arithmetic
    x = np.concatenate([np.linspace(0, 100, 400), [np.inf, -np.inf, np.nan]])
    col = _bins("x", x, 2)
    assert col is not None and np.isfinite(col.edges).all()
    labels = col.labels(x)
    assert labels[-3] == labels[:400].max() and labels[-2] == labels[:400].min()


def test_a_deadline_keeps_no_tails_that_could_not_train():
    import time

    values, ctx = _planted(8_000)
    # a fit under a time budget whose share is spent, or ends before MIN_STEPS steps
    assert fit_tails(values, ctx, seed=2, min_count=5, deadline=time.time() - 1) is None
    assert fit_tails(values, ctx, seed=2, min_count=5, deadline=time.time() + 0.02) is None
    # a deadline that leaves time changes nothing: the steps decide
    far = fit_tails(values, ctx, seed=2, min_count=5, deadline=time.time() + 600)
    plain = fit_tails(values, ctx, seed=2, min_count=5)
    np.testing.assert_array_equal(
        far.probability(ctx, "delay", 50.0, 200.0), plain.probability(ctx, "delay", 50.0, 200.0)
    )
