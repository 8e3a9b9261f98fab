"""Keys that determine a value column: found, measured and enforced.

``flights.(origin, dest) determines flights.distance``: every route has one
distance. The keys are the columns of one or two foreign keys of a table to copied
parents (lookup and reference tables, kept verbatim: their key values in the
synthetic database are the source's), so the value each key combination has in the
source can be given to the synthetic rows holding it.

The share (:func:`value_holds`) is the one :mod:`relsynth.rules._determines` uses for
keys: over the rows whose key combination is shared by two rows or more (the column
set), the share holding their combination's most common value. Discovery
(:func:`discover_values`) screens every single key and pair of keys (disjoint
columns) against every value column on the sample the other kinds use, and confirms
a candidate on every row: kept when the share is at least the threshold, it beats
chance by 0.1 (the column shuffled among the rows), at least ``MIN_GROUPS``
combinations of two rows or more back it, and no single one of the keys already
determines the column. The rule keeps the value of each combination held by at
least ``min_count`` rows (``min_category_count``, docs/privacy.md); a synthetic row
holding one of them gets its value (:func:`apply_values`), the others keep the
model's value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from relsynth.metadata._rule import DeterminedValue, Ref
from relsynth.metadata._rule_parse import value_keys
from relsynth.metadata.schema import ForeignKey, Metadata
from relsynth.rules._determines import MIN_GROUPS, _agreement, _codes

__all__ = ["apply_values", "discover_values", "known_values", "value_holds", "value_map"]

_LIFT = 0.1
#: Column kinds whose value a key combination may determine (never personal text).
_KINDS = ("numerical", "categorical", "boolean", "datetime")


def value_holds(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: DeterminedValue
) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, ok)`` masks over the rule's table (see the module docstring)."""
    value_keys(meta, rule)
    frame = tables[rule.table]
    return _agreement(_codes(frame, rule.keys.target[1]), _codes(frame, rule.column.target[1]))


def _plain(value: Any) -> Any:
    """A JSON-able scalar: numpy scalars as Python ones, timestamps as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return value
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _norm(value: Any) -> str:
    """A key value as text, an integral float as its integer (a nullable key read as floats)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def value_map(
    frame: pd.DataFrame, keys: Sequence[str], column: str, min_count: int
) -> tuple[tuple[tuple[Any, ...], Any], ...]:
    """Each key combination held by at least ``max(2, min_count)`` rows (keys and
    column set) with its most common value, sorted by the combination's text."""
    sub = frame[[*keys, column]].dropna()
    if not len(sub):
        return ()
    counts = sub.groupby([*keys, column], sort=False, dropna=True).size().reset_index(name="n")
    sizes = counts.groupby(list(keys), sort=False)["n"].transform("sum")
    counts = counts[sizes >= max(2, min_count)]
    best = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates(list(keys))
    pairs = [
        (tuple(_plain(v) for v in row[:-2]), _plain(row[-2]))
        for row in best.itertuples(index=False, name=None)
    ]
    return tuple(sorted(pairs, key=lambda p: tuple(_norm(v) for v in p[0])))


def _text_codes(column: pd.Series) -> np.ndarray:
    """Per row, a code of the value's text (:func:`_norm`: equal texts, equal codes),
    -1 where it is NULL. The texts are made once per distinct value, not per row; an
    object column holding other than text (numbers and booleans hash as equal across
    types, ``1 == 1.0 == True``, but read as different texts) is read row by row."""
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) not in (
        "string",
        "empty",
    ):
        codes = pd.factorize(np.array([_norm(v) for v in column.to_numpy()], dtype=object))[0]
        return np.where(column.notna().to_numpy(), codes, -1).astype(np.int64)
    codes, uniques = pd.factorize(column)  # NULLs: -1
    if not len(uniques):
        return np.full(len(column), -1, dtype=np.int64)
    same = pd.factorize(np.array([_norm(v) for v in uniques], dtype=object))[0]
    return np.where(codes >= 0, same[np.maximum(codes, 0)], -1).astype(np.int64)


