"""Differentially private training of a table's ConditionalWGAN (DP-SGD on the critic).

Design (see docs/privacy.md, "Differential privacy"):

* Only the **critic** reads real rows, so only the critic is trained with DP-SGD
  (Abadi et al. 2016). The generator never sees a real row: its loss is the critic's
  score of its own output, so each generator step is post-processing of the DP
  critic and costs no privacy (the GS-WGAN / DP-CGAN argument). For that to hold the
  generator gets no real context (no parent rows, no conditional vector drawn from
  real rows): under DP a table's model is unconditional; the keys (who belongs to
  whom) come from the DP key skeleton, the generator's contexts from DP outputs.
* A child table's model may be conditioned on its driver parent's values
  (:class:`DPContextFrames`): the critic reads each real row with its real context,
  which is the entity's own data (the parent row and the siblings belong to the same
  entity), so it is inside that entity's clipped gradient; the generator and the
  context encoder see only *synthetic* contexts made from DP outputs (the key
  skeleton's families, parent values drawn from the parent's releases or a public
  parent's rows). As for any context model, half of the conditional vectors are
  zero, and sampling uses zero vectors so that the parent's values drive the row.
* The unit of privacy is an *entity* (a root row with its descendant rows), not a
  row. Each step draws entities by Poisson sampling (rate ``q``), computes the
  per-row gradients of the critic's loss with ``torch.func`` (``vmap`` over ``grad``),
  **sums them per entity**, clips each entity's gradient to L2 norm ``C``, adds
  Gaussian noise ``N(0, sigma^2 C^2)`` and divides by the expected number of
  entities. That is the subsampled Gaussian mechanism with entity-level sensitivity
  ``C``, accounted for by opacus' RDP accountant.
* opacus' per-sample-gradient hooks do not support the gradient penalty (a double
  backward through the critic) nor grouping rows by entity; ``torch.func`` does both:
  the penalty of each real row (on its interpolation with a generated row) is part of
  that row's loss, so it is clipped and noised with it. The ``D(fake)`` term touches
  no real data and is added without noise. PacGAN packing (which mixes rows of several
  entities in one critic input) and dropout are off under DP.
* The encoder is built from DP releases only (:func:`dp_encoder`): released category
  vocabularies and noisy frequencies, DP (or user-given) numeric bounds and
  quantiles; rows whose category was suppressed are re-drawn from the released ones
  before encoding. Dependency discovery and offsets (which learn from the data
  outside the DP mechanism) are off.
* CTGAN's conditional vector is kept: generated rows get conditions drawn from the
  released frequencies (as at sampling), real rows the one-hot of their own category
  in a uniformly drawn discrete column (part of the row, so clipped and noised with
  it), and the generator CTGAN's cross-entropy on its own rows (no real row).
* The marginal calibration (:mod:`relsynth.models.calibration`) is fitted against
  rows drawn from the releases, not the training rows (:func:`release_calibration`):
  post-processing that brings every column's marginal to the released one.
* Accounting: :func:`composed_epsilon` / :func:`solve_noise` compose any list of
  (subsampled) Gaussian mechanisms with opacus' RDP accountant; the fit composes all
  its releases and DP-SGD runs in one (:mod:`relsynth.synthesis._dp`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from relsynth._random import as_generator, child_seed
from relsynth.models._dp_accounting import (
    ALPHAS,
    composed_epsilon,
    epsilon_spent,
    noise_for,
    sample_rate_for,
    solve_noise,
)
from relsynth.models._dp_context import (
    DPContextFrames,
    _drop_conditions,
    _encode_contexts,
    _start_unconditional,
)
from relsynth.models._torch import resolve_device, torch_threads
from relsynth.models.encoding import CategoricalEncoder, NumericalEncoder, TableEncoder
from relsynth.models.wgan import ConditionalWGAN

__all__ = [
    "ALPHAS",
    "DPContextFrames",
    "DPTraining",
    "composed_epsilon",
    "dp_encoder",
    "epsilon_spent",
    "fit_dp_wgan",
    "noise_for",
    "sample_rate_for",
    "solve_noise",
]

logger = logging.getLogger(__name__)

#: Rows of one entity used in one step at most (its gradient is clipped as a whole anyway).
MAX_ROWS_PER_ENTITY = 32


def dp_encoder(
    frame: pd.DataFrame, kinds: Mapping[str, str], releases: Mapping[str, Mapping[str, Any]]
) -> TableEncoder:
    """A TableEncoder made from DP releases only (never fitted on the rows)."""
    enc = TableEncoder(kinds, method="quantile")
    enc.columns = [str(c) for c in frame.columns]
    enc.encoders = []
    for name in enc.columns:
        rel = releases[name]
        if rel["kind"] in ("numerical", "datetime"):
            enc.encoders.append(_numeric(name, rel, str(frame[name].dtype)))
        else:
            enc.encoders.append(_categorical(name, rel, frame[name]))
    enc._build_spans()
    return enc


def _numeric(name: str, rel: Mapping[str, Any], dtype: str) -> NumericalEncoder:
    e = NumericalEncoder(name, rel["kind"], "quantile")
    e.dtype, e.specials, e.support = dtype, [0.0, 0.0], []
    e.has_null, e.all_null = bool(rel["nullable"]), False
    e.min, e.max = float(rel["low"]), float(rel["high"])
    e.is_int = pd.api.types.is_integer_dtype(pd.api.types.pandas_dtype(dtype))
    e.decimals = 0 if e.is_int else None
    e.step = 1.0 if rel["kind"] == "datetime" else 0.0
    e.quantiles = [float(q) for q in rel["quantiles"]]
    e.means, e.stds, e.weights = [], [], []
    return e


def _categorical(name: str, rel: Mapping[str, Any], series: pd.Series) -> CategoricalEncoder:
    e = CategoricalEncoder(name, rel["kind"])
    e.dtype = str(series.dtype)
    if isinstance(series.dtype, pd.CategoricalDtype):
        e.dtype = str(series.dtype.categories.dtype)
    values, counts = list(rel["values"]), [float(c) for c in rel["counts"]]
    if rel["nullable"]:
        values.append(None)
        counts.append(float(rel["null_count"]))
    if not values:  # everything suppressed, NOT NULL: one placeholder value
        values, counts = [rel["placeholder"]], [1.0]
    freq = np.clip(np.asarray(counts), 1e-9, None)
    e.categories = values
    e.members = [[i] for i in range(len(values))]
    e.member_probs = [[1.0] for _ in values]
    e.level_freq = (freq / freq.sum()).tolist()
    e.distinct, e.counts, e.min_count, e.withheld = False, None, 1, 0
    e.other_level, e.other = None, None
    return e


def redraw_suppressed(
    frame: pd.DataFrame, encoder: TableEncoder, rng: np.random.Generator
) -> pd.DataFrame:
    """Replace categories that were not released by draws from the released ones."""
    out = frame.copy()
    for enc in encoder.encoders:
        if not isinstance(enc, CategoricalEncoder):
            continue
        col = out[enc.column].astype(object).where(out[enc.column].notna(), None)
        known = col.isin([c for c in enc.categories if c is not None]) | (
            col.isna() & (None in enc.categories)
        )
        bad = ~known.to_numpy()
        if bad.any():
            pick = rng.choice(len(enc.categories), size=int(bad.sum()), p=enc.level_freq)
            col = np.array(col.to_numpy(dtype=object), dtype=object)
            col[bad] = [enc.categories[i] for i in pick]
            out[enc.column] = col
        else:
            out[enc.column] = col.to_numpy(dtype=object)
    return out


class DPTraining:
    """The settings and outcome of one DP-SGD run (what the accountant needs).

    ``noise``: the noise multiplier (set by the fit's joint accounting); without it, the
    one that reaches ``epsilon`` at ``delta`` on its own. ``deadline`` (``time.time()``):
    training stops there (the accountant counts the steps run: less is spent).
    """

    def __init__(
        self,
        epsilon: float,
        delta: float,
        n_entities: int,
        steps: int,
        clip: float = 1.0,
        noise: float | None = None,
        deadline: float | None = None,
    ) -> None:
        self.epsilon, self.delta, self.clip = epsilon, delta, clip
        self.n_entities = max(int(n_entities), 1)
        self.steps = int(steps)
        self.sample_rate = sample_rate_for(self.n_entities)
        if noise is None:
            noise = noise_for(epsilon, delta, self.sample_rate, self.steps)
        self.noise = float(noise)
        self.deadline = deadline
        self.steps_done = 0

    def spent(self) -> float:
        """Epsilon of the steps actually run."""
        return epsilon_spent(self.noise, self.sample_rate, self.steps_done, self.delta)

    def summary(self) -> dict[str, float]:
        """What the model file and the fit summary report."""
        return {
            "epsilon": self.spent(),
            "delta": self.delta,
            "noise_multiplier": self.noise,
            "sample_rate": self.sample_rate,
            "steps": self.steps_done,
            "max_grad_norm": self.clip,
        }


def fit_dp_wgan(
    model: ConditionalWGAN,
    table: pd.DataFrame,
    entity: np.ndarray,
    releases: Mapping[str, Mapping[str, Any]],
    dp: DPTraining,
    context: DPContextFrames | None = None,
) -> ConditionalWGAN:
    """Train ``model`` with entity-level DP-SGD on the critic, conditioned on
    ``context`` (None: unconditional)."""
    rng = as_generator(model.seed)
    started = time.perf_counter()
    model.offsets_, model.dependencies_, model.calibration_ = [], [], None
    model.columns_ = [str(c) for c in table.columns]
    model.dtypes_ = {str(c): str(t) for c, t in table.dtypes.items()}
    model.encoder = dp_encoder(table, dict(model.kinds or {}), releases)
    frame = redraw_suppressed(table.reset_index(drop=True), model.encoder, rng)
    x = model.encoder.transform(frame, rng)
    real_ctx, fake_ctx = _encode_contexts(model, context, len(frame), rng)
    model.device_ = resolve_device(model.device)
    with torch_threads(model.n_threads):
        generator, critic = model._build(real_ctx.shape[1], child_seed(rng), 1)
        critic.dropout = 0.0
        _start_unconditional(generator, real_ctx.shape[1])
        model.generator_ = generator
        if model.encoder.dim:
            contexts = (real_ctx, fake_ctx)
            _train(model, generator, critic, x, np.asarray(entity), dp, rng, contexts)
        model.generator_.eval()
        if model.encoder.dim:
            corr = None if context is None else context.correlations
            model.calibration_ = release_calibration(model, releases, rng, fake_ctx, corr)
    model.steps_ = dp.steps_done
    model.training_seconds_ = time.perf_counter() - started
    model.fitted_ = True
    return model


#: Rows drawn from the releases (and generated) to fit the calibration.
CALIBRATION_ROWS = 4096


def release_sample(
    encoder: TableEncoder,
    releases: Mapping[str, Mapping[str, Any]],
    n: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``n`` rows drawn column by column from the DP releases (post-processing): the
    released categories at their noisy frequencies, numbers and datetimes from the
    released quantiles, NULL at the released share."""
    out = {}
    for enc in encoder.encoders:
        if isinstance(enc, CategoricalEncoder):
            pick = rng.choice(len(enc.categories), size=n, p=enc.level_freq)
            out[enc.column] = pd.Series([enc.categories[i] for i in pick], dtype=object)
            continue
        rel = releases[enc.column]
        q = np.asarray(rel["quantiles"], dtype=float)
        values = np.interp(rng.random(n), np.linspace(0.0, 1.0, len(q)), q)
        if enc.has_null:
            values[rng.random(n) < float(rel.get("null_share", 0.0))] = np.nan
        if rel["kind"] == "datetime":
            out[enc.column] = pd.Series(pd.to_datetime(values, unit="s", errors="coerce"))
        else:
            out[enc.column] = pd.Series(values)
    return pd.DataFrame(out)


def release_calibration(
    model: ConditionalWGAN,
    releases: Mapping[str, Mapping[str, Any]],
    rng: np.random.Generator,
    contexts: np.ndarray | None = None,
    correlations: Mapping[str, Mapping[str, float]] | None = None,
) -> Any:
    """The model's marginal calibration (:mod:`relsynth.models.calibration`) fitted
    against rows drawn from the DP releases instead of the training rows: it brings each
    column's generated marginal to the released one and reads no real row (post-
    processing). Correlations are left as the generator learned them (the releases are
    per column). Rows are generated as at sampling: for contexts drawn from the
    synthetic ones (``contexts``, encoded; none: unconditional). With released context
    correlations (``correlations``, :mod:`relsynth.models._dp_tilt`) the continuous
    values then get the released correlations with the context (a context tilt)."""
    from relsynth.models._dp_tilt import fit_dp_tilt
    from relsynth.models.calibration import fit_calibration

    m = CALIBRATION_ROWS
    x = model.encoder.transform(release_sample(model.encoder, releases, m, rng), rng)
    cond = model._sampling_conditions(m, rng)
    ctx = np.zeros((m, 0), np.float32)
    if contexts is not None and contexts.shape[1]:
        ctx = contexts[rng.integers(0, len(contexts), size=m)]
    gen = torch.Generator(device=model.device_).manual_seed(child_seed(rng))
    with torch.no_grad():
        raw = model._forward(cond, ctx, gen).cpu().numpy()
    spans = model.encoder.spans
    calibration = fit_calibration(raw, x, spans, method=model.encoding, correlations=False)
    if correlations and contexts is not None and model.context_encoder is not None:
        ctx_spans = model.context_encoder.spans
        calibration.tilt = fit_dp_tilt(
            raw, spans, calibration, ctx, contexts, ctx_spans, correlations
        )
    return calibration


def _entity_rows(entity: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(entity, kind="stable")
    _, starts = np.unique(entity[order], return_index=True)
    return np.split(order, starts[1:])


def _train(model, generator, critic, x, entity, dp, rng, contexts) -> None:  # noqa: ANN001
    """DP-SGD on the critic (real rows with their real contexts, one clipped gradient
    per entity), the generator on synthetic contexts only (``contexts``: encoded real
    and synthetic contexts; zero columns when unconditional)."""
    from relsynth.models._torch import activate
    from relsynth.models.wgan_networks import ConditionalSampler

    dev = model.device_
    groups = _entity_rows(entity)
    xt = torch.from_numpy(x).to(dev)
    real_ctx = torch.from_numpy(contexts[0]).to(dev)
    fake_ctx = torch.from_numpy(contexts[1]).to(dev)
    conditioned = real_ctx.shape[1] > 0
    gen = torch.Generator(device=dev).manual_seed(child_seed(rng))
    kw = {"lr": model.learning_rate, "betas": (0.5, 0.9)}
    opt_g = torch.optim.Adam(generator.parameters(), **kw)
    opt_c = torch.optim.Adam(critic.parameters(), **kw)
    layout = _cond_layout(model.encoder)
    expected = dp.sample_rate * dp.n_entities

    def fake(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw outputs, generated rows (with their conditions) and the conditions, drawn
        from the released frequencies as at sampling (ConditionalSampler.original)."""
        cond = torch.from_numpy(ConditionalSampler.original(model.encoder, n, rng)).to(dev)
        ctx = torch.zeros(n, 0, device=dev)
        if conditioned:
            cond = _drop_conditions(cond, rng)
            ctx = fake_ctx[torch.from_numpy(rng.integers(0, len(fake_ctx), size=n)).to(dev)]
        z = torch.randn(n, model.embedding_dim, generator=gen, device=dev)
        raw = generator(torch.cat([z, cond, ctx], dim=1))
        rows = torch.cat([activate(raw, model.encoder.spans, gen), cond, ctx], dim=1)
        return raw, rows, cond

    critic.train()
    generator.train()
    for _ in range(dp.steps):
        if dp.deadline is not None and dp.steps_done and time.time() > dp.deadline:
            break  # the time budget: fewer steps, less privacy spent
        rows = _poisson_rows(groups, dp.sample_rate, rng)
        n_fake = max(1, int(round(expected)))
        with torch.no_grad():
            _, fake_rows, _ = fake(n_fake)
        idx = torch.from_numpy(rows[0]).to(dev)
        real_cond = _real_conditions(xt[idx], layout, rng)
        if conditioned:
            real_cond = _drop_conditions(real_cond, rng)
        real = torch.cat([xt[idx], real_cond, real_ctx[idx]], dim=1)
        grads = _private_grads(critic, real, rows[1], dp, gen)
        opt_c.zero_grad(set_to_none=True)
        public = critic(fake_rows).mean() + _fake_penalty(critic, fake_rows, model.gp_lambda, gen)
        public.backward()  # D(fake) and the penalty on generated rows touch no real row
        for p, g in zip(critic.parameters(), grads, strict=True):
            p.grad = p.grad + g / max(expected, 1e-9)
        opt_c.step()
        opt_g.zero_grad(set_to_none=True)
        raw, rows_g, cond = fake(n_fake)
        loss = -critic(rows_g).mean() + _conditional_loss(raw, cond, layout)
        loss.backward()
        opt_g.step()
        dp.steps_done += 1


def _cond_layout(encoder: TableEncoder) -> list[tuple[int, int, int]]:
    """Per discrete column: its start in the encoded row, width, offset in the
    conditional vector."""
    out, offset = [], 0
    for span, _ in encoder.discrete:
        out.append((span.start, span.width, offset))
        offset += span.width
    return out


def _real_conditions(
    real: torch.Tensor, layout: list[tuple[int, int, int]], rng: np.random.Generator
) -> torch.Tensor:
    """CTGAN's conditional vector for real rows: a discrete column drawn uniformly and
    the row's own category of it (part of the row: clipped and noised with it), so that
    (row, condition) pairs are distributed as the generated ones."""
    dim = sum(w for _, w, _ in layout)
    cond = torch.zeros(len(real), dim, device=real.device)
    if not layout or len(real) == 0:
        return cond
    chosen = rng.integers(0, len(layout), size=len(real))
    for j, (start, width, offset) in enumerate(layout):
        rows = torch.from_numpy(np.flatnonzero(chosen == j)).to(real.device)
        if len(rows):
            level = real[rows, start : start + width].argmax(dim=1)
            cond[rows, offset + level] = 1.0
    return cond


def _conditional_loss(
    raw: torch.Tensor, cond: torch.Tensor, layout: list[tuple[int, int, int]]
) -> torch.Tensor:
    """Cross-entropy between each conditioned span and its requested category (CTGAN);
    generated rows only, so no privacy cost."""
    total = torch.zeros((), device=raw.device)
    for start, width, offset in layout:
        part = cond[:, offset : offset + width]
        rows = torch.nonzero(part.sum(dim=1) > 0).flatten()
        if len(rows):
            target = part[rows].argmax(dim=1)
            logits = raw[rows, start : start + width]
            total = total + torch.nn.functional.cross_entropy(logits, target, reduction="sum")
    return total / max(len(raw), 1)


def _fake_penalty(
    critic: torch.nn.Module, fake: torch.Tensor, lambda_: float, gen: torch.Generator
) -> torch.Tensor:
    """The gradient penalty on interpolations of generated rows (public: no real row)."""
    if lambda_ == 0 or len(fake) < 2:
        return torch.zeros((), device=fake.device)
    other = fake[torch.randperm(len(fake), generator=gen, device=fake.device)]
    alpha = torch.rand(len(fake), 1, generator=gen, device=fake.device)
    mixed = (alpha * fake + (1 - alpha) * other).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return lambda_ * ((g.norm(2, dim=1) - 1.0) ** 2).mean()


def _poisson_rows(
    groups: list[np.ndarray], rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the entities drawn (each with probability ``rate``) and their local index."""
    chosen = np.flatnonzero(rng.random(len(groups)) < rate)
    rows, owner = [], []
    for j, e in enumerate(chosen):
        g = groups[e]
        if len(g) > MAX_ROWS_PER_ENTITY:
            g = np.sort(rng.choice(g, MAX_ROWS_PER_ENTITY, replace=False))
        rows.append(g)
        owner.append(np.full(len(g), j))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(owner)


def _private_grads(critic, real, owner, dp, gen) -> list[torch.Tensor]:  # noqa: ANN001
    """Sum over the drawn entities of their clipped gradients, plus Gaussian noise."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in critic.named_parameters()}
    names = list(params)
    out = []
    if len(real):

        def row_loss(p: dict[str, torch.Tensor], r: torch.Tensor) -> torch.Tensor:
            return -functional_call(critic, p, (r[None],)).sum()

        per = vmap(grad(row_loss), in_dims=(None, 0))(params, real)
        n_ent = int(owner.max()) + 1
        own = torch.from_numpy(owner).to(real.device)
        summed = {
            k: torch.zeros((n_ent, *per[k].shape[1:]), device=real.device).index_add_(
                0, own, per[k]
            )
            for k in names
        }
        norms = torch.sqrt(sum((summed[k].reshape(n_ent, -1) ** 2).sum(1) for k in names))
        factor = torch.clamp(dp.clip / (norms + 1e-12), max=1.0)
        for k in names:
            shape = (n_ent,) + (1,) * (summed[k].dim() - 1)
            out.append((summed[k] * factor.reshape(shape)).sum(0))
    else:
        out = [torch.zeros_like(params[k]) for k in names]
    return [
        g + torch.normal(0.0, dp.noise * dp.clip, g.shape, generator=gen, device=g.device)
        for g in out
    ]
