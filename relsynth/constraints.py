"""Simple CHECK constraints: parsed from their SQL text, made to hold in sampled rows.

A CHECK constraint is kept in the metadata as the database's SQL text
(:class:`~relsynth.metadata.schema.CheckConstraint`). The models learn each
column's observed range, which keeps most constraints by itself, but not all:
comparisons between two columns of a row (``closed >= opened``), strict bounds,
IN lists over learned text. This module understands the forms that real schemas
use and repairs the rows that break them, so the target database accepts the
synthetic rows:

* ``col <op> literal`` and ``literal <op> col`` with ``= <> != < <= > >=``;
* ``col <op> col`` (two columns of the same row);
* ``col BETWEEN a AND b``, ``col [NOT] IN (a, b, ...)``, ``col IS [NOT] NULL``;
* ``AND``, ``OR`` and parentheses around any of them;
* the spellings of SQLite (``[col]``, ``(0)``), PostgreSQL (``"col"``,
  ``::numeric`` casts, ``col = ANY (ARRAY[...])``) and MariaDB (`` `col` ``).

SQL's three-valued logic is followed: a row passes when the expression is TRUE or
UNKNOWN (a NULL operand), as the database decides. A constraint outside these
forms is reported by :func:`parse_check` as ``None``; the synthesizer logs it once.

Repairs change as little as possible and never touch key columns: a value below a
bound is set to the bound (the next representable value for a strict bound: +1 for
integer columns), a value outside an IN list is replaced by a value of the list, a
row with ``closed < opened`` gets ``closed = opened``; for ``a OR b`` the first
branch that is not a bare ``IS NULL`` test is made true.

Pure: numpy and pandas only.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "And",
    "Between",
    "Compare",
    "InList",
    "IsNull",
    "Or",
    "enforce_checks",
    "parse_check",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Column:
    """A column reference."""

    name: str


@dataclass(frozen=True)
class Compare:
    """``left <op> right``; each side a :class:`Column` or a literal."""

    left: Any
    op: str
    right: Any


@dataclass(frozen=True)
class Between:
    """``column BETWEEN low AND high``."""

    column: str
    low: Any
    high: Any


@dataclass(frozen=True)
class InList:
    """``column [NOT] IN (values...)``."""

    column: str
    values: tuple[Any, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``column IS [NOT] NULL``."""

    column: str
    negated: bool = False


@dataclass(frozen=True)
class And:
    """Every term holds."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one term holds."""

    terms: tuple[Expr, ...]


Expr = Compare | Between | InList | IsNull | And | Or

