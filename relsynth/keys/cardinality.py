"""Cardinality (children per parent) and in-degree models.

Stage 2 of the pipeline (keys). Two models, both fitted on per-parent counts with
zeros included (a customer without orders counts 0):

:class:`CardinalityModel` (driver foreign keys)
    A kernel density estimate over ``[parent features, count]``, sampled from its
    conditional given a synthetic parent's features. With a Gaussian kernel the
    conditional of a product-kernel KDE is a mixture over the training parents
    weighted by the feature kernel ``exp(-|f - f_i|^2 / 2h^2)`` (Rosenblatt 1969;
    Holmes, Gray & Isbell 2007): pick a training parent from those weights, then
    draw from its count kernel. Three choices keep the marginal of the counts as
    close to the source's as the acceptance bar (KS complement >= 0.95) asks:

    * the count kernel has zero width: a drawn neighbour gives its observed count.
      Optionally (``jitter=True``; off by default, see below) the count kernel has
      zero width only on integers already seen often: a drawn
      neighbour gives its observed count. Counts seen fewer than
      ``rare_count`` (5) times (the sparse heavy tail) are jittered to a
      uniformly drawn integer between the midpoints to the neighbouring observed
      counts, so the tail is smoothed without moving the CDF by more than the
      mass of two rare values and without copying each extreme count exactly.
      This is done only with at least 1,000 training parents (the CDF then moves
      by at most 1%); with fewer, the counts are resampled as observed;
    * the feature mixture is restricted to the ``n_neighbors`` nearest *distinct*
      training points (a KD-tree query; identical feature vectors are one point
      with a multiplicity, so ties never truncate the mixture), so sampling is
      ``O(n log n)``; farther points have negligible kernel weight at the default
      bandwidths;
    * the uniforms used to invert each parent's conditional CDF are *stratified*
      (``u_j = (pi_j + U_j) / n`` for a random permutation ``pi``): each draw is
      still exactly from its parent's conditional, but their empirical
      distribution is nearly uniform, so the sampled counts' marginal deviates
      from the source's by ~1/n instead of ~1/sqrt(n). Without features (the
      marginal case) this is stratified resampling of the source's counts.

    Bandwidth: Scott's (``n^(-1/(d+4))``) or Silverman's factor on the whitened
    features (:mod:`relsynth.keys.features`), or a float.

:class:`DegreeModel` (secondary and deferred foreign keys, self-reference fan-out)
    The in-degree of each parent (children pointing at it) and the NULL rate of
    the key. :meth:`DegreeModel.sample` draws stratified degrees from the source's
    distribution and rescales them to sum to the number of child rows to assign
    (largest-remainder rounding), so the degree distribution is kept while every
    child row gets exactly one slot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from relsynth.errors import NotFittedError

__all__ = ["CardinalityModel", "DegreeModel", "rescale_to_total", "stratified_uniforms"]

logger = logging.getLogger(__name__)

_RARE_COUNT = 5
_JITTER_MIN_PARENTS = 1000
#: Conditional draws whose total is within these factors of the expected total are
#: rescaled to it; outside, the source's distribution is handed out in their order.
_TOTAL_RANGE = (0.6, 1.6)
#: When the source's distribution gives children to at most this many synthetic
#: parents, the conditional draws must give them to exactly as many (else the
#: distribution is handed out in their order): rescaling a handful of parents'
#: counts changes each by a large factor.
_FEW_PARENTS = 20


def stratified_uniforms(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniforms with one in each of the strata ``[k/n, (k+1)/n)``, in random order."""
    if n <= 0:
        return np.zeros(0)
    return (rng.permutation(n) + rng.random(n)) / n


def _quantiles(sorted_values: np.ndarray, u: np.ndarray) -> np.ndarray:
    m = len(sorted_values)
    idx = np.minimum((u * m).astype(np.int64), m - 1)
    return sorted_values[idx]


def _jitter_rare(
    counts: np.ndarray,
    support: np.ndarray,
    freq: np.ndarray,
    rng: np.random.Generator,
    rare: int = _RARE_COUNT,
) -> np.ndarray:
    """Move counts that are rare in the source to a random integer between neighbours."""
    if len(support) < 2 or len(counts) == 0:
        return counts
    pos = np.searchsorted(support, counts)
    pos = np.clip(pos, 0, len(support) - 1)
    is_rare = (support[pos] == counts) & (freq[pos] < rare)
    if not is_rare.any():
        return counts
    p = pos[is_rare]
    value = support[p].astype(float)
    lower = np.where(p > 0, (support[np.maximum(p - 1, 0)] + value) / 2, value)
    upper = np.where(
        p < len(support) - 1, (support[np.minimum(p + 1, len(support) - 1)] + value) / 2, value
    )
    lo = np.floor(lower).astype(np.int64) + 1
    hi = np.ceil(upper).astype(np.int64) - 1
    lo = np.where(p > 0, lo, value.astype(np.int64))
    hi = np.where(p < len(support) - 1, hi, value.astype(np.int64))
    lo = np.minimum(lo, value.astype(np.int64))
    hi = np.maximum(hi, value.astype(np.int64))
    out = counts.copy()
    out[is_rare] = lo + np.floor(rng.random(len(p)) * (hi - lo + 1)).astype(np.int64)
    return out


