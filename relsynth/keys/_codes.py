"""Index spaces and bijections: distinct key values by construction, never by retry.

Used by :mod:`relsynth.keys.ids`: affine bijections ``i -> (a*i + b) mod M`` of an
index space (:func:`bijection`), the same minus excluded values
(:func:`complement_sample`), a keyed bijection of ``[0, 2**62)`` (:func:`mix62`),
mixed-radix codes over per-position alphabets (:func:`decode`, :func:`encode`,
:func:`grow`), and largest-remainder splits (:func:`allocate`).
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import numpy as np

__all__ = [
    "allocate",
    "bijection",
    "complement_sample",
    "coprime",
    "coprime_below",
    "decode",
    "encode",
    "grow",
    "mix62",
    "random_chars",
    "space",
]

_DIGITS = string.digits
MAX_SPACE = 2**31  # index spaces stay below this so a*i fits in int64


def allocate(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``n`` into integer parts proportional to ``weights`` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    if n <= 0 or len(weights) == 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = weights / weights.sum() * n
    base = np.floor(exact).astype(np.int64)
    rest = int(n - base.sum())
    if rest:
        frac = exact - base + rng.random(len(weights)) * 1e-9
        base[np.argsort(-frac, kind="stable")[:rest]] += 1
    return base


def mix62(counter: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """A keyed bijection of ``[0, 2**62)``: odd multiplies and xor-shifts, all invertible."""
    mask = np.uint64(2**62 - 1)
    x = (counter * (keys[0] | np.uint64(1)) + keys[1]) & mask
    x ^= x >> np.uint64(31)
    x = (x * (keys[2] | np.uint64(1))) & mask
    x ^= x >> np.uint64(29)
    return x


def coprime(space: int, rng: np.random.Generator) -> int:
    while True:
        a = int(rng.integers(1, max(space, 2)))
        if math.gcd(a, space) == 1:
            return a


def bijection(n: int, space: int, rng: np.random.Generator, big: bool = False) -> np.ndarray:
    """``n`` distinct integers in ``[0, space)`` as images of ``i -> (a*i + b) mod space``."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if big or space >= MAX_SPACE:
        # Multiply in Python ints chunk-free via object arrays would be slow; instead use a
        # multiplier below 2**31 so a*i stays within int64 for i < 2**31.
        a = coprime_below(space, 2**31, rng)
    else:
        a = coprime(space, rng)
    b = int(rng.integers(0, space if space < 2**63 else 2**62))
    i = np.arange(n, dtype=np.int64)
    return ((a * i) % space + b) % space


def coprime_below(space: int, limit: int, rng: np.random.Generator) -> int:
    while True:
        a = int(rng.integers(1, min(space, limit)))
        if math.gcd(a, space) == 1:
            return a


def complement_sample(
    n: int, lo: int, hi: int, exclude: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``n`` distinct integers of ``[lo, hi]`` not in ``exclude`` (sorted, unique)."""
    exclude = exclude[(exclude >= lo) & (exclude <= hi)] - lo
    space = hi - lo + 1 - len(exclude)
    if space < n:
        exclude = exclude[:0]
        space = hi - lo + 1
    idx = bijection(n, space, rng)
    x = idx.copy()
    for _ in range(64):  # x = idx + #(exclude <= x): the idx-th value not excluded
        nxt = idx + np.searchsorted(exclude, x, side="right")
        if np.array_equal(nxt, x):
            break
        x = nxt
    return lo + x


def space(alphabets: Sequence[str]) -> int:
    out = 1
    for a in alphabets:
        out *= len(a)
    return out


def grow(alphabets: Sequence[str], needed: int) -> list[str]:
    alphabets = list(alphabets)
    while space(alphabets) < needed:
        variable = [a for a in alphabets if len(a) > 1]
        alphabets.append(variable[-1] if variable else _DIGITS)
    return alphabets


def decode(idx: np.ndarray, alphabets: Sequence[str]) -> np.ndarray:
    """Mixed-radix decode of indices into strings (last position varies fastest)."""
    n, width = len(idx), len(alphabets)
    if width == 0:
        return np.full(n, "", dtype=object)
    codes = np.empty((n, width), dtype=np.uint32)
    rest = np.asarray(idx, dtype=np.int64).copy()
    for pos in range(width - 1, -1, -1):
        alph = np.frombuffer(alphabets[pos].encode("utf-32-le"), dtype=np.uint32)
        codes[:, pos] = alph[rest % len(alph)]
        rest //= len(alph)
    return np.ascontiguousarray(codes).view(f"<U{width}").ravel().astype(object)


def encode(values: Sequence[str], alphabets: Sequence[str]) -> np.ndarray:
    out = np.zeros(len(values), dtype=np.int64)
    lookup = [{c: i for i, c in enumerate(a)} for a in alphabets]
    for j, value in enumerate(values):  # learning-time only (source values)
        acc = 0
        for pos, ch in enumerate(value[: len(alphabets)]):
            acc = acc * len(alphabets[pos]) + lookup[pos].get(ch, 0)
        out[j] = acc
    return out


def random_chars(alphabets: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    cols = []
    for alph in alphabets:
        arr = np.frombuffer(alph.encode("utf-32-le"), dtype=np.uint32)
        cols.append(arr[rng.integers(0, len(arr), n)])
    codes = np.ascontiguousarray(np.stack(cols, axis=1)) if cols else np.zeros((n, 0), np.uint32)
    return list(codes.view(f"<U{len(alphabets)}").ravel()) if cols else [""] * n
