"""The training loop of :class:`~relsynth.models.wgan.ConditionalWGAN` (models).

One step is :func:`critic_step` (``critic_steps`` times: the Wasserstein loss with
gradient penalty, or weight clipping for ``loss="wgan"``) then :func:`generator_step`
(adversarial loss plus CTGAN's conditional cross-entropy). :func:`train` runs the
steps under a :class:`~relsynth.models.budget.TrainingBudget`, with optional
deterministic early stopping on held-back rows (:class:`HoldoutMonitor`).

With a family latent (``model.family_dim_``), a batch is made of pairs
(:class:`SiblingPairs`): each row the sampler draws is followed by a sibling (another
row of its family) or, for a row without one, by a stranger. Siblings share the
family latent in the generated rows, strangers do not, and PacGAN's packs (an even
``pac``) keep each pair in one critic input: the critic can tell generated siblings
that are as unlike as strangers from real ones, and the generator learns to use the
shared draw for what a family has in common.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from relsynth._random import child_seed
from relsynth.models._torch import activate, hard_sample
from relsynth.models.budget import (
    GapMonitor,
    HoldoutStopper,
    TrainingBudget,
    early_stopping_on,
    span_gap,
)
from relsynth.models.encoding import Span
from relsynth.models.wgan_networks import ConditionalSampler, Critic, Generator, gradient_penalty

if TYPE_CHECKING:
    from relsynth.models.wgan import ConditionalWGAN

__all__ = [
    "HoldoutMonitor",
    "SiblingPairs",
    "Training",
    "conditional_loss",
    "critic_step",
    "generator_step",
    "train",
]

logger = logging.getLogger(__name__)

#: Weight of a quantile bin's conditional loss (a category's cross-entropy weighs 1).
BIN_LOSS = 1.0


@dataclass
class Training:
    """Everything a training step needs."""

    generator: Generator
    critic: Critic
    opt_g: torch.optim.Optimizer
    opt_c: torch.optim.Optimizer
    x: torch.Tensor
    context: torch.Tensor
    sampler: ConditionalSampler
    spans: list[Span]
    batch: int
    embedding_dim: int
    rng: np.random.Generator
    gen: torch.Generator
    loss: str
    gp_lambda: float
    clip: float
    family_dim: int = 0
    pairs: SiblingPairs | None = None
    shared: np.ndarray | None = None  # of the last drawn batch's pairs: siblings?

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
        """A batch: real rows, conditional vectors, contexts, conditioned column/level."""
        if self.pairs is not None:
            idx, cond, col, level = self._draw_pairs()
        else:
            idx, cond, col, level = self.sampler.sample(self.batch, self.rng)
        dev = self.x.device
        rows = torch.from_numpy(idx).to(dev)
        return self.x[rows], torch.from_numpy(cond).to(dev), self.context[rows], col, level

    def _draw_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The sampler's rows, each followed by its partner (unconditioned: a zero
        conditional vector, as at sampling time, and no conditional loss)."""
        assert self.pairs is not None
        half = self.batch // 2
        idx, cond, col, level = self.sampler.sample(half, self.rng)
        partners, self.shared = self.pairs.draw(idx, self.rng)
        rows = np.empty(2 * half, dtype=idx.dtype)
        rows[0::2], rows[1::2] = idx, partners
        cond2 = np.zeros((2 * half, cond.shape[1]), dtype=cond.dtype)
        cond2[0::2] = cond
        col2, level2 = np.full(2 * half, -1), np.zeros(2 * half, dtype=level.dtype)
        col2[0::2], level2[0::2] = col, level
        return rows, cond2, col2, level2

    def fake(self, cond: torch.Tensor, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw and activated generator outputs for a batch (of the last :meth:`draw`)."""
        dev = cond.device
        z = torch.randn(len(cond), self.embedding_dim, generator=self.gen, device=dev)
        if self.family_dim:
            z = torch.cat([z, self._family_latent(len(cond), dev)], dim=1)
        raw = self.generator(torch.cat([z, cond, ctx], dim=1))
        return raw, activate(raw, self.spans, self.gen)

    def _family_latent(self, n: int, dev: torch.device) -> torch.Tensor:
        """A family draw per row: shared within a pair of siblings, else one per row."""
        u = torch.randn(n, self.family_dim, generator=self.gen, device=dev)
        if self.pairs is None or self.shared is None:
            return u
        pairs = u.reshape(n // 2, 2, self.family_dim)
        shared = torch.from_numpy(self.shared).to(dev)[:, None]
        partner = torch.where(shared, pairs[:, 0], pairs[:, 1])
        return torch.stack([pairs[:, 0], partner], dim=1).reshape(n, self.family_dim)


class SiblingPairs:
    """Draws, for rows of a table, a partner: a sibling (another row of the row's family)
    when there is one, else a stranger (a random row). Only ``rows`` are drawn from
    (the rows training sees, not those held back for early stopping).
    """

    def __init__(self, codes: np.ndarray, rows: np.ndarray | None = None) -> None:
        rows = np.arange(len(codes)) if rows is None else np.asarray(rows)
        own = codes[rows]
        order = np.argsort(own, kind="stable")
        self.codes, self.rows = codes, rows
        self.members = rows[order]  # row positions, grouped by family
        n_codes = int(codes.max()) + 1 if len(codes) else 0
        self.size = np.bincount(own, minlength=n_codes)
        self.start = np.concatenate([[0], np.cumsum(self.size)[:-1]]).astype(np.int64)
        self.rank = np.full(len(codes), -1, dtype=np.int64)
        self.rank[self.members] = np.arange(len(rows)) - self.start[own[order]]

    def draw(self, anchors: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A partner per anchor and whether it is a sibling."""
        family = self.codes[anchors]
        size = self.size[family]
        sibling = size >= 2
        pick = rng.integers(0, np.maximum(size - 1, 1))
        pick = pick + (pick >= self.rank[anchors])  # never the anchor itself
        partners = self.rows[rng.integers(0, len(self.rows), size=len(anchors))]
        partners[sibling] = self.members[self.start[family[sibling]] + pick[sibling]]
        return partners, sibling


def critic_step(t: Training) -> dict[str, float]:
    """One critic update: ``D(fake) - D(real)`` (+ gradient penalty, or weight clipping)."""
    real, cond, ctx, _, _ = t.draw()
    with torch.no_grad():
        _, fake = t.fake(cond, ctx)
    real_in = torch.cat([real, cond, ctx], dim=1)
    fake_in = torch.cat([fake, cond, ctx], dim=1)
    distance = t.critic(real_in, t.gen).mean() - t.critic(fake_in, t.gen).mean()
    loss = -distance
    penalty = torch.zeros((), device=real.device)
    if t.loss == "wgan-gp":
        penalty = gradient_penalty(t.critic, real_in, fake_in, t.gen, t.gp_lambda)
        loss = loss + penalty
    t.opt_c.zero_grad(set_to_none=True)
    loss.backward()
    t.opt_c.step()
    if t.loss == "wgan":  # Arjovsky et al. (2017): enforce Lipschitz-ness by clipping.
        with torch.no_grad():
            for p in t.critic.parameters():
                p.clamp_(-t.clip, t.clip)
    return {"critic": loss.item(), "distance": distance.item(), "penalty": penalty.item()}


def conditional_loss(
    raw: torch.Tensor, t: Training, col: np.ndarray, level: np.ndarray
) -> torch.Tensor:
    """Cross-entropy between the conditioned span and its requested category (CTGAN);
    for a continuous column's quantile bin, ``log(1 + d / w)``: ``d`` how far the
    generated value lies outside the bin, ``w`` the bin's width."""
    total = torch.zeros((), device=raw.device)
    for j, span in enumerate(t.sampler.spans):
        rows = np.flatnonzero(col == j)
        if len(rows) == 0:
            continue
        r = torch.from_numpy(rows).to(raw.device)
        target = torch.from_numpy(level[rows]).to(raw.device)
        total = total + F.cross_entropy(raw[r, span.start : span.stop], target, reduction="sum")
    for j, bins in enumerate(t.sampler.bins, start=len(t.sampler.spans)):
        rows = np.flatnonzero(col == j)
        if len(rows) == 0:
            continue
        lo, hi = (torch.from_numpy(b[level[rows]]).to(raw.device) for b in bins.bounds())
        value = torch.tanh(raw[torch.from_numpy(rows).to(raw.device), bins.start])
        outside = F.relu(lo - value) + F.relu(value - hi)
        total = total + BIN_LOSS * torch.log1p(outside / (hi - lo)).sum()
    return total / len(col)


def generator_step(t: Training) -> dict[str, float]:
    """One generator update: ``-D(G(z, c, ctx))`` plus the conditional cross-entropy."""
    _, cond, ctx, col, level = t.draw()
    raw, fake = t.fake(cond, ctx)
    adversarial = -t.critic(torch.cat([fake, cond, ctx], dim=1), t.gen).mean()
    ce = conditional_loss(raw, t, col, level)
    loss = adversarial + ce
    t.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    t.opt_g.step()
    return {"generator": adversarial.item(), "conditional": ce.item()}


class HoldoutMonitor(GapMonitor):
    """Deterministic early stopping: the gap between generated and held-back rows.

    At each check of :class:`~relsynth.models.budget.HoldoutStopper` (every
    ``max(25, total // 20)`` steps) the generator (in eval mode, a fixed noise seed)
    makes one row per held-back context; the gap is
    :func:`~relsynth.models.budget.span_gap` (mean KS / total variation over the
    encoded spans) to the held-back rows. Training stops when the gap has not improved
    by 0.002 for 4 checks in a row, and never before half of the steps.
    """

    def __init__(self, model: ConditionalWGAN, x: np.ndarray, ctx: np.ndarray, seed: int) -> None:
        self.model, self.x, self.ctx, self.seed = model, x, ctx, seed
        super().__init__()

    def gap(self, generator: nn.Module) -> float:
        model = self.model
        rng = np.random.default_rng(self.seed)
        gen = torch.Generator(device=model.device_).manual_seed(self.seed)
        generator.eval()
        with torch.no_grad():
            cond = model._sampling_conditions(len(self.x), rng)
            raw = model._forward(cond, self.ctx, gen)
            fake = hard_sample(raw, model.encoder.spans, gen)
        generator.train()
        return span_gap(self.x, fake, model.encoder.spans)


def _optimizers(
    model: ConditionalWGAN, generator: nn.Module, critic: nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """RMSProp (lr 5e-5) for ``loss="wgan"``, else Adam with CTGAN's settings."""
    if model.loss == "wgan":
        return (
            torch.optim.RMSprop(generator.parameters(), lr=5e-5),
            torch.optim.RMSprop(critic.parameters(), lr=5e-5),
        )
    kw = {"lr": model.learning_rate, "betas": (0.5, 0.9), "weight_decay": 1e-6}
    return torch.optim.Adam(generator.parameters(), **kw), torch.optim.Adam(
        critic.parameters(), **kw
    )


def train(
    model: ConditionalWGAN,
    x: np.ndarray,
    ctx: np.ndarray,
    rng: np.random.Generator,
    budget: TrainingBudget,
    families: np.ndarray | None = None,
) -> None:
    """Build ``model``'s networks and train them on ``x`` given ``ctx``; sets
    ``model.generator_``, ``steps_`` and ``training_seconds_``.

    ``families``: a family code per row (:func:`~relsynth.models.context.family_codes`)
    for the family latent; it is dropped (``model.family_dim_ = 0``) when a pack cannot
    hold pairs (an odd ``pac``, on tiny tables).
    """
    n = len(x)
    batch, pac = model._batch_and_pac(n)
    if families is None or pac % 2 or not getattr(model, "family_dim_", 0):
        model.family_dim_, families = 0, None
    generator, critic = model._build(ctx.shape[1], child_seed(rng), pac)
    model.generator_ = generator
    if model.encoder.dim == 0:
        return
    opt_g, opt_c = _optimizers(model, generator, critic)
    dev = model.device_
    t = Training(
        generator,
        critic,
        opt_g,
        opt_c,
        torch.from_numpy(x).to(dev),
        torch.from_numpy(ctx).to(dev),
        ConditionalSampler(model.encoder, x, 0.5 if ctx.shape[1] else 0.0, model.bins_),
        model.encoder.spans,
        batch,
        model.embedding_dim,
        rng,
        torch.Generator(device=dev).manual_seed(child_seed(rng)),
        model.loss,
        model.gp_lambda,
        0.01,
        model.family_dim_,
    )
    budget.total = max(1, model.training_steps(n, batch))
    monitor = _monitor(model, t, x, ctx, rng) if early_stopping_on(model) else None
    if families is not None:  # after the hold-out: partners among the training rows
        t.pairs = SiblingPairs(families, t.sampler.index)
    critic_steps = model.critic_steps or (5 if model.loss == "wgan" else 1)
    model.steps_, model.training_seconds_ = _loop(model, t, budget, critic_steps, monitor)


def _monitor(
    model: ConditionalWGAN, t: Training, x: np.ndarray, ctx: np.ndarray, rng: np.random.Generator
) -> HoldoutMonitor | None:
    """Hold back a tenth of the rows (seeded, at most 2,000) from training to watch
    fidelity on; None under ``HoldoutStopper.MIN_ROWS`` rows."""
    n = len(x)
    n_val = int(np.clip(n // 10, 100, 2000))
    if n < HoldoutStopper.MIN_ROWS:
        return None
    perm = rng.permutation(n)
    val, kept = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    t.sampler = ConditionalSampler(
        model.encoder, x[kept], 0.5 if ctx.shape[1] else 0.0, model.bins_
    )
    t.sampler.order = [kept[o] for o in t.sampler.order]  # positions in x
    t.sampler.n, t.sampler.index = len(kept), kept
    return HoldoutMonitor(model, x[val], ctx[val], child_seed(rng))


def _loop(
    model: ConditionalWGAN,
    t: Training,
    budget: TrainingBudget,
    critic_steps: int,
    monitor: HoldoutMonitor | None = None,
) -> tuple[int, float]:
    """Run the steps; the steps run and the seconds taken."""
    name, total = type(model).__name__, budget.total
    logger.info(
        "%s: training %d steps (batch %d, pac %d) on %s",
        name,
        total,
        t.batch,
        t.critic.pac,
        model.device_,
    )
    t.generator.train()
    t.critic.train()
    step = 0
    for step in range(1, total + 1):
        for _ in range(critic_steps):
            losses = critic_step(t)
        losses.update(generator_step(t))
        budget.report(step, losses)
        if monitor is not None and monitor.stop(step, total, t.generator):
            logger.info(
                "%s: stopped early after %d/%d steps (held-out gap %.4f)",
                name,
                step,
                total,
                monitor.best,
            )
            break
        if budget.out_of_time():
            logger.info(
                "%s: stopped after %d/%d steps (max_seconds=%s)",
                name,
                step,
                total,
                model.max_seconds,
            )
            break
    t.generator.eval()
    return step, budget.finish()
