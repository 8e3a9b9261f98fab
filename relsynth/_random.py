"""Randomness: one ``seed`` drives everything, no global RNG state is touched.

``SeedLike`` is ``int | numpy.random.Generator | None``. Independent streams (one
per table and stage) are derived with :class:`numpy.random.SeedSequence` so that
adding a table does not change the numbers another table receives.
"""

from __future__ import annotations

import zlib

import numpy as np

from relsynth._typing import SeedLike
from relsynth.errors import ParameterError

__all__ = ["as_generator", "child_seed", "spawn", "stream"]


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``seed`` (a new one for ints and None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and int(seed) < 0:
            raise ParameterError(f"The 'seed' parameter must be a non-negative int. Got {seed}.")
        return np.random.default_rng(None if seed is None else int(seed))
    raise ParameterError(
        "The 'seed' parameter must be an int, a numpy.random.Generator or None. "
        f"Got {type(seed).__name__} instead."
    )


def spawn(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """Derive ``n`` independent generators from ``seed``."""
    return as_generator(seed).spawn(n)


def child_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit integer seed (for torch generators) from ``rng``."""
    return int(rng.integers(0, 2**63 - 1))


def stream(seed: SeedLike, *names: str) -> np.random.Generator:
    """Return a generator for a named stage, e.g. ``stream(7, "keys", "orders")``.

    With an int seed the stream depends only on the seed and the names (a stable
    CRC of each name, not Python's salted ``hash``), so the stream for one table
    does not move when another table is added. With a Generator the names are
    mixed into a draw from it; with None the stream is fresh entropy.
    """
    if isinstance(seed, np.random.Generator):
        base = int(seed.integers(0, 2**63 - 1))
    elif seed is None:
        base = int(np.random.SeedSequence().entropy % (2**63))
    else:
        base = int(as_generator(seed).bit_generator.seed_seq.entropy)  # type: ignore[attr-defined]
    words = [zlib.crc32(name.encode("utf-8")) for name in names]
    return np.random.default_rng(np.random.SeedSequence([base, *words]))
