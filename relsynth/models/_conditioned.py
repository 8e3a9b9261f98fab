"""Ask a root table's conditional WGAN for rows of given categories (conditional sampling).

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
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CategoryFeed", "category_feed", "fed", "latent_dim", "with_latent"]


@dataclass(frozen=True)
class CategoryFeed:
    """Which conditional-vector slots to set: discrete column ``index``, its ``levels``."""

    column: str
    index: int
    levels: tuple[int, ...]
    #: share of the source rows in those levels (the expected yield of a plain sample)
    share: float


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def category_feed(model: Any, column: str, values: Sequence[Any]) -> CategoryFeed | None:
    """The feed asking ``model`` for rows with ``column`` in ``values``, if it can take one."""
    encoder = getattr(model, "encoder", None)
    if (
        encoder is None
        or getattr(model, "context_encoder", "missing") is not None
        or not callable(getattr(model, "_sampling_conditions", None))
    ):
        return None
    for index, (_, enc) in enumerate(encoder.discrete):
        if enc.column != column:
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
        share = float(sum(enc.level_freq[lv] for lv in levels))
        return CategoryFeed(column, index, tuple(levels), share)
    return None


@contextmanager
def fed(model: Any, feed: CategoryFeed) -> Iterator[None]:
    """While open, ``model.sample`` asks for ``feed``'s levels in every row."""
    spans = [s for s, _ in model.encoder.discrete]
    offsets = np.concatenate([[0], np.cumsum([s.width for s in spans])]).astype(int)
    _, enc = model.encoder.discrete[feed.index]
    weights = np.asarray([enc.level_freq[lv] for lv in feed.levels], dtype=float)
    weights = weights / weights.sum() if weights.sum() > 0 else None

    def conditions(n: int, rng: np.random.Generator) -> np.ndarray:
        cond = np.zeros((n, int(offsets[-1])), dtype=np.float32)
        level = rng.choice(np.asarray(feed.levels), size=n, p=weights)
        cond[np.arange(n), offsets[feed.index] + level] = 1.0
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
