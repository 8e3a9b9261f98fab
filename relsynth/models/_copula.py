"""The Gaussian-copula pieces of the calibration (models): normal scores of encoded
values, weighted correlation matrices, and the correlation recolouring.

See :mod:`relsynth.models.calibration` for what the recolouring does and why. Pure
numpy and scipy; the state is plain lists, safe to load with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from relsynth.models.numerical import QUANTILE_SPAN

__all__ = [
    "Recolouring",
    "fit_recolouring",
    "increasing",
    "normal_scores",
    "rank_scores",
    "psd_power",
    "weighted_correlations",
    "weighted_quantiles",
]

#: Correlation recolouring: at most this many continuous values (the map is k x k) ...
_MAX_RECOLOURED = 128
#: ... and eigenvalues of the correlation matrices kept at least this large.
MIN_EIGENVALUE = 1e-3
#: Normal scores are taken of values clipped to this far inside (-1, 1).
_SCORE_CLIP = 1e-6


@dataclass
class Recolouring:
    """The linear map of normal scores that gives continuous values the training
    correlations: ``z -> z @ matrix`` on the output columns ``columns``."""

    columns: np.ndarray
    matrix: np.ndarray

    def recolour(self, block: np.ndarray) -> np.ndarray:
        """The recoloured values of ``block`` (one column per entry of ``columns``,
        mapped values in ``[-1, 1]``)."""
        scores = normal_scores(block / QUANTILE_SPAN) @ self.matrix
        return QUANTILE_SPAN * (2.0 * ndtr(scores) - 1.0)

    def apply(self, out: np.ndarray) -> np.ndarray:
        """Recolour the values of ``columns`` of a whole output matrix in place."""
        out[:, self.columns] = self.recolour(out[:, self.columns])
        return out

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "columns": self.columns.astype(int).tolist(),
            "matrix": self.matrix.astype(float).tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Recolouring:
        """Rebuild from :meth:`state`."""
        return cls(
            np.asarray(state["columns"], dtype=np.int64),
            np.asarray(state["matrix"], dtype=np.float64),
        )


def normal_scores(values: np.ndarray) -> np.ndarray:
    """``Phi^-1((v + 1) / 2)`` of values in ``[-1, 1]`` (clipped just inside)."""
    u = np.clip((np.asarray(values, dtype=np.float64) + 1.0) / 2.0, _SCORE_CLIP, 1 - _SCORE_CLIP)
    return ndtri(u)


def rank_scores(values: np.ndarray, null: float = np.nan) -> np.ndarray:
    """Normal scores of the set ``values`` by their ranks (ties averaged):
    ``Phi^-1((rank - 0.5) / n)``; ``null`` for NULL (NaN), and everywhere when fewer
    than two values are set."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), null, dtype=np.float64)
    ok = ~np.isnan(values)
    if ok.sum() >= 2:
        ranks = pd.Series(values[ok]).rank(method="average").to_numpy()
        out[ok] = ndtri((ranks - 0.5) / ok.sum())
    return out


def weighted_correlations(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of ``scores``, pair by pair, each row weighted
    by the product of its two weights (0 for a NULL value), made positive definite."""
    k = scores.shape[1]
    corr = np.eye(k)
    for a in range(k):
        for b in range(a + 1, k):
            w = weights[:, a] * weights[:, b]
            total = w.sum()
            if total <= 1.0:
                continue
            xa, xb = scores[:, a], scores[:, b]
            da = xa - (w * xa).sum() / total
            db = xb - (w * xb).sum() / total
            var = (w * da * da).sum() * (w * db * db).sum()
            if var > 0:
                corr[a, b] = corr[b, a] = (w * da * db).sum() / np.sqrt(var)
    values, vectors = np.linalg.eigh(corr)
    corr = (vectors * np.maximum(values, MIN_EIGENVALUE)) @ vectors.T
    d = np.sqrt(np.diag(corr))
    return corr / np.outer(d, d)


def psd_power(matrix: np.ndarray, power: float = 0.5) -> np.ndarray:
    """``matrix ** power`` of a symmetric positive definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, MIN_EIGENVALUE) ** power) @ vectors.T


def fit_recolouring(
    columns: Sequence[int],
    generated: np.ndarray,
    generated_weights: np.ndarray,
    real: np.ndarray,
    real_weights: np.ndarray,
) -> Recolouring | None:
    """The optimal-transport map from the generated to the training correlations.

    ``generated``/``real`` hold the (mapped) values in ``[-QUANTILE_SPAN, QUANTILE_SPAN]``
    of ``columns``, one
    column each; the weights are each value's probability of not being NULL. Between
    ``N(0, G)`` and ``N(0, R)`` the map that moves points the least (in mean squared
    distance) is ``M = G^-1/2 (G^1/2 R G^1/2)^1/2 G^-1/2`` (Olkin and Pukelsheim,
    1982); ``M`` is symmetric, so a row of scores ``z`` becomes ``z @ M``.
    """
    if not 2 <= len(columns) <= _MAX_RECOLOURED:
        return None
    g = weighted_correlations(normal_scores(generated / QUANTILE_SPAN), generated_weights)
    r = weighted_correlations(normal_scores(real / QUANTILE_SPAN), real_weights)
    g_half, g_inv_half = psd_power(g), psd_power(g, -0.5)
    matrix = g_inv_half @ psd_power(g_half @ r @ g_half) @ g_inv_half
    return Recolouring(np.asarray(columns, dtype=np.int64), (matrix + matrix.T) / 2.0)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of ``values`` at ``levels`` with row ``weights`` (mid-point plotting
    positions; unweighted where the weights sum to zero)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    if cum[-1] <= 0:
        return np.quantile(values, levels)
    cum = (cum - 0.5 * w) / cum[-1]
    return np.interp(levels, cum, v)


def increasing(src: np.ndarray) -> np.ndarray:
    """Make quantiles strictly increasing (``np.interp`` needs it) without moving them visibly."""
    src = np.maximum.accumulate(src.astype(float))
    return src + np.arange(len(src)) * 1e-9
