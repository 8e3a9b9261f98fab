"""Per-table conditional WGAN-GP: one row per context row (stage 3 of 5, models).

The networks follow CTGAN (Xu et al., "Modeling Tabular Data using Conditional GAN",
NeurIPS 2019): a residual-MLP generator, a PacGAN critic (Lin et al., 2018) and a
conditional vector with training-by-sampling so that rare categories are learned.
Both networks also receive the *encoded parent context* (concatenated), so a child's
values follow its parent's. The critic is trained with the Wasserstein loss and
gradient penalty (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017);
the original weight-clipping WGAN (Arjovsky et al., 2017) is available as
``loss="wgan"``.

The ``nn.Module`` classes and :func:`gradient_penalty` are independent of the
estimator :class:`ConditionalWGAN`, whose training loop is split into
:func:`critic_step` and :func:`generator_step`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from relsynth._random import child_seed
from relsynth._typing import SeedLike
from relsynth.errors import DataError, ParameterError
from relsynth.models._torch import (
    activate,
    build_modules,
    hard_sample,
    module_state,
    resolve_device,
    torch_threads,
)
from relsynth.models.base import ProgressCallback, TableModel, TrainingBudget
from relsynth.models.calibration import Calibration, fit_calibration
from relsynth.models.dependencies import Dependency, apply_dependencies, find_dependencies
from relsynth.models.encoding import Span, TableEncoder
from relsynth.models.offsets import (
    Offset,
    anchored,
    apply_offsets,
    find_offsets,
    restore_offsets,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ConditionalSampler",
    "ConditionalWGAN",
    "Critic",
    "Generator",
    "Residual",
    "critic_step",
    "generator_step",
    "gradient_penalty",
]

logger = logging.getLogger(__name__)

_SAMPLE_BATCH = 8192
#: Rows generated to fit the marginal calibration (training contexts, drawn again
#: with replacement for small tables so that quantiles are stable).
_CALIBRATION_ROWS = (5_000, 20_000)


# -- networks ---------------------------------------------------------------------------


class Residual(nn.Module):
    """CTGAN's residual block: ``cat([relu(bn(linear(x))), x])``."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    """Residual MLP from ``[noise, conditional vector, context]`` to raw outputs.

    Activations (tanh / Gumbel-softmax per span) are applied outside, by
    :func:`relsynth.models._torch.activate`.
    """

    def __init__(self, input_dim: int, dims: Sequence[int], data_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        layers.append(nn.Linear(width, max(data_dim, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.net(x)


class Critic(nn.Module):
    """PacGAN critic: ``pac`` samples are concatenated and scored together.

    Packing (Lin et al., 2018) lets the critic see mode collapse; CTGAN uses
    ``pac = 10`` with LeakyReLU(0.2) and dropout 0.5. Dropout masks are drawn from
    the model's own generator (``nn.Dropout`` would consume the global RNG).
    """

    def __init__(self, input_dim: int, dims: Sequence[int], pac: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.pac = pac
        self.dropout = dropout
        widths = [input_dim * pac, *dims]
        pairs = zip(widths[:-1], widths[1:], strict=True)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.out = nn.Linear(widths[-1], 1)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:  # noqa: D102
        h = x.reshape(-1, x.shape[1] * self.pac)
        for layer in self.hidden:
            h = F.leaky_relu(layer(h), 0.2)
            if gen is not None and self.dropout > 0:
                keep = torch.rand(h.shape, generator=gen, device=h.device) >= self.dropout
                h = h * keep / (1.0 - self.dropout)
        return self.out(h)


def gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    gen: torch.Generator,
    lambda_: float = 10.0,
) -> torch.Tensor:
    """WGAN-GP penalty ``lambda * E[(||grad D(x_hat)|| - 1)^2]`` (Gulrajani et al., 2017).

    ``x_hat`` interpolates real and fake inputs with one mixing weight per pack, and
    the gradient norm is taken over the packed input, as in CTGAN.
    """
    pac, dim = critic.pac, real.shape[1]
    alpha = torch.rand(real.shape[0] // pac, 1, 1, generator=gen, device=real.device)
    alpha = alpha.expand(-1, pac, dim).reshape(-1, dim)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(mixed, gen)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    norm = grad.reshape(-1, pac * dim).norm(2, dim=1)
    return lambda_ * ((norm - 1.0) ** 2).mean()


# -- conditional vector -----------------------------------------------------------------


class ConditionalSampler:
    """CTGAN's conditional vector and training-by-sampling (Xu et al., 2019, sec. 4.3).

    A batch row picks a discrete column uniformly, a category of it with probability
    proportional to the log of its frequency, and then a real row having that category,
    so rare categories are seen often. With ``uncond_p > 0`` a share of rows is drawn
    uniformly with an all-zero conditional vector instead: when a parent context is
    given, sampling uses the zero vector so that the context alone drives the row.
    """

    def __init__(self, encoder: TableEncoder, x: np.ndarray, uncond_p: float) -> None:
        self.spans = [s for s, _ in encoder.discrete]
        self.freqs = [np.asarray(e.level_freq) for _, e in encoder.discrete]
        widths = [s.width for s in self.spans]
        self.offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.dim = int(self.offsets[-1])
        self.n = len(x)
        self.uncond_p = uncond_p
        self.order, self.starts, self.counts, self.cum_logp = [], [], [], []
        for s in self.spans:
            level = x[:, s.start : s.stop].argmax(axis=1)
            counts = np.bincount(level, minlength=s.width)
            self.order.append(np.argsort(level, kind="stable"))
            self.counts.append(counts)
            self.starts.append(np.concatenate([[0], np.cumsum(counts)[:-1]]))
            logp = np.log1p(counts)
            self.cum_logp.append(np.cumsum(logp / logp.sum()))

    @staticmethod
    def _draw(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.minimum((cum[None, :] < u[:, None]).sum(axis=1), len(cum) - 1)

    #: Positions in the full matrix of the rows sampled from (None: every row).
    index: np.ndarray | None = None

    def sample(
        self, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows, conditional vectors, conditioned column (-1: none) and level."""
        idx = rng.integers(0, self.n, size=batch)
        if self.index is not None:
            idx = self.index[idx]
        cond = np.zeros((batch, self.dim), dtype=np.float32)
        col = np.full(batch, -1)
        level = np.zeros(batch, dtype=int)
        if not self.spans:
            return idx, cond, col, level
        chosen = rng.integers(0, len(self.spans), size=batch)
        u, u_row = rng.random(batch), rng.random(batch)
        conditioned = rng.random(batch) >= self.uncond_p
        for j in range(len(self.spans)):
            rows = np.flatnonzero((chosen == j) & conditioned)
            if len(rows) == 0:
                continue
            lv = self._draw(self.cum_logp[j], u[rows])
            pos = self.starts[j][lv] + (u_row[rows] * self.counts[j][lv]).astype(int)
            idx[rows] = self.order[j][pos]
            col[rows], level[rows] = j, lv
            cond[rows, self.offsets[j] + lv] = 1.0
        return idx, cond, col, level

    @staticmethod
    def original(encoder: TableEncoder, n: int, rng: np.random.Generator) -> np.ndarray:
        """Conditional vectors drawn from the observed (not log) frequencies, for sampling."""
        disc = encoder.discrete
        widths = [s.width for s, _ in disc]
        offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        cond = np.zeros((n, int(offsets[-1])), dtype=np.float32)
        if not disc or n == 0:
            return cond
        chosen = rng.integers(0, len(disc), size=n)
        u = rng.random(n)
        for j, (_, enc) in enumerate(disc):
            rows = np.flatnonzero(chosen == j)
            cum = np.cumsum(np.asarray(enc.level_freq) / np.sum(enc.level_freq))
            cond[rows, offsets[j] + ConditionalSampler._draw(cum, u[rows])] = 1.0
        return cond


