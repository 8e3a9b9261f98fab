"""Where a rule holds: vectorised joins along foreign-key paths (pandas merges).

Shared by discovery (source shares), enforcement (the values to copy or anchor on)
and evaluation (real against synthetic shares).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from relsynth._columns import clock_format, datetime_seconds, parse_clock
from relsynth.metadata._rule import (
    Aggregate,
    DeterminedValue,
    Determines,
    Equality,
    Order,
    PathAgreement,
    Ref,
    Rule,
)
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = [
    "aggregate_values",
    "as_numbers",
    "decimals",
    "follow",
    "holds",
    "is_clock",
    "measure",
]


def hop_key(meta: Metadata, table: str, columns: tuple[str, ...], parent: str) -> ForeignKey:
    """The foreign key ``table(columns) -> parent`` (KeyError when there is none)."""
    for fk in meta.parents(table):
        if fk.columns == columns and fk.parent == parent:
            return fk
    raise KeyError(f"{table}({', '.join(columns)}) -> {parent}")


def _align(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> None:
    for col in keys:  # merge keys of different dtypes (int vs float vs text) as objects
        if left[col].dtype != right[col].dtype:
            left[col] = left[col].astype(object)
            right[col] = right[col].astype(object)


def lookup(
    keys: pd.DataFrame, parent: pd.DataFrame, parent_keys: list[str], values: list[str]
) -> pd.DataFrame:
    """Parent ``values`` for each row of ``keys`` (whose columns pair with ``parent_keys``)."""
    names = [f"__k{i}" for i in range(len(parent_keys))]
    outs = [f"__v{i}" for i in range(len(values))]
    right = parent[parent_keys + values].reset_index(drop=True)
    right.columns = names + outs
    right = right.drop_duplicates(subset=names)
    left = keys.reset_index(drop=True).copy()
    left.columns = names
    _align(left, right, names)
    merged = left.merge(right, how="left", on=names, sort=False)
    out = merged[outs].reset_index(drop=True)
    out.columns = list(range(len(values)))
    return out


def follow(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], ref: Ref, start: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The columns ``ref`` reads, one row per row of its start table (or of ``start``).

    Columns are numbered 0, 1...; NULL where a key on the way is NULL or has no parent.
    """
    table, cols = ref.steps[0]
    frame = tables[table] if start is None else start
    cur = frame[list(cols)].reset_index(drop=True)
    cur.columns = list(range(len(cols)))
    for (tbl, hop_cols), (nxt, nxt_cols) in zip(ref.steps, ref.steps[1:], strict=False):
        fk = hop_key(meta, tbl, hop_cols, nxt)
        cur = lookup(cur, tables[nxt], list(fk.parent_columns), list(nxt_cols))
    return cur


