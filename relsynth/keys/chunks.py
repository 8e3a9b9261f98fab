"""Key values unique across the chunks of a chunked sample.

A chunked sample (``Synthesizer.sample_chunks``) makes the database as independent
partitions: chunk ``i`` is a small database of its own, whose keys are unique
*within* it. :class:`ChunkKeys` makes them unique across chunks, in the main
process, one chunk after another in chunk order (so the result is a function of the
chunks alone, not of which worker made them or when):

* **numbers, dates and times** (``integer``, ``float``, ``datetime``, ``date_text``
  formats): the chunk's values are moved by one offset so that its smallest value
  comes one step (the format's step) after the largest value of the chunks before
  it. A dense integer surrogate key stays dense: chunk 1 continues where chunk 0
  ended, so the whole output has the key ``1 .. N`` as an unchunked sample would.
* **codes** (``template``, ``prefix_number``, ``uuid``): the values seen so far are
  kept; a chunk's values already taken are replaced by fresh values of the same
  format (drawn from ``rng``, never a taken one nor, where the space allows, a
  source value). This keeps one set of the column's values in memory: about 100
  bytes per distinct value.

Every foreign key column whose values come from a moved or replaced column (its
parent column, or a parent's parent column through composite keys) is mapped the
same way, so the chunk's foreign keys still point at the same rows.

What moves: the key columns the key generator makes (``TableKeys.values``) in the
tables that are not shared. Shared tables (reference tables copied verbatim) are
written once and every chunk points into them unchanged. A key made unique within
a group (``LocalValues``: ``weather.time_hour`` per ``origin``) moves only when no
column of its group already differs between chunks, i.e. when the group is a key
of a shared table (airports); its values then continue after the previous chunk's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from relsynth.keys.columns import LocalValues
from relsynth.keys.generator import KeyGenerator
from relsynth.keys.ids import KeyFormat

__all__ = ["ChunkKeys"]

_NUMERIC = ("integer", "float", "datetime", "date_text")
_MAX_DRAWS = 20


@dataclass
class _Column:
    table: str
    column: str
    format: KeyFormat
    derived: list[tuple[str, str]]  # foreign key columns that carry these values
    top: float | None = None  # numbers: the largest value so far
    seen: set[Any] = field(default_factory=set)  # codes: the values so far


class ChunkKeys:
    """Moves the key values of each chunk past those of the chunks before it.

    Parameters
    ----------
    generator : KeyGenerator
        The fitted key generator (its formats and metadata).
    shared : collection of str
        Tables written once and shared by every chunk (copied reference tables).
    """

    def __init__(self, generator: KeyGenerator, shared: Any = ()) -> None:
        meta = generator.metadata_
        self._shared = set(shared)
        self._fks = list(meta.foreign_keys)
        sources = [
            (t, c, fit)
            for t in generator.plan_.order
            if t not in self._shared
            for c, fit in generator.states_[t].values.items()
        ]
        moved = {(t, c) for t, c, fit in sources if not isinstance(fit, LocalValues)}
        carried = set(moved)
        for t, c in list(moved):
            carried.update(self._derived(t, c))
        self._columns: list[_Column] = []
        for t, c, fit in sources:
            if isinstance(fit, LocalValues) and any((t, g) in carried for g in fit.group):
                continue  # its group already differs between chunks
            self._columns.append(_Column(t, c, fit.format, self._derived(t, c)))

    @property
    def columns(self) -> list[tuple[str, str]]:
        """The ``(table, column)`` pairs whose values are moved, in plan order."""
        return [(k.table, k.column) for k in self._columns]

    def _derived(self, table: str, column: str) -> list[tuple[str, str]]:
        """Every foreign key column that carries the values of ``table.column``."""
        out: list[tuple[str, str]] = []
        todo = [(table, column)]
        while todo:
            parent, pcol = todo.pop()
            for fk in self._fks:
                if fk.parent != parent or pcol not in fk.parent_columns:
                    continue
                child = (fk.child, fk.columns[fk.parent_columns.index(pcol)])
                if child not in out and child != (table, column):
                    out.append(child)
                    todo.append(child)
        return out

    def apply(
        self, frames: Mapping[str, pd.DataFrame], rng: np.random.Generator
    ) -> dict[str, pd.DataFrame]:
        """The next chunk's frames with their keys moved (the first chunk is kept)."""
        out = dict(frames)
        for key in self._columns:
            values = out[key.table][key.column]
            if not len(values):
                continue
            if key.format.kind in _NUMERIC:
                mapping = self._shift(key, values)
            else:
                mapping = self._recode(key, values, rng)
            if mapping is None:
                continue
            for table, column in [(key.table, key.column), *key.derived]:
                if table in self._shared or column not in out[table]:
                    continue
                frame = out[table].copy() if out[table] is frames.get(table) else out[table]
                frame[column] = mapping(frame[column])
                out[table] = frame
        return out

    def _shift(self, key: _Column, values: pd.Series) -> Any:
        numbers, _ = _as_numbers(values, key.format)
        if np.isnan(numbers).all():
            return None
        lo, hi = float(np.nanmin(numbers)), float(np.nanmax(numbers))
        step = 1.0 if key.format.kind == "integer" else float(key.format.params.get("step") or 1)
        if key.top is None:
            key.top = hi
            return None
        delta = key.top + step - lo
        key.top = hi + delta

        def move(series: pd.Series) -> pd.Series:
            nums, to_values = _as_numbers(series, key.format)
            return to_values(nums + delta, series)

        return move

    def _recode(self, key: _Column, values: pd.Series, rng: np.random.Generator) -> Any:
        distinct = pd.unique(values.dropna())
        taken = [v for v in distinct if v in key.seen]
        key.seen.update(distinct)
        if not taken:
            return None
        fresh: list[Any] = []
        for attempt in range(_MAX_DRAWS):
            n = 2 * len(taken) + len(key.seen) // 100 + 16
            draws = key.format.generate(n << attempt, rng)
            fresh = [v for v in pd.unique(draws) if v not in key.seen][: len(taken)]
            if len(fresh) == len(taken):
                break
        if len(fresh) < len(taken):
            raise ValueError(
                f"Key column {key.table}.{key.column}: its format ran out of new values "
                "for a chunk of a chunked sample; use larger chunks (chunk_rows)."
            )
        key.seen.update(fresh)
        table = dict(zip(taken, fresh, strict=True))

        def recode(series: pd.Series) -> pd.Series:
            out = series.copy()
            hit = series.isin(taken).to_numpy()
            out[hit] = series[hit].map(table)
            return out

        return recode


