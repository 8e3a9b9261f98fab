"""How the synthesizer splits a table's columns, and reversible value conversions.

Pure helpers used by :mod:`relsynth.synthesis.synthesizer`:

* :func:`table_layout` decides, per table, which columns are keys (the key
  generator's job), which are learned (numbers, categories, datetimes, booleans:
  the table model's job) and which are personal/free text or structured values
  (JSON, arrays, bytes, addresses: generated in the source's shape, never learned
  or copied).
* Clock-time text such as GTFS ``'25:10:00'`` (times past midnight are legal, so
  they cannot be parsed as times of day) is modelled as seconds and formatted back
  in the source's style (zero-padded hours or not).
* :func:`monotone_columns` finds numeric columns that never go backwards within a
  sequence in the source, so the sequence model keeps them ordered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from relsynth.metadata._textformats import looks_like_json
from relsynth.metadata.schema import Column, Metadata
from relsynth.metadata.types import value_format

__all__ = [
    "ClockFormat",
    "TableLayout",
    "clock_format",
    "column_floats",
    "datetime_seconds",
    "format_clock",
    "monotone_columns",
    "parse_clock",
    "table_layout",
]

_CLOCK = re.compile(r"^\d{1,3}:\d{2}:\d{2}$")
_LEARNED_KINDS = ("numerical", "categorical", "datetime", "boolean")


@dataclass(frozen=True)
class ClockFormat:
    """How a clock-time text column is written: ``'06:00:00'`` (padded) or ``'6:00:00'``."""

    padded: bool


@dataclass(frozen=True)
class TableLayout:
    """The role of each column of one table in synthesis.

    ``generated``: learned columns whose synthetic values are mostly new ones (the
    replacements of withheld one-off values, or copies of such a column by a rule:
    Northwind's ``Orders.ShipName`` is its customer's generated ``CompanyName``). What
    such a value told a child's model at fit it does not tell it at sampling, so
    children's contexts leave these columns out (:mod:`relsynth.synthesis._generated`).
    """

    keys: tuple[str, ...]
    learned: tuple[str, ...]
    text: Mapping[str, str] = field(default_factory=dict)  # column -> pii type
    empty: tuple[str, ...] = ()
    clocks: Mapping[str, ClockFormat] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)  # learned column -> kind
    generated: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "keys": list(self.keys),
            "learned": list(self.learned),
            "text": dict(self.text),
            "empty": list(self.empty),
            "clocks": {c: f.padded for c, f in self.clocks.items()},
            "kinds": dict(self.kinds),
            **({"generated": list(self.generated)} if self.generated else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableLayout:
        """Inverse of :meth:`to_dict`."""
        return cls(
            keys=tuple(data["keys"]),
            learned=tuple(data["learned"]),
            text=dict(data["text"]),
            empty=tuple(data["empty"]),
            clocks={c: ClockFormat(bool(p)) for c, p in data["clocks"].items()},
            kinds=dict(data["kinds"]),
            generated=tuple(data.get("generated", ())),  # absent in files saved before
        )


def table_layout(meta: Metadata, name: str, frame: pd.DataFrame) -> TableLayout:
    """Split the columns of ``name`` into keys, learned, text and empty columns."""
    table = meta.table(name)
    keys = meta.key_columns(name)
    learned: list[str] = []
    text: dict[str, str] = {}
    empty: list[str] = []
    clocks: dict[str, ClockFormat] = {}
    kinds: dict[str, str] = {}
    for col in table.columns:
        if col.name in keys:
            continue
        values = frame[col.name] if col.name in frame.columns else pd.Series(dtype=object)
        fmt = clock_format(values) if col.kind in ("categorical", "text", "id") else None
        if fmt is not None:
            clocks[col.name] = fmt
            learned.append(col.name)
            kinds[col.name] = "numerical"
        elif col.kind in _LEARNED_KINDS:
            learned.append(col.name)
            kinds[col.name] = col.kind
        elif col.kind in ("text", "binary"):
            text[col.name] = _text_format(col, values)
        else:  # a non-key opaque id (e.g. a logical reference the schema does not declare)
            learned.append(col.name)
            kinds[col.name] = "categorical"
    return TableLayout(tuple(keys), tuple(learned), text, tuple(empty), clocks, kinds)


def _text_format(col: Column, values: pd.Series) -> str:
    """What a text or binary column is filled with: a structured value format (valid
    JSON, arrays, bytes, addresses), a personal-data type, or free text."""
    fmt = value_format(col.sql_type, col.kind)
    if fmt is None and col.kind == "binary":
        fmt = "binary"
    if fmt is None and col.pii in (None, "free_text") and looks_like_json(values):
        fmt = "json"  # JSON kept in a TEXT column (SQLite, MariaDB's JSON alias)
    return fmt or col.pii or "free_text"


def clock_format(values: pd.Series) -> ClockFormat | None:
    """Return the format if every non-NULL value is clock text like ``'25:10:00'``."""
    present = values.dropna()
    if present.empty or not (
        pd.api.types.is_object_dtype(present.dtype) or pd.api.types.is_string_dtype(present.dtype)
    ):
        return None
    text = present.astype(str).str.strip()
    if not text.str.match(_CLOCK).all():
        return None
    return ClockFormat(padded=bool(text.str.match(r"^\d{2}:").all()))


def parse_clock(values: pd.Series) -> pd.Series:
    """Clock text to seconds (float, NaN for NULL)."""
    parts = values.astype("string").str.strip().str.split(":", expand=True)
    if parts.shape[1] < 3:
        return pd.Series(np.nan, index=values.index, dtype="float64")
    h, m, s = (pd.to_numeric(parts[i], errors="coerce") for i in range(3))
    return (h * 3600 + m * 60 + s).astype("float64")


def datetime_seconds(values: pd.Series) -> np.ndarray:
    """Dates and times as float seconds since the epoch; NaN where missing or unparseable.

    Zoned values count in UTC. Microsecond resolution, so whole seconds come out exact
    (nanoseconds since the epoch do not fit a float's 53 bits).
    """
    stamps = (
        values
        if pd.api.types.is_datetime64_any_dtype(values.dtype)
        else pd.to_datetime(values, errors="coerce")
    )
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    us = stamps.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    out = us.astype("int64").astype(float) / 1e6
    out[np.isnat(us)] = np.nan
    return out


def column_floats(series: pd.Series) -> np.ndarray:
    """A column as floats (datetimes in seconds since the epoch), NaN for NULL and for
    values that are not numbers."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return datetime_seconds(series)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def format_clock(seconds: pd.Series, fmt: ClockFormat) -> pd.Series:
    """Seconds back to clock text in the source's style; NULL stays NULL."""
    arr = pd.to_numeric(seconds, errors="coerce").to_numpy(dtype="float64")
    out = np.full(len(arr), None, dtype=object)
    ok = np.isfinite(arr)
    total = np.round(arr[ok]).astype(np.int64).clip(min=0)
    h, rem = np.divmod(total, 3600)
    m, s = np.divmod(rem, 60)
    width = 2 if fmt.padded else 1
    out[ok] = [f"{a:0{width}d}:{b:02d}:{c:02d}" for a, b, c in zip(h, m, s, strict=True)]
    return pd.Series(out, index=seconds.index, dtype=object)


def monotone_columns(
    frame: pd.DataFrame, columns: Sequence[str], lengths: np.ndarray, *, tolerance: float = 0.99
) -> tuple[str, ...]:
    """Numeric columns that never decrease within (almost) every sequence of ``frame``.

    ``frame`` is sorted sequence after sequence; ``lengths`` gives each sequence's
    row count. NULLs are ignored (a gap is not a step back).
    """
    if len(frame) == 0:
        return ()
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    first = np.zeros(len(frame), dtype=bool)
    first[np.cumsum(lengths)[lengths > 0] - lengths[lengths > 0]] = True
    out = []
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        if not np.isfinite(values).any():
            continue
        filled = pd.Series(values).groupby(starts).ffill().to_numpy()
        step = np.diff(filled, prepend=np.nan)
        valid = ~first & np.isfinite(step)
        if valid.sum() == 0:
            continue
        if (step[valid] >= 0).mean() >= tolerance:
            out.append(col)
    return tuple(out)