def is_clock(values: pd.Series) -> bool:
    """Whether every value is clock text like GTFS ``'25:10:00'`` (past midnight allowed)."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
        values.dtype
    ):
        return False
    first = values.dropna().head(1)  # cheap refusal of other text before the full check
    if first.empty or not str(first.iloc[0]).strip()[:1].isdigit():
        return False
    return clock_format(values) is not None


def as_numbers(values: pd.Series) -> np.ndarray | None:
    """Numbers (dates as seconds since the epoch, clock text as seconds since midnight);
    None for other text and booleans."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return datetime_seconds(values)
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if not pd.api.types.is_numeric_dtype(dtype):
        if is_clock(values):
            return parse_clock(values).to_numpy(dtype="float64", na_value=np.nan)
        return None
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _equal(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    valid = (a.notna() & b.notna()).to_numpy()
    na, nb = as_numbers(a), as_numbers(b)
    if na is not None and nb is not None:
        with np.errstate(invalid="ignore"):
            ok = np.isclose(na, nb, rtol=1e-9, atol=1e-9)
    else:
        ok = (a.astype(str).to_numpy() == b.astype(str).to_numpy()) & valid
    return valid, ok & valid


def _rows_equal(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    valid = np.ones(len(a), dtype=bool)
    ok = np.ones(len(a), dtype=bool)
    for col in a.columns:
        v, o = _equal(a[col], b[col])
        valid &= v
        ok &= o
    return valid, ok & valid


def gap(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Order
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(column - anchor, anchor)`` per row (seconds for dates); the gap is NaN where
    either is NULL, the anchor None where it is not a number."""
    a = as_numbers(follow(meta, tables, rule.column)[0])
    b = as_numbers(follow(meta, tables, rule.anchor)[0])
    if a is None or b is None:
        return np.full(len(tables[rule.table]), np.nan), b
    return a - b, b


def decimals(values: np.ndarray) -> int | None:
    """Decimals a numeric column is rounded to (0 to 6), None when finer or not numbers."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    for d in range(7):
        if np.allclose(finite, np.round(finite, d), rtol=0, atol=1e-9 * max(1.0, 10.0**-d)):
            return d
    return None


def aggregate_values(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Aggregate
) -> np.ndarray:
    """The aggregate of each parent row's children (0 for count/sum without children)."""
    from relsynth.metadata._rule_parse import aggregate_key

    fk = aggregate_key(meta, rule.child, rule.parent)
    child = tables[rule.child]
    x = np.ones(len(child))
    for term in rule.terms:
        numbers = as_numbers(child[term])
        x = x * (numbers if numbers is not None else np.full(len(child), np.nan))
    groups = child[list(fk.columns)].reset_index(drop=True).copy()
    groups["__x"] = x
    grouped = groups.groupby(list(fk.columns), dropna=True, sort=False)["__x"]
    agg = grouped.size() if rule.func == "count" else grouped.agg(rule.func)
    table = agg.rename("__agg").reset_index()
    values = lookup(
        tables[rule.parent][list(fk.parent_columns)], table, list(fk.columns), ["__agg"]
    )[0].to_numpy(dtype="float64", na_value=np.nan)
    if rule.func in ("count", "sum"):
        values = np.where(np.isnan(values), 0.0, values)
    return values


def _agg_holds(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Aggregate
) -> tuple[np.ndarray, np.ndarray]:
    target = as_numbers(tables[rule.parent][rule.column])
    if target is None:
        n = len(tables[rule.parent])
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    values = aggregate_values(meta, tables, rule)
    valid = np.isfinite(target) & np.isfinite(values)
    ok = valid & within(target, values, rule.decimals)
    return valid, ok


def within(target: np.ndarray, values: np.ndarray, places: int | None) -> np.ndarray:
    """Whether ``values`` equal ``target`` within its rounding (``places`` decimals)."""
    tol = 1e-9 * np.maximum(np.abs(target), 1.0)
    if places is not None:
        tol = tol + 0.5 * 10.0**-places
    with np.errstate(invalid="ignore"):
        return np.abs(target - values) <= tol


def holds(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Rule
) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, ok)`` masks over the rule's table: rows where it applies, and holds."""
    if isinstance(rule, Aggregate):
        return _agg_holds(meta, tables, rule)
    if isinstance(rule, Determines):
        from relsynth.rules._determines import determines_holds

        return determines_holds(meta, tables, rule)
    if isinstance(rule, DeterminedValue):
        from relsynth.rules._values import value_holds

        return value_holds(meta, tables, rule)
    if isinstance(rule, PathAgreement):
        return _rows_equal(follow(meta, tables, rule.left), follow(meta, tables, rule.right))
    if isinstance(rule, Equality):
        return _equal(follow(meta, tables, rule.column)[0], follow(meta, tables, rule.anchor)[0])
    assert isinstance(rule, Order)
    diff = gap(meta, tables, rule)[0]
    valid = np.isfinite(diff)
    with np.errstate(invalid="ignore"):
        ok = valid & (diff >= 0 if rule.op == ">=" else diff <= 0)
    return valid, ok


def measure(meta: Metadata, tables: Mapping[str, pd.DataFrame], rule: Rule) -> tuple[float, int]:
    """``(share, rows)``: the share of applicable rows where ``rule`` holds (NaN if none)."""
    valid, ok = holds(meta, tables, rule)
    n = int(valid.sum())
    return (float(ok.sum() / n) if n else float("nan")), n
