"""The context tilt of a calibration (models): a continuous value's correlation with
the context's continuous values moved from the generated one to the training one.

See :mod:`relsynth.models.calibration` (the conditional form of the Gaussian copula).
Pure numpy and scipy; the state is plain lists, safe to load with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr, ndtri

from relsynth.models._copula import MIN_EIGENVALUE, normal_scores, weighted_correlations
from relsynth.models.encoding import Span
from relsynth.models.numerical import QUANTILE_SPAN

if TYPE_CHECKING:
    from relsynth.models.calibration import Calibration, Scalars

__all__ = ["ContextTilt", "calibrated", "fit_tilt"]

#: At most this many grid points per context column's score map.
_TILT_GRID = 201
_EPS = 1e-6


@dataclass
class ContextTilt:
    """The context tilt of some scalar output columns (see the module docstring).

    ``context[i]`` is a context column whose values map to normal scores through
    ``grids[i]``/``scores[i]`` (standardised with ``centre``/``spread``); ``columns``
    are output columns with their generated score means/deviations ``mean``/``sd``,
    regression coefficients ``generated``/``real`` (context x columns) and residual
    ratio ``ratio``.
    """

    columns: np.ndarray
    context: np.ndarray
    grids: list[np.ndarray]
    scores: list[np.ndarray]
    centre: np.ndarray
    spread: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    generated: np.ndarray
    real: np.ndarray
    ratio: np.ndarray

    def context_scores(self, ctx: np.ndarray) -> np.ndarray:
        """Standardised normal scores of the context columns, one row per row of ``ctx``."""
        c = np.column_stack(
            [
                np.interp(ctx[:, j].astype(float), g, s)
                for j, g, s in zip(self.context.tolist(), self.grids, self.scores, strict=True)
            ]
        )
        return (c - self.centre) / self.spread

    def apply(self, out: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """Tilt the scalar ``columns`` of ``out`` (in place) for the context rows ``ctx``."""
        c = self.context_scores(ctx)
        u = (normal_scores(out[:, self.columns] / QUANTILE_SPAN) - self.mean) / self.sd
        u = (u - c @ self.generated) * self.ratio + c @ self.real
        out[:, self.columns] = QUANTILE_SPAN * (2.0 * ndtr(self.mean + self.sd * u) - 1.0)
        return out

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "columns": self.columns.astype(int).tolist(),
            "context": self.context.astype(int).tolist(),
            "grids": [g.astype(float).tolist() for g in self.grids],
            "scores": [s.astype(float).tolist() for s in self.scores],
            **{
                k: getattr(self, k).astype(float).tolist()
                for k in ("centre", "spread", "mean", "sd", "generated", "real", "ratio")
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ContextTilt:
        """Rebuild from :meth:`state`."""

        def floats(key: str) -> np.ndarray:
            return np.asarray(state[key], dtype=np.float64)

        return cls(
            np.asarray(state["columns"], dtype=np.int64),
            np.asarray(state["context"], dtype=np.int64),
            [np.asarray(g, dtype=np.float64) for g in state["grids"]],
            [np.asarray(s, dtype=np.float64) for s in state["scores"]],
            *(floats(k) for k in ("centre", "spread", "mean", "sd", "generated", "real", "ratio")),
        )


def _score_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Values and their mid-rank normal scores (at most ``_TILT_GRID`` points, ties as
    one point), for a monotone map of a context column to normal scores; None for a
    column of one value."""
    v = np.sort(values.astype(float))
    grid = np.unique(v)
    if len(grid) < 2:
        return None
    if len(grid) > _TILT_GRID:
        grid = np.unique(np.quantile(v, np.linspace(0.0, 1.0, _TILT_GRID)))
    mid = (np.searchsorted(v, grid, "left") + np.searchsorted(v, grid, "right")) / (2.0 * len(v))
    return grid, ndtri(mid)


def _regression(corr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (``k`` context rows x values) of each value on the ``k`` context
    columns, and each value's residual standard deviation, from a joint correlation
    matrix (context first)."""
    cc, cz = corr[:k, :k], corr[:k, k:]
    beta = np.linalg.solve(cc, cz)
    residual = 1.0 - np.einsum("cj,cj->j", cz, beta)
    return beta, np.sqrt(np.maximum(residual, MIN_EIGENVALUE))


def calibrated(
    raw: np.ndarray, spans: Sequence[Span], calibration: Calibration, gen_ctx: np.ndarray
) -> np.ndarray:
    """Generated rows as calibrated before any tilt: scalars through ``tanh`` and the
    maps, one-hots as their biased logits (argmax), for the context ``gen_ctx``."""
    out = np.tanh(raw.astype(np.float64))
    for s in spans:
        if s.activation == "softmax":
            out[:, s.start : s.stop] = raw[:, s.start : s.stop] + calibration.bias[s.start : s.stop]
    return calibration.map_values(out, gen_ctx)


def fit_tilt(
    raw: np.ndarray,
    x: np.ndarray,
    spans: Sequence[Span],
    calibration: Calibration,
    scalars: Scalars,
    context: tuple[np.ndarray, np.ndarray, Sequence[Span]],
) -> ContextTilt | None:
    """The context tilt of the calibrated scalars on the context's continuous values."""
    real_ctx, gen_ctx, ctx_spans = context
    cols, grids, scores = [], [], []
    for s in ctx_spans:
        grid = _score_grid(real_ctx[:, s.start]) if s.role == "value" else None
        if grid is not None:
            cols.append(s.start)
            grids.append(grid[0])
            scores.append(grid[1])
    if not cols:
        return None
    out = calibrated(raw, spans, calibration, gen_ctx)
    values = sorted(scalars)
    # scores of the quantile encoding's span, as the recolouring's (see Recolouring)
    zg = normal_scores(out[:, values] / QUANTILE_SPAN)
    wg = np.column_stack([scalars[c][1] for c in values])
    real = np.column_stack([np.where(scalars[c][3], x[:, c], 0.0) for c in values])
    zr = normal_scores(real / QUANTILE_SPAN)
    wr = np.column_stack([scalars[c][3] for c in values]).astype(float)
    tilt = ContextTilt(
        np.asarray(values, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        grids,
        scores,
        np.zeros(len(cols)),
        np.ones(len(cols)),
        (zg * wg).sum(axis=0) / np.maximum(wg.sum(axis=0), _EPS),
        np.ones(len(values)),
        np.zeros((len(cols), len(values))),
        np.zeros((len(cols), len(values))),
        np.ones(len(values)),
    )
    cr = tilt.context_scores(real_ctx)
    tilt.centre, tilt.spread = cr.mean(axis=0), np.maximum(cr.std(axis=0), _EPS)
    cr, cg = tilt.context_scores(real_ctx), tilt.context_scores(gen_ctx)
    tilt.sd = np.sqrt(
        np.maximum(
            (wg * (zg - tilt.mean) ** 2).sum(axis=0) / np.maximum(wg.sum(axis=0), _EPS), _EPS
        )
    )
    k = len(cols)
    ones = np.ones((len(cr), k))
    corr_real = weighted_correlations(np.hstack([cr, zr]), np.hstack([ones, wr]))
    corr_gen = weighted_correlations(np.hstack([cg, zg]), np.hstack([np.ones((len(cg), k)), wg]))
    tilt.real, residual_real = _regression(corr_real, k)
    tilt.generated, residual_gen = _regression(corr_gen, k)
    tilt.ratio = residual_real / residual_gen
    return tilt
