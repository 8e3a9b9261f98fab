"""LSTM generator for sequential child tables: one sequence per parent (stage 3 of 5).

A sequential child table (stop_times per trip, transactions per account) is learned
as whole sequences. The generator is an LSTM whose initial state comes from the
encoded parent context (plus noise), in the spirit of conditional recurrent GANs
(Esteban et al., "Real-valued (Medical) Time Series Generation with Recurrent
Conditional GANs", 2017) and DoppelGANger (Lin et al., 2020), which also generates
per-sequence attributes before the steps. The critic is a masked 1-D convolution
with mean and max pooling over the valid steps, trained with WGAN-GP (Gulrajani et
al., 2017); convolutions support the double backward of the gradient penalty on
every device, which cuDNN's recurrent layers do not.

Order and monotone columns are generated as a *start value* per sequence plus
*non-negative increments* per step (each decoded within the observed range of
increments, so never negative), and rebuilt by a cumulative sum: the order column
always increases and monotone columns never go backwards. Sequence lengths are
given by the caller (the key skeleton); the model never produces them.

The networks and training steps are in :mod:`relsynth.models.sequence_networks`, the
start-and-increments transform of the order and monotone columns in
:mod:`relsynth.models.sequence_increments`; this
module holds the estimator, a :class:`~relsynth.models.base.SequenceTableModel` (its
``fit``/``sample`` chain is the template's; it uses no offsets or dependencies).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch

from relsynth._random import child_seed
from relsynth._typing import SeedLike
from relsynth._validation import BOOL, Interval, OrNone
from relsynth.models._torch import build_modules, hard_sample, module_state, resolve_device
from relsynth.models.base import COMMON_PARAMS, ProgressCallback, SequenceTableModel
from relsynth.models.budget import TrainingBudget, early_stopping_on
from relsynth.models.calibration import Calibration, fit_calibration
from relsynth.models.columns import Span
from relsynth.models.context import Context
from relsynth.models.encoding import NumericalEncoder, TableEncoder
from relsynth.models.sequence_increments import _NULL_PREFIX, SequenceIncrements
from relsynth.models.sequence_levels import (
    LevelCorrections,
    category_spans,
    fit_bin_biases,
    level_bins,
)
from relsynth.models.sequence_networks import (
    SequenceCritic,
    SequenceGenerator,
    SequenceHoldoutMonitor,
    SequenceTraining,
    positions,
    seq_critic_step,
    seq_generator_step,
    sequence_gradient_penalty,
    split_sequences,
)

__all__ = ["SequenceCritic", "SequenceGenerator", "SequenceModel", "sequence_gradient_penalty"]

logger = logging.getLogger(__name__)

_SAMPLE_SEQUENCES = 1024
_CALIBRATION_SEQUENCES = 2000


class SequenceModel(SequenceIncrements, SequenceTableModel):
    """Whole-sequence generator for a child table ordered under its driver parent.

    Parameters
    ----------
    order_column : str, optional
        Column that orders rows within a sequence (``stop_sequence``, a date). Generated
        as a start plus increments: it strictly increases when it did in the data.
    monotone_columns : sequence of str, default=()
        Numeric or datetime columns that never go backwards within a sequence
        (``arrival_time`` seconds); generated the same way and clipped to the observed
        range.
    kinds, encoding, steps, epochs, max_seconds, learning_rate, device, n_threads, seed, callback
        As :class:`~relsynth.models.wgan.ConditionalWGAN`; by default
        (:meth:`default_steps`) ``clip(15 * sqrt(n_sequences), 200, 600)`` steps, from
        the number of non-empty sequences (the families), not of rows.
    batch_size : int, default=64
        Sequences per batch.
    hidden_dim, noise_dim : int
        LSTM/critic width and noise size per step.
    gp_lambda : float, default=10
        Gradient-penalty weight.
    calibrate : bool, default=True
        Marginal calibration of steps and start values after training, as
        :class:`~relsynth.models.wgan.ConditionalWGAN` (on up to 2,000 training sequences).
    min_category_count : int, optional
        As :class:`~relsynth.models.wgan.ConditionalWGAN`.
    early_stopping : bool, optional
        Hold back a tenth of the sequences (at most 500, seeded) and stop training when
        the gap between generated and held-back sequences (mean KS / total variation
        over the encoded step and start columns) stops shrinking, checked every
        ``max(25, steps // 20)`` steps, never before half of them; deterministic
        (steps, never the clock). Tables of fewer than 1,000 sequences train on every
        sequence for every step. None (default): on when the training length comes
        from the data, off when ``steps`` or ``epochs`` is given.

    Notes
    -----
    The learning rate defaults to 1e-3 (Adam, betas 0.5/0.9), five times CTGAN's: with
    the small per-table budgets used here, 2e-4 left the generator collapsed on one
    increment scale after ~500 steps in our tests, while 1e-3 learned the planted
    context dependence (``docs/models.md``).
    """

    PARAMS: ClassVar[Mapping[str, Any]] = {
        **COMMON_PARAMS,
        "hidden_dim": Interval(int, 1, None, closed="left"),
        "noise_dim": Interval(int, 1, None, closed="left"),
        "early_stopping": OrNone(BOOL),
    }

    def __init__(
        self,
        *,
        order_column: str | None = None,
        monotone_columns: Sequence[str] = (),
        kinds: Mapping[str, str] | None = None,
        encoding: Literal["quantile", "gmm"] = "quantile",
        steps: int | None = None,
        epochs: int | None = None,
        max_seconds: float | None = None,
        batch_size: int = 64,
        hidden_dim: int = 64,
        noise_dim: int = 32,
        learning_rate: float = 1e-3,
        gp_lambda: float = 10.0,
        calibrate: bool = True,
        device: str = "auto",
        n_threads: int | None = None,
        seed: SeedLike = None,
        min_category_count: int | None = None,
        early_stopping: bool | None = None,
        callback: ProgressCallback | None = None,
    ) -> None:
        self.order_column = order_column
        self.monotone_columns = tuple(monotone_columns)
        self.kinds = kinds
        self.encoding = encoding
        self.steps = steps
        self.epochs = epochs
        self.max_seconds = max_seconds
        self.batch_size = batch_size
        self.hidden_dim = hidden_dim
        self.noise_dim = noise_dim
        self.learning_rate = learning_rate
        self.gp_lambda = gp_lambda
        self.calibrate = calibrate
        self.device = device
        self.n_threads = n_threads
        self.seed = seed
        self.min_category_count = min_category_count
        self.early_stopping = early_stopping
        self.callback = callback

    # -- preprocessing --------------------------------------------------------------------

    def _context_matrix(self, ctx: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        feat = (np.log1p(lengths) / 5.0).astype(np.float32)[:, None]
        return np.hstack([ctx, feat]).astype(np.float32)

    # -- fit ----------------------------------------------------------------------------

    def _encode(
        self,
        table: pd.DataFrame,
        context: Context,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Encoded steps and starts, and the contexts and lengths of non-empty sequences."""
        assert lengths is not None
        steps, starts = self._split(table, lengths, rng)
        k = self._min_count()
        self.encoder = TableEncoder(self._step_kinds(steps), self.encoding, min_count=k)
        self.encoder.fit(steps, rng)
        self.start_encoder = TableEncoder(
            {c: "numerical" for c in starts.columns}, self.encoding, min_count=k
        ).fit(starts, rng)
        x, s = self.encoder.transform(steps, rng), self.start_encoder.transform(starts, rng)
        ctx = self._context_matrix(self._fit_context(context.frame(), len(lengths), rng), lengths)
        keep = lengths > 0
        return x, s, ctx[keep], lengths[keep]

    def default_steps(self, n_rows: int, *, lengths: np.ndarray | None = None) -> int:
        """``clip(15 * sqrt(n_sequences), 200, 600)`` steps (``n_rows`` sequences
        when ``lengths`` is not given)."""
        n_seq = n_rows if lengths is None else int(np.count_nonzero(np.asarray(lengths)))
        return TrainingBudget.steps(n_seq, self.batch_size, None, 15.0, 200, 600)

    def fit_cost(self, n_rows: int, n_columns: int, *, lengths: np.ndarray | None = None) -> float:
        """Steps x padded steps per batch x width (a batch pads to its longest sequence)."""
        if n_rows == 0:
            return 0.0
        n_seq = n_rows if lengths is None else max(1, int(np.count_nonzero(lengths)))
        longest = 1 if lengths is None or len(lengths) == 0 else int(np.max(lengths))
        per_batch = min(self.batch_size, n_seq) * min(longest, 4 * max(1, n_rows // n_seq))
        steps = self.training_steps(n_seq, self.batch_size, lengths=lengths)
        return float(steps * per_batch * (1 + n_columns))

    def _fit_calibration(
        self, data: tuple[np.ndarray, ...], rng: np.random.Generator
    ) -> tuple[Calibration, Calibration]:
        """Generate for (up to 2,000) training sequences; fit step and start corrections."""
        x, s, ctx, lengths = data
        pick = np.arange(len(lengths))
        if len(pick) > _CALIBRATION_SEQUENCES:
            pick = np.sort(rng.choice(len(pick), _CALIBRATION_SEQUENCES, replace=False))
        gen = torch.Generator(device=self.device_).manual_seed(child_seed(rng))
        flats, starts = [], []
        with torch.no_grad():
            for flat, raw_start in self._raw_batches(ctx[pick], lengths[pick], gen):
                flats.append(flat.cpu().numpy())
                starts.append(raw_start.cpu().numpy())
        calibration = (
            fit_calibration(np.concatenate(flats), x, self.encoder.spans, method=self.encoding),
            fit_calibration(
                np.concatenate(starts),
                s,
                self.start_encoder.spans,
                method=self.encoding,
                context=(ctx, ctx[pick], self._context_spans(ctx.shape[1])),
                context_tilt=True,
            ),
        )
        self.calibration_ = calibration
        self.levels_ = self._fit_levels(ctx[pick], lengths[pick], x, rng)
        return calibration

    def _fit_levels(
        self, ctx: np.ndarray, lengths: np.ndarray, x: np.ndarray, rng: np.random.Generator
    ) -> LevelCorrections:
        """The step categories' biases per bin of the first monotone column's values
        (:mod:`relsynth.models.sequence_levels`), fitted on one calibrated generation
        for the training contexts ``ctx``; ``x`` are the encoded training steps."""
        with torch.no_grad():
            gen_x, gen_s, logits = self._generate(ctx, lengths, rng, logits=True)
        assert logits is not None
        steps, values = self._rebuild((gen_x, gen_s), lengths, rng)
        levels = LevelCorrections()
        chained = self._chained_to()
        base = next((c for c in values if c in self._level_targets and c not in chained), None)
        spans = self._level_spans()
        if base is None or not spans:
            return levels
        levels.column = base
        levels.edges = self._level_targets[base][20:-1:20]
        gen_bins = level_bins(levels.edges, values[base])
        if _NULL_PREFIX + base in steps:
            gen_bins[steps[_NULL_PREFIX + base].to_numpy(dtype=bool)] = -1
        real = self._level_values[base]
        real_bins = np.where(np.isnan(real), -1, level_bins(levels.edges, np.nan_to_num(real)))
        offset = 0
        for s in spans:
            biases = fit_bin_biases(
                logits[:, offset : offset + s.width], gen_bins, x[:, s.start : s.stop], real_bins
            )
            offset += s.width
            if np.any(biases != 0):
                levels.biases[s.start] = biases
        return levels

    def _level_spans(self) -> list[Span]:
        """The step categories that the level biases may redraw."""
        return category_spans(self.encoder.spans, _NULL_PREFIX)

    def _context_spans(self, width: int) -> list[Span]:
        """Spans of the context matrix: the parent context's, then the length feature.

        The length is a continuous value of the context, so the start calibration
        gives the start values their training correlation with it (a long trip
        starts later in the day) and with the parent's numbers (context tilt).
        """
        spans = [] if self.context_encoder is None else list(self.context_encoder.spans)
        return [*spans, Span(width - 1, 1, "tanh", "__length__", "value")]

    def _build(self, ctx_dim: int, seed: int | None) -> tuple[SequenceGenerator, SequenceCritic]:
        d, s, h = self.encoder.dim, self.start_encoder.dim, self.hidden_dim
        g, c = build_modules(
            [
                lambda: SequenceGenerator(ctx_dim, self.noise_dim, h, d, s),
                lambda: SequenceCritic(d, s, ctx_dim, h),
            ],
            seed,
        )
        return g.to(self.device_), c.to(self.device_)  # type: ignore[return-value]

    def _train(
        self, data: tuple[np.ndarray, ...], rng: np.random.Generator, budget: TrainingBudget
    ) -> None:
        x, s, ctx, lengths = data
        generator, critic = self._build(ctx.shape[1], child_seed(rng))
        self.generator_ = generator
        total = budget.total = max(
            1, self.training_steps(len(lengths), self.batch_size, lengths=lengths)
        )
        monitor = None
        split = split_sequences(data, len(lengths), rng) if early_stopping_on(self) else None
        if split is not None:
            monitor = SequenceHoldoutMonitor(self, split[0], child_seed(rng))
            x, s, ctx, lengths = split[1]
        kw = {"lr": self.learning_rate, "betas": (0.5, 0.9), "weight_decay": 1e-6}
        dev = self.device_
        t = SequenceTraining(
            generator,
            critic,
            torch.optim.Adam(generator.parameters(), **kw),
            torch.optim.Adam(critic.parameters(), **kw),
            torch.from_numpy(x).to(dev),
            torch.from_numpy(s).to(dev),
            torch.from_numpy(ctx).to(dev),
            np.concatenate([[0], np.cumsum(lengths)[:-1]]),
            lengths,
            self,
            self.batch_size,
            rng,
            torch.Generator(device=dev).manual_seed(child_seed(rng)),
        )
        logger.info(
            "SequenceModel: training %d steps (%d sequences) on %s", total, len(lengths), dev
        )
        self.steps_ = self._loop(t, budget, monitor)
        generator.eval()
        self.training_seconds_ = budget.finish()

    def _loop(
        self,
        t: SequenceTraining,
        budget: TrainingBudget,
        monitor: SequenceHoldoutMonitor | None,
    ) -> int:
        """Run the steps (until the monitor or ``max_seconds`` stops them); the steps run."""
        total, step = budget.total, 0
        for step in range(1, total + 1):
            losses = seq_critic_step(t, self.gp_lambda)
            losses.update(seq_generator_step(t))
            budget.report(step, losses)
            if monitor is not None and monitor.stop(step, total, t.generator):
                logger.info(
                    "SequenceModel: stopped early after %d/%d steps (held-out gap %.4f)",
                    step,
                    total,
                    monitor.best,
                )
                break
            if budget.out_of_time():
                logger.info(
                    "SequenceModel: stopped after %d/%d steps (max_seconds=%s)",
                    step,
                    total,
                    self.max_seconds,
                )
                break
        return step

    def _run_generator(
        self, g: SequenceGenerator, ctx: torch.Tensor, pos: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = pos.shape[0], pos.shape[1]
        z0 = torch.randn(b, self.noise_dim, generator=gen, device=ctx.device)
        zt = torch.randn(b, t, self.noise_dim, generator=gen, device=ctx.device)
        return g(ctx, z0, zt, pos)

    # -- sample -------------------------------------------------------------------------

    def _sample_context(
        self,
        context: Context,
        n: int,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The encoded parent context plus the log length of each sequence."""
        assert lengths is not None
        return self._context_matrix(self._encode_context(context.frame(), n, rng), lengths)

    def _raw_batches(
        self, ctx: np.ndarray, lengths: np.ndarray, gen: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Raw step outputs (valid positions, sequence order) and start outputs, by batch."""
        keep = np.flatnonzero(lengths > 0)
        self.generator_.eval()
        for lo in range(0, len(keep), _SAMPLE_SEQUENCES):
            part = keep[lo : lo + _SAMPLE_SEQUENCES]
            lens = lengths[part]
            pos = torch.from_numpy(positions(lens, int(lens.max()))).to(self.device_)
            c = torch.from_numpy(ctx[part]).to(self.device_)
            raw, raw_start = self._run_generator(self.generator_, c, pos, gen)
            valid = torch.from_numpy(np.arange(pos.shape[1])[None, :] < lens[:, None])
            yield raw[valid.to(self.device_)], raw_start

    def _generate(
        self,
        ctx: np.ndarray,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
        logits: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Calibrated encoded steps and starts, and the step categories' calibrated
        logits (side by side) when asked for or when the level biases need them."""
        assert lengths is not None
        gen = torch.Generator(device=self.device_).manual_seed(child_seed(rng))
        xs = [np.zeros((0, self.encoder.dim), np.float32)]
        ss = [np.zeros((0, self.start_encoder.dim), np.float32)]
        cols = np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [np.arange(s.start, s.stop) for s in self._level_spans()]
        )
        keep_logits = bool(self.levels_.biases) if logits is None else logits
        ls = [np.zeros((0, len(cols)), np.float32)]
        cal = self.calibration_
        for flat, raw_start in self._raw_batches(ctx, lengths, gen):
            if cal is not None:
                flat = flat + torch.from_numpy(cal[0].bias).to(flat.device)
                raw_start = raw_start + torch.from_numpy(cal[1].bias).to(raw_start.device)
            if keep_logits:
                ls.append(flat[:, torch.from_numpy(cols).to(flat.device)].cpu().numpy())
            xs.append(hard_sample(flat, self.encoder.spans, gen)[:, : self.encoder.dim])
            ss.append(
                hard_sample(raw_start, self.start_encoder.spans, gen)[:, : self.start_encoder.dim]
            )
        x, s = np.concatenate(xs), np.concatenate(ss)
        if cal is not None:
            cal[0].map_values(x)
            cal[1].map_values(s, ctx[lengths > 0])
        return x, s, np.concatenate(ls) if keep_logits else None

    def _decode(
        self,
        generated: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> pd.DataFrame:
        assert lengths is not None
        x, s, logits = generated
        steps, values = self._rebuild((x, s), lengths, rng)
        if logits is not None:
            x = x.copy()
            redrawn = self.levels_.redraw(x, logits, self._level_spans(), values, rng)
            if redrawn:
                fresh = self.encoder.inverse(x, rng)
                for c in redrawn:
                    steps[c] = fresh[c]
        for c, enc in self.special_encoders_.items():
            value = self._finish_special(c, enc, values[c])
            null_col = _NULL_PREFIX + c
            null = (
                steps[null_col].to_numpy(dtype=bool)
                if null_col in steps.columns
                else np.zeros(len(value), dtype=bool)
            )
            steps[c] = enc._restore(value, null).to_numpy()
        return steps[self.columns_].reset_index(drop=True)

    # -- state --------------------------------------------------------------------------

    def _get_state(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns_),
            "dtypes": dict(self.dtypes_),
            "encoder": self.encoder.state(),
            "start_encoder": self.start_encoder.state(),
            "special_encoders": {c: e.state() for c, e in self.special_encoders_.items()},
            "context_encoder": None
            if self.context_encoder is None
            else self.context_encoder.state(),
            "generator": module_state(self.generator_),
            "calibration": None
            if self.calibration_ is None
            else [c.state() for c in self.calibration_],
            "steps": int(self.steps_),
            "training_seconds": float(self.training_seconds_),
            "levels": self.levels_.state(),
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.columns_ = list(state["columns"])
        self.dtypes_ = dict(state["dtypes"])
        self.encoder = TableEncoder.from_state(state["encoder"])
        self.start_encoder = TableEncoder.from_state(state["start_encoder"])
        self.special_encoders_ = {
            c: NumericalEncoder.from_state(e) for c, e in state["special_encoders"].items()
        }
        ce = state["context_encoder"]
        self.context_encoder = None if ce is None else TableEncoder.from_state(ce)
        self.device_ = resolve_device(self.device)
        ctx_dim = 1 + (0 if self.context_encoder is None else self.context_encoder.dim)
        self.generator_, _ = self._build(ctx_dim, None)
        self.generator_.load_state_dict(
            {k: v.to(self.device_) for k, v in state["generator"].items()}
        )
        self.generator_.eval()
        cal = state.get("calibration")
        self.calibration_ = (
            None
            if cal is None
            else (Calibration.from_state(cal[0]), Calibration.from_state(cal[1]))
        )
        self.levels_ = LevelCorrections.from_state(state.get("levels"))  # None: saved before
        self.offsets_, self.dependencies_ = [], []
        self.steps_ = state["steps"]
        self.training_seconds_ = state["training_seconds"]
        self.fitted_ = True
