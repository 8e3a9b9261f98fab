"""Differentially private releases of the statistics a fit needs (numpy only).

Every mechanism here protects one *entity* (a root row with all its descendant
rows, see :mod:`relsynth.synthesis._dp`): each function takes, per row, the index of
the entity the row belongs to, and bounds what one entity can change by weighting
its rows so that their total weight is at most 1 (an entity with 40 orders gives
each order weight 1/40). The L1 sensitivity of every histogram below is therefore
1, and Laplace noise of scale ``1 / epsilon`` makes it ``epsilon``-DP.

``vocabulary``
    Categories whose domain is not public: Laplace *partition selection* (Korolova
    et al. 2009; Desfontaines et al. 2022). An entity's weight is spread over at most
    ``MAX_VALUES_PER_ENTITY`` of its values; a value is released only when its noisy
    weighted count reaches the threshold ``tau = ln((K - 1 + e^eps) / (2 delta)) / eps``
    so that the chance that any value held by one entity alone is released is at
    most ``delta``. The released counts are the noisy ones.
``numeric_summary``
    Bounds and quantiles of a number or a datetime without user-given bounds: a noisy
    histogram on a fixed, data-independent grid (signed log-scale bins; years for
    datetimes) finds the 0.5% and 99.5% points (half the budget), and a noisy
    64-bin histogram between them gives the quantiles (the other half).
``count_histogram``
    A histogram of non-negative integers (children per parent) on fixed bins.
``noisy_count``
    A count to which each entity adds at most ``cap``.

Everything derived from these outputs afterwards (frequencies, samples, bounds) is
post-processing and costs no further privacy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "MAX_VALUES_PER_ENTITY",
    "NumericSummary",
    "count_histogram",
    "entity_weights",
    "noisy_count",
    "numeric_summary",
    "sample_counts",
    "threshold",
    "vocabulary",
]

#: Distinct values one entity may contribute to a vocabulary (the rest are not counted).
MAX_VALUES_PER_ENTITY = 16
_N_QUANTILE_BINS = 64
_YEAR = 365.2425 * 86400.0
_EPOCH_YEAR = 1970.0


def entity_weights(entity: np.ndarray) -> np.ndarray:
    """Per row, ``1 / (rows of its entity in this table)``: each entity weighs 1 in all."""
    entity = np.asarray(entity, dtype=np.int64)
    if len(entity) == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(entity, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def threshold(epsilon: float, delta: float) -> float:
    """The release threshold of :func:`vocabulary` for ``(epsilon, delta)``."""
    k = MAX_VALUES_PER_ENTITY
    return float(np.log((k - 1 + np.exp(epsilon)) / (2.0 * delta)) / epsilon)


def vocabulary(
    values: pd.Series,
    entity: np.ndarray,
    epsilon: float,
    delta: float,
    rng: np.random.Generator,
) -> tuple[list[object], list[float]]:
    """Released (non-NULL) values and their noisy entity-weighted counts, most frequent first."""
    frame = pd.DataFrame({"v": values.astype(object).to_numpy(), "e": np.asarray(entity)})
    frame = frame[frame["v"].notna()]
    if frame.empty:
        return [], []
    per = frame.groupby(["e", "v"], sort=True).size().rename("n").reset_index()
    per = per.sort_values(["e", "n"], ascending=[True, False], kind="stable")
    per = per[per.groupby("e").cumcount() < MAX_VALUES_PER_ENTITY]
    per["w"] = per["n"] / per.groupby("e")["n"].transform("sum")
    counts = per.groupby("v", sort=True)["w"].sum()
    noisy = counts.to_numpy() + rng.laplace(0.0, 1.0 / epsilon, len(counts))
    keep = noisy >= threshold(epsilon, delta)
    order = np.argsort(-noisy[keep], kind="stable")
    kept_values = counts.index.to_numpy()[keep][order]
    return [_plain(v) for v in kept_values], noisy[keep][order].tolist()


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class NumericSummary:
    """DP bounds and quantiles of one numeric column (seconds since 1970 for datetimes)."""

    low: float
    high: float
    quantiles: list[float]


def _grid(datetime: bool) -> np.ndarray:
    if datetime:  # one bin per year, 1800 to 2200
        return (np.arange(1800.0, 2201.0) - _EPOCH_YEAR) * _YEAR
    pos = 10.0 ** (np.arange(-24, 49) / 4.0)  # 1e-6 .. 1e12, four bins a decade
    return np.concatenate([-pos[::-1], [0.0], pos])


def _noisy_hist(
    x: np.ndarray, w: np.ndarray, edges: np.ndarray, epsilon: float, rng: np.random.Generator
) -> np.ndarray:
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    hist = np.bincount(idx, weights=w, minlength=len(edges) - 1)
    return np.clip(hist + rng.laplace(0.0, 1.0 / epsilon, len(hist)), 0.0, None)


def _cut(hist: np.ndarray, edges: np.ndarray, share: float) -> tuple[float, float]:
    total = hist.sum()
    if total <= 0:
        return float(edges[len(edges) // 2]), float(edges[len(edges) // 2 + 1])
    cdf = np.cumsum(hist) / total
    lo = int(np.searchsorted(cdf, share, side="left"))
    hi = int(np.searchsorted(cdf, 1.0 - share, side="left"))
    return float(edges[lo]), float(edges[min(hi + 1, len(edges) - 1)])


def numeric_summary(
    x: np.ndarray,
    entity: np.ndarray,
    epsilon: float,
    rng: np.random.Generator,
    *,
    datetime: bool = False,
    bounds: tuple[float, float] | None = None,
    n_quantiles: int = 50,
) -> NumericSummary:
    """DP bounds (unless given) and quantiles of the non-NULL values ``x``."""
    x = np.asarray(x, dtype=float)
    valid = ~np.isnan(x)
    w = entity_weights(np.asarray(entity)[valid])
    x = x[valid]
    if bounds is None:
        edges = _grid(datetime)
        coarse = _noisy_hist(x, w, edges, epsilon / 2.0, rng)
        # post-processing: bins no larger than the noise would make are empty
        coarse[coarse < 2.0 / epsilon * np.log(len(coarse) / 0.1)] = 0.0
        low, high = _cut(coarse, edges, 0.005)
        eps_q = epsilon / 2.0
    else:
        low, high = float(bounds[0]), float(bounds[1])
        eps_q = epsilon
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, _N_QUANTILE_BINS + 1)
    hist = _noisy_hist(np.clip(x, low, high), w, edges, eps_q, rng)
    if hist.sum() <= 0:
        hist = np.ones_like(hist)
    cdf = np.concatenate([[0.0], np.cumsum(hist) / hist.sum()])
    levels = np.linspace(0.0, 1.0, n_quantiles)
    quantiles = np.interp(levels, cdf, edges)
    quantiles = np.maximum.accumulate(quantiles)
    return NumericSummary(low, high, quantiles.tolist())


#: Bin edges for children per parent: 0..20 one by one, then about 8 bins a decade.
COUNT_EDGES = np.unique(
    np.concatenate([np.arange(0, 21), np.round(10 ** np.arange(1.35, 6.01, 0.125))])
).astype(np.int64)


def count_histogram(
    counts: np.ndarray, entity: np.ndarray, epsilon: float, rng: np.random.Generator
) -> list[float]:
    """Noisy entity-weighted histogram of ``counts`` on :data:`COUNT_EDGES` (clipped at 0).

    Noisy bins below ``ln(n_bins / 0.05) / epsilon`` are set to 0 (post-processing):
    then an empty bin survives with probability under 5% in all, so the many empty
    bins of the tail add no spurious mass. When that leaves nothing (little data for
    the budget), the noisy bins of 0 to 20 children are kept, clipped at 0.
    """
    counts = np.minimum(np.asarray(counts, dtype=np.int64), COUNT_EDGES[-1] - 1)
    idx = np.searchsorted(COUNT_EDGES, counts, side="right") - 1
    w = entity_weights(entity)
    hist = np.bincount(idx, weights=w, minlength=len(COUNT_EDGES) - 1)[: len(COUNT_EDGES) - 1]
    noisy = hist + rng.laplace(0.0, 1.0 / epsilon, len(hist))
    kept = np.where(noisy < np.log(len(noisy) / 0.05) / epsilon, 0.0, noisy)
    if kept.sum() <= 0:  # too little data for the tail test: the 0..20 bins, clipped
        kept = np.where(COUNT_EDGES[:-1] <= 20, np.clip(noisy, 0.0, None), 0.0)
    return kept.tolist()


def sample_counts(hist: list[float], n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` counts from a :func:`count_histogram` (uniform within a bin)."""
    h = np.asarray(hist, dtype=float)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if h.sum() <= 0:
        return np.zeros(n, dtype=np.int64)
    b = rng.choice(len(h), size=n, p=h / h.sum())
    lo, hi = COUNT_EDGES[b], COUNT_EDGES[b + 1]
    return (lo + np.floor(rng.random(n) * (hi - lo))).astype(np.int64)


def noisy_count(n_by_entity: np.ndarray, cap: int, epsilon: float, rng: np.random.Generator) -> int:
    """``sum(min(n_e, cap)) + Laplace(cap / epsilon)``, at least 1."""
    total = float(np.minimum(np.asarray(n_by_entity, dtype=float), cap).sum())
    return max(1, int(round(total + rng.laplace(0.0, cap / epsilon))))
