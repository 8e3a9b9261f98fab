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
column. Pure pandas/numpy; the state is plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds

__all__ = ["Offset", "apply_offsets", "find_offsets", "restore_offsets"]

_MIN_ROWS = 50
_MIN_ORDERED = 0.99
_MIN_SHARED = 0.5
_MAX_SPREAD = 0.5


@dataclass(frozen=True)
class Offset:
    """``column`` is learned as seconds after ``anchor``; ``dtype`` is restored."""

    column: str
    anchor: str
    dtype: str

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {"column": self.column, "anchor": self.anchor, "dtype": self.dtype}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Offset:
        """Rebuild from :meth:`state`."""
        return cls(str(state["column"]), str(state["anchor"]), str(state["dtype"]))


def _iqr(values: np.ndarray) -> float:
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return float(q3 - q1)


def find_offsets(table: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> list[Offset]:
    """Anchors for the datetime columns of ``table`` (see the module docstring).

    Columns whose kind ``kinds`` sets to something other than datetime are left alone.
    """
    kinds = dict(kinds or {})
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
            if a == b or a in derived:
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


def apply_offsets(table: pd.DataFrame, offsets: list[Offset]) -> pd.DataFrame:
    """A copy of ``table`` with each offset column replaced by its gap in seconds."""
    if not offsets:
        return table
    out = table.copy()
    for o in offsets:
        out[o.column] = datetime_seconds(table[o.column]) - datetime_seconds(table[o.anchor])
    return out


def restore_offsets(frame: pd.DataFrame, offsets: list[Offset]) -> pd.DataFrame:
    """Rebuild each offset column (in place) as anchor + gap, in its original dtype."""
    for o in offsets:
        gap = pd.to_numeric(frame[o.column], errors="coerce").to_numpy(dtype=float)
        anchor = datetime_seconds(frame[o.anchor])
        total = np.round((anchor + gap) * 1e6)
        missing = np.isnan(total)
        stamps = pd.Series(
            np.where(missing, 0, total).astype("int64").astype("datetime64[us]"), index=frame.index
        ).where(~missing)
        dtype = pd.api.types.pandas_dtype(o.dtype)
        if isinstance(dtype, pd.DatetimeTZDtype):
            frame[o.column] = stamps.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
        else:
            frame[o.column] = stamps.astype(dtype)
    return frame
