"""The networks and training steps of :class:`~relsynth.models.sequential.SequenceModel`.

An LSTM :class:`SequenceGenerator` whose initial state comes from the encoded parent
context (plus noise), and a masked 1-D convolution :class:`SequenceCritic` with mean
and max pooling over the valid steps, trained with WGAN-GP (Gulrajani et al., 2017):
convolutions support the double backward of the gradient penalty on every device,
which cuDNN's recurrent layers do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from relsynth.models._torch import activate, hard_sample
from relsynth.models.budget import GapMonitor, HoldoutStopper, span_gap

if TYPE_CHECKING:
    from relsynth.models.sequential import SequenceModel

__all__ = [
    "SequenceCritic",
    "SequenceHoldoutMonitor",
    "SequenceGenerator",
    "SequenceTraining",
    "positions",
    "seq_critic_step",
    "seq_generator_step",
    "sequence_gradient_penalty",
    "split_sequences",
]


class SequenceGenerator(nn.Module):
    """LSTM generator: context + noise -> initial state and start values; noise -> steps."""

    def __init__(
        self, ctx_dim: int, noise_dim: int, hidden: int, step_dim: int, start_dim: int
    ) -> None:
        super().__init__()
        self.init = nn.Linear(ctx_dim + noise_dim, 2 * hidden)
        self.start = nn.Sequential(
            nn.Linear(ctx_dim + noise_dim, hidden), nn.ReLU(), nn.Linear(hidden, max(start_dim, 1))
        )
        self.lstm = nn.LSTM(noise_dim + ctx_dim + 2, hidden, batch_first=True)
        self.out = nn.Linear(hidden, max(step_dim, 1))

    def forward(
        self, ctx: torch.Tensor, z0: torch.Tensor, zt: torch.Tensor, pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw step outputs ``(B, T, step_dim)`` and start outputs ``(B, start_dim)``."""
        head = torch.cat([ctx, z0], dim=1)
        h0, c0 = torch.tanh(self.init(head)).chunk(2, dim=1)
        steps = torch.cat([zt, ctx[:, None, :].expand(-1, zt.shape[1], -1), pos], dim=2)
        y, _ = self.lstm(steps, (h0[None].contiguous(), c0[None].contiguous()))
        return self.out(y), self.start(head)


