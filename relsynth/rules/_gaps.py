"""The gap of an order rule: how it is summarised on the source and drawn again.

An order rule ``column >= anchor`` keeps the distribution of ``column - anchor`` as
quantiles at :data:`GAP_PROBS` (:func:`summarise`). Where the gap depends on the
anchor it also keeps one row of quantiles per anchor bin: in Berka a card is issued
sooner after an account opened late, because every card was issued before the data
end in 1998; one gap distribution for all accounts puts cards of late accounts in
1999 and moves the whole column early.

A bin's quantiles hold at its anchor median; between two medians the gap's quantile
function is the two bins' interpolated (a mixture of quantile functions: the gap
moves with the anchor, its shape from one bin to the next), beyond the ends it is
the end bin's. :func:`gap_at` draws from it, :func:`gap_cdf` conditions on an
interval, and :func:`bin_of` groups rows so that a draw by rank is made per bin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from relsynth.metadata._rule import GAP_PROBS, Order

__all__ = [
    "MIN_BIN_ROWS",
    "MIN_DEPENDENCE",
    "bin_of",
    "gap_at",
    "gap_between",
    "gap_cdf",
    "quantile_rows",
    "snap",
    "summarise",
]

#: A gap is summarised per anchor bin when its rank correlation with the anchor is at
#: least this strong (a tenth of the gap's ranks explained, and about three standard
#: errors of an independent pair's correlation on 200 rows) ...
MIN_DEPENDENCE = 0.2
#: ... and each bin has at least this many rows (at most :data:`MAX_BINS` bins).
MIN_BIN_ROWS = 100
MAX_BINS = 10

_PROBS = np.asarray(GAP_PROBS)


def summarise(diff: np.ndarray, anchor: np.ndarray | None, family: str) -> dict[str, Any]:
    """The learned fields of an :class:`Order` (``gap``, ``step``, ``span``, ``anchors``,
    ``by_anchor``) from the source's gaps ``diff`` and anchor values (NaN where either
    is NULL); see the module docstring."""
    valid = np.isfinite(diff)
    d = diff[valid]
    steps = (86400.0, 3600.0, 60.0, 1.0) if family in ("datetime", "clock") else (1.0,)
    out: dict[str, Any] = {
        "gap": _quantiles(d),
        "step": next((s for s in steps if np.allclose(d / s, np.round(d / s))), 0.0),
    }
    if anchor is not None:
        b = anchor[valid]
        column = d + b
        out["span"] = (round(float(column.min()), 6), round(float(column.max()), 6))
        out["anchors"], out["by_anchor"] = _by_anchor(d, b)
    return out


def _quantiles(values: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(q), 6) for q in np.quantile(values, GAP_PROBS))


def _by_anchor(
    d: np.ndarray, b: np.ndarray
) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]:
    """Anchor medians and gap quantiles per bin (``d``, ``b``: finite gaps and their
    anchors, which a finite gap implies), or ``((), ())``."""
    bins = min(MAX_BINS, len(d) // MIN_BIN_ROWS)
    if bins < 2 or np.ptp(b) == 0 or np.ptp(d) == 0:
        return (), ()
    ranks = pd.DataFrame({"d": d, "b": b}).rank()
    rho = float(np.corrcoef(ranks["d"], ranks["b"])[0, 1])
    if not abs(rho) >= MIN_DEPENDENCE:
        return (), ()
    order = np.lexsort((d, b))  # by anchor; ties in a stable order
    parts = np.array_split(order, bins)
    medians = [float(np.median(b[p])) for p in parts]
    if len(set(medians)) < bins:  # an anchor on many rows: too few distinct bins
        return (), ()
    anchors = tuple(round(m, 6) for m in medians)
    return anchors, tuple(_quantiles(d[p]) for p in parts)


def _strata(rule: Order) -> tuple[np.ndarray, np.ndarray] | None:
    """The rule's ``(anchors, by_anchor)`` arrays when it has well-formed bins."""
    if len(rule.anchors) < 2 or len(rule.by_anchor) != len(rule.anchors):
        return None
    table = np.asarray(rule.by_anchor, dtype=float)
    if table.shape[1:] != (len(GAP_PROBS),):
        return None
    return np.asarray(rule.anchors, dtype=float), table


