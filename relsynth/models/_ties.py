"""Point masses tied across the columns of a row (``A = a`` exactly when ``B = b``).

Two columns of a row often share a special value: a calm hour has wind speed 0 and
wind direction 0, and no other hour has either; a free item has price 0 and discount 0.
Each value is a point mass of its column, which the encoders and the calibration keep
in share, but whether the two fall on the same rows is left to training, and a
minute of it keeps it loosely: the synthetic weather had ``wind_dir = 0`` with a
non-zero speed on 8 % of the rows, which never happens in the source.

:func:`find_ties` takes the values that hold at least 0.5 % of a column's set rows
(20 rows at least) of every number and category, and keeps a pair ``(A = a, B = b)``
of two columns when each implies the other on at least :data:`MIN_SHARE` of the rows
where both columns are set. The *target* of a tie is the column with fewer distinct
values (``wind_dir``), the other one decides (``wind_speed``), unless only the target
decides a NULL rule (``keep``: a value a rule was given must not move after it); a
column is the target of one tie at most and never decides another.

:func:`apply_ties` enforces each tie exactly after sampling: rows whose deciding
column has its value get the target's value; rows that have the target's value
without it get a new target value, drawn from the target's quantiles (without the
tied value) in the deciding column's bin (:class:`~relsynth.models._nulls.Bins`),
or, for a category, from its other levels' shares. Both columns' shares stay the
generated ones (the calibrated, source shares), so the marginals move by the few
rows that broke the tie. The state is values, bins and quantiles: no source row.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.models._nulls import (
    Bins,
    bin_quantiles,
    candidate_bins,
    draw,
    finished,
    numbers,
    text,
)
from relsynth.models.offsets import Offset, _bounds

__all__ = ["MIN_SHARE", "Tie", "apply_ties", "find_ties"]

#: A tie is kept when each side implies the other on this share of the rows.
MIN_SHARE = 0.99
_MIN_POINT_SHARE = 0.005
_MIN_ROWS = 20
_MAX_POINTS = 60
_SEARCH_ROWS = 20_000
_SPLIT_SEED = 20_131_233


def _same(series: pd.Series, value: Any, numeric: bool) -> np.ndarray:
    if numeric:
        x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(x == float(value))
    return np.asarray(text(series).to_numpy(dtype=object) == str(value)) & series.notna().to_numpy()


@dataclass
class Tie:
    """``column = value`` exactly when ``given = given_value``; other values of
    ``column`` come from ``quantiles`` (a number) or ``levels``/``shares`` (a category)
    per bin of ``given``."""

    column: str
    value: Any
    given: Bins
    given_value: Any
    numeric: bool
    given_numeric: bool
    share: float
    quantiles: list[list[float]]
    levels: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()
    finish: Offset | None = None

    def describe(self) -> str:
        """One line for people: ``wind_dir = 0 iff wind_speed = 0 (100.0 %)``."""
        return (
            f"{self.column} = {self.value} iff {self.given.column} = {self.given_value} "
            f"({self.share:.1%} of rows)"
        )

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "column": self.column,
            "value": self.value,
            "given": self.given.state(),
            "given_value": self.given_value,
            "numeric": bool(self.numeric),
            "given_numeric": bool(self.given_numeric),
            "share": float(self.share),
            "quantiles": [[float(v) for v in q] for q in self.quantiles],
            "levels": list(self.levels),
            "shares": [float(s) for s in self.shares],
            "finish": None if self.finish is None else self.finish.state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Tie:
        """Rebuild from :meth:`state`."""
        finish = state.get("finish")
        return cls(
            str(state["column"]),
            state["value"],
            Bins.from_state(state["given"]),
            state["given_value"],
            bool(state["numeric"]),
            bool(state["given_numeric"]),
            float(state["share"]),
            [[float(v) for v in q] for q in state["quantiles"]],
            tuple(str(v) for v in state["levels"]),
            tuple(float(s) for s in state["shares"]),
            None if finish is None else Offset.from_state(finish),
        )


def _codes(series: pd.Series, numeric: bool) -> tuple[np.ndarray, list[Any]]:
    """The column's point masses (values of at least 0.5 % of the set rows and 20 rows,
    the :data:`_MAX_POINTS` most frequent) and each row's code among them (-1: other)."""
    set_ = series.dropna()
    keyed = series.astype(float) if numeric else text(series)
    counts = (set_.astype(float) if numeric else text(set_)).value_counts()
    need = max(_MIN_ROWS, _MIN_POINT_SHARE * len(set_))
    points = counts[counts >= need].index[:_MAX_POINTS].tolist()
    lookup = {p: i for i, p in enumerate(points)}
    codes = keyed.map(lookup).fillna(-1).to_numpy(dtype=np.int64)
    return codes, [float(p) if numeric else str(p) for p in points]


