"""SQL expression trees evaluated on DataFrames, with SQL's three-valued logic.

The evaluator behind :mod:`relsynth.constraints`: a tree accepted by
:func:`relsynth.metadata.expressions.parse_expression` is computed column-wise with
pandas. Truth values are 1 (TRUE), 0 (FALSE) and -1 (UNKNOWN, a NULL operand).
Something with no pandas equivalent (``CURRENT_TIMESTAMP``, a date function)
raises :class:`Unevaluable`. Pure: numpy, pandas, sqlglot.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

__all__ = ["Unevaluable", "evaluate_check", "evaluate_expression"]

Expr = exp.Expression


class Unevaluable(Exception):
    """The expression uses something this module cannot compute on a DataFrame."""


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
    values = series.to_numpy(dtype=object)
    truth = [not isnull and bool(v) for v, isnull in zip(values, null, strict=True)]
    out = np.where(np.asarray(truth, dtype=bool), _TRUE, _FALSE)
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
    out = np.where(matched.to_numpy(dtype=bool, na_value=False), _TRUE, _FALSE)
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
        pairs = zip(out.to_numpy(object), other.to_numpy(object), strict=True)
        joined = [f"{a}{b}" for a, b in pairs]
        out = pd.Series(joined, dtype=object).where(~null.to_numpy(), None)
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
