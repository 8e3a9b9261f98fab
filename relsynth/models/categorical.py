"""Encoder of a categorical or boolean column: :class:`CategoricalEncoder` (models).

One-hot with NULL as its own category, rare categories grouped into buckets, distinct
columns decoded under quotas, and values held by fewer than ``min_count`` rows withheld
(:mod:`relsynth.models._rare`). Pure numpy/pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from relsynth.models._rare import _digests
from relsynth.models.columns import _one_hot, _to_python, is_distinct

__all__ = ["CategoricalEncoder"]


class CategoricalEncoder:
    """One-hot encode a categorical or boolean column, NULL as its own category.

    Categories rarer than ``rare_fraction`` of the rows, and every category beyond the
    ``max_levels - 16`` most frequent ones, are grouped into at most 16 frequency-ranked
    buckets of roughly equal mass; a generated bucket is decoded by sampling one of its
    members in proportion to their observed frequencies. A 5,000-category column thus
    costs a ``max_levels``-wide one-hot at most, and only ever yields observed values.

    A column whose values are (nearly) all distinct in the data, such as the names of
    airlines or airports (at least two values, and at least ``DISTINCT_SHARE`` times
    as many values as non-NULL rows), is *distinct*: decoding then uses each
    value at most ``ceil(count * n_decoded / n_data)`` times (``count`` its number of
    rows in the data, the ``n`` counting non-NULL rows), so that a sample no larger
    than the data repeats a value no more often than the data do. A row keeps the value
    it was generated with while that value's quota lasts; the others take the values
    least used relative to their count, at random among equals.

    With ``min_count = k >= 2`` (the models' ``min_category_count``; the synthesizer's
    default is 2), values held by fewer than ``k`` rows are
    *withheld*: folded into one extra *other* level (the last), left out of the state,
    and decoded into replacements (see :mod:`relsynth.models._rare`). ``withheld``
    counts them.
    """

    def __init__(
        self,
        column: str,
        kind: str = "categorical",
        *,
        max_levels: int = 200,
        rare_fraction: float = 0.001,
        min_count: int = 1,
    ) -> None:
        self.column = column
        self.kind = kind
        self.max_levels = max_levels
        self.rare_fraction = rare_fraction
        self.min_count = int(min_count)

    def fit(self, series: pd.Series, rng: np.random.Generator | None = None) -> CategoricalEncoder:
        """Learn the categories and their frequencies (``rng`` salts withheld digests)."""
        self.dtype = str(series.dtype)
        if isinstance(series.dtype, pd.CategoricalDtype):
            self.dtype = str(series.dtype.categories.dtype)
        counts = series.astype(object).where(series.notna(), None).value_counts(dropna=False)
        counts = counts.sort_values(ascending=False, kind="stable")
        counts, n_other = self._withhold(series, counts, rng)
        self.categories = [_to_python(v) for v in counts.index]
        freq = counts.to_numpy(dtype=float)
        n = max(freq.sum() + n_other, 1.0)
        n_single = min(len(freq), max(self.max_levels - 16, 1))
        single = np.arange(len(freq)) < n_single
        single &= freq >= self.rare_fraction * n
        single[:1] = True
        self.members: list[list[int]] = [[i] for i in np.flatnonzero(single).tolist()]
        self.member_probs: list[list[float]] = [[1.0] for _ in self.members]
        tail = np.flatnonzero(~single)
        if len(tail):
            mass = freq[tail].cumsum() - freq[tail]
            n_buckets = min(16, -(-len(tail) // 8))  # about 8+ categories per bucket
            bucket = np.floor(mass / freq[tail].sum() * n_buckets).astype(int)
            for b in np.unique(bucket):
                idx = tail[bucket == b]
                self.members.append(idx.tolist())
                self.member_probs.append((freq[idx] / freq[idx].sum()).tolist())
        self.level_freq = [float(freq[m].sum() / n) for m in self.members]
        self.other_level = None
        if n_other:
            self.other_level = len(self.members)
            self.members.append([])
            self.member_probs.append([])
            self.level_freq.append(float(n_other / n))
        self.distinct = is_distinct(series)
        self.counts = freq.tolist() if self.distinct else None
        return self

    def _withhold(
        self, series: pd.Series, counts: pd.Series, rng: np.random.Generator | None
    ) -> tuple[pd.Series, int]:
        """Drop the values held by fewer than ``k`` rows; return the rest and their rows."""
        from relsynth.models._rare import fit_replacement

        self.withheld, self.other = 0, None
        if self.min_count <= 1 or self.kind == "boolean":
            return counts, 0
        rare = (counts < self.min_count) & pd.notna(counts.index.to_series()).to_numpy()
        if not rare.any():
            return counts, 0
        kept = counts[~rare]
        self.withheld = int(rare.sum())
        string_like = not pd.api.types.is_numeric_dtype(series.dtype)  # booleans too
        n_kept = int(pd.notna(kept.index.to_series()).sum())
        self.other = fit_replacement(
            self.column,
            counts.index[rare].to_series(),
            n_kept,
            string_like,
            rng if rng is not None else np.random.default_rng(),
            rare_share=float(counts[rare].sum() / max(counts.sum(), 1)),
            min_count=self.min_count,
        )
        return kept, int(counts[rare].sum())

    def spans(self) -> list[tuple[int, str, str]]:
        """(width, activation, role) of each output span."""
        return [(len(self.members), "softmax", "category")]

    def _lookup(self) -> dict[Any, int]:
        table: dict[Any, int] = {}
        for level, members in enumerate(self.members):
            for m in members:
                table[self.categories[m]] = level
        return table

    def levels_of(self, series: pd.Series) -> np.ndarray:
        """Level index of each value.

        Each distinct value is looked up once (a context column of a large sample
        repeats a few hundred values over every row), NULLs as ``None``. A value not
        seen at fit (a parent's generated name, in a child's context) is a withheld one
        where the encoder withheld values (the *other* level); else it takes a level
        drawn in proportion to the levels' shares by a digest of the value, so that the
        same value always takes the same level. Mapping them all to the most frequent
        level made every synthetic GTFS route look like the source's busiest one to the
        model of its trips (route names are withheld one-offs, generated anew).
        """
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        distinct = pd.Series([*pd.Series(uniques).astype(object), None], dtype=object)
        mapped = distinct.map(self._lookup())
        other = getattr(self, "other_level", None)  # withheld values: the other level
        unseen = mapped.isna().to_numpy()
        if other is not None:
            mapped[unseen] = other
        elif unseen.any():
            mapped[unseen] = _spread(distinct[unseen], self.level_freq)
        return mapped.to_numpy(dtype=np.int64)[codes]  # the NULL code, -1: None's

    def transform(self, series: pd.Series, rng: np.random.Generator | None = None) -> np.ndarray:
        """One-hot block ``(n, n_levels)``."""
        del rng
        return _one_hot(self.levels_of(series), len(self.members))

    def parts(self, series: pd.Series, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """``series`` encoded compactly: the level of each value (the one-hot's one)."""
        del rng
        return [self.levels_of(series)]

    def inverse(self, block: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Decode a hard one-hot block into a Series of observed categories."""
        level = block.argmax(axis=1)
        cats = np.empty(len(self.categories), dtype=object)
        cats[:] = self.categories
        codes = np.zeros(len(level), dtype=np.int64)
        for lv, (members, probs) in enumerate(zip(self.members, self.member_probs, strict=True)):
            rows = np.flatnonzero(level == lv)
            if len(rows) == 0:
                continue
            if lv == self.other_level:
                codes[rows] = -1
            elif len(members) == 1:
                codes[rows] = members[0]
            else:
                codes[rows] = rng.choice(members, size=len(rows), p=probs)
        kept = codes >= 0
        if self.distinct and kept.any():
            codes[kept] = self._spread(codes[kept], rng)
        out = np.empty(len(codes), dtype=object)
        out[kept] = cats[codes[kept]]
        if not kept.all():
            out[~kept] = self._replacements(int((~kept).sum()), rng)
        return self._restore(out)

    def _replacements(self, n: int, rng: np.random.Generator) -> list[Any]:
        from relsynth.models._rare import draw_replacements

        share = np.zeros(len(self.categories))
        for freq, members, probs in zip(
            self.level_freq, self.members, self.member_probs, strict=True
        ):
            share[members] += np.asarray(probs, dtype=float) * freq
        valued = [i for i, c in enumerate(self.categories) if c is not None]
        kept = [self.categories[i] for i in valued]
        return draw_replacements(self.other or {}, n, rng, kept, share[valued].tolist())

    def _spread(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Re-assign the over-quota repeats of a distinct column's values (see the class)."""
        valued = np.array([c is not None for c in self.categories])
        counts = np.where(valued, np.asarray(self.counts, dtype=float), 0.0)
        rows = rng.permutation(np.flatnonzero(valued[codes]))  # random: who keeps its value
        if len(rows) == 0:
            return codes
        quota = np.ceil(counts * len(rows) / counts.sum()).astype(np.int64)
        by_value = np.argsort(codes[rows], kind="stable")
        sorted_codes = codes[rows][by_value]
        rank = np.empty(len(rows), dtype=np.int64)  # earlier draws of the same value
        rank[by_value] = np.arange(len(rows)) - np.searchsorted(sorted_codes, sorted_codes)
        keep = rank < quota[codes[rows]]
        moved = rows[~keep]
        if len(moved) == 0:
            return codes
        taken = np.bincount(codes[rows[keep]], minlength=len(self.categories))
        room = quota - taken
        slot_value = np.repeat(np.arange(len(room)), room)
        slot_use = np.repeat(taken, room) + (
            np.arange(room.sum()) - np.repeat(np.cumsum(room) - room, room)
        )
        fill = slot_use / counts[slot_value]  # least used relative to its count first
        pick = np.lexsort((rng.random(len(slot_value)), fill))[: len(moved)]
        codes = codes.copy()
        codes[moved] = slot_value[pick]
        return codes

    def _restore(self, values: np.ndarray) -> pd.Series:
        null = pd.isna(values)
        dtype = pd.api.types.pandas_dtype(self.dtype)
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            if null.any() and not pd.api.types.is_extension_array_dtype(dtype):
                if pd.api.types.is_bool_dtype(dtype):
                    return pd.Series(pd.array(values.tolist(), dtype="boolean"))
                if pd.api.types.is_integer_dtype(dtype):
                    return pd.Series(pd.array(values.tolist(), dtype="Int64"))
                return pd.Series(np.where(null, np.nan, values).astype(float))
            return pd.Series(pd.array(values.tolist(), dtype=dtype))
        if dtype == np.dtype(object):
            return pd.Series(values, dtype=object)
        return pd.Series(values).astype(dtype)

    _STATE = (
        "column",
        "kind",
        "max_levels",
        "rare_fraction",
        "dtype",
        "categories",
        "members",
        "member_probs",
        "level_freq",
        "distinct",
        "counts",
        "min_count",
        "withheld",
        "other_level",
        "other",
    )
    #: State keys added later, with the value a file saved before them means.
    _ADDED: ClassVar[dict[str, Any]] = {
        "distinct": False,
        "counts": None,
        "min_count": 1,
        "withheld": 0,
        "other_level": None,
        "other": None,
    }

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {"type": "categorical", **{k: getattr(self, k) for k in self._STATE}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> CategoricalEncoder:
        """Rebuild from :meth:`state`."""
        enc = cls(state["column"], state["kind"])
        for k in cls._STATE:
            # files saved before distinct columns were recognised have neither key
            setattr(enc, k, state.get(k, cls._ADDED[k]) if k in cls._ADDED else state[k])
        return enc


def _spread(values: pd.Series, shares: Sequence[float]) -> np.ndarray:
    """A level per value, drawn in proportion to ``shares`` by the value's digest (the
    same value, in any process, always takes the same level)."""
    u = (np.asarray(_digests([str(v) for v in values], b""), dtype=float) + 2.0**63) / 2.0**64
    cdf = np.cumsum(np.asarray(shares, dtype=float))
    return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), len(cdf) - 1)