def rescale_to_total(
    degrees: np.ndarray, total: int, rng: np.random.Generator, cap: int | None = None
) -> np.ndarray:
    """Scale non-negative integer ``degrees`` so they sum to ``total`` (largest remainder).

    With ``cap``, no degree exceeds it (the excess goes to parents with room); the
    caller guarantees ``cap * len(degrees) >= total``.
    """
    n = len(degrees)
    if n == 0 or total <= 0:
        return np.zeros(n, dtype=np.int64)
    d = np.asarray(degrees, dtype=float)
    if cap is not None:
        d = np.minimum(d, cap)
    if d.sum() <= 0:
        d = np.ones(n)
    exact = d * (total / d.sum())
    out = np.floor(exact).astype(np.int64)
    rest = int(total - out.sum())
    if rest > 0:
        frac = exact - out + rng.random(n) * 1e-6
        out[np.argsort(-frac, kind="stable")[:rest]] += 1
    if cap is not None:
        for _ in range(64):
            excess = int(np.maximum(out - cap, 0).sum())
            if excess == 0:
                break
            out = np.minimum(out, cap)
            room = cap - out
            has_room = np.nonzero(room > 0)[0]
            if len(has_room) == 0:
                break
            weights = d[has_room] + 1e-3
            add = rng.multinomial(excess, weights / weights.sum())
            out[has_room] += add
    return out


def _times(
    counts: np.ndarray, per_parent: float, rng: np.random.Generator, cap: int | None
) -> np.ndarray:
    """``counts`` rescaled to ``per_parent`` times their total (largest remainder),
    unchanged when ``per_parent`` is 1."""
    counts = counts.astype(np.int64)
    if per_parent == 1.0:
        return counts
    total = int(round(float(counts.sum()) * per_parent))
    if cap is not None:
        total = min(total, cap * len(counts))
    return rescale_to_total(counts, total, rng, cap)


