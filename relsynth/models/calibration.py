"""Marginal calibration of a trained generator's outputs (stage 3 of 5, models).

A GAN trained for a minute on a CPU learns the joint structure of a table well but
leaves each column's marginal a little off: a category drawn 2 % too often, a
numeric column whose tails are too thin. After training, :func:`fit_calibration`
runs the generator once on the training contexts and learns two small corrections
that the model then applies to every sample:

- **one-hot spans** (categories, NULL indicators, mixture modes) get a bias added
  to their logits, found by fixed-point iteration so that the mean softmax
  probability of each level equals its training frequency (logit adjustment);
- **scalar spans** (continuous values, quantile encoding) go through a monotone map
  from the generator's quantiles to the training data's quantiles (quantile
  mapping, as in histogram matching), weighted by each row's probability of being
  non-NULL.

Both corrections are monotone per column, so the ranks and category preferences
that the generator learned from the parent context are kept: calibration moves the
marginals, not the dependencies. The state is a few arrays of floats, safe to load
with ``weights_only=True``. This module is pure numpy; it never imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relsynth.models.encoding import Span

__all__ = ["Calibration", "fit_calibration"]

#: Quantile levels of the scalar maps (stored per continuous value).
_LEVELS = 201
#: Fixed-point iterations of the logit biases; each halves the error in practice.
_ITERATIONS = 25
_MAX_BIAS = 8.0
_EPS = 1e-6


@dataclass
class Calibration:
    """Logit biases (one per output column, zero on scalar spans) and scalar quantile maps."""

    bias: np.ndarray
    maps: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def map_values(self, out: np.ndarray) -> np.ndarray:
        """Apply the quantile maps to the activated scalar columns of ``out`` (in place)."""
        for col, (src, dst) in self.maps.items():
            out[:, col] = np.interp(out[:, col], src, dst)
        return out

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {
            "bias": self.bias.astype(float).tolist(),
            "maps": [[int(c), s.tolist(), d.tolist()] for c, (s, d) in self.maps.items()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Calibration:
        """Rebuild from :meth:`state`."""
        maps = {
            int(c): (np.asarray(s, dtype=np.float32), np.asarray(d, dtype=np.float32))
            for c, s, d in state["maps"]
        }
        return cls(np.asarray(state["bias"], dtype=np.float32), maps)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    if cum[-1] <= 0:
        return np.quantile(values, levels)
    cum = (cum - 0.5 * w) / cum[-1]
    return np.interp(levels, cum, v)


def _increasing(src: np.ndarray) -> np.ndarray:
    """Make quantiles strictly increasing (``np.interp`` needs it) without moving them visibly."""
    src = np.maximum.accumulate(src.astype(float))
    return src + np.arange(len(src)) * 1e-9


def _null_span(spans: Sequence[Span], value: int) -> Span | None:
    """The NULL-indicator span of the column whose scalar span is ``value``, if any."""
    column = spans[value].column
    for s in spans[value + 1 :]:
        if s.column != column:
            return None
        if s.role == "null":
            return s
    return None


def fit_calibration(
    raw: np.ndarray,
    x: np.ndarray,
    spans: Sequence[Span],
    *,
    method: str = "quantile",
) -> Calibration:
    """Learn the corrections that bring generated marginals to the training ones.

    Parameters
    ----------
    raw : ndarray of shape (m, dim)
        Raw generator outputs (logits; scalars before ``tanh``) for calibration inputs
        drawn like the sampling inputs (training contexts, sampling-time conditions).
    x : ndarray of shape (n, dim)
        The encoded training table (one-hots and scalars as the encoder wrote them).
    spans : sequence of Span
        The encoder's output spans.
    method : {"quantile", "gmm"}
        The encoder's transform for continuous values. Their scalars get quantile maps
        with ``"quantile"`` only: a mixture-mode scalar's meaning depends on its mode.
    """
    dim = x.shape[1]
    bias = np.zeros(dim, dtype=np.float64)
    probs: dict[int, np.ndarray] = {}
    for i, s in enumerate(spans):
        if s.activation != "softmax":
            continue
        target = x[:, s.start : s.stop].mean(axis=0).astype(float)
        logits = raw[:, s.start : s.stop].astype(float)
        b = np.zeros(s.width)
        for _ in range(_ITERATIONS):
            p = _softmax(logits + b).mean(axis=0)
            step = np.log(target + _EPS) - np.log(p + _EPS)
            b = np.clip(b + step, -_MAX_BIAS, _MAX_BIAS)
            if np.max(np.abs(step)) < 1e-3:
                break
        b -= b.max()  # only differences matter; keep the numbers small
        bias[s.start : s.stop] = b
        probs[i] = _softmax(logits + b)
    maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    levels = np.linspace(0.0, 1.0, _LEVELS)
    for i, s in enumerate(spans):
        if method != "quantile" or s.activation != "tanh" or s.role != "value":
            continue
        col = s.start
        generated = np.tanh(raw[:, col].astype(float))
        weights = np.ones(len(generated))
        real_rows = np.ones(len(x), dtype=bool)
        null = _null_span(spans, i)
        if null is not None:
            j = spans.index(null)
            weights = probs[j][:, 0] if j in probs else weights
            real_rows = x[:, null.start : null.stop].argmax(axis=1) == 0
        if not real_rows.any():
            continue
        src = _increasing(_weighted_quantiles(generated, weights, levels))
        dst = np.quantile(x[real_rows, col].astype(float), levels)
        maps[col] = (src.astype(np.float32), dst.astype(np.float32))
    return Calibration(bias.astype(np.float32), maps)
