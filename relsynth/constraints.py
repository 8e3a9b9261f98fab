"""CHECK constraints and generated columns, evaluated on DataFrames; CHECKs repaired.

A CHECK constraint is kept in the metadata as SQL text
(:class:`~relsynth.metadata.schema.CheckConstraint`); :func:`parse_check` parses it
with sqlglot into an allow-listed expression tree
(:func:`relsynth.metadata.expressions.parse_expression`: the spellings of SQLite
``[col]``, PostgreSQL ``"col"``/``::casts``/``= ANY (ARRAY[...])`` and MariaDB
backticks all read). :func:`evaluate_check` evaluates a tree on a DataFrame,
following SQL's three-valued logic: a row passes when the expression is TRUE or
UNKNOWN (a NULL operand), as the database decides. :func:`evaluate_expression`
computes an expression's values (a generated column on a target that cannot
generate it).

The models learn each column's observed range, which keeps most constraints by
itself, but not all: comparisons between two columns of a row (``closed >=
opened``), strict bounds, IN lists over learned text. :func:`enforce_checks`
repairs the rows that break a constraint of these forms:

* ``col <op> literal`` and ``literal <op> col`` with ``= <> != < <= > >=``;
* ``col <op> col`` (two columns of the same row);
* ``col BETWEEN a AND b``, ``col [NOT] IN (a, b, ...)``, ``col IS [NOT] NULL``;
* ``AND``, ``OR`` and parentheses around any of them (casts around a column or a
  literal are looked through).

Repairs change as little as possible and never touch key columns: a value below a
bound is set to the bound (the next representable value for a strict bound: +1 for
integer columns), a value outside an IN list is replaced by a value of the list, a
row with ``closed < opened`` gets ``closed = opened``; for ``a OR b`` the first
branch that is not a bare ``IS NULL`` test is made true. Other constraints
(``length(name) > 2``) are evaluated but not repaired; the target decides.

Pure: numpy, pandas and sqlglot.
"""

from __future__ import annotations

import logging
import math
import operator
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from relsynth.errors import MetadataError
from relsynth.metadata.expressions import parse_expression

__all__ = [
    "Expr",
    "columns_of",
    "enforce_checks",
    "evaluate_check",
    "evaluate_expression",
    "parse_check",
]

logger = logging.getLogger(__name__)

#: A parsed CHECK or generated-column expression (a sqlglot tree).
Expr = exp.Expression


class Unevaluable(Exception):
    """The expression uses something this module cannot compute on a DataFrame."""


def parse_check(sqltext: str, columns: Collection[str] | None = None) -> Expr | None:
    """Parse a CHECK constraint's SQL text, or ``None`` when it is refused.

    ``columns`` (the table's columns), when given, must hold every column the
    constraint names. The result is evaluable by :func:`evaluate_check`.

    Examples
    --------
    >>> parse_check("[Discount]>=(0) AND [Discount]<=(1)").sql()
    '"Discount" >= (0) AND "Discount" <= (1)'
    >>> parse_check("true); DROP TABLE victim; SELECT (1") is None
    True
    """
    try:
        return parse_expression(sqltext, columns=columns, where="CHECK constraint")
    except MetadataError:
        return None


def columns_of(expr: Expr) -> set[str]:
    """The columns an expression reads."""
    return {str(c.name) for c in expr.find_all(exp.Column)}


# -- evaluation ---------------------------------------------------------------------------

_TRUE, _FALSE, _UNKNOWN = 1, 0, -1
_OPS: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
}
_SYMBOL = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>"}
_BY_SYMBOL = {v: _OPS[k] for k, v in _SYMBOL.items()}


def evaluate_check(expr: Expr, frame: pd.DataFrame) -> np.ndarray:
    """Per row: 1 (TRUE), 0 (FALSE) or -1 (UNKNOWN), as SQL evaluates ``expr``.

    Raises ``KeyError`` for a column the frame lacks and :class:`Unevaluable`
    for something that cannot be computed on a DataFrame (``CURRENT_TIMESTAMP``).
    """
    return _truth(expr, frame)


