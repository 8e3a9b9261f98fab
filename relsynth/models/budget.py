"""Training length and progress of a table model: :class:`TrainingBudget`.

Training length is a number of steps, decided from the data before training starts,
so the same data and seed give the same model on any machine whose torch CPU kernels
agree (see :class:`HoldoutStopper`); ``max_seconds`` is an explicit extra cap.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable

import numpy as np

from relsynth.errors import ConvergenceWarning, TrainingError

__all__ = [
    "DIVERGENCE_LOSS",
    "GapMonitor",
    "HoldoutStopper",
    "ProgressCallback",
    "TrainingBudget",
    "early_stopping_on",
    "span_gap",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, dict[str, float]], None]

#: Loss magnitude (critic's Wasserstein estimate) above which training is called diverged.
DIVERGENCE_LOSS = 1e3


class TrainingBudget:
    """Steps to run, an optional wall-clock cap; reports progress and checks losses.

    Training length is a number of steps, decided from the data before training starts
    (each model's :meth:`TableModel.default_steps`, or the ``steps``/``epochs`` the
    caller gives), so the same data and seed give the same model on any machine of the
    same CPU kind.
    ``max_seconds`` is an explicit extra cap, counted from ``start`` (the beginning of
    the model's ``fit``: encoders, rule discovery and calibration count against it);
    a model that stops on it depends on the machine's speed.
    """

    #: Share of ``max_seconds`` that training may use; the rest is kept for the work
    #: after it (calibration), so that the whole ``fit`` ends within the cap.
    TRAINING_SHARE = 0.8

    def __init__(
        self,
        owner: str,
        total: int,
        max_seconds: float | None,
        callback: ProgressCallback | None,
        *,
        start: float | None = None,
    ) -> None:
        self.owner = owner
        self.total = max(1, int(total))
        self.max_seconds = max_seconds
        self.callback = callback
        self.start = time.perf_counter() if start is None else start
        self.history: list[float] = []
        self._next_info = 1

    @staticmethod
    def steps(
        n_rows: int, batch_size: int, epochs: int | None, per_sqrt_row: float, low: int, high: int
    ) -> int:
        """Number of optimisation steps for ``n_rows`` rows."""
        if epochs is not None:
            return epochs * max(1, math.ceil(n_rows / batch_size))
        return int(np.clip(per_sqrt_row * math.sqrt(max(n_rows, 1)), low, high))

    def elapsed(self) -> float:
        """Seconds since ``start``."""
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds left of ``max_seconds`` (infinite without a cap)."""
        if self.max_seconds is None:
            return math.inf
        return self.max_seconds - self.elapsed()

    def out_of_time(self) -> bool:
        """True once training has used its share of ``max_seconds``."""
        return (
            self.max_seconds is not None and self.elapsed() > self.TRAINING_SHARE * self.max_seconds
        )

    def report(self, step: int, losses: dict[str, float]) -> None:
        """Check losses are finite, log (INFO every 10%, DEBUG every step), call back."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            raise TrainingError(
                f"{self.owner} training produced a non-finite {', '.join(bad)} loss at step "
                f"{step}/{self.total}. Lower 'learning_rate' or check the input for extreme "
                "values."
            )
        self.history.append(losses.get("critic", 0.0))
        text = ", ".join(f"{k}={v:.4f}" for k, v in losses.items())
        logger.debug("%s step %d/%d: %s", self.owner, step, self.total, text)
        if step * 10 >= self._next_info * self.total or step == self.total:
            self._next_info = step * 10 // self.total + 1
            logger.info(
                "%s: %d%% (step %d/%d, %.1fs) %s",
                self.owner,
                100 * step // self.total,
                step,
                self.total,
                time.perf_counter() - self.start,
                text,
            )
        if self.callback is not None:
            self.callback(step, self.total, dict(losses))

    def finish(self) -> float:
        """Warn on divergence; return the elapsed seconds."""
        elapsed = time.perf_counter() - self.start
        tail = self.history[-max(1, len(self.history) // 10) :]
        if tail and abs(float(np.mean(tail))) > DIVERGENCE_LOSS:
            warnings.warn(
                f"{self.owner} training diverged: the critic loss averaged "
                f"{np.mean(tail):.3g} over the last 10% of steps. Lower 'learning_rate' or "
                "use loss='wgan-gp'.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return elapsed


def early_stopping_on(model: object) -> bool:
    """A model's ``early_stopping``; None (the default): on when the training length
    comes from the data (``default_steps``), off when ``steps`` or ``epochs`` fix it."""
    setting = getattr(model, "early_stopping", None)
    if setting is not None:
        return bool(setting)
    return getattr(model, "steps", None) is None and getattr(model, "epochs", None) is None


class HoldoutStopper:
    """When to stop on a held-back fidelity gap: the rule both models' monitors share.

    The gap is checked every ``max(25, total // 20)`` steps (never at the last step);
    training stops once it has not improved by ``MIN_GAIN`` for ``PATIENCE`` checks in
    a row, and never before ``MIN_SHARE`` of the steps. Steps only, never the clock:
    the same data and seed stop at the same step under any load, with any number of
    jobs, on machines whose torch CPU kernels agree (``torch_cpu_capability`` in the
    model file's manifest). Kernels that differ (AVX2, AVX512) round the training's sums
    differently, and a check's gap can then fall on the other side of ``MIN_GAIN``: the
    same tree and seed trained Berka for 3,118 steps on one 2-core machine, 2,998 on
    another. Held-back rows cost a table data, and a small table trains few steps
    anyway: the models hold back only from tables of at least ``MIN_ROWS`` rows
    (``MIN_SEQUENCES`` sequences), whose steps are near their cap.
    """

    PATIENCE = 4
    MIN_GAIN = 0.002
    MIN_SHARE = 0.5
    MIN_ROWS = 2000
    MIN_SEQUENCES = 1000

    def __init__(self) -> None:
        self.best, self.bad = np.inf, 0

    @staticmethod
    def due(step: int, total: int) -> bool:
        """Whether the gap is checked after ``step``."""
        return step % max(25, total // 20) == 0 and step != total

    def update(self, gap: float, step: int, total: int) -> bool:
        """Record a check's gap; True when training should stop."""
        if gap < self.best - self.MIN_GAIN:
            self.best, self.bad = gap, 0
        else:
            self.bad += 1
        return self.bad >= self.PATIENCE and step >= self.MIN_SHARE * total


class GapMonitor:
    """Base of the models' early-stopping monitors: at each check a :class:`HoldoutStopper`
    finds due, the subclass's :meth:`gap` of the generator to its held-back data decides."""

    def __init__(self) -> None:
        self.stopper = HoldoutStopper()

    @property
    def best(self) -> float:
        return self.stopper.best

    def stop(self, step: int, total: int, generator: object) -> bool:
        """True when training should stop after ``step`` of ``total``."""
        if not self.stopper.due(step, total):
            return False
        return self.stopper.update(self.gap(generator), step, total)

    def gap(self, generator: object) -> float:
        raise NotImplementedError


def span_gap(real: np.ndarray, made: np.ndarray, spans: list) -> float:
    """Mean over encoded spans of the KS statistic (a ``tanh`` scalar) or the total
    variation distance (a category block) between real and generated encoded rows."""
    gaps = []
    for span in spans:
        a, b = real[:, span.start : span.stop], made[:, span.start : span.stop]
        if span.activation == "tanh":
            gaps.append(_ks(a[:, 0], b[:, 0]))
        else:
            gaps.append(0.5 * float(np.abs(a.mean(axis=0) - b.mean(axis=0)).sum()))
    return float(np.mean(gaps)) if gaps else 0.0


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))