class CardinalityModel:
    """Children per parent row for one driver foreign key, conditional on the parent.

    Parameters
    ----------
    bandwidth : {"scott", "silverman"} or float
        Feature-kernel bandwidth (in whitened feature units).
    n_neighbors : int
        Number of nearest distinct training points the conditional mixture is
        restricted to.
    jitter : bool
        Jitter counts that are rare in the source (see the module docstring). Off by
        default: any change of a table's total moves the in-degrees of every
        secondary key below it, which the fidelity bar does not allow.
    """

    def __init__(
        self, *, bandwidth: str | float = "scott", n_neighbors: int = 32, jitter: bool = False
    ) -> None:
        self.bandwidth = bandwidth
        self.n_neighbors = n_neighbors
        self.jitter = jitter

    def fit(self, counts: np.ndarray, features: np.ndarray | None = None) -> CardinalityModel:
        """Fit on per-parent child counts (zeros included) and optional parent features."""
        counts = np.asarray(counts, dtype=np.int64)
        self.counts_ = counts
        self.sorted_counts_ = np.sort(counts)
        self.support_, self.freq_ = np.unique(counts, return_counts=True)
        if (
            features is not None
            and features.ndim == 2
            and features.shape[1] > 0
            and len(counts) >= 2
        ):
            self.features_: np.ndarray | None = np.asarray(features, dtype=float)
        else:
            self.features_ = None
        self.bandwidth_ = self._bandwidth()
        self._tree: cKDTree | None = None
        return self

    def _bandwidth(self) -> float:
        if self.features_ is None:
            return 0.0
        n, d = self.features_.shape
        if isinstance(self.bandwidth, str):
            if self.bandwidth == "scott":
                return float(n ** (-1.0 / (d + 4)))
            return float((n * (d + 2) / 4.0) ** (-1.0 / (d + 4)))
        return float(self.bandwidth)

    @property
    def is_conditional(self) -> bool:
        """Whether the model conditions on parent features."""
        self._check_fitted()
        return self.features_ is not None

    def _check_fitted(self) -> None:
        if not hasattr(self, "counts_"):
            raise NotFittedError(
                "This CardinalityModel instance is not fitted yet. Call 'fit' with the "
                "per-parent counts before 'sample'."
            )

    def sample(
        self,
        features: np.ndarray | int,
        rng: np.random.Generator,
        *,
        cap: int | None = None,
        free_total: bool = False,
        per_parent: float = 1.0,
    ) -> np.ndarray:
        """Draw a number of children for each synthetic parent.

        Parameters
        ----------
        features : ndarray of shape (n_parents, d), or int
            The synthetic parents' features (same transform as at fit time), or just
            the number of parents to draw the marginal (unconditional) counts.
        rng : numpy.random.Generator
        cap : int, optional
            Upper bound on each count (e.g. 1 for a one-to-one key).
        free_total : bool
            Keep the conditional draws as they are: the parents are a selection (the
            German customers, five given ones), not a draw from the source's parents,
            so their children need not total the source's mean per parent.
        per_parent : float
            Multiplies the children per parent (their total, rescaled to it): a parent
            table held verbatim whatever the sample's scale (a copied reference table)
            gets ``scale`` times its children, so twice the data has as many airports
            and twice the flights per airport. 1 draws exactly as without it.

        Returns
        -------
        ndarray of int64, shape (n_parents,), values >= 0
        """
        self._check_fitted()
        if isinstance(features, (int, np.integer)):
            n, feats = int(features), None
        else:
            feats = np.asarray(features, dtype=float)
            n = len(feats)
        if n == 0 or len(self.counts_) == 0:
            return np.zeros(n, dtype=np.int64)
        conditional = not (
            feats is None
            or self.features_ is None
            or feats.ndim != 2
            or feats.shape[1] != self.features_.shape[1]
        )
        u = stratified_uniforms(n, rng)
        marginal = self._marginal(u, rng, cap)
        if not conditional:
            return _times(marginal, per_parent, rng, cap)
        out = np.maximum(self._conditional(feats, u), 0)
        if cap is not None:
            out = np.minimum(out, cap)
        if free_total:
            return _times(out, per_parent, rng, cap)
        target = self._target(n, cap)
        parents, expected = int((out > 0).sum()), int((marginal > 0).sum())
        if not _TOTAL_RANGE[0] * target <= out.sum() <= _TOTAL_RANGE[1] * target:
            logger.info(
                "cardinality: conditional draws total %d for an expected %d; handing out "
                "the source's distribution in their order",
                int(out.sum()), target,
            )  # fmt: skip
            out = self._by_rank(marginal, out, rng)
        elif expected <= _FEW_PARENTS and parents != expected:
            # A few parents hold every child (3 of 1,458 airports have all the weather):
            # rescaling 2 drawn parents would give each a year and a half of hourly rows.
            logger.info(
                "cardinality: %d parents drew children where the source's distribution "
                "gives %d; handing it out in the order of the draws",
                parents, expected,
            )  # fmt: skip
            out = self._by_rank(marginal, out, rng)
        target = target if per_parent == 1.0 else self._target(n, cap, per_parent)
        if int(out.sum()) != target:
            logger.debug("cardinality: draws total %d, rescaled to %d", int(out.sum()), target)
            out = rescale_to_total(out, target, rng, cap)
        return out.astype(np.int64)

    def _marginal(self, u: np.ndarray, rng: np.random.Generator, cap: int | None) -> np.ndarray:
        """The source's counts at the stratified uniforms ``u`` (rare ones jittered
        when asked), capped."""
        marginal = _quantiles(self.sorted_counts_, u)
        if self.jitter and len(self.counts_) >= _JITTER_MIN_PARENTS:
            marginal = _jitter_rare(marginal, self.support_, self.freq_, rng)
        marginal = np.maximum(marginal, 0)
        return marginal if cap is None else np.minimum(marginal, cap)

    def _target(self, n: int, cap: int | None, per_parent: float = 1.0) -> int:
        """``n`` times the source's children-per-parent mean times ``per_parent`` (at
        most ``cap * n``).

        Conditional draws decide *which* synthetic parents get many children; the
        total must not depend on how well the parents' own values were learned, so
        child tables come out at the source's size (times the scale).
        """
        mean = float(self.counts_.mean())
        target = int(round(n * (mean if per_parent == 1.0 else mean * per_parent)))
        return target if cap is None else min(target, cap * n)

    @staticmethod
    def _by_rank(marginal: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The marginal draws, handed out in the order of the conditional draws.

        Used when the conditional draws miss the expected total by more than the
        ``_TOTAL_RANGE`` factors. Two things make them drift that far: when a few
        source parents hold most children (3 of 1,458 airports have all the weather
        rows) one draw per parent has a huge variance, and synthetic parent features
        a little off the source's move the conditional expectation (measured: 6
        airports drew weather instead of 3; rescaling them would halve every
        airport's hourly series). The stratified marginal draws have the source's
        distribution to within 1/n; giving the largest of them to the parent with
        the largest conditional draw (ties in random order) keeps both the
        distribution and who has more children than whom (a rank coupling).
        """
        order = np.lexsort((rng.random(len(draws)), draws))
        out = np.empty_like(marginal)
        out[order] = np.sort(marginal)
        return out

    def _index(self) -> None:
        """Group identical training feature vectors: KD-tree over the distinct points."""
        assert self.features_ is not None
        points, inverse = np.unique(self.features_, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        order = np.lexsort((self.counts_, inverse))
        self._members = self.counts_[order]  # counts grouped by point, ascending inside
        self._sizes = np.bincount(inverse, minlength=len(points))
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)[:-1]])
        self._tree = cKDTree(points)

    def _conditional(self, feats: np.ndarray, u: np.ndarray) -> np.ndarray:
        # Mixture over training parents weighted by the feature kernel. Identical
        # training points are grouped (a KD-tree over the distinct points, each with
        # its multiplicity), so ties never truncate the mixture; within a point, the
        # residual of u picks among its counts sorted ascending.
        if self._tree is None:
            self._index()
        assert self._tree is not None
        k = min(self.n_neighbors, self._tree.n)
        dist, idx = self._tree.query(feats, k=k)
        if k == 1:
            dist, idx = dist[:, None], idx[:, None]
        h = max(self.bandwidth_, 1e-12)
        logw = -0.5 * (dist / h) ** 2
        logw -= logw.max(axis=1, keepdims=True)
        w = np.exp(logw) * self._sizes[idx]
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1]
        target = u * total
        pick = np.minimum((cum <= target[:, None]).sum(axis=1), k - 1)
        rows = np.arange(len(feats))
        chosen = idx[rows, pick]
        before = np.where(pick > 0, cum[rows, np.maximum(pick - 1, 0)], 0.0)
        resid = np.clip((target - before) / np.maximum(w[rows, pick], 1e-300), 0.0, 1.0 - 1e-12)
        member = np.minimum((resid * self._sizes[chosen]).astype(np.int64), self._sizes[chosen] - 1)
        out: np.ndarray = self._members[self._offsets[chosen] + member]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        self._check_fitted()
        return {
            "bandwidth": self.bandwidth,
            "n_neighbors": self.n_neighbors,
            "jitter": self.jitter,
            "counts": self.counts_.tolist(),
            "features": None if self.features_ is None else self.features_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardinalityModel:
        """Rebuild a model saved with :meth:`to_dict`."""
        self = cls(
            bandwidth=data["bandwidth"],
            n_neighbors=int(data["n_neighbors"]),
            jitter=bool(data.get("jitter", False)),
        )
        feats = data.get("features")
        counts = np.asarray(data["counts"], dtype=np.int64)
        arr = None if feats is None else np.asarray(feats, dtype=float).reshape(len(counts), -1)
        return self.fit(counts, arr)


class DegreeModel:
    """In-degree of the parents of one foreign key, and the key's NULL rate."""

    def fit(self, degrees: np.ndarray, null_rate: float = 0.0) -> DegreeModel:
        """Fit on per-parent in-degrees (zeros included) and the child's NULL rate."""
        self.degrees_ = np.sort(np.asarray(degrees, dtype=np.int64))
        self.null_rate_ = float(null_rate)
        return self

    def n_null(self, n_children: int, rng: np.random.Generator) -> int:
        """How many of ``n_children`` rows leave the key NULL (rounded stochastically)."""
        exact = self.null_rate_ * n_children
        base = int(np.floor(exact))
        return base + int(rng.random() < exact - base)

    def draw(self, n_parents: int, rng: np.random.Generator) -> np.ndarray:
        """In-degrees of ``n_parents`` parents from the source's distribution, no total
        imposed (for parents that are a selection: given rows, a conditional sample)."""
        if not len(self.degrees_):
            return np.ones(n_parents, dtype=np.int64)
        return _quantiles(self.degrees_, stratified_uniforms(n_parents, rng)).astype(np.int64)

    def sample(
        self,
        n_parents: int,
        n_children: int,
        rng: np.random.Generator,
        *,
        cap: int | None = None,
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Degrees of ``n_parents`` parents summing to ``n_children``.

        ``mask`` (bool per parent) excludes parents that cannot be chosen.
        """
        out = np.zeros(n_parents, dtype=np.int64)
        allowed = np.arange(n_parents) if mask is None else np.nonzero(mask)[0]
        m = len(allowed)
        if m == 0 or n_children <= 0:
            return out
        if len(self.degrees_):
            raw = _quantiles(self.degrees_, stratified_uniforms(m, rng))
        else:
            raw = np.ones(m, dtype=np.int64)
        if cap is not None and cap * m < n_children:
            cap = None
        out[allowed] = rescale_to_total(raw, n_children, rng, cap)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"degrees": self.degrees_.tolist(), "null_rate": self.null_rate_}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DegreeModel:
        """Rebuild a model saved with :meth:`to_dict`."""
        return cls().fit(np.asarray(data["degrees"], dtype=np.int64), float(data["null_rate"]))
