"""Step categories of a sequence model drawn given the rebuilt monotone column's level.

A :class:`~relsynth.models.sequential.SequenceModel` generates a monotone column as a
start plus increments; its values (the bus's clock times) exist only after decoding,
while the generator draws each step's categories before them. A step's category may
depend on the level far more than on anything the generator sees (drop-off-only stops
are almost all on late-night trips: 77 % of them in the last tenth of the day's
times, against 1 % of the other stops), and such a tie is lost. The training deciles
of the first monotone column cut its values into ten bins, and each step category
gets a logit bias per bin, found like the calibration's global biases (fixed-point
iteration so that the mean probability of each category in a bin is its training
frequency in that bin) on one calibrated generation; after the levels are rebuilt the
categories are drawn again from the biased logits (Gumbel-max, from the sampling
seed). A bin with fewer than ``40`` training or generated steps keeps the global
logits.

Pure numpy; the state is plain lists of floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relsynth.models.columns import Span

__all__ = ["LevelCorrections", "category_spans", "fit_bin_biases", "level_bins"]

#: Quantile levels of the training values of a monotone column (its deciles cut the bins).
LEVEL_QUANTILES = np.linspace(0.0, 1.0, 201)
#: Bins of the base level that the category biases are fitted on (its deciles).
_BINS = 10
_MIN_BIN_ROWS = 40
_ITERATIONS = 25
_MAX_BIAS = 8.0
_EPS = 1e-6


def category_spans(spans: Sequence[Span], skip_prefix: str) -> list[Span]:
    """The one-hot category spans of an encoder (not NULL indicators or modes, nor the
    columns whose names start with ``skip_prefix``: the levels' own NULL flags)."""
    return [
        s
        for s in spans
        if s.activation == "softmax"
        and s.role == "category"
        and not s.column.startswith(skip_prefix)
    ]


def level_bins(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Bin of each value between the inner ``edges``."""
    return np.searchsorted(edges, values, side="right")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit_bin_biases(
    logits: np.ndarray, generated_bins: np.ndarray, real: np.ndarray, real_bins: np.ndarray
) -> np.ndarray:
    """Per bin, the logit bias (``(bins, width)``) that gives one category span's
    training frequencies in that bin (``-1`` bins are left out; small bins get 0)."""
    biases = np.zeros((_BINS, real.shape[1]))
    for b in range(_BINS):
        target_rows, rows = real[real_bins == b], logits[generated_bins == b]
        if len(target_rows) < _MIN_BIN_ROWS or len(rows) < _MIN_BIN_ROWS:
            continue
        target = target_rows.mean(axis=0)
        bias = np.zeros(real.shape[1])
        for _ in range(_ITERATIONS):
            step = np.log(target + _EPS) - np.log(_softmax(rows + bias).mean(axis=0) + _EPS)
            bias = np.clip(bias + step, -_MAX_BIAS, _MAX_BIAS)
            if np.max(np.abs(step)) < 1e-3:
                break
        biases[b] = bias - bias.max()
    return biases


@dataclass
class LevelCorrections:
    """The step categories' logit biases per bin of one monotone column (``column``;
    its inner bin ``edges``; ``biases[start]`` per category span)."""

    column: str | None = None
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    biases: dict[int, np.ndarray] = field(default_factory=dict)

    def redraw(
        self,
        x: np.ndarray,
        logits: np.ndarray,
        spans: Sequence[Span],
        values: Mapping[str, np.ndarray],
        rng: np.random.Generator,
    ) -> list[str]:
        """Draw the biased category spans of ``x`` again (in place) from ``logits`` (the
        calibrated logits of ``spans``, side by side) plus their bin's bias; the names
        of the columns redrawn."""
        if self.column is None or not self.biases:
            return []
        bins = level_bins(self.edges, values[self.column])
        done, offset = [], 0
        for s in spans:
            bias = self.biases.get(s.start)
            if bias is not None:
                z = logits[:, offset : offset + s.width] + bias[bins]
                pick = (z + rng.gumbel(size=z.shape)).argmax(axis=1)
                x[:, s.start : s.stop] = 0.0
                x[np.arange(len(x)), s.start + pick] = 1.0
                done.append(s.column)
            offset += s.width
        return done

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "column": self.column,
            "edges": self.edges.astype(float).tolist(),
            "biases": [[int(k), b.astype(float).tolist()] for k, b in self.biases.items()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> LevelCorrections:
        """Rebuild from :meth:`state` (None: a model saved before them, no corrections)."""
        if state is None:
            return cls()
        return cls(
            state["column"],
            np.asarray(state["edges"], dtype=np.float64),
            {int(k): np.asarray(b, dtype=np.float64) for k, b in state["biases"]},
        )
