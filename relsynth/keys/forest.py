"""Self-references (``employees.reports_to``): a forest generated within the table.

Fit: the share of rows at each depth and the fan-outs (children per row) at each
depth of the source's trees (:class:`ForestFit`). Sample: :func:`sample_forest`
builds the trees level by level (roots first), so the result never has a cycle.
Rows on a cycle in the source are counted as roots; a NOT NULL self-reference
points each root at itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.keys._codes import allocate
from relsynth.keys._frames import locate
from relsynth.keys.cardinality import DegreeModel
from relsynth.metadata.schema import ForeignKey

__all__ = ["ForestFit", "fit_forest", "sample_forest"]

_MAX_LEVELS = 64


@dataclass(frozen=True)
class ForestFit:
    """The learned shape of one self-reference.

    Attributes
    ----------
    fk : int
        Index of the self-reference in ``metadata.foreign_keys``.
    levels : tuple of float
        Share of the rows at each depth (depth 0: roots).
    fanouts : tuple of tuple of int
        Per depth, the number of children of each row at that depth.
    """

    fk: int
    levels: tuple[float, ...]
    fanouts: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (``{"fk", "levels", "fanouts"}``)."""
        return {
            "fk": self.fk,
            "levels": list(self.levels),
            "fanouts": [list(f) for f in self.fanouts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForestFit:
        """Rebuild from :meth:`to_dict`'s output."""
        return cls(
            int(data["fk"]),
            tuple(float(x) for x in data["levels"]),
            tuple(tuple(int(x) for x in f) for f in data["fanouts"]),
        )


def fit_forest(frame: pd.DataFrame, fk: ForeignKey, index: int) -> ForestFit:
    """Depth proportions and per-depth fan-outs of the self-reference ``fk`` in ``frame``."""
    n = len(frame)
    if n == 0:
        return ForestFit(index, (1.0,), ((0,),))
    pidx = locate(frame, fk.columns, frame, fk.parent_columns)
    self_loop = pidx == np.arange(n)
    pidx = np.where(self_loop, -1, pidx)
    depth = _depths(pidx)
    fanout = np.bincount(pidx[pidx >= 0], minlength=n)
    n_levels = int(depth.max()) + 1
    levels = np.bincount(depth, minlength=n_levels) / n
    fanouts = tuple(tuple(fanout[depth == d].tolist()) for d in range(n_levels))
    return ForestFit(index, tuple(levels.tolist()), fanouts)


def _depths(pidx: np.ndarray) -> np.ndarray:
    """Depth of each row given its parent row (-1: root), breadth first from the roots."""
    n = len(pidx)
    depth = np.full(n, -1, dtype=np.int64)
    roots = np.nonzero(pidx < 0)[0]
    depth[roots] = 0
    order = np.argsort(pidx, kind="stable")
    sorted_p = pidx[order]
    frontier = roots
    level = 0
    while len(frontier) and level < 10_000:
        lo = np.searchsorted(sorted_p, frontier, side="left")
        hi = np.searchsorted(sorted_p, frontier, side="right")
        lens = hi - lo
        if lens.sum() == 0:
            break
        starts = np.repeat(lo, lens) + (
            np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        )
        children = order[starts]
        children = children[depth[children] < 0]
        level += 1
        depth[children] = min(level, _MAX_LEVELS - 1)
        frontier = children
    depth[depth < 0] = 0  # rows on a source cycle: treated as roots
    return depth


def sample_forest(
    n: int, fit: ForestFit, rng: np.random.Generator, self_loop_roots: bool
) -> np.ndarray:
    """Parent row of each of ``n`` rows (-1 for roots): a forest, level by level."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = allocate(np.asarray(fit.levels, dtype=float), n, rng)
    if sizes[0] == 0:
        sizes[int(np.argmax(sizes))] -= 1
        sizes[0] += 1
    zero = np.nonzero(sizes == 0)[0]
    if len(zero):
        first = int(zero[0])
        sizes[first - 1] += sizes[first:].sum()
        sizes = sizes[:first]
    parent_node = np.full(n, -1, dtype=np.int64)
    start = 0
    fanouts = fit.fanouts
    for lvl in range(1, len(sizes)):
        prev = np.arange(start, start + sizes[lvl - 1])
        start += sizes[lvl - 1]
        fan = np.asarray(fanouts[min(lvl - 1, len(fanouts) - 1)], dtype=np.int64)
        deg = DegreeModel().fit(fan).sample(len(prev), int(sizes[lvl]), rng)
        slots = np.repeat(prev, deg)
        parent_node[start : start + sizes[lvl]] = rng.permutation(slots)
    perm = rng.permutation(n)  # node -> row
    out = np.full(n, -1, dtype=np.int64)
    has = parent_node >= 0
    out[perm[has]] = perm[parent_node[has]]
    if self_loop_roots:
        roots = perm[~has]
        out[roots] = roots
    return out
