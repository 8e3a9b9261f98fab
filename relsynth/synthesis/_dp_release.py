"""Differentially private releases of the statistics a fit needs (numpy only).

Every mechanism here protects one *entity* (a root row with all its descendant
rows, see :mod:`relsynth.synthesis._dp`): each function takes, per row, the index of
the entity the row belongs to, and bounds what one entity can change by weighting
its rows so that their total weight is at most 1 (an entity with 40 orders gives
each order weight 1/40). Adding or removing an entity then changes a histogram
below by a vector of L1 norm, hence L2 norm, at most 1, and every release is a
**Gaussian mechanism**: noise ``N(0, sigma^2)`` per entry (``sigma`` times the L2
sensitivity where it is not 1). Its Renyi-DP is ``alpha / (2 sigma^2)``, which is
what :mod:`relsynth.synthesis._dp` composes with the DP-SGD runs in one RDP
accountant (opacus' ``(sigma, q=1, steps=1)`` entry is exactly this mechanism).

``vocabulary``
    Categories whose domain is not public: Gaussian *partition selection* (Korolova
    et al. 2009; Gopi et al. 2020; Wilkins et al. 2024). An entity's weight is spread
    over at most ``MAX_VALUES_PER_ENTITY`` of its values (NULL counts as one); a value
    is released only when its noisy weighted count reaches the threshold
    ``tau = 1 + sigma * Phi^-1(1 - delta / K)``, so that the chance that any value held
    by one entity alone is released is at most ``delta`` (its weight is at most 1).
    The released counts are the noisy ones.
``numeric_summary``
    Bounds and quantiles of a number or a datetime without user-given bounds: a noisy
    histogram on a fixed, data-independent grid (signed log-scale bins, two a decade;
    four years a bin for datetimes), read at the finest resolution whose surviving bins
    hold most of the mass (blocks of 1, 2, 4, ... bins: post-processing; when none stands out, the
    block of the highest noisy weight), finds the 0.5% and 99.5% points, and a noisy
    histogram of 4 to 64 bins (as many as the table's DP size affords) between them
    (bins even in ``asinh`` for numbers, which are log-spaced where the bounds span
    decades), with one more bin for NULLs,
    gives the quantiles and the NULL share (the two histograms share the release's
    budget: ``sigma * sqrt(2)`` each).
``count_histogram``
    A histogram of non-negative integers (children per parent) on fixed bins.
``noisy_count``
    A count to which each entity adds at most ``cap`` (L2 sensitivity ``cap``).

Everything derived from these outputs afterwards (frequencies, samples, bounds) is
post-processing and costs no further privacy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import ParameterError

__all__ = [
    "MAX_VALUES_PER_ENTITY",
    "NULL",
    "NumericSummary",
    "count_histogram",
    "entity_weights",
    "noisy_count",
    "numeric_summary",
    "sample_counts",
    "gaussian",
    "null_share",
    "threshold",
    "vocabulary",
]

#: Distinct values one entity may contribute to a vocabulary (the rest are not counted).
MAX_VALUES_PER_ENTITY = 16
_N_QUANTILE_BINS = 64
#: The key NULLs are counted under in :func:`vocabulary` (always released).
NULL = "__relsynth_null__"
_YEAR = 365.2425 * 86400.0
_EPOCH_YEAR = 1970.0


def entity_weights(entity: np.ndarray) -> np.ndarray:
    """Per row, ``1 / (rows of its entity in this table)``: each entity weighs 1 in all."""
    entity = np.asarray(entity, dtype=np.int64)
    if len(entity) == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(entity, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def _z(p: float) -> float:
    """``Phi^-1(1 - p)``: the standard normal quantile above which ``p`` lies."""
    from scipy.special import ndtri

    return float(-ndtri(min(max(p, 1e-300), 0.5)))


def gaussian(shape: int | tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` (the one noise source here)."""
    return rng.normal(0.0, sigma, shape)


def threshold(sigma: float, delta: float) -> float:
    """The release threshold of :func:`vocabulary` for noise ``sigma`` and ``delta``."""
    return 1.0 + sigma * _z(delta / MAX_VALUES_PER_ENTITY)


