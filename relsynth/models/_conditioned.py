"""Ask a conditional WGAN for rows of given categories or ranges (conditional sampling).

CTGAN's conditional vector (:class:`relsynth.models.wgan.ConditionalSampler`) is
trained to give rows *of* a category: for a conditioned batch the critic sees real
rows that have it. So a generator asked with ``Country = Germany`` in every row
draws from the learned ``p(row | Country = Germany)``: the German part of the
source, not the source with the country overwritten. Conditional sampling
(:mod:`relsynth.synthesis._conditional`) uses it as the proposal for a condition
``column = value`` / ``column IN (...)`` on a root table, then still checks every row
(a bucketed rare level, a miss of the generator), so the feed only raises the yield.

Only a model without a parent context takes it: a child's rows are driven by their
parents (its conditional vector is zero at sampling time).

A model fitted with quantile bins (``numeric_bins=True``, :mod:`relsynth.models._bins`)
also takes a numeric range (:func:`numeric_feed`: the bins it covers, weighted by their
share of the training rows inside it); a child's kept rows can be made again with
their own bin asked for, one slot per row (``fed(model, feed, rows=...)``,
:mod:`relsynth.synthesis._refine`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.models._bins import NumericBins

__all__ = [
    "CategoryFeed",
    "Feed",
    "category_feed",
    "column_bins",
    "encode_values",
    "fed",
    "latent_dim",
    "numeric_feed",
    "with_latent",
]


@dataclass(frozen=True)
class Feed:
    """Which conditional-vector slots to set (one per row, drawn by ``weights``)."""

    column: str
    #: positions in the conditional vector: a discrete column's levels, or a continuous
    #: column's quantile bins
    slots: tuple[int, ...]
    weights: tuple[float, ...]
    #: share of the source rows in those slots (the expected yield of a plain sample)
    share: float


#: The feed of a categorical equality or IN (the name before the numeric bins).
CategoryFeed = Feed


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _takes_conditions(model: Any) -> bool:
    return getattr(model, "encoder", None) is not None and callable(
        getattr(model, "_sampling_conditions", None)
    )


def category_feed(model: Any, column: str, values: Sequence[Any]) -> Feed | None:
    """The feed asking ``model`` for rows with ``column`` in ``values``, if it can take one
    (a model without a parent context: a child's rows are driven by their parents)."""
    if not _takes_conditions(model) or getattr(model, "context_encoder", "missing") is not None:
        return None
    offset = 0
    for span, enc in model.encoder.discrete:
        if enc.column != column:
            offset += span.width
            continue
        levels = sorted(
            {
                level
                for level, members in enumerate(enc.members)
                for m in members
                if any(_same(enc.categories[m], v) for v in values)
            }
        )
        if not levels:
            return None
        freq = [float(enc.level_freq[lv]) for lv in levels]
        return Feed(column, tuple(offset + lv for lv in levels), tuple(freq), float(sum(freq)))
    return None


def column_bins(model: Any, column: str) -> tuple[NumericBins, int] | None:
    """``column``'s quantile bins in ``model`` and the position of their first slot in the
    conditional vector; None when it has none, or rebuilds ``column`` after sampling (an
    offset, a rule's column: its learned value is not the one a condition reads)."""
    if not _takes_conditions(model):
        return None
    rebuilt = {o.column for o in getattr(model, "offsets_", [])}
    rebuilt |= {d.column for d in getattr(model, "dependencies_", [])}
    offset = sum(s.width for s, _ in model.encoder.discrete)
    for bins in getattr(model, "bins_", ()):
        if bins.column == column:
            return None if column in rebuilt else (bins, offset)
        offset += bins.width
    return None


def _series(model: Any, column: str, values: Sequence[Any]) -> tuple[Any, pd.Series]:
    enc = next(e for e in model.encoder.encoders if e.column == column)
    kind = "datetime64[ns]" if enc.kind == "datetime" else "float64"
    return enc, pd.Series([np.nan if v is None else v for v in values]).astype(kind)


def encode_values(model: Any, column: str, values: Sequence[Any]) -> np.ndarray:
    """``values`` of a continuous ``column`` in ``model``'s encoded space (quantile rank
    scaled to the generator's range; NULL as the column's median)."""
    enc, series = _series(model, column, values)
    return enc.transform(series, np.random.default_rng(0))[:, 0]


def numeric_feed(model: Any, column: str, low: Any, high: Any) -> Feed | None:
    """The feed asking ``model`` for rows of ``column`` between ``low`` and ``high``
    (None: unbounded) through its quantile bins (:mod:`relsynth.models._bins`), each bin
    weighted by its share of the training rows inside the range; None when
    :func:`column_bins` finds none or the range holds no training row."""
    found = column_bins(model, column)
    if found is None:
        return None
    bins, offset = found
    try:
        enc, series = _series(model, column, [low, high])
        raw = enc._values(series)
        encoded = enc.transform(series, np.random.default_rng(0))[:, 0]
    except (TypeError, ValueError):
        return None
    if (low is not None and raw[0] > enc.max) or (high is not None and raw[1] < enc.min):
        return None  # the range holds no training value
    lo = -1.0 if low is None else float(encoded[0])
    hi = 1.0 if high is None else float(encoded[1])
    edges = np.asarray(bins.edges)
    inside = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
    share = np.asarray(bins.freq) * inside / np.diff(edges)
    levels = np.flatnonzero(share > 1e-9)
    if not len(levels):
        return None
    weights = tuple(float(w) for w in share[levels])
    return Feed(column, tuple(offset + int(lv) for lv in levels), weights, float(sum(weights)))


@contextmanager
def fed(model: Any, feed: Feed, rows: np.ndarray | None = None) -> Iterator[None]:
    """While open, ``model.sample`` asks for ``feed``'s slots in every row (drawn by their
    weights), or for the slot ``rows[i]`` in row ``i`` (one sample of ``len(rows)``)."""
    width = int(model._cond_dim()) if callable(getattr(model, "_cond_dim", None)) else None
    if width is None:
        width = sum(s.width for s, _ in model.encoder.discrete)
    weights = np.asarray(feed.weights, dtype=float)
    p = weights / weights.sum() if weights.sum() > 0 else None

    def conditions(n: int, rng: np.random.Generator) -> np.ndarray:
        cond = np.zeros((n, width), dtype=np.float32)
        if rows is not None:
            assert len(rows) == n, "a per-row feed serves one sample of its rows"
            slot = np.asarray(rows, dtype=np.int64)
        else:
            slot = rng.choice(np.asarray(feed.slots), size=n, p=p)
        cond[np.arange(n), slot] = 1.0
        return cond

    model._sampling_conditions = conditions  # this instance only, for the block
    try:
        yield
    finally:
        del model._sampling_conditions


def latent_dim(model: Any) -> int | None:
    """The width of ``model``'s generator noise when its rows can be drawn from given
    noise (:func:`with_latent`: the conditional WGAN), else None."""
    dim = getattr(model, "embedding_dim", None)
    if getattr(model, "generator_", None) is None or not callable(getattr(model, "_forward", None)):
        return None
    return int(dim) if isinstance(dim, int) and dim > 0 else None


@contextmanager
def with_latent(model: Any, z: np.ndarray) -> Iterator[None]:
    """While open, ``model.sample`` takes its generator noise from ``z`` (rows in order)
    instead of drawing it from the standard normal: the proposal of an importance sampler
    (:mod:`relsynth.synthesis._proposal`). Everything else is drawn as usual."""
    import torch

    used = [0]

    def draw(n: int) -> torch.Tensor:
        lo = used[0]
        used[0] += n
        return torch.from_numpy(np.ascontiguousarray(z[lo : lo + n], dtype=np.float32))

    model._sampling_latent = draw  # this instance only, for the block
    try:
        yield
    finally:
        del model._sampling_latent
