"""The context tilt of a DP model: a child's continuous values get the correlations with
their parent's continuous values that the DP release says (see
:mod:`relsynth.synthesis._dp_context` for the release, :mod:`relsynth.models._tilt` for
the tilt).

The tilt moves each value's regression on the context's normal scores from the
generated one to the released one, ``z' = m + s ((u - c b_gen) r + c b_rel)``; without
DP ``b_rel`` comes from the training rows, here only from DP outputs and generated rows:

* the context's normal scores: mid-ranks of the synthetic contexts (made from the DP key
  skeleton and the parent's releases), standardised on them;
* ``b_gen``, the generated means and deviations: rows the model generates for synthetic
  contexts (no real row);
* ``b_rel``: the regression of the values on the context from the released
  cross-correlations and the synthetic contexts' own correlations. A value whose
  released correlations would explain more than ``MAX_EXPLAINED`` of its variance has
  them scaled down to it.

Only the context columns with a released correlation that stood out of its noise join
(fewer, better context columns, chosen on the DP release); every value of the table
joins, with 0 where its correlation did not stand out (the noisy critic can make a
generator depend on a context column at random: the tilt takes that out). A tilt on
context columns that all released 0 (the district of a Berka client: 13 collinear
columns, 31 values) moved the values' marginals more than it mended (client birth
dates' KS complement 0.96 -> 0.86 at epsilon 16): they are left out.

Post-processing of DP outputs: no privacy cost. Pure numpy; the state is the
:class:`ContextTilt`'s, plain lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from relsynth.models._copula import normal_scores, weighted_correlations
from relsynth.models._tilt import ContextTilt, _regression, _score_grid, calibrated
from relsynth.models.calibration import Calibration
from relsynth.models.encoding import Span
from relsynth.models.numerical import QUANTILE_SPAN

__all__ = ["MAX_EXPLAINED", "fit_dp_tilt"]

#: At most this share of a value's variance is explained by the context.
MAX_EXPLAINED = 0.9
_EPS = 1e-6


def _value_starts(spans: Sequence[Span], names: Sequence[str]) -> dict[str, int]:
    """Start of the scalar ``"value"`` span of each named column that has one."""
    starts = {s.column: s.start for s in spans if s.activation == "tanh" and s.role == "value"}
    return {n: starts[n] for n in names if n in starts}


def _released_regression(cc: np.ndarray, cz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The regression (coefficients, residual deviations) of the values on the context
    from the context's correlations ``cc`` and the released cross-correlations ``cz``,
    each value's explained share capped at ``MAX_EXPLAINED``."""
    k = len(cc)
    beta = np.linalg.solve(cc, cz)
    explained = np.einsum("cj,cj->j", cz, beta)
    scale = np.sqrt(MAX_EXPLAINED / np.maximum(explained, MAX_EXPLAINED))
    cz = cz * scale[None, :]
    joint = np.eye(k + cz.shape[1])
    joint[:k, :k], joint[:k, k:], joint[k:, :k] = cc, cz, cz.T
    return _regression(joint, k)


def fit_dp_tilt(
    raw: np.ndarray,
    spans: Sequence[Span],
    calibration: Calibration,
    gen_ctx: np.ndarray,
    synthetic_ctx: np.ndarray,
    ctx_spans: Sequence[Span],
    correlations: Mapping[str, Mapping[str, float]],
) -> ContextTilt | None:
    """The context tilt of a DP model (None: no released correlation to give).

    ``raw``: generator outputs for the encoded contexts ``gen_ctx`` (drawn from the
    synthetic ones); ``synthetic_ctx``: the encoded synthetic contexts; ``ctx_spans``:
    the context encoder's spans; ``correlations``: context column -> value column ->
    released correlation (left out: 0).
    """
    values = sorted({v for row in correlations.values() for v in row})
    value_at = _value_starts(spans, values)
    chosen = [c for c, row in correlations.items() if any(r != 0 for r in row.values())]
    ctx_at = _value_starts(ctx_spans, chosen)
    grids = {c: _score_grid(synthetic_ctx[:, j]) for c, j in ctx_at.items()}
    ctx_names = [c for c in ctx_at if grids[c] is not None]
    names = [v for v in values if v in value_at]
    if not ctx_names or not names:
        return None
    out = calibrated(raw, spans, calibration, gen_ctx)
    cols = [value_at[v] for v in names]
    zg = normal_scores(out[:, cols] / QUANTILE_SPAN)
    k = len(ctx_names)
    tilt = ContextTilt(
        np.asarray(cols, dtype=np.int64),
        np.asarray([ctx_at[c] for c in ctx_names], dtype=np.int64),
        [grids[c][0] for c in ctx_names],  # type: ignore[index]
        [grids[c][1] for c in ctx_names],  # type: ignore[index]
        np.zeros(k),
        np.ones(k),
        zg.mean(axis=0),
        np.maximum(zg.std(axis=0), _EPS),
        np.zeros((k, len(cols))),
        np.zeros((k, len(cols))),
        np.ones(len(cols)),
    )
    cs = tilt.context_scores(synthetic_ctx)
    tilt.centre, tilt.spread = cs.mean(axis=0), np.maximum(cs.std(axis=0), _EPS)
    cs, cg = tilt.context_scores(synthetic_ctx), tilt.context_scores(gen_ctx)
    cc = weighted_correlations(cs, np.ones_like(cs))
    cz = np.asarray([[float(correlations[c].get(v, 0.0)) for v in names] for c in ctx_names])
    tilt.real, residual_real = _released_regression(cc, cz)
    corr_gen = weighted_correlations(np.hstack([cg, zg]), np.ones((len(cg), k + len(cols))))
    tilt.generated, residual_gen = _regression(corr_gen, k)
    tilt.ratio = residual_real / residual_gen
    return tilt