def _lookup(
    frame: pd.DataFrame, rule: DeterminedValue
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``frame``: the code of its key combination (equal texts, equal
    codes; -1 where a key is NULL) and whether ``rule`` knows the combination; and
    the known rows' values (object array, in row order). Each distinct combination
    is turned into text and looked up once."""
    keys = rule.keys.target[1]
    lookup = {tuple(_norm(v) for v in combo): value for combo, value in rule.values}
    group = _text_codes(frame[keys[0]])
    for k in keys[1:]:  # densified after each key: no overflow however many keys
        codes = _text_codes(frame[k])
        pair = np.where((group >= 0) & (codes >= 0), group * (int(codes.max()) + 1) + codes, -1)
        group = np.where(pair >= 0, pd.factorize(pair)[0], -1).astype(np.int64)
    rows = np.flatnonzero(group >= 0)
    # each combination's first row, and each row's combination among them
    _, first, inverse = np.unique(group[rows], return_index=True, return_inverse=True)
    texts = [frame[k].iloc[rows[first]].astype(object).map(_norm).tolist() for k in keys]
    values = np.empty(len(first), dtype=object)
    known_group = np.zeros(len(first), dtype=bool)
    for j, combo in enumerate(zip(*texts, strict=True)):
        if combo in lookup:
            values[j], known_group[j] = lookup[combo], True
    hit = known_group[inverse]
    known = np.zeros(len(group), dtype=bool)
    known[rows[hit]] = True
    return group, known, values[inverse[hit]]


def _typed(new: pd.Series, dtype: Any) -> pd.Series:
    """Stored rule values (JSON scalars, timestamps as text) in ``dtype``'s family."""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        new = pd.to_datetime(new)
        if getattr(dtype, "tz", None) is not None and new.dt.tz is None:
            new = new.dt.tz_localize(dtype.tz)
    elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        new = pd.to_numeric(new, errors="coerce")
    return new


def known_values(frame: pd.DataFrame, rule: DeterminedValue, dtype: Any) -> pd.Series:
    """The value ``rule`` gives each row of ``frame`` (its key combination's), NULL
    where it knows none (a key NULL, a combination held by fewer than
    ``min_category_count`` source rows, or new), in ``dtype``'s family: what a table
    model sees of the column before it draws the row's other values
    (:mod:`relsynth.synthesis._context`)."""
    keys = rule.keys.target[1]
    if not len(frame) or not all(k in frame for k in keys):
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    _, known, values = _lookup(frame, rule)
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    out.iloc[np.flatnonzero(known)] = values
    out = _typed(out, dtype)
    return out.astype("float64") if pd.api.types.is_numeric_dtype(out.dtype) else out


def apply_values(frame: pd.DataFrame, rule: DeterminedValue) -> pd.DataFrame:
    """``frame`` with ``rule``'s column set to its combination's value where the rule
    knows the combination; the rows of a combination it does not know (held by fewer
    than ``min_category_count`` source rows, or new) take the value one of them drew,
    so the rule holds on every combination. In the column's dtype."""
    keys, column = rule.keys.target[1], rule.column.target[1][0]
    if column not in frame.columns or not all(k in frame for k in keys) or not len(frame):
        return frame
    group, known, values = _lookup(frame, rule)
    rows = np.flatnonzero(known)
    new = pd.Series(values, index=frame.index[rows], dtype=object)
    out = frame.copy()
    target = out[column]
    new = _typed(new, target.dtype)
    merged = target.astype(object).to_numpy(copy=True)
    merged[rows] = new.to_numpy(dtype=object)
    other = np.flatnonzero((group >= 0) & ~known & target.notna().to_numpy())
    if len(other):  # one value per unknown combination: its first row's
        _, first, inverse = np.unique(group[other], return_index=True, return_inverse=True)
        merged[other] = merged[other[first][inverse]]
    try:
        out[column] = pd.Series(merged, index=out.index).astype(target.dtype)
    except (TypeError, ValueError):
        out[column] = pd.Series(merged, index=out.index)
    return out


def _key_sets(meta: Metadata, name: str, copied: Collection[str]) -> list[tuple[ForeignKey, ...]]:
    """Single keys to copied parents, and pairs of them with disjoint columns."""
    fks = [fk for fk in meta.parents(name) if not fk.is_self_reference and fk.parent in copied]
    pairs = [(a, b) for a, b in combinations(fks, 2) if not set(a.columns) & set(b.columns)]
    return [(fk,) for fk in fks] + pairs


def _columns(meta: Metadata, name: str, frame: pd.DataFrame) -> list[str]:
    keyed = set(meta.key_columns(name)) | {c for fk in meta.parents(name) for c in fk.columns}
    return [
        col.name
        for col in meta.table(name).columns
        if col.name not in keyed
        and col.kind in _KINDS
        and col.pii is None
        and col.name in frame.columns
        and frame[col.name].nunique(dropna=True) >= 2
    ]


def _combined(codes: Sequence[np.ndarray]) -> np.ndarray:
    """One code per row for a tuple of key codes (-1 where one is -1)."""
    out = codes[0].copy()
    for c in codes[1:]:
        width = int(c.max()) + 2 if len(c) else 1
        out = np.where((out >= 0) & (c >= 0), out * width + c, -1)
    return out


def _passes(
    ga: np.ndarray, gb: np.ndarray, threshold: float, rng: np.random.Generator
) -> float | None:
    """The share when the keys determine the column by the module's tests, else None."""
    valid, ok = _agreement(ga, gb)
    n = int(valid.sum())
    if not n or len(np.unique(ga[valid])) < MIN_GROUPS:
        return None
    share = float(ok[valid].mean())
    if share < threshold:
        return None
    shuffled = gb.copy()
    shuffled[valid] = gb[valid][rng.permutation(n)]
    cv, cok = _agreement(ga, shuffled)
    chance = float(cok[cv].mean()) if cv.any() else 1.0
    return share if share - chance >= _LIFT else None


def _table_values(
    meta: Metadata,
    name: str,
    full: pd.DataFrame,
    sample: pd.DataFrame,
    threshold: float,
    rng: np.random.Generator,
    copied: Collection[str],
    min_count: int,
    skip: Collection[str],
) -> list[DeterminedValue]:
    sets = _key_sets(meta, name, copied)
    columns = [c for c in _columns(meta, name, sample) if c not in skip]
    if not sets or not columns:
        return []
    fks = {fk for s in sets for fk in s}
    kcodes = {fk: _codes(sample, fk.columns) for fk in fks}
    out: list[DeterminedValue] = []
    for column in columns:
        found = _for_column(name, full, sample, sets, kcodes, column, threshold, rng, min_count)
        if found:  # one rule per column: the highest share, then the fewest combinations
            out.append(min(found, key=lambda r: (-(r.share or 0.0), len(r.values))))
    return out


def _for_column(
    name: str,
    full: pd.DataFrame,
    sample: pd.DataFrame,
    sets: Sequence[tuple[ForeignKey, ...]],
    kcodes: Mapping[ForeignKey, np.ndarray],
    column: str,
    threshold: float,
    rng: np.random.Generator,
    min_count: int,
) -> list[DeterminedValue]:
    """The key sets that determine ``column`` (none of a pair holding a single one)."""
    out: list[DeterminedValue] = []
    gb = _codes(sample, (column,))
    singles: set[ForeignKey] = set()
    for keys in sets:
        if any(fk in singles for fk in keys):
            continue  # a single key already determines it
        if _passes(_combined([kcodes[fk] for fk in keys]), gb, threshold, rng) is None:
            continue
        cols = tuple(c for fk in keys for c in fk.columns)
        share = _passes(_codes(full, cols), _codes(full, (column,)), threshold, rng)
        if share is None:
            continue
        if len(keys) == 1:
            singles.add(keys[0])
        ref, col = Ref(((name, cols),)), Ref(((name, (column,)),))
        pairs = value_map(full, cols, column, min_count)
        out.append(DeterminedValue(ref, col, round(share, 6), True, pairs))
    return out


def discover_values(
    meta: Metadata,
    tables: Mapping[str, pd.DataFrame],
    sample: Mapping[str, pd.DataFrame],
    threshold: float,
    rng: np.random.Generator,
    *,
    copied: Collection[str],
    min_count: int = 2,
    skip: Mapping[str, Collection[str]] | None = None,
) -> list[DeterminedValue]:
    """Every value column that one key, or a pair of keys, to ``copied`` parents
    determines (screened on ``sample``, confirmed on ``tables``); ``skip[t]``: columns
    of ``t`` another rule already produces (an exact equality)."""
    out: list[DeterminedValue] = []
    for name in meta.tables:
        if name in copied or name not in tables or len(tables[name]) < 2:
            continue
        full = tables[name].reset_index(drop=True)
        part = sample.get(name, full)
        done = (skip or {}).get(name, ())
        out += _table_values(meta, name, full, part, threshold, rng, copied, min_count, done)
    return out
