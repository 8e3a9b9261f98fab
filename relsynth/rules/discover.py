"""Find the rules that hold across tables, with the share of source rows where each holds.

(One foreign key determining another is found over every row, by
:func:`relsynth.rules._determines.discover_determines`; keys to copied parents that
determine a value column, by :func:`relsynth.rules._values.discover_values`.)

Stage 3 of the pipeline (after reading, before fitting). Every foreign-key path of
one or two hops (self-references excluded) is joined once with vectorised pandas
merges, over a random sample of at most ``max_rows`` rows of the starting table;
every candidate is then a vectorised comparison.

A candidate is kept when it holds in at least ``threshold`` of the rows where it
applies (an *exact* rule), or, as a weaker rule with its share, when the mechanism
that enforces it can match a share (``min_share`` and up). Either way it must beat
chance: its share with the ancestor's values shuffled among the rows must be lower
by ``min_lift`` (0.1 for exact rules, 0.2 for weaker ones). That one test removes
the noise that a plain share lets through: a flight's distance is always larger
than its plane's number of engines, constant or near-constant columns agree with
anything, two columns of disjoint ranges are always ordered.

Also left out: key columns (the key generator makes them), columns with at most one
value (two for orders), equalities that follow from two shorter ones, orders of a
column and an ancestor's column that an exact equality already ties, two direct
foreign keys to one table (``origin``/``dest``), routes that share their first
foreign key (a rule of the table on the way), and routes that reach the ancestor
through the same columns of the row (equal by construction).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd

from relsynth.metadata._rule import Aggregate, Equality, Order, PathAgreement, Ref, Rule
from relsynth.metadata.schema import ForeignKey, Metadata
from relsynth.rules._determines import discover_determines
from relsynth.rules._gaps import summarise
from relsynth.rules._measure import (
    _rows_equal,
    as_numbers,
    decimals,
    follow,
    is_clock,
    lookup,
    within,
)
from relsynth.rules._values import discover_values

__all__ = ["discover"]

logger = logging.getLogger(__name__)

#: Column lists per (frame, table, minimum values) during one discover() call.
_CACHE: ContextVar[dict[tuple[int, str, int], list[str]]] = ContextVar("rules_columns")
#: Column families per (frame length, table) during one discover() call.
_FAMILIES: ContextVar[dict[tuple[int, str], dict[str, str]]] = ContextVar("rules_families")
_SAME = ("min", "max", "mean")
_AGG_PARENTS = 5_000  # parent rows examined for aggregates (their children all read)
_EXACT_LIFT = 0.1
_WEAK_LIFT = 0.2
_MAX_TERMS = 12


@dataclass(frozen=True)
class _Settings:
    threshold: float
    min_share: float
    rng: np.random.Generator
    copied: frozenset[str] = frozenset()
    min_count: int = 2


def discover(
    meta: Metadata,
    tables: Mapping[str, pd.DataFrame],
    threshold: float = 0.99,
    *,
    min_share: float = 0.5,
    max_rows: int = 20_000,
    seed: int = 0,
    copied: Collection[str] | None = None,
    min_count: int = 2,
) -> tuple[Rule, ...]:
    """Discover path agreements, equalities, orders, aggregates, keys that determine
    another key, and keys to copied parents that determine a value column.

    Parameters
    ----------
    meta : Metadata
        The schema (foreign keys give the paths).
    tables : Mapping of str to DataFrame
        The source tables.
    threshold : float, default 0.99
        Share of rows from which a rule is exact.
    min_share : float, default 0.5
        Smallest share of a weaker rule that is kept (with its share).
    max_rows : int, default 20,000
        Rows of each table examined (a random sample of larger tables).
    seed : int, default 0
        Seed of the samples and of the chance baselines.
    copied : collection of str, optional
        The tables the synthetic database holds verbatim (their key values are the
        source's): keys to them may determine a value column. Default: the lookup and
        reference tables :func:`relsynth.rules.lookup.find_lookups` finds, with each
        table's ``reference`` setting applied.
    min_count : int, default 2
        A key combination's value is kept only when at least this many source rows
        hold it (the synthesizer's ``min_category_count``).

    Returns
    -------
    tuple of Rule
        Each with its ``share``; in table order, kind by kind.
    """
    rng = np.random.default_rng(seed)
    if copied is None:
        copied = copied_tables(meta, tables)
    cfg = _Settings(threshold, min_share, rng, frozenset(copied), min_count)
    sample = {
        name: frame.sample(n=max_rows, random_state=rng).reset_index(drop=True)
        if len(frame) > max_rows
        else frame.reset_index(drop=True)
        for name, frame in tables.items()
        if name in meta.tables
    }
    token, families = _CACHE.set({}), _FAMILIES.set({})
    try:
        return _discover(meta, tables, sample, cfg)
    finally:
        _CACHE.reset(token)
        _FAMILIES.reset(families)


def _discover(
    meta: Metadata,
    tables: Mapping[str, pd.DataFrame],
    sample: Mapping[str, pd.DataFrame],
    cfg: _Settings,
) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for name in meta.tables:
        if name not in sample or not len(sample[name]):
            continue
        chains = _chains(meta, name, tables)
        rules += _paths(meta, tables, sample[name], name, chains, cfg)
        equalities = _equalities(meta, tables, sample[name], name, chains, cfg)
        rules += equalities
        rules += _orders(meta, tables, sample[name], name, chains, equalities, cfg)
    for fk in meta.foreign_keys:
        rules += _aggregates(meta, tables, sample, fk, cfg)
    rules += discover_determines(meta, tables, cfg.threshold, cfg.rng)
    skip: dict[str, set[str]] = {}
    for rule in rules:  # a column an exact equality copies is that rule's
        if isinstance(rule, Equality) and (rule.share or 0.0) >= cfg.threshold:
            skip.setdefault(rule.table, set()).add(rule.column.target[1][0])
    rules += discover_values(
        meta,
        tables,
        sample,
        cfg.threshold,
        cfg.rng,
        copied=cfg.copied,
        min_count=cfg.min_count,
        skip=skip,
    )
    return tuple(_drop_implied(rules))


def copied_tables(meta: Metadata, tables: Mapping[str, pd.DataFrame]) -> frozenset[str]:
    """The tables a synthesizer copies by default: the lookup and reference tables
    found, with each table's ``reference`` setting (true: copied, false: not)."""
    from relsynth.rules.lookup import find_lookups

    found = {t.name for t in find_lookups(meta, tables)}
    return frozenset(
        name
        for name in meta.tables
        if (meta.table(name).reference if meta.table(name).reference is not None else name in found)
    )


# -- paths ---------------------------------------------------------------------------------


def _chains(
    meta: Metadata, name: str, tables: Mapping[str, pd.DataFrame]
) -> list[tuple[ForeignKey, ...]]:
    """Foreign-key paths of one and two hops from ``name`` (no self-references)."""
    out: list[tuple[ForeignKey, ...]] = []
    for fk in meta.parents(name):
        if fk.is_self_reference or fk.parent not in tables:
            continue
        out.append((fk,))
        for fk2 in meta.parents(fk.parent):
            if not fk2.is_self_reference and fk2.parent not in (name,) and fk2.parent in tables:
                out.append((fk, fk2))
    return out


def _ref(chain: tuple[ForeignKey, ...], columns: tuple[str, ...]) -> Ref:
    steps = [(fk.child, fk.columns) for fk in chain]
    steps.append((chain[-1].parent, columns))
    return Ref(tuple(steps))


def _route(chain: tuple[ForeignKey, ...]) -> Ref:
    """The route that reaches ``chain``'s last parent: ends on its last foreign key."""
    return Ref(tuple((fk.child, fk.columns) for fk in chain))


def _collapses(chain: tuple[ForeignKey, ...]) -> tuple[str, ...] | None:
    """The row's own columns the route's end equals by construction, if any."""
    cols = chain[0].columns
    mapping = dict(zip(chain[0].parent_columns, cols, strict=True))
    for fk in chain[1:]:
        if not set(fk.columns) <= set(mapping):
            return None
        cols = tuple(mapping[c] for c in fk.columns)
        mapping = dict(zip(fk.parent_columns, cols, strict=True))
    return tuple(sorted(cols))


def _shuffled(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def _keep(share: float, chance: float, cfg: _Settings) -> bool:
    if share >= cfg.threshold:
        return share - chance >= _EXACT_LIFT
    return share >= cfg.min_share and share - chance >= _WEAK_LIFT


def _rate(valid: np.ndarray, ok: np.ndarray) -> float:
    n = int(valid.sum())
    return float(ok.sum() / n) if n else float("nan")


def _paths(meta, tables, start, name, chains, cfg) -> list[Rule]:  # noqa: ANN001
    out: list[Rule] = []
    for i, a in enumerate(chains):
        for b in chains[i + 1 :]:
            same_end = (a[-1].parent, a[-1].parent_columns) == (b[-1].parent, b[-1].parent_columns)
            if not same_end or a[0] == b[0] or (len(a) == 1 and len(b) == 1):
                continue
            ca, cb = _collapses(a), _collapses(b)
            if ca is not None and ca == cb:
                continue
            left, right = (a, b) if len(a) <= len(b) else (b, a)
            la = follow(meta, tables, _route(left), start)
            rb = follow(meta, tables, _route(right), start)
            share = _rate(*_rows_equal(la, rb))
            chance = _rate(*_rows_equal(la, _shuffled(rb, cfg.rng)))
            if share == share and _keep(share, chance, cfg):
                out.append(PathAgreement(_route(left), _route(right), round(share, 6)))
    return out


# -- equality and order --------------------------------------------------------------------


def _value_columns(meta: Metadata, name: str, frame: pd.DataFrame, n_min: int) -> list[str]:
    """Non-key columns of ``name`` with at least ``n_min`` values (memoised per table and
    length: a table is examined whole, as its sample, or as the sample's head)."""
    key = (len(frame), name, n_min)
    if key not in _CACHE.get():
        _CACHE.get()[key] = _count_columns(meta, name, frame, n_min)
    return _CACHE.get()[key]


def _count_columns(meta: Metadata, name: str, frame: pd.DataFrame, n_min: int) -> list[str]:
    keys = set(meta.key_columns(name))
    out = []
    for col in meta.table(name).columns:
        if col.name in keys or col.kind == "binary" or col.name not in frame.columns:
            continue
        if frame[col.name].nunique(dropna=True) >= n_min:
            out.append(col.name)
    return out


def _family(values: pd.Series) -> str:
    """``datetime``, ``number``, ``clock`` (clock text, e.g. GTFS ``'25:10:00'``) or ``text``."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return "number"
    if not pd.api.types.is_bool_dtype(dtype) and is_clock(values):
        return "clock"
    return "text"


def _codes(values: pd.Series) -> tuple[str, np.ndarray]:
    """``(family, comparable array)``: numbers (dates as seconds) as floats, text as str."""
    numbers = as_numbers(values)
    if numbers is not None:
        return _family(values), numbers
    text = values.astype(object).to_numpy()
    null = pd.isna(values).to_numpy()
    out = np.array([str(v) for v in text], dtype=object)
    out[null] = None
    return "text", out


def _families(meta: Metadata, name: str, frame: pd.DataFrame) -> dict[str, str]:
    """The family of each column with three values or more (memoised like the columns)."""
    key = (len(frame), name)
    if key not in _FAMILIES.get():
        cols = _value_columns(meta, name, frame, 3)
        _FAMILIES.get()[key] = {c: _family(frame[c]) for c in cols}
    return _FAMILIES.get()[key]


def _same(a: np.ndarray, b: np.ndarray, family: str) -> float:
    if family == "text":
        valid = (a != None) & (b != None)  # noqa: E711 - elementwise on object arrays
        ok = valid & (a == b)
    else:
        valid = np.isfinite(a) & np.isfinite(b)
        with np.errstate(invalid="ignore"):
            ok = valid & np.isclose(a, b, rtol=1e-9, atol=1e-9)
    return _rate(valid, ok)


def _equalities(meta, tables, start, name, chains, cfg) -> list[Rule]:  # noqa: ANN001
    out: list[Rule] = []
    own = {c: _codes(start[c]) for c in _value_columns(meta, name, start, 2)}
    if not own:
        return out
    for chain in chains:
        parent = chain[-1].parent
        cols = [
            c
            for c in _value_columns(meta, parent, tables[parent], 2)
            if c not in chain[-1].parent_columns
        ]
        if not cols:
            continue
        anc = follow(meta, tables, _ref(chain, tuple(cols)), start)
        anc.columns = cols
        codes = {d: _codes(anc[d]) for d in cols}
        perm = cfg.rng.permutation(len(anc))
        for col, (family, a) in own.items():
            for d, (dfamily, b) in codes.items():
                if family != dfamily:
                    continue
                share = _same(a, b, family)
                if not share >= cfg.min_share:
                    continue
                chance = _same(a, b[perm], family)
                if _keep(share, chance, cfg):
                    out.append(Equality(Ref(((name, (col,)),)), _ref(chain, (d,)), round(share, 6)))
    return out


def _orders(meta, tables, start, name, chains, equalities, cfg) -> list[Rule]:  # noqa: ANN001
    out: list[Rule] = []
    # only an exact equality makes the orders of its pair redundant: beside a weaker one
    # (Northwind: a line's price is the product's on 69 % of lines, never above it) the
    # order is what keeps the rows the equality does not copy on their side
    equal = {
        (str(r.column), str(r.anchor))
        for r in equalities
        if isinstance(r, Equality) and (r.share or 0.0) >= cfg.threshold
    }
    family = {c: _family(start[c]) for c in _value_columns(meta, name, start, 3)}
    own = [c for c, f in family.items() if f != "text"]
    numbers = {c: as_numbers(start[c]) for c in own}
    for chain in chains:
        parent = chain[-1].parent
        pfamily = _families(meta, parent, tables[parent])
        cols = [c for c, f in pfamily.items() if c not in chain[-1].parent_columns and f != "text"]
        if not own or not cols:
            continue
        anc = follow(meta, tables, _ref(chain, tuple(cols)), start)
        anc.columns = cols
        perm = cfg.rng.permutation(len(anc))
        values = {d: as_numbers(anc[d]) for d in cols}
        for col in own:
            a = numbers[col]
            for d in cols:
                if family[col] != pfamily[d] or a is None or values[d] is None:
                    continue
                if (str(Ref(((name, (col,)),))), str(_ref(chain, (d,)))) in equal:
                    continue
                b = values[d]
                rule = _order(name, col, chain, d, a, b, perm, cfg, family[col])
                if rule is not None:
                    out.append(rule)
    return out


def _order(name, col, chain, d, a, b, perm, cfg, family) -> Order | None:  # noqa: ANN001
    diff = a - b
    valid = np.isfinite(diff)
    n = int(valid.sum())
    if n < 10:
        return None
    if (diff[valid] == 0).mean() >= cfg.threshold:
        return None
    chance_diff = a - b[perm]
    best = None
    for op in (">=", "<="):
        with np.errstate(invalid="ignore"):
            ok = diff >= 0 if op == ">=" else diff <= 0
            chance_ok = chance_diff >= 0 if op == ">=" else chance_diff <= 0
        share = float(ok[valid].mean())
        cvalid = np.isfinite(chance_diff)
        chance = float(chance_ok[cvalid].mean()) if cvalid.any() else 1.0
        if _keep(share, chance, cfg) and (best is None or share > best[1]):
            best = (op, share)
    if best is None:
        return None
    return Order(
        Ref(((name, (col,)),)),
        best[0],  # type: ignore[arg-type]
        _ref(chain, (d,)),
        round(best[1], 6),
        **summarise(diff, b, family),
    )


def _drop_implied(rules: list[Rule]) -> list[Rule]:
    """Drop two-hop equalities and orders that follow from shorter exact rules.

    ``T.c = T.fk1 -> P.x`` and ``P.x = P.fk2 -> G.d`` give ``T.c = T.fk1 -> P.fk2 -> G.d``
    (the same for orders of one direction); with a path agreement ``T.fk = T.fk1 -> P.fk2``,
    the two-hop rule is the one-hop rule ``T.c = T.fk -> G.d`` read another way.
    """
    keys = {_key(r) for r in rules if isinstance(r, (Equality, Order))}
    agree: dict[str, set[str]] = {}
    for r in rules:
        if isinstance(r, PathAgreement) and (r.share or 0.0) >= 0.99:
            agree.setdefault(str(r.right), set()).add(str(r.left))
            agree.setdefault(str(r.left), set()).add(str(r.right))
    copied = {
        (r.anchor.steps[0][1], r.anchor.target, r.column.target[1][0])
        for r in rules
        if isinstance(r, Equality) and r.anchor.hops == 1 and (r.share or 0.0) >= 0.99
    }
    out = []
    for rule in rules:
        if (
            isinstance(rule, Aggregate)
            and rule.func in _SAME
            and (rule.via, (rule.parent, (rule.column,)), rule.terms[0]) in copied
        ):
            continue  # the children copy the parent's value: any of them gives it back
        if (
            isinstance(rule, (Equality, Order))
            and rule.anchor.hops == 2
            and (rule.share or 0.0) >= 0.99
        ):
            (t, fk1), (p, fk2), (g, (d,)) = rule.anchor.steps
            col, kind = str(rule.column), _op(rule)
            chained = any(
                (kind, col, str(Ref(((t, fk1), (p, (mid,)))))) in keys
                and (kind, str(Ref(((p, (mid,)),))), str(Ref(((p, fk2), (g, (d,)))))) in keys
                for mid in _mids(rules, p)
            )
            route = str(Ref(((t, fk1), (p, fk2))))
            direct = any(
                (kind, col, f"{other} -> {Ref(((g, (d,)),))}") in keys
                for other in agree.get(route, ())
            )
            if chained or direct:
                continue
        out.append(rule)
    return out


def _op(rule: Equality | Order) -> str:
    return "=" if isinstance(rule, Equality) else rule.op


def _key(rule: Equality | Order) -> tuple[str, str, str]:
    return _op(rule), str(rule.column), str(rule.anchor)


def _mids(rules: list[Rule], table: str) -> set[str]:
    return {
        r.column.target[1][0]
        for r in rules
        if isinstance(r, (Equality, Order)) and r.table == table
    }


# -- aggregates ----------------------------------------------------------------------------


def _aggregates(meta, tables, sample, fk, cfg) -> list[Rule]:  # noqa: ANN001
    child, parent = fk.child, fk.parent
    if fk.is_self_reference or child not in tables or parent not in sample:
        return []
    if sum(1 for f in meta.parents(child) if f.parent == parent) != 1:
        return []
    ptable = sample[parent].iloc[:_AGG_PARENTS]
    targets = [c for c in _value_columns(meta, parent, ptable, 2) if _family(ptable[c]) == "number"]
    if not targets or not len(ptable):
        return []
    candidates, values = _candidate_aggregates(meta, tables, ptable, fk)
    out: list[Rule] = []
    for col in targets:
        y = as_numbers(ptable[col])
        if y is None:
            continue
        places = decimals(y)
        y_perm = y[cfg.rng.permutation(len(y))]
        best = None
        for cand, v in zip(candidates, values, strict=True):
            valid = np.isfinite(y) & np.isfinite(v)
            if valid.sum() < 5:
                continue
            share = float(within(y, v, places)[valid].mean())
            if best is not None and share <= best[1]:
                continue
            cvalid = np.isfinite(y_perm) & np.isfinite(v)
            chance = float(within(y_perm, v, places)[cvalid].mean())
            if _keep(share, chance, cfg):
                best = (cand, share)
        if best is not None:
            c, share = best
            out.append(
                Aggregate(parent, col, c.func, child, c.terms, c.via, round(share, 6), True, places)
            )
    return out


def _candidate_aggregates(meta, tables, ptable, fk):  # noqa: ANN001, ANN202
    """Every aggregate of the child's numbers per parent row of ``ptable``: one groupby."""
    child = tables[fk.child]
    terms = [c for c in _value_columns(meta, fk.child, child, 2) if _family(child[c]) == "number"][
        :_MAX_TERMS
    ]
    if len(ptable) < len(tables[fk.parent]):  # only the children of the sampled parents
        keys = pd.MultiIndex.from_frame(child[list(fk.columns)].astype(object))
        among = pd.MultiIndex.from_frame(ptable[list(fk.parent_columns)].astype(object))
        child = child[keys.isin(among)]
    frame = child[list(fk.columns)].reset_index(drop=True).copy()
    keys = list(frame.columns)
    frame["__one"] = 1.0
    specs: list[tuple[Aggregate, str, str]] = [
        (Aggregate(fk.parent, "", "count", fk.child, (), fk.columns), "__one", "size")
    ]
    nums = {t: as_numbers(child[t]) for t in terms}
    for i, t in enumerate(terms):
        frame[f"__x{i}"] = nums[t]
        for func in ("sum", "min", "max", "mean"):
            rule = Aggregate(fk.parent, "", func, fk.child, (t,), fk.columns)  # type: ignore[arg-type]
            specs.append((rule, f"__x{i}", func))
    for i, t1 in enumerate(terms):
        for j in range(i + 1, len(terms)):
            frame[f"__p{i}_{j}"] = nums[t1] * nums[terms[j]]
            rule = Aggregate(fk.parent, "", "sum", fk.child, (t1, terms[j]), fk.columns)
            specs.append((rule, f"__p{i}_{j}", "sum"))
    grouped = frame.groupby(keys, dropna=True, sort=False)
    named = {f"__a{k}": (col, func) for k, (_, col, func) in enumerate(specs)}
    table = grouped.agg(**named).reset_index()
    aligned = lookup(ptable[list(fk.parent_columns)], table, keys, list(named))
    values = []
    for k, (_, _, func) in enumerate(specs):
        v = aligned[k].to_numpy(dtype="float64", na_value=np.nan)
        values.append(np.where(np.isnan(v), 0.0, v) if func in ("size", "sum") else v)
    return [rule for rule, _, _ in specs], values
