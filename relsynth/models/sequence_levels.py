"""Corrections of a sequence model's rebuilt monotone columns (their *levels*), after sampling.

A :class:`~relsynth.models.sequential.SequenceModel` generates a monotone column as a
start plus increments, each calibrated on its own; the values themselves (the bus's
clock times) are their sum, weighted by the sequences' lengths, and two things about
them escape the per-step corrections:

- **their distribution**: small errors in how starts go with lengths and increments
  with positions add up (GTFS Cairns arrival times: KS 0.05). A quantile map of the
  rebuilt values of the chain's base column to the training ones fixes it; the map is
  monotone, so every sequence keeps its order, and the columns chained to the base
  keep their modelled difference to it (``departure_time`` equal to ``arrival_time``
  stays equal);
- **what the step categories say about them**: a step's category may depend on the
  level far more than on anything the generator sees (drop-off-only stops are almost
  all on late-night trips: 77 % of them in the last tenth of the day's times, against
  1 % of the other stops). The generator draws the steps' categories before the
  levels exist, so such a tie is lost. The level's training deciles cut the values
  into ten bins, and each step category gets a logit bias per bin, found like the
  calibration's global biases (fixed-point iteration so that the mean probability of
  each category in a bin is its training frequency in that bin); after the levels
  are rebuilt the categories are drawn again from the biased logits (Gumbel-max).
  A bin with fewer than ``40`` training or generated steps keeps the global logits.

Pure numpy; the state is plain lists of floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from relsynth.models.columns import Span

__all__ = ["LevelCorrections", "category_spans", "fit_bin_biases", "lattice"]

#: Quantile levels of the level maps.
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
    """Level maps of the base columns and the category biases per bin of one base
    column (``column``; its inner bin ``edges``; ``biases[start]`` per category span)."""

    maps: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    column: str | None = None
    lattices: dict[str, tuple[float, float]] = field(default_factory=dict)
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    biases: dict[int, np.ndarray] = field(default_factory=dict)

    def map_levels(
        self, values: Mapping[str, np.ndarray], chained: Mapping[str, str], seq: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Mapped values: a base column through its map, a column chained to a mapped
        one (``chained[c]`` its predecessor) keeps its difference to it, held at its
        previous value of the sequence where the map would send it backwards."""
        out = dict(values)
        for c, v in values.items():
            if c in self.maps:
                out[c] = self._on_lattice(c, np.interp(v, *self.maps[c]))
            elif chained.get(c) in self.maps or chained.get(c) in chained:
                p = chained[c]
                moved = out[p] + (v - values[p])
                out[c] = _running_max(moved, seq)
        return out

    def _on_lattice(self, column: str, values: np.ndarray) -> np.ndarray:
        """Mapped values rounded to the training values' lattice (origin, step), so that
        clock times stay on the minute when every training time was (monotone)."""
        origin, step = self.lattices.get(column, (0.0, 0.0))
        if step <= 0:
            return values
        return origin + np.round((values - origin) / step) * step

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
            "maps": [
                [c, s.astype(float).tolist(), d.astype(float).tolist()]
                for c, (s, d) in self.maps.items()
            ],
            "column": self.column,
            "lattices": [[c, float(o), float(s)] for c, (o, s) in self.lattices.items()],
            "edges": self.edges.astype(float).tolist(),
            "biases": [[int(k), b.astype(float).tolist()] for k, b in self.biases.items()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> LevelCorrections:
        """Rebuild from :meth:`state` (None: a model saved before them, no corrections)."""
        if state is None:
            return cls()
        return cls(
            {
                str(c): (np.asarray(s, dtype=np.float64), np.asarray(d, dtype=np.float64))
                for c, s, d in state["maps"]
            },
            state["column"],
            {str(c): (float(o), float(s)) for c, o, s in state["lattices"]},
            np.asarray(state["edges"], dtype=np.float64),
            {int(k): np.asarray(b, dtype=np.float64) for k, b in state["biases"]},
        )


def _running_max(values: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` within each sequence (``seq``: the sequence ids)."""
    return pd.Series(values).groupby(seq).cummax().to_numpy()


def lattice(values: np.ndarray) -> tuple[float, float]:
    """Origin and step of the lattice that whole-number ``values`` lie on (the greatest
    common divisor of their gaps: 60 for clock times in seconds on the minute); step 0
    (no rounding) for fractional values or fewer than two distinct ones."""
    v = np.unique(values[np.isfinite(values)])
    if len(v) < 2 or np.any(v != np.round(v)) or np.abs(v).max() > 2**53:
        return 0.0, 0.0
    gaps = np.diff(v).astype(np.int64)
    return float(v[0]), float(np.gcd.reduce(gaps))