def _as_numbers(values: pd.Series, fmt: KeyFormat) -> tuple[np.ndarray, Any]:
    """``values`` as float numbers, and the function that turns numbers back."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        tz = getattr(values.dtype, "tz", None)
        naive = values.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else values
        nums = naive.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float) / 1e9
        nums[values.isna().to_numpy()] = np.nan

        def to_stamps(x: np.ndarray, like: pd.Series) -> pd.Series:
            out = pd.Series(pd.to_datetime(np.round(x * 1e9), unit="ns"), index=like.index)
            out = out.dt.tz_localize("UTC").dt.tz_convert(tz) if tz is not None else out
            return out.astype(like.dtype)

        return nums, to_stamps
    if fmt.kind == "date_text" or not pd.api.types.is_numeric_dtype(values.dtype):
        text_format = fmt.params.get("format", "%Y-%m-%d %H:%M:%S")
        stamps = pd.to_datetime(values, format=text_format, errors="coerce")
        nums = stamps.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float) / 1e9
        nums[stamps.isna().to_numpy()] = np.nan

        def to_text(x: np.ndarray, like: pd.Series) -> pd.Series:
            out = pd.Series(pd.to_datetime(np.round(x * 1e9), unit="ns"), index=like.index)
            text = out.dt.strftime(text_format).astype(object)
            return text.where(like.notna(), None)

        return nums, to_text
    nums = values.to_numpy(dtype=float, na_value=np.nan)

    def to_numbers(x: np.ndarray, like: pd.Series) -> pd.Series:
        if pd.api.types.is_integer_dtype(like.dtype):
            return pd.Series(np.round(x), index=like.index).astype(like.dtype)
        return pd.Series(x, index=like.index).astype(like.dtype)

    return nums, to_numbers