def vocabulary(
    values: pd.Series,
    entity: np.ndarray,
    sigma: float,
    delta: float,
    rng: np.random.Generator,
    domain: list[object] | None = None,
) -> tuple[list[object], list[float], float]:
    """Released values and their noisy entity-weighted counts (most frequent first), and
    the noisy weight of NULL.

    One histogram over the values and NULL, an entity weighing at most 1 in it (L2
    sensitivity 1). With a public ``domain`` (booleans) every value of it is released
    and no threshold applies; otherwise values below :func:`threshold` are suppressed.
    """
    v = values.astype(object).to_numpy()
    v = np.where(pd.isna(values).to_numpy(), NULL, v)
    frame = pd.DataFrame({"v": v, "e": np.asarray(entity)})
    if frame.empty:
        return [], [], 0.0
    per = frame.groupby(["e", "v"], sort=True).size().rename("n").reset_index()
    per = per.sort_values(["e", "n"], ascending=[True, False], kind="stable")
    per = per[per.groupby("e").cumcount() < MAX_VALUES_PER_ENTITY]
    per["w"] = per["n"] / per.groupby("e")["n"].transform("sum")
    counts = per.groupby("v", sort=True)["w"].sum()
    if domain is not None:
        counts = counts.reindex([*domain, NULL], fill_value=0.0)
    elif NULL not in counts.index:
        counts.loc[NULL] = 0.0
    noisy = counts.to_numpy(dtype=float) + gaussian(len(counts), sigma, rng)
    is_null = np.array([isinstance(x, str) and x == NULL for x in counts.index], dtype=bool)
    null = float(max(noisy[is_null].sum(), 0.0))
    keep = ~is_null
    if domain is None:
        keep &= noisy >= threshold(sigma, delta)
    order = np.argsort(-noisy[keep], kind="stable")
    kept_values = counts.index.to_numpy()[keep][order]
    kept = np.clip(noisy[keep][order], 0.0, None) if domain is not None else noisy[keep][order]
    return [_plain(x) for x in kept_values], kept.tolist(), null


def public_domain(
    column: Any, kind: str, values: pd.Series, given: Sequence[Any] | None
) -> list[object] | None:
    """The public domain of a categorical column (no threshold applies to its values):
    ``[False, True]`` for booleans, the values given in ``DifferentialPrivacy(domains=)``,
    else the metadata's ``enum_values`` (schema, not data); None: partition selection.
    Values are typed as the column is (numbers for a numeric column)."""
    if kind == "boolean":
        return [False, True]
    domain = list(given) if given is not None else list(column.enum_values or ()) or None
    if domain is None or not pd.api.types.is_numeric_dtype(values.dtype):
        return domain
    numbers = pd.to_numeric(pd.Series(domain, dtype=object), errors="coerce")
    if numbers.isna().any():
        bad = domain[int(np.flatnonzero(numbers.isna().to_numpy())[0])]
        raise ParameterError(
            f"The public domain of {column.name!r} has {bad!r}, not a number like its values."
        )
    return [int(x) if float(x).is_integer() else float(x) for x in numbers]


def check_columns(meta: Any, settings: Any, private: Sequence[str]) -> None:
    """A one-line error for ``bounds`` or ``domains`` naming no column of a private table."""
    for what in ("bounds", "domains"):
        for key in getattr(settings, what):
            table, _, col = str(key).partition(".")
            if table not in private or col not in meta.table(table).column_names:
                raise ParameterError(
                    f"DifferentialPrivacy({what}=...): {key!r} is not a column of a private "
                    f"table (write 'table.column'; the private tables are "
                    f"{', '.join(private)})."
                )
            kind = meta.table(table).column(col).kind
            if what == "domains" and kind in ("numerical", "datetime"):
                raise ParameterError(
                    f"DifferentialPrivacy(domains=...): {key!r} is {kind}; a domain is for "
                    f"categorical columns (give a numeric column bounds=...)."
                )


def null_share(is_null: np.ndarray, entity: np.ndarray, sigma: float, rng) -> float:  # noqa: ANN001
    """The noisy entity-weighted share of NULLs: a 2-bin histogram (NULL, not NULL)."""
    w = entity_weights(entity)
    hist = np.array([w[is_null].sum(), w[~is_null].sum()]) + gaussian(2, sigma, rng)
    hist = np.clip(hist, 0.0, None)
    return float(hist[0] / hist.sum()) if hist.sum() > 0 else 0.0


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class NumericSummary:
    """DP bounds and quantiles of one numeric column (seconds since 1970 for datetimes)."""

    low: float
    high: float
    quantiles: list[float]
    null_share: float = 0.0


#: Years per bin of the datetime grid, bins per decade of the number grid. Coarse on
#: purpose: the grid only finds the bounds (the quantile histogram inside them gives
#: the shape), and a block of ``b`` fine bins carries ``sqrt(b)`` times the noise of one
#: coarse bin, so a small table's values stand out of the noise of a coarse grid where
#: they drown in a fine one (Berka's 152 loans at epsilon 4 in one-year bins).
GRID_YEARS = 4
GRID_PER_DECADE = 2