def evaluate_expression(expr: Expr, frame: pd.DataFrame) -> pd.Series:
    """The values of ``expr`` for every row of ``frame`` (NULL as ``NaN``/``None``)."""
    value = _value(expr, frame)
    if isinstance(value, pd.Series):
        return value.reset_index(drop=True)
    return pd.Series([value] * len(frame), dtype=object if value is None else None)


def _unwrap(node: Expr) -> Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _truth(node: Expr, frame: pd.DataFrame) -> np.ndarray:
    node = _unwrap(node)
    n = len(frame)
    if isinstance(node, exp.And | exp.Or):
        return _combine(type(node), _truth(node.this, frame), _truth(node.expression, frame))
    if isinstance(node, exp.Not):
        inner = _truth(node.this, frame)
        return np.where(inner == _UNKNOWN, _UNKNOWN, 1 - inner)
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise Unevaluable(node.sql())
        null = _isna(_value(node.this, frame), n)
        return np.where(null, _TRUE, _FALSE)
    if isinstance(node, exp.In):
        return _in_list(_as_series(_value(node.this, frame), n), node.expressions, frame)
    if isinstance(node, exp.Between):
        series = _as_series(_value(node.this, frame), n)
        low = _compare(series, ">=", _value(node.args["low"], frame))
        high = _compare(series, "<=", _value(node.args["high"], frame))
        return _combine(exp.And, low, high)
    if type(node) in _OPS:
        left = _as_series(_value(node.this, frame), n)
        return _compare(left, _SYMBOL[type(node)], _value(node.expression, frame))
    if isinstance(node, exp.Like | exp.ILike | exp.Glob | exp.RegexpLike):
        return _match(node, frame)
    return _to_truth(_value(node, frame), n)


