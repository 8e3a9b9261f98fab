"""Quantile bins of continuous columns in the WGAN's conditional vector.

CTGAN (Xu et al., 2019) conditions its generator on one discrete value per row
(a category, or a Gaussian-mixture mode of a continuous column) and samples training
rows so that every value is seen often ("training-by-sampling"): the critic then sees
real rows *of* that value beside the generated ones, so the generator learns the
rows of a rare value from those rows themselves. :class:`ConditionalWGAN
<relsynth.models.wgan.ConditionalWGAN>` does the same for each quantile-encoded
continuous column: its values are cut into bins of their quantile rank, finer in the
tails (:data:`EDGES`: the lowest and highest 1 %, the next 4 %, then quarters), and
a bin is one more slot of the conditional vector.

Conditional sampling (:mod:`relsynth.models._conditioned`) then asks for the bins a
numeric condition covers (``flights.dep_delay > 191``: the top bin): the rows come
from what the generator learned of the real rows in those bins, not from the tail
of its unconditional output.

The quantile encoding maps a value to ``QUANTILE_SPAN * (2 u - 1)``, ``u`` its rank
among the training values, so the bin edges in the encoded space are constants
(nothing learned from the data); each bin's share of the training rows (a count, no
value) is kept to draw conditions at sampling time. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from relsynth.models.encoding import TableEncoder
from relsynth.models.numerical import QUANTILE_SPAN, NumericalEncoder

__all__ = ["EDGES", "NumericBins", "fit_bins"]

#: Bin edges in quantile rank: the tails finer (1 %, 4 %), the body in quarters.
EDGES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class NumericBins:
    """The bins of one continuous column: its encoded value's position in the row,
    the bin edges in the encoded space and each bin's share of the training rows."""

    column: str
    start: int
    edges: tuple[float, ...]
    freq: tuple[float, ...]

    @property
    def width(self) -> int:
        """Number of bins (slots of the conditional vector)."""
        return len(self.edges) - 1

    def levels(self, encoded: np.ndarray) -> np.ndarray:
        """The bin of each encoded value (the column ``start`` of an encoded matrix)."""
        inner = np.asarray(self.edges[1:-1])
        return np.searchsorted(inner, np.asarray(encoded, dtype=float), side="right")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper edge of every bin (encoded space)."""
        e = np.asarray(self.edges, dtype=np.float32)
        return e[:-1], e[1:]

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {
            "column": self.column,
            "start": int(self.start),
            "edges": [float(e) for e in self.edges],
            "freq": [float(f) for f in self.freq],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NumericBins:
        """Rebuild from :meth:`state`."""
        return cls(
            str(state["column"]),
            int(state["start"]),
            tuple(float(e) for e in state["edges"]),
            tuple(float(f) for f in state["freq"]),
        )


def fit_bins(
    encoder: TableEncoder, x: np.ndarray, exclude: Sequence[str] = ()
) -> list[NumericBins]:
    """The bins of every quantile-encoded continuous column of ``encoder`` whose
    training values ``x`` fall in at least two bins (``exclude``: columns left out)."""
    encoded = np.asarray(EDGES) * 2.0 - 1.0
    edges = tuple(float(e) for e in encoded * QUANTILE_SPAN)
    edges = (-1.0, *edges[1:-1], 1.0)  # generated values may reach the tanh range's ends
    spans = {(s.column, s.role): s for s in encoder.spans}
    out = []
    for enc in encoder.encoders:
        if (
            not isinstance(enc, NumericalEncoder)
            or enc.method != "quantile"
            or enc.all_null
            or enc.column in exclude
        ):
            continue
        span = spans[(enc.column, "value")]
        bins = NumericBins(enc.column, span.start, edges, ())
        counts = np.bincount(bins.levels(x[:, span.start]), minlength=bins.width)
        if np.count_nonzero(counts) < 2:
            continue
        freq = tuple(float(c) for c in counts / counts.sum())
        out.append(NumericBins(enc.column, span.start, edges, freq))
    return out