def _between(anchors: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor value: the bin below it and the weight of the bin above."""
    k = np.clip(np.searchsorted(anchors, b, side="right") - 1, 0, len(anchors) - 2)
    width = anchors[k + 1] - anchors[k]
    w = np.clip((b - anchors[k]) / width, 0.0, 1.0)
    return k, np.nan_to_num(w)


def quantile_rows(rule: Order, b: np.ndarray) -> np.ndarray:
    """The gap's quantiles at :data:`GAP_PROBS` for each anchor value in ``b``:
    ``(len(b), len(GAP_PROBS))``, or one row ``(1, len(GAP_PROBS))`` shared by all."""
    strata = _strata(rule)
    if strata is None:
        return np.asarray(rule.gap, dtype=float)[None, :]
    anchors, table = strata
    k, w = _between(anchors, b)
    return (1.0 - w)[:, None] * table[k] + w[:, None] * table[k + 1]


def gap_at(rule: Order, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The gap at probability ``u`` for rows whose anchors are ``b`` (snapped to the
    rule's step)."""
    strata = _strata(rule)
    if strata is None:
        return snap(np.interp(u, GAP_PROBS, rule.gap), rule.step)
    anchors, table = strata
    k, w = _between(anchors, b)
    i = np.clip(np.searchsorted(_PROBS, u, side="right") - 1, 0, len(_PROBS) - 2)
    f = np.clip((u - _PROBS[i]) / (_PROBS[i + 1] - _PROBS[i]), 0.0, 1.0)

    def at(rows: np.ndarray) -> np.ndarray:
        return table[rows, i] + f * (table[rows, i + 1] - table[rows, i])

    return snap((1.0 - w) * at(k) + w * at(k + 1), rule.step)


def gap_cdf(q: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """The probability below (``left``) or up to (``right``) ``x`` of each row's gap
    distribution, whose quantiles at :data:`GAP_PROBS` are the rows of ``q``
    (:func:`quantile_rows`; linear between them)."""
    below = q < x[:, None] if side == "left" else q <= x[:, None]
    pos = below.sum(axis=1)
    n = q.shape[1]
    i = np.clip(pos, 1, n - 1)
    rows = np.arange(len(x)) if len(q) > 1 else np.zeros(len(x), dtype=int)
    lo, hi = q[rows, i - 1], q[rows, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(hi > lo, (x - lo) / (hi - lo), 1.0 if side == "right" else 0.0)
    p = _PROBS[i - 1] + np.clip(frac, 0.0, 1.0) * (_PROBS[i] - _PROBS[i - 1])
    p = np.where(pos <= 0, 0.0, np.where(pos >= n, 1.0, p))
    return np.where(np.isneginf(x), 0.0, np.where(np.isposinf(x), 1.0, p))


def gap_between(
    rule: Order, b: np.ndarray, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Gaps drawn from each row's distribution conditioned on ``[lower, upper]``: the
    rows the interval leaves any probability (a mask) and their gaps."""
    q = quantile_rows(rule, b)
    lo = gap_cdf(q, lower, "left")
    hi = gap_cdf(q, upper, "right")
    ok = hi > lo
    u = lo[ok] + rng.random(int(ok.sum())) * (hi[ok] - lo[ok])
    return ok, gap_at(rule, b[ok], u)


def bin_of(rule: Order, b: np.ndarray) -> np.ndarray:
    """Each anchor's nearest bin (0 everywhere for a rule without bins): the groups in
    which a draw by rank is made."""
    strata = _strata(rule)
    if strata is None:
        return np.zeros(len(b), dtype=int)
    anchors = strata[0]
    k, w = _between(anchors, b)
    return k + (w > 0.5)


def snap(gap: np.ndarray, step: float) -> np.ndarray:
    """``gap`` rounded to multiples of ``step`` (as it is when ``step`` is 0)."""
    return np.round(gap / step) * step if step > 0 else gap