def _fill_model(
    table: pd.DataFrame, column: str, value: Any, numeric: bool, given: Bins
) -> tuple[list[list[float]], tuple[str, ...], tuple[float, ...], Offset | None]:
    """How the target's other values are drawn: quantiles per bin, or level shares."""
    series = table[column]
    if numeric:
        x = numbers(series)
        assert x is not None
        other = np.where(x == float(value), np.nan, x)
        bins = given.of(table[given.column])
        finish = Offset(column, "__null_rule", str(series.dtype), "difference",
                        **_bounds(x, False))  # fmt: skip
        return bin_quantiles(other, bins, given.size), (), (), finish
    counts = text(series.dropna())
    counts = counts[counts != str(value)].value_counts(normalize=True)
    return [], tuple(counts.index.tolist()), tuple(counts.to_numpy(dtype=float).tolist()), None


def find_ties(
    table: pd.DataFrame,
    *,
    excluded: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
    keep: Sequence[str] = (),
) -> list[Tie]:
    """The tied point masses of ``table`` (see the module docstring); ``excluded``
    columns take part in none, ``keep`` columns (what NULL rules are given) decide
    rather than follow when they can. Larger tables are searched on a subsample drawn
    from a fixed seed of its own (the model's stream is left alone)."""
    kinds = dict(kinds or {})
    if len(table) > _SEARCH_ROWS:
        rng = np.random.default_rng(_SPLIT_SEED)
        table = table.iloc[np.sort(rng.choice(len(table), _SEARCH_ROWS, replace=False))]
    bins = candidate_bins(table, kinds, excluded)
    numeric = {c: bool(b.levels == () and numbers(table[c]) is not None) for c, b in bins.items()}
    coded = {c: _codes(table[c], numeric[c]) for c in bins}
    found = []
    for a, b in itertools.combinations(sorted(coded), 2):
        (ca, pa), (cb, pb) = coded[a], coded[b]
        if not pa or not pb:
            continue
        both = table[a].notna().to_numpy() & table[b].notna().to_numpy()
        ka, kb = len(pa) + 1, len(pb) + 1  # the last code: any other value
        cells = np.bincount((ca[both] % ka) * kb + cb[both] % kb, minlength=ka * kb)
        table_ab = cells.reshape(ka, kb)[:-1, :-1].astype(float)
        rows, cols = table_ab.sum(axis=1), table_ab.sum(axis=0)
        n_a = np.bincount(ca[both] % ka, minlength=ka)[:-1]
        n_b = np.bincount(cb[both] % kb, minlength=kb)[:-1]
        for i, j in zip(*np.nonzero(table_ab >= _MIN_ROWS), strict=True):
            share = min(table_ab[i, j] / n_a[i], table_ab[i, j] / n_b[j])
            if share >= MIN_SHARE and rows[i] and cols[j]:
                found.append((float(share), a, pa[i], b, pb[j]))
    ties: list[Tie] = []
    targets: set[str] = set()
    deciders: set[str] = set()
    for share, a, pa, b, pb in sorted(found, key=lambda f: (-f[0], f[1], f[3], str(f[2]))):
        na, nb = (a in keep, table[a].nunique(), a), (b in keep, table[b].nunique(), b)
        (t, pt), (d, pd_) = ((a, pa), (b, pb)) if na <= nb else ((b, pb), (a, pa))
        if t in targets or t in deciders or d in targets:
            continue
        quantiles, levels, shares, finish = _fill_model(table, t, pt, numeric[t], bins[d])
        ties.append(Tie(t, pt, bins[d], pd_, numeric[t], numeric[d], share, quantiles,
                        levels, shares, finish))  # fmt: skip
        targets.add(t)
        deciders.add(d)
    return ties


def apply_ties(frame: pd.DataFrame, ties: Sequence[Tie], rng: np.random.Generator) -> pd.DataFrame:
    """Enforce each tie exactly (in place; see the module docstring)."""
    for t in ties:
        if t.column not in frame.columns or t.given.column not in frame.columns:
            continue
        given = frame[t.given.column]
        both = frame[t.column].notna().to_numpy() & given.notna().to_numpy()
        on = _same(given, t.given_value, t.given_numeric) & both
        broken = _same(frame[t.column], t.value, t.numeric) & both & ~on
        if not on.any() and not broken.any():
            continue
        if t.numeric:
            own = pd.to_numeric(frame[t.column], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan, copy=True
            )
            own[on] = float(t.value)
            if broken.any():
                bins = t.given.of(given)[broken]
                own[broken] = draw(t.quantiles, bins, rng.random(int(broken.sum())))
            assert t.finish is not None
            frame[t.column] = finished(frame, t.column, own, t.finish)
            continue
        col = frame[t.column].astype(object).to_numpy(copy=True)
        template = frame[t.column].dropna()
        cast = type(template.iloc[0]) if len(template) else str
        col[on] = _as(t.value, cast)
        if broken.any() and t.levels:
            pick = rng.choice(len(t.levels), int(broken.sum()), p=np.asarray(t.shares))
            col[broken] = [_as(t.levels[i], cast) for i in pick]
        frame[t.column] = pd.Series(col, index=frame.index).astype(frame[t.column].dtype)
    return frame


def _as(value: Any, cast: type) -> Any:
    """A stored level (text) as the column's own type when it converts."""
    try:
        return cast(value)
    except (TypeError, ValueError):
        return value
