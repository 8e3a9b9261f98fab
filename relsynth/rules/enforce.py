"""Make rules hold in a synthetic database, each where it belongs.

Three pure functions over frames, called by the synthesizer:

* :func:`match_paths`, after a table's key skeleton is sampled: for a path
  agreement, the route that does not start with the driver key is re-pointed so it
  reaches the driver route's ancestor row. A direct key takes the ancestor's key;
  a two-hop route picks, at random, one of the secondary parent's rows whose own
  route (one hop or more) reaches that ancestor (the row drawn by the key generator
  is kept when it already does).
* :func:`derive_values`, after a table's columns are sampled: an *equality* copies
  the ancestor's value through the path; an *order* rebuilds the column as the
  ancestor's value plus a gap drawn from the learned gap quantiles. The gap is
  drawn by rank: the row whose sampled value lay furthest from its ancestor gets
  the largest gap, so what the model learned about the column (its relation to
  the row's other columns) still orders the draws. It is a reparametrisation,
  not a clamp: the gap's distribution is the source's, negative tail included.
  Columns that the table model rebuilds from this one (a date anchored on it,
  :mod:`relsynth.models.offsets`) move with it.
* :func:`apply_aggregates`, once every table is sampled: a parent's column is
  computed from its synthetic children, rounded as the source column is.

A rule kept with a share below :data:`EXACT` is applied to that share of rows
(chosen at random); an exact rule to every row it applies to.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from relsynth._columns import clock_format, format_clock
from relsynth.metadata._rule import (
    GAP_PROBS,
    Aggregate,
    DeterminedValue,
    Equality,
    Order,
    PathAgreement,
    Ref,
    Rule,
)
from relsynth.metadata.schema import ForeignKey, Metadata
from relsynth.rules._gaps import bin_of, gap_at, gap_between
from relsynth.rules._measure import (
    _align,
    _equal,
    _rows_equal,
    aggregate_values,
    as_numbers,
    decimals,
    follow,
    hop_key,
)
from relsynth.rules._values import apply_values

__all__ = [
    "EXACT",
    "apply_aggregates",
    "column_rules",
    "derive_values",
    "match_paths",
    "value_rules",
]

logger = logging.getLogger(__name__)

#: Rules holding in at least this share of source rows are applied to every row.
EXACT = 0.99


def _chosen(n: int, share: float | None, rng: np.random.Generator) -> np.ndarray:
    if share is None or share >= EXACT:
        return np.ones(n, dtype=bool)
    return rng.random(n) < share


def _topped_up(
    valid: np.ndarray, holds: np.ndarray, share: float | None, rng: np.random.Generator
) -> np.ndarray:
    """Rows to make the rule hold on: all the valid ones for an exact rule; for a weaker
    one, just enough of those where it does not hold yet (at random) that it holds on
    ``share`` of the valid rows, counting those where it holds by chance."""
    todo = valid & ~holds
    if share is None or share >= EXACT:
        return todo
    need = int(round(share * valid.sum())) - int((valid & holds).sum())
    out = np.zeros(len(valid), dtype=bool)
    idx = np.flatnonzero(todo)
    if need > 0 and len(idx):
        out[rng.choice(idx, size=min(need, len(idx)), replace=False)] = True
    return out


# -- path agreement ------------------------------------------------------------------------


def _first_fk(meta: Metadata, route: Ref) -> ForeignKey | None:
    table, cols = route.steps[0]
    for fk in meta.parents(table):
        if fk.columns == cols:
            return fk
    return None


def match_paths(
    meta: Metadata,
    rules: Sequence[Rule],
    name: str,
    keys: pd.DataFrame,
    parents: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    driver: ForeignKey | None = None,
    protected: Collection[str] = (),
) -> pd.DataFrame:
    """``keys`` of table ``name`` with its path agreements made to hold.

    ``protected`` columns (primary key, unique constraints) are never changed, nor
    the driver key's; a rule whose movable route would change one is skipped.
    """
    out = keys.reset_index(drop=True).copy()
    for rule in rules:
        if not (isinstance(rule, PathAgreement) and rule.enforce and rule.table == name):
            continue
        tables = {**parents, name: out}
        if any(t not in tables for r in (rule.left, rule.right) for t, _ in r.steps):
            continue
        plan = _movable(meta, rule, driver, set(protected))
        if plan is None:
            logger.debug("%s: no route of %s can be re-pointed", name, rule)
            continue
        fixed, moved = plan
        target = follow(meta, tables, fixed)
        fk = _first_fk(meta, moved)
        assert fk is not None
        valid = target.notna().all(axis=1).to_numpy()
        agree = _rows_equal(follow(meta, tables, moved), target)[1]  # these are kept
        rows = _topped_up(valid, agree, rule.share, rng)
        if moved.hops == 0:
            new = target
        else:
            new = _pick_parents(meta, moved, target, tables, rng, rows)
        stuck = rows & new.isna().any(axis=1).to_numpy()
        _assign(out, fk.columns, new, rows & ~stuck)
        back = _first_fk(meta, fixed)
        if stuck.any() and fixed.hops == 0 and back is not None:
            # no secondary parent reaches this ancestor: the direct key follows the
            # secondary route instead (its family grows by one row)
            if not set(back.columns) & set(protected):
                reached = follow(meta, {**tables, name: out}, moved)
                _assign(out, back.columns, reached, stuck & reached.notna().all(axis=1).to_numpy())
    return out


def _assign(out: pd.DataFrame, columns: Sequence[str], new: pd.DataFrame, rows: np.ndarray) -> None:
    for i, col in enumerate(columns):
        values = np.array(out[col].astype(object).to_numpy(), copy=True)
        values[rows] = new[i].astype(object).to_numpy()[rows]
        out[col] = _as_dtype(values, out[col].dtype)


def _movable(
    meta: Metadata, rule: PathAgreement, driver: ForeignKey | None, protected: set[str]
) -> tuple[Ref, Ref] | None:
    """``(fixed route, moved route)``: the moved one does not start with the driver."""
    options = [(rule.left, rule.right), (rule.right, rule.left)]
    if driver is not None and rule.left.steps[0][1] == driver.columns:
        options = options[:1]
    elif driver is not None and rule.right.steps[0][1] == driver.columns:
        options = options[1:]
    for fixed, moved in options:
        fk = _first_fk(meta, moved)
        if fk is None or fk.is_self_reference:
            continue
        blocked = protected | set(fixed.steps[0][1])
        if driver is not None:
            blocked |= set(driver.columns)
        if not set(fk.columns) & blocked:
            return fixed, moved
    return None


def _pick_parents(
    meta: Metadata,
    moved: Ref,
    target: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    need: np.ndarray,
) -> pd.DataFrame:
    """For each row, the key of a parent row whose own route (the rest of ``moved``, one
    foreign key or more) reaches ``target``.

    The rows that ``need`` a parent are dealt out in turn (random order, random first
    parent) among the parents of their group, so no parent collects many rows while
    others of its group get none: a bridge that was one-to-one stays close to it.
    """
    (table, cols), (parent, _) = moved.steps[:2]
    fk = hop_key(meta, table, cols, parent)
    prow = tables[parent].reset_index(drop=True)
    anc = follow(meta, tables, Ref(moved.steps[1:]))  # each parent row's own route's end
    names = [f"__a{i}" for i in range(anc.shape[1])]
    anc.columns = names
    anc["__pos"] = np.arange(len(prow))
    anc = anc.dropna().sort_values(names, kind="stable").reset_index(drop=True)
    groups = anc.groupby(names, sort=False)
    index = groups.head(1)[names].copy()  # sorted: a group's rows follow its first row
    index["__start"] = index.index.to_numpy()
    index["__count"] = groups.size().to_numpy()
    want = target.copy()
    want.columns = names
    _align(want, index, list(want.columns))
    hit = want.merge(index, how="left", on=list(want.columns), sort=False)
    start = hit["__start"].to_numpy(dtype="float64", na_value=np.nan)
    count = hit["__count"].to_numpy(dtype="float64", na_value=np.nan)
    found = np.isfinite(start)
    pick = np.zeros(len(want), dtype=np.int64)
    offs = _round_robin(start, count, found & need, rng)
    pick[found] = anc["__pos"].to_numpy()[start[found].astype(np.int64) + offs[found]]
    keys = prow[list(fk.parent_columns)].iloc[pick].reset_index(drop=True)
    keys.columns = list(range(len(fk.parent_columns)))
    keys = keys.astype(object)
    keys.loc[~found, :] = None
    return keys


def _round_robin(
    start: np.ndarray, count: np.ndarray, rows: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Offset of each row's parent within its group: the ``rows`` dealt out in turn."""
    offs = np.zeros(len(start), dtype=np.int64)
    idx = np.flatnonzero(rows)
    if not len(idx):
        return offs
    idx = idx[rng.permutation(len(idx))]
    group = start[idx].astype(np.int64)
    turn = pd.Series(group).groupby(group, sort=False).cumcount().to_numpy()
    size = count[idx].astype(np.int64)
    first = pd.Series(group).map(
        dict(zip(np.unique(group), rng.integers(0, 2**31, len(np.unique(group))), strict=True))
    )
    offs[idx] = (first.to_numpy() + turn) % size
    return offs