# -- training steps ---------------------------------------------------------------------


@dataclass
class _Training:
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

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
        """A batch: real rows, conditional vectors, contexts, conditioned column/level."""
        idx, cond, col, level = self.sampler.sample(self.batch, self.rng)
        dev = self.x.device
        rows = torch.from_numpy(idx).to(dev)
        return self.x[rows], torch.from_numpy(cond).to(dev), self.context[rows], col, level

    def fake(self, cond: torch.Tensor, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw and activated generator outputs for a batch."""
        z = torch.randn(len(cond), self.embedding_dim, generator=self.gen, device=cond.device)
        raw = self.generator(torch.cat([z, cond, ctx], dim=1))
        return raw, activate(raw, self.spans, self.gen)


def critic_step(t: _Training) -> dict[str, float]:
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
    raw: torch.Tensor, t: _Training, col: np.ndarray, level: np.ndarray
) -> torch.Tensor:
    """Cross-entropy between the conditioned span and its requested category (CTGAN)."""
    total = torch.zeros((), device=raw.device)
    for j, span in enumerate(t.sampler.spans):
        rows = np.flatnonzero(col == j)
        if len(rows) == 0:
            continue
        r = torch.from_numpy(rows).to(raw.device)
        target = torch.from_numpy(level[rows]).to(raw.device)
        total = total + F.cross_entropy(raw[r, span.start : span.stop], target, reduction="sum")
    return total / len(col)


def generator_step(t: _Training) -> dict[str, float]:
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


class _HoldoutMonitor:
    """Deterministic early stopping: the gap between generated and held-back rows.

    Every ``max(25, total // 20)`` steps the generator (in eval mode, a fixed noise
    seed) makes one row per held-back context; the gap is the mean over the encoded
    spans of the KS statistic (scalars) or the total-variation distance (category
    blocks) to the held-back rows. Training stops when the gap has not improved by
    0.002 for 4 checks in a row, and never before a quarter of the steps.
    """

    PATIENCE = 4
    MIN_GAIN = 0.002

    def __init__(self, model: ConditionalWGAN, x: np.ndarray, ctx: np.ndarray, seed: int) -> None:
        self.model, self.x, self.ctx, self.seed = model, x, ctx, seed
        self.best, self.bad = np.inf, 0

    def stop(self, step: int, total: int, generator: nn.Module) -> bool:
        if step % max(25, total // 20) or step == total:
            return False
        gap = self.gap(generator)
        if gap < self.best - self.MIN_GAIN:
            self.best, self.bad = gap, 0
        else:
            self.bad += 1
        return self.bad >= self.PATIENCE and step * 4 >= total

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
        gaps = []
        for span in model.encoder.spans:
            real, made = self.x[:, span.start : span.stop], fake[:, span.start : span.stop]
            if span.activation == "tanh":
                gaps.append(_ks(real[:, 0], made[:, 0]))
            else:
                gaps.append(0.5 * float(np.abs(real.mean(axis=0) - made.mean(axis=0)).sum()))
        return float(np.mean(gaps)) if gaps else 0.0


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


# -- estimator --------------------------------------------------------------------------


class ConditionalWGAN(TableModel):
    """Conditional WGAN-GP for one table, conditioned on parent context rows.

    Defaults follow CTGAN (Xu et al., 2019): residual generator ``(256, 256)``, critic
    ``(256, 256)`` with PacGAN ``pac=10``, Adam ``lr=2e-4, betas=(0.5, 0.9)``, weight
    decay 1e-6, one critic step per generator step (departing, as CTGAN does, from the
    five of Gulrajani et al., 2017) and gradient-penalty weight 10.

    Parameters
    ----------
    kinds : mapping of str to str, optional
        Kind per column (numerical, categorical, datetime, boolean); inferred if absent.
    encoding : {"quantile", "gmm"}, default="quantile"
        Transform for continuous columns (see :mod:`relsynth.models.encoding`).
    loss : {"wgan-gp", "wgan"}, default="wgan-gp"
        Gradient penalty with Adam, or weight clipping (0.01) with RMSProp (lr 5e-5).
    steps : int, optional
        Training steps (generator updates); by default :meth:`default_steps`, from the
        number of rows: ``clip(15 * sqrt(n_rows), 200, 800)``.
    epochs : int, optional
        Passes over the rows instead of ``steps``.
    max_seconds : float, optional
        Wall-clock cap on the whole ``fit`` (encoders, rule discovery, training and
        calibration), for when time matters more than reproducibility: training stops
        at 80% of it. None (the default): the steps decide, never the clock.
    batch_size, pac, embedding_dim, generator_dims, critic_dims, learning_rate,
    critic_steps, gp_lambda
        Network and optimiser settings (see above).
    calibrate : bool, default=True
        After training, learn per-column corrections that bring the generated
        marginals to the training ones (logit biases for categories and NULL rates,
        quantile maps for continuous values; see :mod:`relsynth.models.calibration`).
        Both are monotone, so learned dependencies on the context are kept.
    dependencies : bool, default=True
        Find columns that another column of the table or of the context fixes
        (``ShipCity -> ShipCountry``, ``sched_dep_time -> hour``) and enforce those
        rules on samples (see :mod:`relsynth.models.dependencies`).
    offsets : bool, default=True
        Learn each datetime column as the gap after an earlier datetime column of the
        same row (``RequiredDate`` after ``OrderDate``), and a number or ``HHMM`` clock
        time that another column of the row tells most of as its gap or residual
        (``dep_time`` after ``sched_dep_time``, ``air_time`` on ``distance``), and
        rebuild them after sampling, so gaps and their order come out as in the data
        (see :mod:`relsynth.models.offsets`).
    device : str, default="auto"
        ``"auto"`` picks CUDA when available, resolved once in ``fit``.
    n_threads : int, optional
        Torch CPU threads during fit/sample (default: usable cores); restored after.
    seed : int or numpy Generator, optional
        Seed of the training run (initial weights, batches, encoder subsamples).
    early_stopping : bool, default=False
        Hold back a tenth of the rows (100 to 2,000, seeded) and stop training when the
        gap between generated and held-back rows (mean KS / total variation over the
        encoded columns) stops shrinking; deterministic. Tables under 500 rows train on
        every row for every step.
    callback : callable, optional
        ``callback(step, total, losses)`` after each training step.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b"]})
    >>> m = ConditionalWGAN(epochs=2, seed=0).fit(t)
    >>> m.sample(n_rows=3, seed=1).shape
    (3, 2)
    """

    def __init__(
        self,
        *,
        kinds: Mapping[str, str] | None = None,
        encoding: Literal["quantile", "gmm"] = "quantile",
        loss: Literal["wgan-gp", "wgan"] = "wgan-gp",
        steps: int | None = None,
        epochs: int | None = None,
        max_seconds: float | None = None,
        batch_size: int = 500,
        pac: int = 10,
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (256, 256),
        critic_dims: Sequence[int] = (256, 256),
        learning_rate: float = 2e-4,
        critic_steps: int | None = None,
        gp_lambda: float = 10.0,
        calibrate: bool = True,
        dependencies: bool = True,
        offsets: bool = True,
        early_stopping: bool = False,
        device: str = "auto",
        n_threads: int | None = None,
        seed: SeedLike = None,
        callback: ProgressCallback | None = None,
    ) -> None:
        self.kinds = kinds
        self.encoding = encoding
        self.loss = loss
        self.steps = steps
        self.epochs = epochs
        self.max_seconds = max_seconds
        self.batch_size = batch_size
        self.pac = pac
        self.embedding_dim = embedding_dim
        self.generator_dims = tuple(generator_dims)
        self.critic_dims = tuple(critic_dims)
        self.learning_rate = learning_rate
        self.critic_steps = critic_steps
        self.gp_lambda = gp_lambda
        self.calibrate = calibrate
        self.dependencies = dependencies
        self.offsets = offsets
        self.early_stopping = early_stopping
        self.device = device
        self.n_threads = n_threads
        self.seed = seed
        self.callback = callback

    def _validate(self) -> None:
        self._check_common()
        self._check_choice("loss", ("wgan-gp", "wgan"))
        self._check_int("pac", 1)
        self._check_int("embedding_dim", 1)
        self._check_int("critic_steps", 1, optional=True)
        self._check_float("gp_lambda", 0.0, closed_low=True)
        for name in ("calibrate", "dependencies", "offsets", "early_stopping"):
            self._check_bool(name)
        for name in ("generator_dims", "critic_dims"):
            dims = getattr(self, name)
            if not all(isinstance(d, int | np.integer) and d >= 1 for d in dims):
                raise self._param_error(name, "a sequence of ints >= 1", list(dims))

    # -- fit ----------------------------------------------------------------------------

    def fit(
        self,
        table: pd.DataFrame,
        context: pd.DataFrame | None = None,
        *,
        lengths: np.ndarray | None = None,
    ) -> Self:
        """Learn ``table`` given ``context`` (one context row per table row, or None).

        ``lengths`` is accepted for interface symmetry and ignored.
        """
        del lengths
        self._validate()
        self._check_table(table, context)
        if context is not None and len(context) != len(table):
            raise DataError(
                f"The context has {len(context)} rows but the table has {len(table)}; "
                "ConditionalWGAN needs one context row per table row."
            )
        if len(table) == 0:
            raise DataError("Cannot fit ConditionalWGAN on a table with no rows.")
        rng = self._rng(self.seed)
        started = time.perf_counter()
        self.offsets_: list[Offset] = find_offsets(table, self.kinds) if self.offsets else []
        learned = apply_offsets(table, self.offsets_)
        # Rules are found (and applied) on what the generator produces, gaps included:
        # a flight's departure gap is its delay, exactly.
        self.dependencies_: list[Dependency] = (
            find_dependencies(learned, context, rng=rng, excluded=anchored(self.offsets_))
            if self.dependencies
            else []
        )
        kinds = {**dict(self.kinds or {}), **{o.column: "numerical" for o in self.offsets_}}
        x = self._encode_table(learned, rng, kinds)
        self.dtypes_ = {str(c): str(t) for c, t in table.dtypes.items()}  # gaps were floats
        ctx = self._fit_context(context, len(table), rng)
        self.device_ = resolve_device(self.device)
        self.steps_, self.training_seconds_ = 0, 0.0
        self.calibration_: Calibration | None = None
        budget = TrainingBudget(
            type(self).__name__, 1, self.max_seconds, self.callback, start=started
        )
        with torch_threads(self.n_threads):
            self._train(x, ctx, rng, budget)
            if self.calibrate and self.encoder.dim:
                if budget.left() > 0:
                    self.calibration_ = self._fit_calibration(x, ctx, rng)
                else:
                    logger.info("%s: no time left to calibrate", type(self).__name__)
        self.fitted_ = True
        return self

    def default_steps(self, n_rows: int, *, lengths: np.ndarray | None = None) -> int:
        """``clip(15 * sqrt(n_rows), 200, 800)`` steps: a table of up to 177 rows takes
        200 (cheap: its batch is its rows), an 830-row table 432, 2,845 rows or more 800."""
        del lengths
        return TrainingBudget.steps(n_rows, self.batch_size, None, 15.0, 200, 800)

    def _fit_calibration(
        self, x: np.ndarray, ctx: np.ndarray, rng: np.random.Generator
    ) -> Calibration:
        """Generate for (re-drawn) training contexts and fit the marginal corrections."""
        n = len(x)
        m = int(np.clip(n, *_CALIBRATION_ROWS))
        idx = rng.choice(n, m, replace=m > n)
        gen = torch.Generator(device=self.device_).manual_seed(child_seed(rng))
        cond = self._sampling_conditions(m, rng)
        with torch.no_grad():
            raw = np.concatenate(
                [
                    self._forward(
                        cond[lo : lo + _SAMPLE_BATCH], ctx[idx[lo : lo + _SAMPLE_BATCH]], gen
                    )
                    .cpu()
                    .numpy()
                    for lo in range(0, m, _SAMPLE_BATCH)
                ]
            )
        context = (
            None if self.context_encoder is None else (ctx, ctx[idx], self.context_encoder.spans)
        )
        calibration = fit_calibration(
            raw,
            x,
            self.encoder.spans,
            method=self.encoding,
            context=context,
            exclude=[d.column for d in self.dependencies_],
        )
        logger.debug("%s: calibrated marginals on %d generated rows", type(self).__name__, m)
        return calibration

    def _batch_and_pac(self, n_rows: int) -> tuple[int, int]:
        """Batch size (a multiple of pac, at least 2) and pac, shrunk for tiny tables."""
        batch = max(2, min(self.batch_size, max(n_rows, 10)))
        pac = max(1, min(self.pac, batch // 2))
        return batch - batch % pac, pac

    def _build(self, ctx_dim: int, seed: int | None, pac: int) -> tuple[Generator, Critic]:
        data_dim, cond_dim = self.encoder.dim, sum(s.width for s, _ in self.encoder.discrete)
        g_in = self.embedding_dim + cond_dim + ctx_dim
        c_in = data_dim + cond_dim + ctx_dim
        g, c = build_modules(
            [
                lambda: Generator(g_in, self.generator_dims, data_dim),
                lambda: Critic(c_in, self.critic_dims, pac),
            ],
            seed,
        )
        return g.to(self.device_), c.to(self.device_)  # type: ignore[return-value]

    def _train(
        self, x: np.ndarray, ctx: np.ndarray, rng: np.random.Generator, budget: TrainingBudget
    ) -> None:
        n = len(x)
        batch, pac = self._batch_and_pac(n)
        generator, critic = self._build(ctx.shape[1], child_seed(rng), pac)
        self.generator_ = generator
        if self.encoder.dim == 0:
            return
        wgan = self.loss == "wgan"
        if wgan:
            opt_g: torch.optim.Optimizer = torch.optim.RMSprop(generator.parameters(), lr=5e-5)
            opt_c: torch.optim.Optimizer = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
        else:
            kw = {"lr": self.learning_rate, "betas": (0.5, 0.9), "weight_decay": 1e-6}
            opt_g = torch.optim.Adam(generator.parameters(), **kw)
            opt_c = torch.optim.Adam(critic.parameters(), **kw)
        t = _Training(
            generator,
            critic,
            opt_g,
            opt_c,
            torch.from_numpy(x).to(self.device_),
            torch.from_numpy(ctx).to(self.device_),
            ConditionalSampler(self.encoder, x, 0.5 if ctx.shape[1] else 0.0),
            self.encoder.spans,
            batch,
            self.embedding_dim,
            rng,
            torch.Generator(device=self.device_).manual_seed(child_seed(rng)),
            self.loss,
            self.gp_lambda,
            0.01,
        )
        budget.total = max(1, self.training_steps(n, batch))
        monitor = self._monitor(t, x, ctx, rng) if self.early_stopping else None
        self._loop(t, budget, self.critic_steps or (5 if wgan else 1), monitor)

    def _monitor(
        self, t: _Training, x: np.ndarray, ctx: np.ndarray, rng: np.random.Generator
    ) -> _HoldoutMonitor | None:
        """Hold back rows (seeded) from training to watch fidelity on; None if too few."""
        n = len(x)
        n_val = int(np.clip(n // 10, 100, 2000))
        if n < 5 * n_val:
            return None
        perm = rng.permutation(n)
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        t.sampler = ConditionalSampler(self.encoder, x[train], 0.5 if ctx.shape[1] else 0.0)
        t.sampler.order = [train[o] for o in t.sampler.order]  # positions in x
        t.sampler.n, t.sampler.index = len(train), train
        return _HoldoutMonitor(self, x[val], ctx[val], child_seed(rng))

    def _loop(
        self,
        t: _Training,
        budget: TrainingBudget,
        critic_steps: int,
        monitor: _HoldoutMonitor | None = None,
    ) -> None:
        total = budget.total
        logger.info(
            "%s: training %d steps (batch %d, pac %d) on %s",
            type(self).__name__,
            total,
            t.batch,
            t.critic.pac,
            self.device_,
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
                    type(self).__name__,
                    step,
                    total,
                    monitor.best,
                )
                break
            if budget.out_of_time():
                logger.info(
                    "%s: stopped after %d/%d steps (max_seconds=%s)",
                    type(self).__name__,
                    step,
                    total,
                    self.max_seconds,
                )
                break
        t.generator.eval()
        self.steps_ = step
        self.training_seconds_ = budget.finish()

    # -- sample -------------------------------------------------------------------------

    def sample(
        self,
        context: pd.DataFrame | None = None,
        *,
        n_rows: int | None = None,
        lengths: np.ndarray | None = None,
        seed: SeedLike = None,
    ) -> pd.DataFrame:
        """Generate one row per ``context`` row (same order), or ``n_rows`` root rows."""
        del lengths
        self._check_fitted()
        n = self._sample_size(context, n_rows)
        rng = self._rng(seed)
        ctx = self._encode_context(context, n, rng)
        with torch_threads(self.n_threads), torch.no_grad():
            matrix = self._generate(ctx, rng)
        decoded = apply_dependencies(
            self.dependencies_, self.encoder.inverse(matrix, rng), context, rng
        )
        return restore_offsets(decoded, self.offsets_)

    def _sample_size(self, context: pd.DataFrame | None, n_rows: int | None) -> int:
        if n_rows is not None and (
            not isinstance(n_rows, int | np.integer) or isinstance(n_rows, bool) or n_rows < 0
        ):
            raise ParameterError(
                "The 'n_rows' parameter of ConditionalWGAN.sample must be an int in the range "
                f"[0, inf). Got {n_rows!r} instead."
            )
        if context is None:
            if n_rows is None:
                raise ParameterError("ConditionalWGAN.sample needs a 'context' or 'n_rows'.")
            return int(n_rows)
        if not isinstance(context, pd.DataFrame):
            raise self._param_error("context", "a pandas DataFrame or None", type(context).__name__)
        if n_rows is not None and n_rows != len(context):
            raise ParameterError(
                f"'n_rows' ({n_rows}) differs from the number of context rows "
                f"({len(context)}); pass one of them."
            )
        return len(context)

    def _sampling_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Conditional vectors at sampling time (zero when the parent context drives)."""
        if self.context_encoder is None:
            return ConditionalSampler.original(self.encoder, n, rng)
        return np.zeros((n, sum(s.width for s, _ in self.encoder.discrete)), np.float32)

    def _forward(self, cond: np.ndarray, ctx: np.ndarray, gen: torch.Generator) -> torch.Tensor:
        """Raw generator outputs (logits, pre-tanh scalars) for one batch."""
        c = torch.from_numpy(cond).to(self.device_)
        k = torch.from_numpy(ctx).to(self.device_)
        z = torch.randn(len(c), self.embedding_dim, generator=gen, device=self.device_)
        return self.generator_(torch.cat([z, c, k], dim=1))

    def _generate(self, ctx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(ctx)
        dim = self.encoder.dim
        if dim == 0 or n == 0:
            return np.zeros((n, dim), dtype=np.float32)
        gen = torch.Generator(device=self.device_).manual_seed(child_seed(rng))
        cond = self._sampling_conditions(n, rng)
        calibration = self.calibration_
        bias = None if calibration is None else torch.from_numpy(calibration.bias).to(self.device_)
        self.generator_.eval()
        out = []
        for lo in range(0, n, _SAMPLE_BATCH):
            raw = self._forward(cond[lo : lo + _SAMPLE_BATCH], ctx[lo : lo + _SAMPLE_BATCH], gen)
            if bias is not None:
                raw = raw + bias
            out.append(hard_sample(raw, self.encoder.spans, gen))
        matrix = np.concatenate(out)[:, :dim]
        return matrix if calibration is None else calibration.map_values(matrix, ctx)

    # -- state --------------------------------------------------------------------------

    def _get_state(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns_),
            "dtypes": dict(self.dtypes_),
            "encoder": self.encoder.state(),
            "context_encoder": None
            if self.context_encoder is None
            else self.context_encoder.state(),
            "generator": module_state(self.generator_),
            "calibration": None if self.calibration_ is None else self.calibration_.state(),
            "dependencies": [d.state() for d in self.dependencies_],
            "offsets": [o.state() for o in self.offsets_],
            "steps": int(self.steps_),
            "training_seconds": float(self.training_seconds_),
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.columns_ = list(state["columns"])
        self.dtypes_ = dict(state["dtypes"])
        self.encoder = TableEncoder.from_state(state["encoder"])
        ce = state["context_encoder"]
        self.context_encoder = None if ce is None else TableEncoder.from_state(ce)
        self.device_ = resolve_device(self.device)
        ctx_dim = 0 if self.context_encoder is None else self.context_encoder.dim
        self.generator_, _ = self._build(ctx_dim, None, 1)
        self.generator_.load_state_dict(
            {k: v.to(self.device_) for k, v in state["generator"].items()}
        )
        self.generator_.eval()
        cal = state.get("calibration")
        self.calibration_ = None if cal is None else Calibration.from_state(cal)
        self.dependencies_ = [Dependency.from_state(d) for d in state.get("dependencies", [])]
        self.offsets_ = [Offset.from_state(o) for o in state.get("offsets", [])]
        self.steps_ = state["steps"]
        self.training_seconds_ = state["training_seconds"]
        self.fitted_ = True
