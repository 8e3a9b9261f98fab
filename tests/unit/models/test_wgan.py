"""ConditionalWGAN: context dependence, parameters, errors, budget, progress, threads."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from relsynth.errors import (  # noqa: E402
    ConvergenceWarning,
    DataError,
    NotFittedError,
    ParameterError,
    TrainingError,
)
from relsynth.models import ConditionalWGAN, torch_threads  # noqa: E402
from relsynth.models.base import TrainingBudget  # noqa: E402
from relsynth.models.wgan import Critic, gradient_penalty  # noqa: E402

SMALL = {
    "n_threads": 1,
    "device": "cpu",
    "embedding_dim": 16,
    "generator_dims": (64, 64),
    "critic_dims": (64, 64),
    "batch_size": 200,
}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _planted(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    tier = rng.integers(1, 4, n)
    ctx = pd.DataFrame(
        {
            "parent.tier": tier,
            "parent.category": pd.Series(rng.choice(list("pqrst"), n), dtype="str"),
        }
    )
    table = pd.DataFrame(
        {
            "amount": (100 * tier + rng.normal(0, 5, n)).round(2),
            "category": ctx["parent.category"].copy(),
        }
    )
    return table, ctx


def test_child_follows_parent_context(rng) -> None:
    # Setup: amount = 100 * parent.tier + noise; category copied from the parent.
    # The networks alone must learn it: dependency rules (which would copy the category
    # exactly, see the next test) are off.
    table, ctx = _planted(rng, 1500)
    model = ConditionalWGAN(seed=0, dependencies=False, **SMALL)  # steps from the data, no clock
    model.fit(table, ctx)
    # Run: new parents, never seen in training.
    _, new_ctx = _planted(np.random.default_rng(99), 1000)
    out = model.sample(new_ctx, seed=1)
    # Assert: the dependency is reproduced (chance match rate is 0.2).
    corr = np.corrcoef(out["amount"], new_ctx["parent.tier"])[0, 1]
    match = (out["category"].to_numpy() == new_ctx["parent.category"].to_numpy()).mean()
    assert corr > 0.8, corr
    assert match > 0.6, match


def test_dependency_rules_make_copies_exact(rng) -> None:
    table, ctx = _planted(rng, 600)
    table["label"] = table["category"].str.upper()  # a rule inside the table, too
    model = ConditionalWGAN(seed=0, epochs=2, **SMALL).fit(table, ctx)
    assert {d.column for d in model.dependencies_} == {"category", "label"}
    _, new_ctx = _planted(np.random.default_rng(7), 300)
    out = model.sample(new_ctx, seed=1)
    assert (out["category"] == new_ctx["parent.category"]).all()
    assert (out["label"] == out["category"].str.upper()).all()
    restored = ConditionalWGAN.from_state_dict(model.state_dict())
    pd.testing.assert_frame_equal(restored.sample(new_ctx, seed=1), out)


def test_calibration_brings_marginals_to_the_training_ones(rng) -> None:
    # A skewed number, an unbalanced category and 20 % NULLs, after a few steps only.
    n = 3000
    table = pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 1.0, n).round(2),
            "tier": rng.choice(["gold", "silver", "bronze"], n, p=[0.1, 0.3, 0.6]),
            "score": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1, n)),
        }
    )

    def errors(calibrate: bool) -> tuple[float, float, float]:
        model = ConditionalWGAN(seed=0, epochs=3, calibrate=calibrate, **SMALL).fit(table)
        out = model.sample(n_rows=20_000, seed=1)
        a, b = np.sort(table["amount"]), np.sort(out["amount"])
        grid = np.union1d(a, b)
        ks = np.abs(
            np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b)
        ).max()
        tv = 0.5 * (
            table["tier"]
            .value_counts(normalize=True)
            .subtract(out["tier"].value_counts(normalize=True), fill_value=0)
            .abs()
            .sum()
        )
        return float(ks), float(tv), abs(out["score"].isna().mean() - table["score"].isna().mean())

    raw, calibrated = errors(False), errors(True)
    assert calibrated[0] < 0.03 and calibrated[0] < raw[0], (raw, calibrated)
    assert calibrated[1] < 0.02 and calibrated[2] < 0.02, (raw, calibrated)


def test_root_table_marginals_with_rare_category(rng) -> None:
    n = 2000
    cat = pd.Series(rng.choice(["a", "b", "rare"], n, p=[0.7, 0.28, 0.02]), dtype="str")
    table = pd.DataFrame({"cat": cat, "x": rng.normal(0, 1, n)})
    model = ConditionalWGAN(seed=0, epochs=30, **SMALL).fit(table)
    out = model.sample(n_rows=4000, seed=0)
    share = out["cat"].value_counts(normalize=True)
    assert abs(share.get("a", 0) - 0.7) < 0.1 and share.get("rare", 0) > 0.005


def test_parameter_errors_are_sklearn_style() -> None:
    table = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(
        ParameterError,
        match=r"^The 'epochs' parameter of ConditionalWGAN must "
        r"be an int in the range \[1, inf\)\. Got -1 instead\.$",
    ):
        ConditionalWGAN(epochs=-1).fit(table)
    with pytest.raises(ParameterError, match="'loss' parameter of ConditionalWGAN must be one"):
        ConditionalWGAN(loss="hinge").fit(table)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'kinds'"):
        ConditionalWGAN(kinds={"x": "float"}).fit(table)


def test_not_fitted_and_context_errors(rng) -> None:
    with pytest.raises(
        NotFittedError,
        match=r"^This ConditionalWGAN instance is not fitted yet\. "
        r"Call 'fit'",
    ):
        ConditionalWGAN().sample(n_rows=3)
    table, ctx = _planted(rng, 50)
    model = ConditionalWGAN(seed=0, epochs=1, **SMALL).fit(table, ctx)
    with pytest.raises(DataError, match=r"parent\.tier"):
        model.sample(ctx.drop(columns="parent.tier"))
    with pytest.raises(DataError, match="context"):
        model.sample(n_rows=5)
    with pytest.raises(DataError, match="one context row per table row"):
        ConditionalWGAN(epochs=1, **SMALL).fit(table, ctx.iloc[:10])


def test_callback_logging_and_time_budget(rng, caplog) -> None:
    table, _ = _planted(rng, 100)
    calls: list[tuple[int, int, dict[str, float]]] = []
    model = ConditionalWGAN(
        seed=0, epochs=10, **SMALL, callback=lambda s, t, losses: calls.append((s, t, losses))
    )
    with caplog.at_level(logging.INFO, logger="relsynth.models"):
        model.fit(table)
    assert [c[0] for c in calls] == list(range(1, model.steps_ + 1))
    assert {"critic", "generator", "penalty"} <= set(calls[-1][2])
    progress = [r for r in caplog.records if "%" in r.getMessage()]
    assert 5 <= len(progress) <= 12
    quick = ConditionalWGAN(seed=0, epochs=10_000, max_seconds=0.5, **SMALL).fit(table)
    assert quick.steps_ < 10_000


def test_wgan_clipping_variant_keeps_weights_clipped(rng) -> None:
    table, _ = _planted(rng, 100)
    steps: list[int] = []
    model = ConditionalWGAN(
        loss="wgan", seed=0, epochs=2, callback=lambda s, t, losses: steps.append(s), **SMALL
    ).fit(table)
    assert steps and model.sample(n_rows=5, seed=0).shape == (5, 2)


def test_budget_raises_on_non_finite_and_warns_on_divergence() -> None:
    budget = TrainingBudget("ConditionalWGAN", 10, None, None)
    with pytest.raises(TrainingError, match="non-finite critic loss at step 3/10"):
        budget.report(3, {"critic": math.nan, "generator": 0.0})
    diverged = TrainingBudget("ConditionalWGAN", 10, None, None)
    for step in range(1, 11):
        diverged.report(step, {"critic": -1e6})
    with pytest.warns(ConvergenceWarning, match="diverged"):
        diverged.finish()
    assert TrainingBudget.steps(10_000, 500, None, 40.0, 200, 2000) == 2000
    assert TrainingBudget.steps(100, 500, None, 40.0, 200, 2000) == 400
    assert TrainingBudget.steps(1000, 500, 3, 40.0, 200, 2000) == 6


def test_gradient_penalty_is_zero_for_unit_gradient() -> None:
    critic = Critic(input_dim=1, dims=(), pac=1)
    with torch.no_grad():
        critic.out.weight.fill_(1.0)
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(8, 1, generator=gen), torch.randn(8, 1, generator=gen)
    assert gradient_penalty(critic, real, fake, gen).item() == pytest.approx(0.0, abs=1e-6)


def test_torch_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ParameterError):
        with torch_threads(0):
            pass


def test_torch_threads_without_a_count_keeps_the_enclosing_count() -> None:
    # a model left at n_threads=None samples under its caller's count (a chunk worker
    # pinned to one thread stays at one), and outside any block under the usable cores
    from relsynth.models._torch import usable_cores

    outer = usable_cores() + 1
    with torch_threads(outer):
        with torch_threads() as n:
            assert n == outer and torch.get_num_threads() == outer
        assert torch.get_num_threads() == outer
    with torch_threads() as n:
        assert n == usable_cores()


def test_same_seed_fit_is_reproducible(rng) -> None:
    table, ctx = _planted(rng, 80)
    a = ConditionalWGAN(seed=5, epochs=2, **SMALL).fit(table, ctx).sample(ctx, seed=0)
    b = ConditionalWGAN(seed=5, epochs=2, **SMALL).fit(table, ctx).sample(ctx, seed=0)
    pd.testing.assert_frame_equal(a, b)


def test_batched_context_gives_the_rows_of_the_dense_context(rng, monkeypatch) -> None:
    # Setup: a context of several sampling batches (the batch made small), a fitted
    # child model with calibration on.
    from relsynth.models import wgan

    table, ctx = _planted(rng, 600)
    model = ConditionalWGAN(seed=0, steps=20, **SMALL).fit(table, ctx)
    monkeypatch.setattr(wgan, "_SAMPLE_BATCH", 64)
    _, new_ctx = _planted(np.random.default_rng(3), 300)
    enc = model.context_encoder
    # Run: generate from the compact context (a batch at a time, through the sparse
    # pass) and from the whole dense matrix, from the same seed.
    with torch.no_grad():
        compact = model._generate(enc.compact(new_ctx, rng), None, np.random.default_rng(1))
        dense = model._generate(enc.transform(new_ctx, rng), None, np.random.default_rng(1))
    # Assert: the same values, up to float32 rounding (the sparse pass sums in
    # another order), the same one-hot draws.
    assert compact.shape == (300, model.encoder.dim)
    np.testing.assert_allclose(compact, dense, rtol=0, atol=1e-4)


def test_generator_sampling_pass_equals_its_forward_pass() -> None:
    # Setup: a residual generator with batch norm in eval mode, three input parts.
    from relsynth.models.wgan import Generator

    torch.manual_seed(0)
    gen = Generator(16 + 5 + 30, (64, 48), 12).eval()
    parts = [torch.randn(257, 16), torch.zeros(257, 5), torch.rand(257, 30)]
    # Run / Assert: the buffer pass is the forward pass on the concatenated input, exactly.
    with torch.no_grad():
        expected = gen(torch.cat(parts, dim=1))
        got = gen.generate(parts)
    assert got.shape == (257, 12)
    assert torch.equal(got, expected)


def test_generator_sparse_pass_equals_its_forward_pass_up_to_rounding() -> None:
    # Setup: inputs of dense columns (noise, scalars) and one-hot spans, as a sampled
    # context gives them: the dense columns' values and each row's hot columns.
    from relsynth.models.wgan import Generator

    torch.manual_seed(0)
    gen = Generator(8 + 3 + 2 + 10, (32, 16), 5).eval()
    n = 129
    noise, scalars = torch.randn(n, 8), torch.rand(n, 2)
    hot = torch.stack([13 + torch.randint(0, 4, (n,)), 17 + torch.randint(0, 6, (n,))], dim=1)
    x = torch.zeros(n, 23)
    x[:, :8], x[:, 11:13] = noise, scalars  # columns 8..10: a conditional vector of zeros
    x.scatter_(1, hot, 1.0)
    columns = [*range(8), 11, 12]
    # Run / Assert: the sparse pass is the forward pass, up to float32 rounding.
    with torch.no_grad():
        expected = gen(x)
        got = gen.generate_sparse(torch.cat([noise, scalars], dim=1), columns, hot)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        # the split weights follow the weights: changed weights, a new split
        gen.net[-1].weight.add_(0.5)
        torch.testing.assert_close(
            gen.generate_sparse(torch.cat([noise, scalars], dim=1), columns, hot),
            gen(x),
            rtol=1e-5,
            atol=1e-5,
        )
