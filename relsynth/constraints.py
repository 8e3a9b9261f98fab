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
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlglot import exp

from relsynth._sqleval import (
    _FALSE,
    _OPS,
    _SYMBOL,
    Unevaluable,
    _literal,
    _literal_like,
    _NotLiteral,
    _unwrap,
    evaluate_check,
    evaluate_expression,
)
from relsynth.errors import MetadataError
from relsynth.metadata.expressions import parse_expression

if TYPE_CHECKING:
    from relsynth.metadata.schema import Table

__all__ = [
    "Expr",
    "Unevaluable",
    "columns_of",
    "compute_generated",
    "enforce_checks",
    "evaluate_check",
    "evaluate_expression",
    "parse_check",
]

_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>"}

logger = logging.getLogger(__name__)

#: A parsed CHECK or generated-column expression (a sqlglot tree).
Expr = exp.Expression


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


def compute_generated(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each generated column replaced by its values computed from the expression.

    A column whose expression cannot be computed on a DataFrame (a function with no
    pandas equivalent) keeps its values; a target that generates the column ignores
    them anyway.
    """
    generated = [c for c in table.columns if c.generated is not None]
    if not generated:
        return frame
    frame = frame.copy()
    for col in generated:
        tree = parse_check(col.generated or "", table.column_names)
        if tree is None:
            continue
        try:
            values = evaluate_expression(tree, frame)
        except (Unevaluable, KeyError, TypeError, ValueError) as exc:
            logger.info("generated column %s.%s is not computed: %s", table.name, col.name, exc)
            continue
        values.index = frame.index
        try:  # the dtype of the sampled column where the values fit it
            frame[col.name] = values.astype(frame[col.name].dtype)
        except (TypeError, ValueError):
            frame[col.name] = values
    return frame