def _grid(datetime: bool) -> np.ndarray:
    if datetime:  # 1800 to 2200, GRID_YEARS years a bin
        return (np.arange(1800.0, 2201.0, GRID_YEARS) - _EPOCH_YEAR) * _YEAR
    pos = 10.0 ** (np.arange(-6 * GRID_PER_DECADE, 12 * GRID_PER_DECADE + 1) / GRID_PER_DECADE)
    return np.concatenate([-pos[::-1], [0.0], pos])  # +-(1e-6 .. 1e12) and 0


def _noisy_hist(
    x: np.ndarray, w: np.ndarray, edges: np.ndarray, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """The noisy weighted histogram (not clipped)."""
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    hist = np.bincount(idx, weights=w, minlength=len(edges) - 1)
    return hist + gaussian(len(hist), sigma, rng)


def _bounds(noisy: np.ndarray, edges: np.ndarray, sigma: float) -> tuple[float, float]:
    """The 0.5% and 99.5% points of a noisy grid histogram (post-processing).

    Read at blocks of 1, 2, 4, ... bins: a block is kept when its noisy weight is above
    what the noise alone reaches with probability 10% over all blocks of all sizes
    (the noise of a block of ``b`` bins grows as ``sqrt(b)``, its weight as ``b``: with
    little data for the budget, coarser blocks find it). The finest block size whose
    kept blocks hold 95% of the most any size keeps wins, "the most" counted less one
    standard deviation of the noise each size's kept blocks sum: a coarse size's few
    wide blocks sum the noise of many empty bins, and compared as they are they won
    with bounds over centuries (dates of 1993-1998 bounded by 1800-2056).
    """
    levels = []
    size = 1
    n_levels = int(np.ceil(np.log2(len(noisy)))) + 1
    while size < 2 * len(noisy):
        n_blocks = -(-len(noisy) // size)
        padded = np.concatenate([noisy, np.zeros(n_blocks * size - len(noisy))])
        blocks = padded.reshape(n_blocks, size).sum(1)
        cut = sigma * np.sqrt(size) * _z(0.1 / (n_blocks * n_levels))
        keep = blocks >= cut
        kept = np.where(keep, blocks, 0.0)
        block_edges = edges[np.minimum(np.arange(n_blocks + 1) * size, len(edges) - 1)]
        # the kept weight less one standard deviation of the noise it sums
        low = float(kept.sum()) - sigma * np.sqrt(size * keep.sum())
        levels.append((_with_tails(kept, blocks, sigma * np.sqrt(size)), block_edges, low))
        size *= 2
    if max(float(k.sum()) for k, _, _ in levels) <= 0:  # nothing passes: the likeliest block
        return _likeliest_block(noisy, edges, sigma)
    most = max(low for _, _, low in levels)
    kept, block_edges, _ = next(lv for lv in levels if lv[0].sum() >= 0.95 * most)
    return _cut(kept, block_edges, 0.005)


def _with_tails(kept: np.ndarray, blocks: np.ndarray, noise: float) -> np.ndarray:
    """``kept`` with the block just outside its first and last kept blocks added when
    its noisy weight is above one standard deviation of its noise: the thin tails of
    flat data (a few entities in the first years) fall below the test, not below that."""
    out = kept.copy()
    idx = np.flatnonzero(kept > 0)
    if len(idx):
        for j in (idx[0] - 1, idx[-1] + 1):
            if 0 <= j < len(blocks) and blocks[j] > noise:
                out[j] = blocks[j]
    return out


def _likeliest_block(noisy: np.ndarray, edges: np.ndarray, sigma: float) -> tuple[float, float]:
    """The block (of 1, 2, 4, ... bins) of the highest noisy weight in units of its
    noise (post-processing): when no block passes the test of :func:`_bounds`, the data
    are still most likely there, where a fixed fallback (the grid's middle) is surely
    wrong (every date of a small table at 1970, a KS complement of 0)."""
    best, where = -np.inf, (float(edges[len(edges) // 2]), float(edges[len(edges) // 2 + 1]))
    size = 1
    while size <= len(noisy):
        sums = np.convolve(noisy, np.ones(size), mode="valid")  # every run of `size` bins
        z = sums / (sigma * np.sqrt(size))
        i = int(np.argmax(z))
        if z[i] > best:
            best, where = float(z[i]), (float(edges[i]), float(edges[i + size]))
        size *= 2
    return where


def _cut(hist: np.ndarray, edges: np.ndarray, share: float) -> tuple[float, float]:
    total = hist.sum()
    if total <= 0:
        return float(edges[len(edges) // 2]), float(edges[len(edges) // 2 + 1])
    cdf = np.cumsum(hist) / total
    lo = int(np.searchsorted(cdf, share, side="left"))
    hi = int(np.searchsorted(cdf, 1.0 - share, side="left"))
    return float(edges[lo]), float(edges[min(hi + 1, len(edges) - 1)])


def quantile_bins(mass: float | None, sigma: float) -> int:
    """Bins of the quantile histogram for about ``mass`` entities (a DP estimate) at
    noise ``sigma`` per bin: as many as keep each bin's expected weight at least twice
    its noise, from 4 to 64. A noisy bin's error adds to the CDF as a random walk, so
    64 bins of noise bury a small table's shape that 4 bins keep (None: 64)."""
    if mass is None:
        return _N_QUANTILE_BINS
    return int(np.clip(np.floor(mass / (2.0 * sigma)), 4, _N_QUANTILE_BINS))


def numeric_summary(
    x: np.ndarray,
    entity: np.ndarray,
    sigma: float,
    rng: np.random.Generator,
    *,
    datetime: bool = False,
    bounds: tuple[float, float] | None = None,
    n_quantiles: int = 50,
    mass: float | None = None,
) -> NumericSummary:
    """DP bounds (unless given) and quantiles of the non-NULL values ``x``; ``mass``: a
    DP estimate of the entities holding them (sets the quantile histogram's bins)."""
    x = np.asarray(x, dtype=float)
    valid = ~np.isnan(x)
    w_all = entity_weights(np.asarray(entity))  # NULLs are one more bin (L1 <= 1 in all)
    w = w_all[valid]
    x = x[valid]
    sigma_q = sigma
    if bounds is None:  # two histograms: each gets sigma * sqrt(2) (one unit in all)
        sigma_q = sigma * np.sqrt(2.0)
        edges = _grid(datetime)
        low, high = _bounds(_noisy_hist(x, w, edges, sigma_q, rng), edges, sigma_q)
    else:
        low, high = float(bounds[0]), float(bounds[1])
    if high <= low:
        high = low + 1.0
    n_bins = quantile_bins(mass, sigma_q)
    if datetime:
        edges = np.linspace(low, high, n_bins + 1)
    else:  # even on asinh: relative resolution where bounds span decades (amounts)
        edges = np.sinh(np.linspace(np.arcsinh(low), np.arcsinh(high), n_bins + 1))
        edges[0], edges[-1] = low, high
    hist = np.clip(_noisy_hist(np.clip(x, low, high), w, edges, sigma_q, rng), 0.0, None)
    null = max(float(w_all[~valid].sum() + gaussian(1, sigma_q, rng)[0]), 0.0)
    null_share = null / (null + hist.sum()) if null + hist.sum() > 0 else 0.0
    if hist.sum() <= 0:
        hist = np.ones_like(hist)
    cdf = np.concatenate([[0.0], np.cumsum(hist) / hist.sum()])
    levels = np.linspace(0.0, 1.0, n_quantiles)
    quantiles = np.interp(levels, cdf, edges)
    quantiles = np.maximum.accumulate(quantiles)
    return NumericSummary(low, high, quantiles.tolist(), float(null_share))


#: Bin edges for children per parent: 0..20 one by one, then about 8 bins a decade.
COUNT_EDGES = np.unique(
    np.concatenate([np.arange(0, 21), np.round(10 ** np.arange(1.35, 6.01, 0.125))])
).astype(np.int64)


def count_histogram(
    counts: np.ndarray, entity: np.ndarray, sigma: float, rng: np.random.Generator
) -> list[float]:
    """Noisy entity-weighted histogram of ``counts`` on :data:`COUNT_EDGES` (clipped at 0).

    Noisy bins below what the noise alone reaches with probability 5% over all bins
    are set to 0 (post-processing): the many empty bins of the tail add no spurious
    mass. When that leaves nothing (little data for the budget), the noisy bins of 0
    to 20 children are kept, clipped at 0.
    """
    counts = np.minimum(np.asarray(counts, dtype=np.int64), COUNT_EDGES[-1] - 1)
    idx = np.searchsorted(COUNT_EDGES, counts, side="right") - 1
    w = entity_weights(entity)
    hist = np.bincount(idx, weights=w, minlength=len(COUNT_EDGES) - 1)[: len(COUNT_EDGES) - 1]
    noisy = hist + gaussian(len(hist), sigma, rng)
    kept = np.where(noisy < sigma * _z(0.05 / len(noisy)), 0.0, noisy)
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


def noisy_count(n_by_entity: np.ndarray, cap: int, sigma: float, rng: np.random.Generator) -> int:
    """``sum(min(n_e, cap)) + N(0, (cap sigma)^2)``, at least 1."""
    total = float(np.minimum(np.asarray(n_by_entity, dtype=float), cap).sum())
    return max(1, int(round(total + float(gaussian(1, cap * sigma, rng)[0]))))