def _combine(kind: type, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if kind is exp.And:
        out = np.where((a == _TRUE) & (b == _TRUE), _TRUE, _UNKNOWN)
        out[(a == _FALSE) | (b == _FALSE)] = _FALSE
        return out
    out = np.where((a == _FALSE) & (b == _FALSE), _FALSE, _UNKNOWN)
    out[(a == _TRUE) | (b == _TRUE)] = _TRUE
    return out


def _isna(value: Any, n: int) -> np.ndarray:
    if isinstance(value, pd.Series):
        return value.isna().to_numpy()
    return np.full(n, value is None or (isinstance(value, float) and math.isnan(value)))


def _as_series(value: Any, n: int) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.reset_index(drop=True)
    return pd.Series([value] * n, dtype=object)


def _to_truth(value: Any, n: int) -> np.ndarray:
    series = _as_series(value, n)
    null = series.isna().to_numpy()
    out = np.where(series.fillna(False).astype(bool).to_numpy(), _TRUE, _FALSE)
    out[null] = _UNKNOWN
    return out


def _literal_like(series: pd.Series, value: Any) -> Any:
    if isinstance(value, str) and (
        pd.api.types.is_datetime64_any_dtype(series.dtype)
        or (
            series.dtype == object
            and len(series.dropna())
            and isinstance(series.dropna().iloc[0], pd.Timestamp)
        )
    ):
        return pd.Timestamp(value)
    return value


def _compare(left: pd.Series, op: str, right: Any) -> np.ndarray:
    null = left.isna().to_numpy().copy()
    if isinstance(right, pd.Series):
        null |= right.isna().to_numpy()
        right = right.to_numpy()
    elif right is None:
        return np.full(len(left), _UNKNOWN)
    else:
        right = _literal_like(left, right)
        if isinstance(right, (int, float)) and not pd.api.types.is_numeric_dtype(left.dtype):
            left = pd.to_numeric(left, errors="coerce")
    lhs = left.to_numpy()
    compare = _BY_SYMBOL[op]
    with np.errstate(invalid="ignore"):
        try:
            ok = compare(lhs, right)
        except TypeError:  # mixed object values: one pair at a time
            rhs = right if isinstance(right, np.ndarray) else [right] * len(lhs)
            ok = [_safe_cmp(compare, a, b) for a, b in zip(lhs, rhs, strict=True)]
    out = np.where(np.asarray(ok, dtype=bool), _TRUE, _FALSE)
    out[null] = _UNKNOWN
    return out


def _safe_cmp(compare: Callable[[Any, Any], Any], a: Any, b: Any) -> bool:
    try:
        return bool(compare(a, b))
    except TypeError:
        return True  # incomparable values: leave the decision to the database


def _in_list(series: pd.Series, items: Sequence[Expr], frame: pd.DataFrame) -> np.ndarray:
    allowed = [_literal_like(series, _literal(v)) for v in items]
    inside = series.isin([v for v in allowed if v is not None]).to_numpy()
    out = np.where(inside, _TRUE, _FALSE)
    if any(v is None for v in allowed):
        out[~inside] = _UNKNOWN  # x IN (.., NULL) is never FALSE
    out[series.isna().to_numpy()] = _UNKNOWN
    return out


def _match(node: Expr, frame: pd.DataFrame) -> np.ndarray:
    n = len(frame)
    series = _as_series(_value(node.this, frame), n)
    pattern = _literal(node.expression)
    if not isinstance(pattern, str):
        raise Unevaluable(node.sql())
    if isinstance(node, exp.Like | exp.ILike):
        regex = "".join(
            ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern
        )
        flags = re.IGNORECASE if isinstance(node, exp.ILike) else 0
        matched = series.astype(str).str.fullmatch(regex, flags=flags | re.DOTALL)
    elif isinstance(node, exp.Glob):
        regex = "".join(
            ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
        )
        matched = series.astype(str).str.fullmatch(regex, flags=re.DOTALL)
    else:
        matched = series.astype(str).str.contains(pattern, regex=True)
    out = np.where(matched.fillna(False).to_numpy(dtype=bool), _TRUE, _FALSE)
    out[series.isna().to_numpy()] = _UNKNOWN
    return out


class _NotLiteral(Exception):
    pass


def _literal(node: Expr) -> Any:
    """The Python value of a literal (through parentheses, casts and a minus sign)."""
    node = _unwrap(node)
    if isinstance(node, exp.Cast):
        return _literal(node.this)
    if isinstance(node, exp.Neg):
        value = _literal(node.this)
        if isinstance(value, (int, float)):
            return -value
        raise _NotLiteral(node.sql())
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        text = str(node.this)
        try:
            return int(text)
        except ValueError:
            return float(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    raise _NotLiteral(node.sql())


def _value(node: Expr, frame: pd.DataFrame) -> Any:
    """A Series (one value per row) or a scalar."""
    node = _unwrap(node)
    if isinstance(node, exp.Column):
        return frame[str(node.name)].reset_index(drop=True)
    if isinstance(node, exp.Literal | exp.Boolean | exp.Null):
        return _literal(node)
    if isinstance(node, exp.Neg):
        value = _value(node.this, frame)
        return -_numeric(value)
    if isinstance(node, exp.Cast):
        return _cast(_value(node.this, frame), node.to)
    if type(node) in _ARITHMETIC:
        return _arithmetic(node, frame)
    if isinstance(node, exp.DPipe | exp.Concat):
        parts = [node.this, node.expression] if isinstance(node, exp.DPipe) else node.expressions
        return _concat([_value(p, frame) for p in parts], len(frame))
    if isinstance(node, exp.Case | exp.If):
        return _case(node, frame)
    function = _FUNCTIONS.get(type(node))
    if function is not None:
        return function(node, frame)
    if isinstance(node, exp.Predicate | exp.Connector | exp.Not):
        truth = _truth(node, frame)
        return pd.Series(np.where(truth == _UNKNOWN, None, truth == _TRUE), dtype=object)
    raise Unevaluable(node.sql())


def _numeric(value: Any) -> Any:
    if isinstance(value, pd.Series):
        if pd.api.types.is_numeric_dtype(value.dtype) and not pd.api.types.is_bool_dtype(
            value.dtype
        ):
            return value
        return pd.to_numeric(value, errors="coerce")
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unevaluable(repr(value)) from None


def _arithmetic(node: Expr, frame: pd.DataFrame) -> Any:
    left, right = _value(node.this, frame), _value(node.expression, frame)
    if left is None or right is None:
        return None
    integer = _is_integer(left) and _is_integer(right)
    left, right = _numeric(left), _numeric(right)
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(node, exp.Div | exp.IntDiv | exp.Mod):
            if isinstance(right, pd.Series):
                right = right.where(right != 0)
            elif right == 0:
                return None  # SQL: division by zero is NULL (SQLite, MariaDB) or an error
            if isinstance(node, exp.Mod):
                return np.fmod(left, right)
            quotient = left / right
            return np.trunc(quotient) if integer or isinstance(node, exp.IntDiv) else quotient
        return _ARITHMETIC[type(node)](left, right)


def _is_integer(value: Any) -> bool:
    if isinstance(value, pd.Series):
        return pd.api.types.is_integer_dtype(value.dtype)
    return isinstance(value, int) and not isinstance(value, bool)


_ARITHMETIC: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
    exp.Div: operator.truediv,
    exp.IntDiv: operator.floordiv,
    exp.Mod: operator.mod,
}


def _text(value: Any, n: int) -> pd.Series:
    series = _as_series(value, n)
    null = series.isna()
    return series.astype(object).where(null, series.astype(str)).where(~null, None)


def _concat(values: list[Any], n: int) -> pd.Series:
    out = _text(values[0], n)
    for value in values[1:]:
        other = _text(value, n)
        null = out.isna() | other.isna()
        out = (out.fillna("") + other.fillna("")).where(~null, None)
    return out


def _cast(value: Any, to: exp.DataType) -> Any:
    t = exp.DataType.Type
    if to.this in exp.DataType.INTEGER_TYPES:
        return _map(value, lambda v: _numeric(v), integer=True)
    if to.this in exp.DataType.REAL_TYPES:
        return _map(value, _numeric)
    if to.this in exp.DataType.TEXT_TYPES:
        return _text(value, 1)[0] if not isinstance(value, pd.Series) else _text(value, len(value))
    if to.this in (t.DATE, t.DATETIME, t.TIMESTAMP, t.TIMESTAMPTZ):
        if isinstance(value, pd.Series):
            return pd.to_datetime(value, errors="coerce")
        return None if value is None else pd.Timestamp(value)
    raise Unevaluable(f"CAST to {to.sql()}")


def _map(value: Any, convert: Callable[[Any], Any], *, integer: bool = False) -> Any:
    out = convert(value)
    if integer:
        if isinstance(out, pd.Series):
            return np.trunc(out).astype("Int64") if out.notna().all() else np.trunc(out)
        return None if out is None else int(out)
    return out


def _case(node: Expr, frame: pd.DataFrame) -> Any:
    n = len(frame)
    if isinstance(node, exp.If):
        branches = [(node.this, node.args.get("true"))]
        default = node.args.get("false")
    else:
        if node.this is not None:  # CASE x WHEN ...: compare x with each WHEN value
            raise Unevaluable(node.sql())
        branches = [(b.this, b.args.get("true")) for b in node.args.get("ifs") or ()]
        default = node.args.get("default")
    result = _as_series(None if default is None else _value(default, frame), n).astype(object)
    decided = np.zeros(n, dtype=bool)
    for condition, then in branches:
        hit = (_truth(condition, frame) == _TRUE) & ~decided
        values = _as_series(_value(then, frame), n).astype(object)
        result[hit] = values[hit]
        decided |= hit
    return pd.Series(result.tolist()).infer_objects()


def _strings(fn: Callable[[pd.Series], pd.Series]) -> Callable[[Expr, pd.DataFrame], Any]:
    def apply(node: Expr, frame: pd.DataFrame) -> Any:
        return fn(_text(_value(node.this, frame), len(frame)).astype("string"))

    return apply


def _numbers(fn: Callable[..., Any]) -> Callable[[Expr, pd.DataFrame], Any]:
    def apply(node: Expr, frame: pd.DataFrame) -> Any:
        return fn(_numeric(_as_series(_value(node.this, frame), len(frame))))

    return apply


def _round(node: Expr, frame: pd.DataFrame) -> Any:
    digits = node.args.get("decimals")
    values = _numeric(_as_series(_value(node.this, frame), len(frame)))
    return values.round(int(_literal(digits)) if digits is not None else 0)


def _substring(node: Expr, frame: pd.DataFrame) -> Any:
    text = _text(_value(node.this, frame), len(frame)).astype("string")
    start = int(_literal(node.args["start"])) if node.args.get("start") else 1
    length = node.args.get("length")
    begin = max(start - 1, 0)
    end = None if length is None else begin + int(_literal(length))
    return text.str.slice(begin, end)


def _coalesce(node: Expr, frame: pd.DataFrame) -> Any:
    n = len(frame)
    out = _as_series(_value(node.this, frame), n)
    for other in node.expressions:
        out = out.where(out.notna(), _as_series(_value(other, frame), n))
    return out


def _nullif(node: Expr, frame: pd.DataFrame) -> Any:
    n = len(frame)
    left = _as_series(_value(node.this, frame), n)
    same = _compare(left, "=", _value(node.expression, frame)) == _TRUE
    return left.where(~same)


def _extreme(largest: bool) -> Callable[[Expr, pd.DataFrame], Any]:
    def apply(node: Expr, frame: pd.DataFrame) -> Any:
        parts = [node.this, *node.expressions]
        values = pd.concat(
            [_as_series(_numeric(_value(p, frame)), len(frame)) for p in parts], axis=1
        )
        out = values.max(axis=1) if largest else values.min(axis=1)
        return out.where(values.notna().all(axis=1))  # NULL if any is NULL (PostgreSQL: skip)

    return apply


_FUNCTIONS: dict[type[exp.Expression], Callable[[Expr, pd.DataFrame], Any]] = {
    exp.Length: _strings(lambda s: s.str.len()),
    exp.Lower: _strings(lambda s: s.str.lower()),
    exp.Upper: _strings(lambda s: s.str.upper()),
    exp.Trim: _strings(lambda s: s.str.strip(" ")),
    exp.Abs: _numbers(np.abs),
    exp.Floor: _numbers(np.floor),
    exp.Ceil: _numbers(np.ceil),
    exp.Round: _round,
    exp.Substring: _substring,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.Greatest: _extreme(True),
    exp.Least: _extreme(False),
}


# -- repair ------------------------------------------------------------------------------


def _column_name(node: Expr) -> str | None:
    """The column under parentheses and casts, or ``None``."""
    node = _unwrap(node)
    while isinstance(node, exp.Cast):
        node = _unwrap(node.this)
    return str(node.name) if isinstance(node, exp.Column) else None


def _simple(node: Expr) -> tuple[str, str, Any] | None:
    """``col <op> literal`` or ``col <op> other_col`` as (column, op, literal or column node)."""
    if type(node) not in _OPS:
        return None
    op = _SYMBOL[type(node)]
    left, right = _column_name(node.this), _column_name(node.expression)
    if left is None and right is not None:
        node_left, node_right, op = node.expression, node.this, _FLIP[op]
        left, right = right, None
    else:
        node_left, node_right = node.this, node.expression
    del node_left
    if left is None:
        return None
    if right is not None:
        return left, op, exp.column(right)
    try:
        return left, op, _literal(node_right)
    except _NotLiteral:
        return None


def _step(series: pd.Series, integer: bool, value: Any, up: bool) -> Any:
    """The next value after ``value`` (upwards or downwards) in the column's domain."""
    if isinstance(value, pd.Timestamp):
        return value + pd.Timedelta(seconds=1 if up else -1)
    if integer or pd.api.types.is_integer_dtype(series.dtype):
        return value + (1 if up else -1)
    if isinstance(value, (int, float, np.number)):
        return float(np.nextafter(float(value), np.inf if up else -np.inf))
    return value


def _assign(frame: pd.DataFrame, column: str, rows: np.ndarray, values: Any) -> None:
    try:
        frame.loc[rows, column] = values
    except (TypeError, ValueError):  # e.g. a date into a column pandas holds as text
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = values


def _is_null_test(node: Expr) -> bool:
    node = _unwrap(node)
    return isinstance(node, exp.Is) and isinstance(node.expression, exp.Null)


def _repair(
    expr: Expr,
    frame: pd.DataFrame,
    rows: np.ndarray,
    protected: Collection[str],
    integers: Collection[str],
    rng: np.random.Generator,
) -> None:
    """Make ``expr`` not FALSE on the boolean mask ``rows`` (in place), where it can."""
    if not rows.any():
        return
    node = _unwrap(expr)
    if isinstance(node, exp.And):
        for term in (node.this, node.expression):
            bad = rows & (evaluate_check(term, frame) == _FALSE)
            _repair(term, frame, bad, protected, integers, rng)
        return
    if isinstance(node, exp.Or):
        terms = list(node.flatten())
        choices = [t for t in terms if not _is_null_test(t)]
        choices = [t for t in choices if not (columns_of(t) & set(protected))] or terms
        _repair(choices[0], frame, rows, protected, integers, rng)
        return
    idx = np.flatnonzero(rows)
    if _is_null_test(node):
        column = _column_name(node.this)
        if column is not None and column not in protected:
            _assign(frame, column, idx, None)
        return  # IS NOT NULL: NOT NULL columns are filled by the models already
    if isinstance(node, exp.In):
        _repair_in(node, frame, idx, protected, rng)
        return
    if isinstance(node, exp.Between):
        column = _column_name(node.this)
        if column is None:
            return
        bounds = exp.and_(
            exp.GTE(this=node.this.copy(), expression=node.args["low"].copy()),
            exp.LTE(this=node.this.copy(), expression=node.args["high"].copy()),
        )
        _repair(bounds, frame, rows, protected, integers, rng)
        return
    simple = _simple(node)
    if simple is None or simple[0] in protected:
        return
    _repair_compare(frame, idx, simple, simple[0] in integers)


def _repair_in(
    node: exp.In,
    frame: pd.DataFrame,
    idx: np.ndarray,
    protected: Collection[str],
    rng: np.random.Generator,
) -> None:
    column = _column_name(node.this)
    if column is None or column in protected:
        return
    series = frame[column]
    try:
        allowed = [_literal_like(series, _literal(v)) for v in node.expressions]
    except _NotLiteral:
        return
    allowed = [v for v in allowed if v is not None]
    if not allowed:
        return
    observed = series[series.isin(allowed)]
    pool = observed.to_numpy() if len(observed) else np.asarray(allowed, dtype=object)
    _assign(frame, column, idx, pool[rng.integers(0, len(pool), size=len(idx))])


def _repair_compare(
    frame: pd.DataFrame, idx: np.ndarray, simple: tuple[str, str, Any], integer: bool
) -> None:
    column, op, right = simple
    series = frame[column]
    if isinstance(right, exp.Column):
        target: Any = frame[str(right.name)].to_numpy()[idx]
        if op in (">", "<"):
            target = np.array([_step(series, integer, v, op == ">") for v in target])
    elif right is None:
        return
    else:
        right = _literal_like(series, right)
        if op in ("=", ">=", "<="):
            target = right
        elif op in (">", "<"):
            target = _step(series, integer, right, op == ">")
        else:  # <>: move off the excluded value
            target = _step(series, integer, right, True)
    _assign(frame, column, idx, target)


def enforce_checks(
    frame: pd.DataFrame,
    checks: Sequence[tuple[str, Expr]],
    *,
    protected: Collection[str] = (),
    integers: Collection[str] = (),
    rng: np.random.Generator,
) -> dict[str, int]:
    """Repair the rows of ``frame`` (in place) that break the parsed ``checks``.

    Parameters
    ----------
    frame : DataFrame
        One table's rows; changed in place.
    checks : sequence of (label, Expr)
        The table's parsed CHECK constraints.
    protected : collection of str
        Columns never changed (primary and foreign key columns).
    integers : collection of str
        Columns whose values are whole numbers (a strict bound moves by 1).
    rng : numpy Generator
        Draws replacement values for IN lists.

    Returns
    -------
    dict of str to int
        Rows repaired per constraint label (only those that needed a repair).
    """
    repaired: dict[str, int] = {}
    for label, expr in checks:
        try:
            bad = evaluate_check(expr, frame) == _FALSE
        except (KeyError, Unevaluable, TypeError, ValueError) as exc:
            logger.debug("CHECK %s is not evaluated on the sampled rows: %s", label, exc)
            continue
        if not bad.any():
            continue
        _repair(expr, frame, bad, protected, integers, rng)
        still = int((evaluate_check(expr, frame) == _FALSE).sum())
        if int(bad.sum()) > still:
            repaired[label] = int(bad.sum()) - still
        if still:
            logger.warning(
                "CHECK %s: %d row(s) could not be repaired; the database may reject them",
                label, still,
            )  # fmt: skip
    return repaired