class SequenceCritic(nn.Module):
    """Masked two-layer 1-D convolution, mean+max pooled, joined with start and context."""

    def __init__(self, step_dim: int, start_dim: int, ctx_dim: int, hidden: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(step_dim + ctx_dim + 2, hidden, 3, padding=1)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.head = nn.Sequential(
            nn.Linear(2 * hidden + start_dim + ctx_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(
        self,
        steps: torch.Tensor,
        start: torch.Tensor,
        ctx: torch.Tensor,
        pos: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Score ``(B, 1)`` of sequences ``steps`` (``mask``: 1 on valid steps)."""
        m = mask[:, None, :]
        x = torch.cat([steps, ctx[:, None, :].expand(-1, steps.shape[1], -1), pos], dim=2)
        h = F.leaky_relu(self.conv1(x.transpose(1, 2) * m), 0.2) * m
        h = F.leaky_relu(self.conv2(h), 0.2) * m
        mean = h.sum(dim=2) / m.sum(dim=2).clamp_min(1.0)
        peak = h.masked_fill(m == 0, -1e4).amax(dim=2)
        return self.head(torch.cat([mean, peak, start, ctx], dim=1))


def sequence_gradient_penalty(
    critic: SequenceCritic,
    real: tuple[torch.Tensor, torch.Tensor],
    fake: tuple[torch.Tensor, torch.Tensor],
    ctx: torch.Tensor,
    pos: torch.Tensor,
    mask: torch.Tensor,
    gen: torch.Generator,
    lambda_: float = 10.0,
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al., 2017) on interpolated (steps, start) pairs."""
    alpha = torch.rand(len(ctx), 1, generator=gen, device=ctx.device)
    steps = (alpha[:, :, None] * real[0] + (1 - alpha[:, :, None]) * fake[0]).requires_grad_(True)
    start = (alpha * real[1] + (1 - alpha) * fake[1]).requires_grad_(True)
    score = critic(steps, start, ctx, pos, mask)
    g_steps, g_start = torch.autograd.grad(score.sum(), [steps, start], create_graph=True)
    norm = torch.cat([g_steps.flatten(1), g_start], dim=1).norm(2, dim=1)
    return lambda_ * ((norm - 1.0) ** 2).mean()


@dataclass
class SequenceTraining:
    generator: SequenceGenerator
    critic: SequenceCritic
    opt_g: torch.optim.Optimizer
    opt_c: torch.optim.Optimizer
    steps: torch.Tensor  # (n_rows, step_dim), rows of non-empty sequences in order
    starts: torch.Tensor  # (n_seq, start_dim)
    context: torch.Tensor  # (n_seq, ctx_dim)
    offsets: np.ndarray
    lengths: np.ndarray
    model: SequenceModel
    batch: int
    rng: np.random.Generator
    gen: torch.Generator

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded real steps, starts, contexts, position features and mask of a batch."""
        seq = self.rng.integers(0, len(self.lengths), size=self.batch)
        lens = self.lengths[seq]
        t = np.arange(lens.max())
        rows = self.offsets[seq][:, None] + np.minimum(t[None, :], lens[:, None] - 1)
        mask = torch.from_numpy((t[None, :] < lens[:, None]).astype(np.float32))
        dev = self.steps.device
        real = self.steps[torch.from_numpy(rows).to(dev)] * mask.to(dev)[:, :, None]
        idx = torch.from_numpy(seq).to(dev)
        pos = torch.from_numpy(positions(lens, len(t))).to(dev)
        return real, self.starts[idx], self.context[idx], pos, mask.to(dev)

    def fake(
        self, ctx: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Activated generated steps (masked) and starts for a batch."""
        raw, raw_start = self.model._run_generator(self.generator, ctx, pos, self.gen)
        enc, senc = self.model.encoder, self.model.start_encoder
        b, t, _ = raw.shape
        steps = activate(raw.reshape(b * t, -1), enc.spans, self.gen).reshape(b, t, -1)
        start = activate(raw_start, senc.spans, self.gen)
        return steps * mask[:, :, None], start


def positions(lens: np.ndarray, t_max: int) -> np.ndarray:
    """Per-step features: relative position in the sequence and log length."""
    t = np.arange(t_max)[None, :].astype(np.float32)
    rel = t / np.maximum(lens[:, None] - 1, 1)
    loglen = np.broadcast_to(np.log1p(lens[:, None]) / 5.0, rel.shape)
    return np.stack([rel, loglen], axis=2).astype(np.float32)


def seq_critic_step(t: SequenceTraining, gp_lambda: float) -> dict[str, float]:
    """One WGAN-GP critic update over a batch of whole sequences."""
    real, start, ctx, pos, mask = t.draw()
    with torch.no_grad():
        fake, fake_start = t.fake(ctx, pos, mask)
    distance = (
        t.critic(real, start, ctx, pos, mask).mean()
        - t.critic(fake, fake_start, ctx, pos, mask).mean()
    )
    penalty = sequence_gradient_penalty(
        t.critic, (real, start), (fake, fake_start), ctx, pos, mask, t.gen, gp_lambda
    )
    loss = penalty - distance
    t.opt_c.zero_grad(set_to_none=True)
    loss.backward()
    t.opt_c.step()
    return {"critic": loss.item(), "distance": distance.item(), "penalty": penalty.item()}


def seq_generator_step(t: SequenceTraining) -> dict[str, float]:
    """One generator update: ``-D(G(context))``."""
    _, _, ctx, pos, mask = t.draw()
    fake, fake_start = t.fake(ctx, pos, mask)
    loss = -t.critic(fake, fake_start, ctx, pos, mask).mean()
    t.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    t.opt_g.step()
    return {"generator": loss.item()}


def split_sequences(
    data: tuple[np.ndarray, ...], n_seq: int, rng: np.random.Generator
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None:
    """Held-back and kept sequences (a tenth, at most 500, seeded) of ``(x, s, ctx,
    lengths)``; None under ``HoldoutStopper.MIN_SEQUENCES`` sequences."""
    n_val = int(np.clip(n_seq // 10, 50, 500))
    if n_seq < HoldoutStopper.MIN_SEQUENCES:
        return None
    x, s, ctx, lengths = data
    perm = rng.permutation(n_seq)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])

    def part(seqs: np.ndarray) -> tuple[np.ndarray, ...]:
        rows = np.concatenate([np.arange(offsets[i], offsets[i] + lengths[i]) for i in seqs])
        return x[rows], s[seqs], ctx[seqs], lengths[seqs]

    return part(np.sort(perm[:n_val])), part(np.sort(perm[n_val:]))


class SequenceHoldoutMonitor(GapMonitor):
    """Deterministic early stopping of a :class:`SequenceModel` on held-back sequences.

    The :class:`~relsynth.models.wgan_training.HoldoutMonitor` idea for sequences: at
    each check of :class:`~relsynth.models.budget.HoldoutStopper` the generator (eval
    mode, a fixed noise seed) makes one sequence per held-back parent context and
    length; the gap is :func:`~relsynth.models.budget.span_gap` of the generated steps
    and starts to the held-back ones (the mean of the two).
    """

    def __init__(self, model: SequenceModel, held: tuple[np.ndarray, ...], seed: int) -> None:
        self.model, self.held, self.seed = model, held, seed
        super().__init__()

    def gap(self, generator: nn.Module) -> float:
        model = self.model
        x, s, ctx, lengths = self.held
        gen = torch.Generator(device=model.device_).manual_seed(self.seed)
        generator.eval()
        with torch.no_grad():
            pos = torch.from_numpy(positions(lengths, int(lengths.max()))).to(model.device_)
            c = torch.from_numpy(ctx).to(model.device_)
            raw, raw_start = model._run_generator(generator, c, pos, gen)
            valid = np.arange(pos.shape[1])[None, :] < lengths[:, None]
            flat = raw[torch.from_numpy(valid).to(model.device_)]
            steps = hard_sample(flat, model.encoder.spans, gen)[:, : model.encoder.dim]
            start = hard_sample(raw_start, model.start_encoder.spans, gen)
        generator.train()
        return 0.5 * (
            span_gap(x, steps, model.encoder.spans)
            + span_gap(s, start[:, : model.start_encoder.dim], model.start_encoder.spans)
        )
