"""One-off categories are withheld: a value held by fewer than k rows is never emitted.

A categorical value that only one source row holds (a home town, a company, a rare
diagnosis) is a quasi-identifier: emitting it verbatim points at that row. When
:class:`~relsynth.models.encoding.CategoricalEncoder` is fitted with ``min_count=k >= 2``
(a table model's ``min_category_count``, which the :class:`~relsynth.Synthesizer` sets
for every learned table, 2 by default), the values
held by fewer than ``k`` rows are folded into one *other* level at fit time and are
not kept in the encoder's state. A generated *other* level is decoded into a
replacement drawn by :func:`draw_replacements`:

* ``"faker"``: a value from Faker when the column's name says what it holds (``city``,
  ``company``, ``country``, ``first_name``... see
  :func:`relsynth.metadata.infer.pii_from_name`), so the frequent values keep exactly
  their share;
* ``"frequent"``: otherwise one of the kept values, in proportion to their counts,
  so the kept values keep their relative shares;
* ``"words"``/``"digits"``: when no value is held by ``k`` rows, or (text) when the
  withheld values hold at least half of the rows (a column of names, nearly every one
  distinct: airports' names), new names of the source's word counts that end in the
  last words at least ``k`` names share (``Airport``, ``Field``; no name is kept), or
  numbers of its typical digit count; the kept values keep their own shares.

A replacement that equals a withheld value (compared by salted 64-bit BLAKE2b
digest, as for personal text) is replaced by a kept value or a new word. The
encoder's state keeps only the number of values withheld, their digests, the salt,
and the typical word or digit count.

The threshold is an explicit parameter: ``TableEncoder(min_count=k)``, a table
model's ``min_category_count`` (None: 1 on its own, the synthesizer's value inside a
:class:`~relsynth.Synthesizer`), and ``find_dependencies(min_count=k)`` (lookup tables
leave out what the encoders withhold). ``k = 1`` withholds nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from relsynth._random import child_seed

__all__ = ["draw_replacements", "fit_replacement"]

#: pii kinds whose replacements come from Faker.
_FAKER_PII = frozenset(
    {"city", "country", "company", "first_name", "last_name", "name", "street", "postcode"}
)

#: a text column whose withheld values hold at least this share of its rows is a column
#: of names (airports.name: 1,426 of 1,458 rows): new names replace them, so the few kept
#: values keep their own share instead of standing in for the whole column.
_NAMES_SHARE = 0.5


def _digests(values: Sequence[str], salt: bytes) -> list[int]:
    out = []
    for value in values:
        h = hashlib.blake2b(value.encode("utf-8"), digest_size=8, key=salt).digest()
        out.append(int.from_bytes(h, "little", signed=True))
    return out


def fit_replacement(
    column: str,
    rare: pd.Series,
    n_kept: int,
    string_like: bool,
    rng: np.random.Generator,
    *,
    rare_share: float = 0.0,
    min_count: int = 2,
) -> dict[str, Any]:
    """How to replace the withheld values ``rare`` (distinct, non-NULL) of ``column``,
    which hold ``rare_share`` of its rows (``min_count``: the withholding threshold k).

    Returns a JSON-able dict that holds no withheld value (see the module docstring).
    """
    from relsynth.metadata.infer import pii_from_name

    salt = bytes(rng.integers(0, 256, 16, dtype=np.uint8))
    text = [str(v) for v in rare.tolist()]
    state: dict[str, Any] = {
        "salt": salt.hex(),
        "digests": sorted(set(_digests(text, salt))),
    }
    pii = pii_from_name(column) if string_like else None
    if pii in _FAKER_PII:
        return {**state, "method": "faker", "pii": pii}
    if n_kept > 0 and not (string_like and rare_share >= _NAMES_SHARE):
        return {**state, "method": "frequent"}
    if string_like:
        return {**state, "method": "words", **_word_shape(text, min_count)}
    digits = [len(t.split(".")[0].lstrip("-")) for t in text] or [1]
    return {**state, "method": "digits", "digits": max(1, int(np.median(digits)))}


def _word_shape(text: Sequence[str], k: int) -> dict[str, Any]:
    """The shape of a column of distinct names: how many words they have, and the last
    words that at least ``k`` (>= 2) of them share (``Airport``, ``Inc``, ``Street``).
    A word so shared is held by ``k`` rows, so it identifies none; no name is kept."""
    tokens = [t.split() for t in text]
    words = [len(t) for t in tokens] or [1]
    lasts = Counter(t[-1] for t in tokens if len(t) >= 2)  # a suffix after a word
    suffixes = {w: c for w, c in sorted(lasts.items()) if c >= max(k, 2)}
    return {
        "words": int(np.median(words)) or 1,
        "lengths": {str(n): c for n, c in sorted(Counter(words).items()) if n > 0},
        "suffixes": suffixes,
        # the share of the names of two words or more that end in a shared word
        "suffixed": sum(suffixes.values()) / max(sum(len(t) >= 2 for t in tokens), 1),
    }


def draw_replacements(
    state: Mapping[str, Any],
    n: int,
    rng: np.random.Generator,
    kept: Sequence[Any],
    kept_counts: Sequence[float],
) -> list[Any]:
    """``n`` replacement values for generated *other* levels (never a withheld value)."""
    if n == 0:
        return []
    method = state.get("method", "frequent")
    if method == "frequent" and len(kept):
        return _frequent(n, rng, kept, kept_counts)
    if method == "digits":
        high = 10 ** int(state.get("digits", 1))
        values: list[Any] = rng.integers(high // 10, high, n).tolist()
    else:
        values = _fake(state, n, rng)
    salt = bytes.fromhex(str(state["salt"]))
    withheld = set(state.get("digests", []))
    clash = [i for i, d in enumerate(_digests([str(v) for v in values], salt)) if d in withheld]
    if clash and method == "digits":
        # numbers stay numbers: step a clashing value up until it is no withheld value
        # (the withheld set is finite, so this ends)
        for i in clash:
            while _digests([str(values[i])], salt)[0] in withheld:
                values[i] += 1
        return values
    if clash:
        fill = (
            _frequent(len(clash), rng, kept, kept_counts)
            if len(kept)
            else [f"{values[i]} {j + 2}" for j, i in enumerate(clash)]
        )
        for i, v in zip(clash, fill, strict=True):
            values[i] = v
    return values


def _frequent(
    n: int, rng: np.random.Generator, kept: Sequence[Any], kept_counts: Sequence[float]
) -> list[Any]:
    p = np.asarray(kept_counts, dtype=float)
    pick = rng.choice(len(kept), size=n, p=p / p.sum())
    return [kept[i] for i in pick]


def _fake(state: Mapping[str, Any], n: int, rng: np.random.Generator) -> list[Any]:
    from faker import Faker

    from relsynth.models.pii import _maker

    fake = Faker()
    fake.seed_instance(child_seed(rng))
    if state.get("method") == "faker":
        make = _maker(str(state["pii"]), fake)
        return [make(0) for _ in range(n)]
    return _names(state, n, rng, fake)


def _names(state: Mapping[str, Any], n: int, rng: np.random.Generator, fake: Any) -> list[str]:
    """New names of the source's word counts, ending in a shared last word as often as
    the source's do (model files from before keep one word count and no suffixes)."""
    lengths = state.get("lengths") or {str(int(state.get("words", 1))): 1}
    sizes = np.array([int(s) for s in lengths])
    counts = np.array(list(lengths.values()), dtype=float)
    size = sizes[rng.choice(len(sizes), size=n, p=counts / counts.sum())]
    suffixes = state.get("suffixes") or {}
    ends = list(suffixes)
    weights = np.array(list(suffixes.values()), dtype=float)
    use = (rng.random(n) < float(state.get("suffixed", 0.0))) & (size >= 2) & bool(ends)
    end = rng.choice(len(ends), size=n, p=weights / weights.sum()) if ends else np.zeros(n, int)
    out = []
    for i in range(n):
        head = [w.capitalize() for w in fake.words(int(size[i]) - int(use[i]))]
        out.append(" ".join([*head, ends[end[i]]] if use[i] else head))
    return out