def _as_dtype(values: np.ndarray, dtype: object) -> pd.Series:
    series = pd.Series(values)
    if isinstance(dtype, pd.CategoricalDtype):  # its categories may lack the new values
        return series.astype("category")
    try:
        return series.astype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return series.infer_objects()


# -- equality and order --------------------------------------------------------------------


def _rank(rule: Equality | Order) -> tuple[int, float, float, int]:
    """Equalities before orders; then the highest share, then the tightest order (the
    smallest median gap: a payment follows its rental, which follows the customer's
    first visit, so the rental is the anchor that keeps both), then the shortest path."""
    spread = abs(rule.gap[len(GAP_PROBS) // 2]) if isinstance(rule, Order) else 0.0
    share = min(rule.share if rule.share is not None else 1.0, EXACT)  # exact ones tie
    return (int(isinstance(rule, Order)), -share, spread, rule.anchor.hops)


def column_rules(
    rules: Sequence[Rule], name: str, columns: Collection[str]
) -> dict[str, list[Equality | Order]]:
    """The equality and order rules that produce each of ``columns`` of ``name``, best
    first (see :func:`_rank`)."""
    out: dict[str, list[Equality | Order]] = {}
    for rule in rules:
        if not (isinstance(rule, (Equality, Order)) and rule.enforce and rule.table == name):
            continue
        col = rule.column.target[1][0]
        if col not in columns or (isinstance(rule, Order) and len(rule.gap) != len(GAP_PROBS)):
            continue
        out.setdefault(col, []).append(rule)
    return {col: sorted(found, key=_rank) for col, found in out.items()}


def value_rules(rules: Sequence[Rule], name: str, columns: Collection[str]) -> list[Rule]:
    """The first equality or order rule that produces each of ``columns`` of ``name``
    (the one :func:`derive_values` applies first; see :func:`column_rules`), and the
    rules whose keys determine one of them (:class:`DeterminedValue`)."""
    first: list[Rule] = [found[0] for found in column_rules(rules, name, columns).values()]
    return _determined_values(rules, name, columns) + first


def _determined_values(rules: Sequence[Rule], name: str, columns: Collection[str]) -> list[Rule]:
    return [
        r
        for r in rules
        if isinstance(r, DeterminedValue)
        and r.enforce
        and r.table == name
        and r.column.target[1][0] in columns
    ]


def derive_values(
    meta: Metadata,
    rules: Sequence[Rule],
    name: str,
    frame: pd.DataFrame,
    parents: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    followers: Mapping[str, Sequence[str]] | None = None,
    columns: Collection[str] | None = None,
) -> pd.DataFrame:
    """``frame`` (table ``name``) with its equality and order rules made to hold.

    Per column, an equality first (the rows it copies are done); the other rows are
    rebuilt from the best order rule (anchor plus a gap drawn from its quantiles) and
    kept inside every other order rule's bound: the column lies in the interval
    [highest lower anchor, lowest upper anchor], the gap drawn from its distribution
    restricted to that interval (conditioning, not clipping).
    ``followers[c]`` are columns rebuilt from ``c`` inside the row (date offsets):
    they move by as much as ``c`` does, after it, and their own order rules move only
    the rows that break them (:func:`_repaired`: a rental's due date keeps its gap from
    the rental date where it already lies after the customer joined). Only ``columns``
    (default: all) are produced.
    """
    out = frame.reset_index(drop=True).copy()
    for rule in _determined_values(rules, name, out.columns if columns is None else columns):
        out = apply_values(out, rule)  # type: ignore[arg-type]
    chosen = column_rules(rules, name, out.columns if columns is None else columns)
    follows = {c for moved in (followers or {}).values() for c in moved}
    # anchors first; a follower moves with its anchor and its own orders only repair
    for col, found in sorted(chosen.items(), key=lambda item: item[0] in follows):
        tables = {**parents, name: out}
        found = [r for r in found if all(t in tables for t, _ in r.anchor.steps)]
        if not found:
            continue
        before = as_numbers(out[col])
        done = np.zeros(len(out), dtype=bool)
        if isinstance(found[0], Equality):
            done = _copy_equal(meta, found[0], out, col, tables, rng)
        orders = [r for r in found if isinstance(r, Order)]
        if orders and col in follows:
            out[col] = _repaired(meta, orders, out[col], tables, ~done, rng)
        elif orders:
            out[col] = _ordered(meta, orders, out[col], tables, ~done, rng)
        after = as_numbers(out[col])
        if before is not None and after is not None:
            delta = np.nan_to_num(after - before)
            for other in (followers or {}).get(col, ()):
                if other in out.columns:
                    out[other] = _shift(out[other], delta)
    return out


def _copy_equal(
    meta: Metadata,
    rule: Equality,
    out: pd.DataFrame,
    col: str,
    tables: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
) -> np.ndarray:
    """Copy the ancestor's value into ``out[col]``; the rows it now holds on."""
    anchor = follow(meta, tables, rule.anchor)[0]
    valid = anchor.notna().to_numpy() & out[col].notna().to_numpy()
    same = _equal(out[col], anchor)[1]
    rows = _topped_up(valid, same, rule.share, rng)
    values = np.array(out[col].astype(object).to_numpy(), copy=True)
    values[rows] = anchor.astype(object).to_numpy()[rows]
    out[col] = _as_dtype(values, out[col].dtype)
    return rows | (valid & same)


def _anchor(meta: Metadata, rule: Order, tables: Mapping[str, pd.DataFrame]) -> np.ndarray | None:
    return as_numbers(follow(meta, tables, rule.anchor)[0])


def _ordered(
    meta: Metadata,
    orders: Sequence[Order],
    values: pd.Series,
    tables: Mapping[str, pd.DataFrame],
    todo: np.ndarray,
    rng: np.random.Generator,
) -> pd.Series:
    """``anchor + gap`` for the first order rule, the gap drawn from its quantiles in the
    order of the model's own gaps (per anchor bin where the gap depends on the anchor;
    ties broken at random); then rows outside another rule's bound redrawn inside the
    interval all the rules leave (see :func:`_bounds`)."""
    a = as_numbers(values)
    rule = orders[0]
    b = _anchor(meta, rule, tables)
    if a is None or b is None:
        return values
    rows = todo & np.isfinite(a) & np.isfinite(b)
    new = np.array(a, dtype=float, copy=True)
    n = int(rows.sum())
    if n:
        anchor = b[rows]
        u = _ranked((a - b)[rows], bin_of(rule, anchor), rng)
        new[rows] = anchor + gap_at(rule, anchor, u)
    if len(orders) > 1 or rule.span:
        new = _bounded(meta, orders, new, tables, todo & np.isfinite(new), rng)
    return _from_numbers(new, a, values)


def _repaired(
    meta: Metadata,
    orders: Sequence[Order],
    values: pd.Series,
    tables: Mapping[str, pd.DataFrame],
    todo: np.ndarray,
    rng: np.random.Generator,
) -> pd.Series:
    """``values`` where the rules hold (each on its share of rows); the other rows redrawn
    inside the interval the rules leave (:func:`_bounded`). For a column rebuilt inside
    the row from another one (a follower), whose gap from it a rebuild would lose."""
    a = as_numbers(values)
    if a is None:
        return values
    new = _bounded(meta, orders, a, tables, todo & np.isfinite(a), rng, drawn=False)
    return values if np.array_equal(new, a, equal_nan=True) else _from_numbers(new, a, values)


def _from_numbers(new: np.ndarray, a: np.ndarray, values: pd.Series) -> pd.Series:
    """``new`` in the form and dtype of ``values`` (dates, clock text, numbers)."""
    clock = None if pd.api.types.is_numeric_dtype(values.dtype) else clock_format(values)
    if clock is not None:  # seconds since midnight back to '25:10:00' in the source's style
        text = format_clock(pd.Series(np.round(new)), clock).to_numpy()
        return _as_dtype(np.where(pd.isna(values).to_numpy(), None, text), values.dtype)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = pd.to_datetime(pd.Series(new), unit="s", errors="coerce")
        tz = getattr(values.dt, "tz", None)
        if tz is not None:
            stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(tz)
        return stamps.astype(values.dtype)
    places = decimals(a)
    if places is not None:
        new = np.round(new, places)
    return _as_dtype(new, values.dtype)


def _ranked(values: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each value's rank within its group as a probability in (0, 1): the k-th smallest
    of n at ``(k + U) / n``, ties broken at random."""
    n = len(values)
    order = np.lexsort((rng.random(n), values, groups))
    starts = np.searchsorted(groups[order], groups[order], side="left")
    counts = np.bincount(groups)[groups[order]]
    u = np.empty(n)
    u[order] = (np.arange(n) - starts + rng.random(n)) / counts
    return u


def _bounds(
    meta: Metadata,
    orders: Sequence[Order],
    new: np.ndarray,
    tables: Mapping[str, pd.DataFrame],
    rows: np.ndarray,
    rng: np.random.Generator,
    drawn: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` per row: the highest ``>=`` anchor and the lowest ``<=`` anchor
    among the rules that must hold there (every row for an exact rule; for a weaker
    one, enough rows that it holds on its share; the first rule, where it holds when
    its gap was ``drawn``), inside the column's span on the source (the first rule's
    ``span``)."""
    span = orders[0].span if len(orders[0].span) == 2 else (-np.inf, np.inf)
    lower = np.full(len(new), span[0])
    upper = np.full(len(new), span[1])
    for k, rule in enumerate(orders):
        b = _anchor(meta, rule, tables)
        if b is None:
            continue
        valid = rows & np.isfinite(b)
        with np.errstate(invalid="ignore"):
            ok = (new >= b) if rule.op == ">=" else (new <= b)
        must = valid & ok  # the first rule's gaps already hold on its share of rows
        if k or not drawn:
            must |= _topped_up(valid, ok, rule.share, rng)
        if rule.op == ">=":
            lower = np.where(must, np.fmax(lower, b), lower)
        else:
            upper = np.where(must, np.fmin(upper, b), upper)
    return lower, upper


def _bounded(
    meta: Metadata,
    orders: Sequence[Order],
    new: np.ndarray,
    tables: Mapping[str, pd.DataFrame],
    rows: np.ndarray,
    rng: np.random.Generator,
    drawn: bool = True,
) -> np.ndarray:
    """``new`` with the rows outside their interval redrawn inside it: the gap of each
    rule in turn (its anchor set), drawn from its distribution conditioned on the
    interval; a row no rule's gap can reach is drawn uniformly in the interval
    (``drawn``: :func:`_bounds`)."""
    lower, upper = _bounds(meta, orders, new, tables, rows, rng, drawn)
    out = new.copy()
    bad = rows & ((out < lower) | (out > upper)) & (lower <= upper)
    for rule in orders:
        b = _anchor(meta, rule, tables)
        if b is None or not bad.any():
            continue
        idx = np.flatnonzero(bad & np.isfinite(b))
        ok, gap = gap_between(rule, b[idx], lower[idx] - b[idx], upper[idx] - b[idx], rng)
        take = idx[ok]
        out[take] = np.clip(b[take] + gap, lower[take], upper[take])  # rounding only
        bad[take] = False
    idx = np.flatnonzero(bad & np.isfinite(lower) & np.isfinite(upper))
    out[idx] = lower[idx] + rng.random(len(idx)) * (upper[idx] - lower[idx])
    rest = np.flatnonzero(bad)  # one bound, beyond every rule's gap: at the bound
    out[rest] = np.clip(out[rest], lower[rest], upper[rest])
    return out


def _is_int(values: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(values.dtype)


def _shift(values: pd.Series, delta: np.ndarray) -> pd.Series:
    numbers = as_numbers(values)
    if numbers is None:
        return values
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values + pd.to_timedelta(np.nan_to_num(delta), unit="s")
    return _from_numbers(numbers + delta, numbers, values)


# -- aggregates ----------------------------------------------------------------------------


def apply_aggregates(
    meta: Metadata,
    rules: Sequence[Rule],
    tables: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    order: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """``tables`` with every aggregate rule's parent column computed from the children.

    Parents deeper in ``order`` (the plan order) come first, so a total of totals
    adds up.
    """
    out = dict(tables)
    rank = {t: i for i, t in enumerate(order)}
    aggs = [r for r in rules if isinstance(r, Aggregate) and r.enforce]
    aggs = [r for r in aggs if r.parent in out and r.child in out]
    for rule in sorted(aggs, key=lambda r: -rank.get(r.parent, 0)):
        parent = out[rule.parent].copy()
        values = aggregate_values(meta, out, rule)
        if rule.decimals is not None:
            values = np.round(values, rule.decimals)
        col = parent[rule.column]
        rows = _chosen(len(parent), rule.share, rng) & np.isfinite(values)
        rows &= col.notna().to_numpy()
        numbers = as_numbers(col)
        if numbers is None:
            continue
        numbers = numbers.copy()
        numbers[rows] = values[rows]
        if _is_int(col):
            numbers = np.round(numbers)
        parent[rule.column] = _as_dtype(numbers, col.dtype)
        out[rule.parent] = parent
    return out