# -- parsing -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | '(?P<str>(?:[^']|'')*)'
      | \[(?P<bracket>[^\]'\d\-][^\]]*)\]
      | "(?P<dquote>(?:[^"]|"")+)"
      | `(?P<bquote>(?:[^`]|``)+)`
      | (?P<op>::|<>|!=|<=|>=|=|<|>|\(|\)|,|\[|\])
      | (?P<word>[A-Za-z_][A-Za-z_0-9$]*)
    )""",
    re.VERBOSE,
)
_CAST_WORDS = {
    "double", "precision", "character", "varying", "timestamp", "without", "with", "time",
    "zone", "numeric", "text", "integer", "int", "bigint", "smallint", "real", "date",
    "boolean", "bpchar", "varchar", "decimal", "float", "char",
}  # fmt: skip
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "<>"}


class _Unsupported(Exception):
    pass


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _Unsupported(text[pos:])
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = value.replace("''", "'")
        elif kind in ("bracket", "dquote", "bquote"):
            value = value.replace('""', '"').replace("``", "`")
            kind = "ident"
        elif kind == "word":
            upper = value.upper()
            if upper in ("AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "ANY", "ALL",
                         "ARRAY", "TRUE", "FALSE"):  # fmt: skip
                kind, value = "kw", upper
            else:
                kind = "ident"
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise _Unsupported(f"expected {value or kind}, got {tok[1]!r}")
        self.i += 1
        return tok[1]

    def accept(self, kind: str, value: str | None = None) -> bool:
        tok = self.peek()
        if tok[0] == kind and (value is None or tok[1] == value):
            self.i += 1
            return True
        return False

    def expr(self) -> Expr:
        terms = [self.conjunction()]
        while self.accept("kw", "OR"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def conjunction(self) -> Expr:
        terms = [self.unary()]
        while self.accept("kw", "AND"):
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def unary(self) -> Expr:
        if self.peek() == ("op", "(") and not self._parenthesized_operand():
            self.take("op", "(")
            inner = self.expr()
            self.take("op", ")")
            self.casts()
            return inner
        return self.predicate()

    def _parenthesized_operand(self) -> bool:
        """``(0)`` or ``(col)::text`` starting a comparison, not a sub-expression."""
        depth, j = 0, self.i
        while j < len(self.tokens):
            kind, value = self.tokens[j]
            if value == "(" and kind == "op":
                depth += 1
            elif value == ")" and kind == "op":
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and kind == "kw" and value in ("AND", "OR", "IS", "IN", "BETWEEN"):
                return False
            elif depth == 1 and kind == "op" and value in ("=", "<>", "!=", "<", "<=", ">", ">="):
                return False
            j += 1
        return True

    def casts(self) -> None:
        while self.accept("op", "::"):
            while self.peek()[0] == "ident" and self.peek()[1].lower() in _CAST_WORDS:
                self.i += 1
            if self.peek() == ("op", "("):  # numeric(12,2)
                while not self.accept("op", ")"):
                    self.i += 1
            if self.peek() == ("op", "[") and self.peek(1) == ("op", "]"):
                self.i += 2

    def operand(self) -> Any:
        kind, value = self.peek()
        if kind == "op" and value == "(":
            self.i += 1
            inner = self.operand()
            self.take("op", ")")
            self.casts()
            return inner
        self.i += 1
        if kind == "num":
            out: Any = float(value) if any(c in value for c in ".eE") else int(value)
        elif kind == "str":
            out = value
        elif kind == "ident":
            out = Column(value)
        elif kind == "kw" and value in ("TRUE", "FALSE"):
            out = value == "TRUE"
        else:
            raise _Unsupported(f"operand {value!r}")
        self.casts()
        return out

    def literals(self, close: str) -> tuple[Any, ...]:
        values = [self.operand()]
        while self.accept("op", ","):
            values.append(self.operand())
        self.take("op", close)
        if any(isinstance(v, Column) for v in values):
            raise _Unsupported("column in a list")
        return tuple(values)

    def predicate(self) -> Expr:
        left = self.operand()
        kind, value = self.peek()
        negated = self.accept("kw", "NOT")
        if self.accept("kw", "IS"):
            neg = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return IsNull(_column(left), negated=neg)
        if self.accept("kw", "IN"):
            self.take("op", "(")
            return InList(_column(left), self.literals(")"), negated=negated)
        if self.accept("kw", "BETWEEN"):
            low = self.operand()
            self.take("kw", "AND")
            high = self.operand()
            if negated:
                raise _Unsupported("NOT BETWEEN")
            return Between(_column(left), low, high)
        if negated:
            raise _Unsupported("NOT")
        op = self.take("op")
        if op not in _FLIP:
            raise _Unsupported(op)
        op = "<>" if op == "!=" else op
        if self.peek()[0] == "kw" and self.peek()[1] in ("ANY", "ALL"):
            quantifier = self.take("kw")
            opened = 0
            while self.accept("op", "("):  # ANY (ARRAY[...]) or ANY ((ARRAY[...])::text[])
                opened += 1
            self.take("kw", "ARRAY")
            self.take("op", "[")
            values = self.literals("]")
            self.casts()
            for _ in range(opened):
                self.take("op", ")")
                self.casts()
            if (op, quantifier) == ("=", "ANY"):
                return InList(_column(left), values)
            if (op, quantifier) == ("<>", "ALL"):
                return InList(_column(left), values, negated=True)
            raise _Unsupported(f"{op} {quantifier}")
        right = self.operand()
        if not isinstance(left, Column) and isinstance(right, Column):
            left, op, right = right, _FLIP[op], left
        if not isinstance(left, Column):
            raise _Unsupported("no column")
        return Compare(left.name, op, right)


def _column(operand: Any) -> str:
    if not isinstance(operand, Column):
        raise _Unsupported("expected a column")
    return operand.name


def parse_check(sqltext: str) -> Expr | None:
    """Parse a CHECK constraint's SQL text, or ``None`` when it is not a supported form.

    Examples
    --------
    >>> parse_check("[Discount]>=(0) AND [Discount]<=(1)")
    And(terms=(Compare(left='Discount', op='>=', right=0), Compare(left='Discount', op='<=', right=1)))
    >>> parse_check("closed IS NULL OR closed >= opened")
    Or(terms=(IsNull(column='closed', negated=False), Compare(left='closed', op='>=', right=Column(name='opened'))))
    >>> parse_check("length(name) > 2") is None
    True
    """  # noqa: E501
    try:
        parser = _Parser(_tokenize(sqltext))
        expr = parser.expr()
        if parser.peek()[0] != "end":
            raise _Unsupported(parser.peek()[1])
    except (_Unsupported, IndexError):
        return None
    return expr


def columns_of(expr: Expr) -> set[str]:
    """The columns an expression reads."""
    if isinstance(expr, And | Or):
        return set().union(*(columns_of(t) for t in expr.terms))
    if isinstance(expr, Compare):
        return {expr.left} | ({expr.right.name} if isinstance(expr.right, Column) else set())
    return {expr.column}


# -- evaluation (three-valued) -----------------------------------------------------------

_TRUE, _FALSE, _UNKNOWN = 1, 0, -1
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


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


def _operand(frame: pd.DataFrame, like: pd.Series, value: Any) -> Any:
    if isinstance(value, Column):
        return frame[value.name]
    return _literal_like(like, value)


def _compare(left: pd.Series, op: str, right: Any) -> np.ndarray:
    null = left.isna().to_numpy().copy()
    if isinstance(right, pd.Series):
        null |= right.isna().to_numpy()
        right = right.to_numpy()
    elif isinstance(right, (int, float)) and not pd.api.types.is_numeric_dtype(left.dtype):
        left = pd.to_numeric(left, errors="coerce")
    lhs = left.to_numpy()
    compare = _OPS[op]
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


def evaluate_check(expr: Expr, frame: pd.DataFrame) -> np.ndarray:
    """Per row: 1 (TRUE), 0 (FALSE) or -1 (UNKNOWN), as SQL evaluates ``expr``."""
    if isinstance(expr, And):
        parts = np.vstack([evaluate_check(t, frame) for t in expr.terms])
        out = np.where((parts == _TRUE).all(axis=0), _TRUE, _UNKNOWN)
        out[(parts == _FALSE).any(axis=0)] = _FALSE
        return out
    if isinstance(expr, Or):
        parts = np.vstack([evaluate_check(t, frame) for t in expr.terms])
        out = np.where((parts == _FALSE).all(axis=0), _FALSE, _UNKNOWN)
        out[(parts == _TRUE).any(axis=0)] = _TRUE
        return out
    if isinstance(expr, IsNull):
        null = frame[expr.column].isna().to_numpy()
        return np.where(null != expr.negated, _TRUE, _FALSE)
    if isinstance(expr, InList):
        series = frame[expr.column]
        allowed = [_literal_like(series, v) for v in expr.values]
        inside = series.isin(allowed).to_numpy()
        out = np.where(inside != expr.negated, _TRUE, _FALSE)
        out[series.isna().to_numpy()] = _UNKNOWN
        return out
    if isinstance(expr, Between):
        series = frame[expr.column]
        low = _compare(series, ">=", _operand(frame, series, expr.low))
        high = _compare(series, "<=", _operand(frame, series, expr.high))
        return _and2(low, high)
    series = frame[expr.left]
    return _compare(series, expr.op, _operand(frame, series, expr.right))


def _and2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.where((a == _TRUE) & (b == _TRUE), _TRUE, _UNKNOWN)
    out[(a == _FALSE) | (b == _FALSE)] = _FALSE
    return out


# -- repair ------------------------------------------------------------------------------


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


def _repair(
    expr: Expr,
    frame: pd.DataFrame,
    rows: np.ndarray,
    protected: Collection[str],
    integers: Collection[str],
    rng: np.random.Generator,
) -> None:
    """Make ``expr`` not FALSE on the boolean mask ``rows`` (in place)."""
    if not rows.any():
        return
    if isinstance(expr, And):
        for term in expr.terms:
            bad = rows & (evaluate_check(term, frame) == _FALSE)
            _repair(term, frame, bad, protected, integers, rng)
        return
    if isinstance(expr, Or):
        choices = [t for t in expr.terms if not (isinstance(t, IsNull) and not t.negated)]
        choices = [t for t in choices if not (columns_of(t) & set(protected))] or list(expr.terms)
        target = choices[0]
        _repair(target, frame, rows, protected, integers, rng)
        return
    cols = columns_of(expr)
    if isinstance(expr, Compare):
        cols = {expr.left}  # only the left side is changed
    if cols & set(protected):
        return
    idx = np.flatnonzero(rows)
    if isinstance(expr, IsNull):
        if not expr.negated:
            _assign(frame, expr.column, idx, None)
        return  # IS NOT NULL: NOT NULL columns are filled by the models already
    if isinstance(expr, InList):
        series = frame[expr.column]
        if expr.negated:
            return  # an excluded value: the models rarely produce it; the database decides
        allowed = [_literal_like(series, v) for v in expr.values]
        observed = series[series.isin(allowed)]
        pool = observed.to_numpy() if len(observed) else np.asarray(allowed, dtype=object)
        _assign(frame, expr.column, idx, pool[rng.integers(0, len(pool), size=len(idx))])
        return
    if isinstance(expr, Between):
        _repair(
            And((Compare(expr.column, ">=", expr.low), Compare(expr.column, "<=", expr.high))),
            frame, rows, protected, integers, rng,
        )  # fmt: skip
        return
    series = frame[expr.left]
    integer = expr.left in integers
    right = expr.right
    if isinstance(right, Column):
        target: Any = frame[right.name].to_numpy()[idx]
        if expr.op in (">", "<"):
            target = np.array([_step(series, integer, v, expr.op == ">") for v in target])
    else:
        right = _literal_like(series, right)
        if expr.op in ("=", ">=", "<="):
            target = right
        elif expr.op in (">", "<"):
            target = _step(series, integer, right, expr.op == ">")
        else:  # <>: move off the excluded value
            target = _step(series, integer, right, True)
    _assign(frame, expr.left, idx, target)


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
        except KeyError:
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
