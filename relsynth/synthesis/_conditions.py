"""Sampling conditions (``sample(where=...)``): parsed, checked, evaluated on frames.

A condition is one SQL expression over the columns of ONE table, its columns
qualified by the table's name: ``Customers.Country = 'Germany'``,
``Orders.Freight > 100 AND Orders.ShipVia IN (1, 2)``, ``flights.dep_delay
BETWEEN 60 AND 120``, ``Orders.ShippedDate IS NULL``. It goes through the same
allow-list as CHECK constraints (:func:`relsynth.metadata.expressions.parse_expression`)
and is evaluated on DataFrames by :mod:`relsynth._sqleval` (SQL's three-valued
logic: a row meets a condition when it is TRUE, not UNKNOWN). No text is ever run
as SQL. Several conditions on one table all apply (AND).

Every problem is one :class:`~relsynth.errors.ConditionError` naming the condition:
an unknown table or column, a value of the wrong type for its column (a string
compared with a number column), a text that does not parse or is not allowed.

Pure: sqlglot, numpy, pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from relsynth._sqleval import Unevaluable, evaluate_check
from relsynth.errors import ConditionError, MetadataError
from relsynth.metadata.expressions import parse_expression
from relsynth.metadata.schema import Metadata

__all__ = [
    "Condition",
    "category_target",
    "find_table",
    "meets",
    "parse_conditions",
    "range_target",
]

_HOW = (
    "write one expression over one table's columns, qualified by the table "
    "(Customers.Country = 'Germany'; comparisons, IN, BETWEEN, IS NULL, AND/OR)"
)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


@dataclass(frozen=True)
class Condition:
    """One parsed condition: the table it restricts, its text and its tree."""

    table: str
    text: str
    expr: exp.Expression

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row of ``frame``: whether the condition is TRUE."""
        try:
            return evaluate_check(self.expr, frame.reset_index(drop=True)) == 1
        except Unevaluable as why:
            raise ConditionError(
                f"The condition {self.text!r} uses {why}, which relsynth cannot evaluate "
                f"on sampled rows; {_HOW}."
            ) from None


def meets(conditions: Sequence[Condition], frame: pd.DataFrame) -> np.ndarray:
    """Per row: whether every condition in ``conditions`` is TRUE."""
    ok = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        ok &= condition.mask(frame)
    return ok


def category_target(conditions: Sequence[Condition]) -> tuple[str, list[object]] | None:
    """``(column, values)`` of a top-level ``column = value`` or ``column IN (...)`` conjunct
    (what a model's conditional vector can ask for), else None."""
    for condition in conditions:
        for node in (
            condition.expr.flatten() if isinstance(condition.expr, exp.And) else [condition.expr]
        ):
            while isinstance(node, exp.Paren):
                node = node.this
            if isinstance(node, exp.EQ) and isinstance(node.this, exp.Column):
                found, value = _literal(node.expression)
                if found and value is not None:
                    return str(node.this.name), [value]
            if isinstance(node, exp.In) and isinstance(node.this, exp.Column):
                values = [_literal(v) for v in node.expressions]
                if values and all(f and v is not None for f, v in values):
                    return str(node.this.name), [v for _, v in values]
    return None


#: ``column OP value`` -> which bound ``value`` is (``value OP column`` flips it)
_BOUNDS = {exp.GT: "low", exp.GTE: "low", exp.LT: "high", exp.LTE: "high"}
_FLIP = {"low": "high", "high": "low"}


def range_target(conditions: Sequence[Condition]) -> tuple[str, object, object] | None:
    """``(column, low, high)`` (None: unbounded) of the first column that top-level
    ``column > value`` / ``<`` / ``>=`` / ``<=`` / ``BETWEEN`` conjuncts bound (each bound
    the tightest given; a number or a date text), else None: the range a model's
    quantile bins can ask for. Strictness is not kept (every row is checked anyway)."""
    bounds: dict[str, dict[str, list[object]]] = {}
    for condition in conditions:
        for node in (
            condition.expr.flatten() if isinstance(condition.expr, exp.And) else [condition.expr]
        ):
            while isinstance(node, exp.Paren):
                node = node.this
            for column, side, literal in _range_parts(node):
                found, value = _literal(literal)
                if found and value is not None and not isinstance(value, bool):
                    bounds.setdefault(column, {"low": [], "high": []})[side].append(value)
    for column, sides in bounds.items():
        try:
            low = max(sides["low"], key=_order) if sides["low"] else None
            high = min(sides["high"], key=_order) if sides["high"] else None
        except (TypeError, ValueError):  # mixed or unparsable values: no range
            continue
        return column, low, high
    return None


def _range_parts(node: exp.Expression) -> list[tuple[str, str, exp.Expression]]:
    """``(column, "low" | "high", literal)`` for a comparison or BETWEEN on a column."""
    if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
        name = str(node.this.name)
        return [(name, "low", node.args["low"]), (name, "high", node.args["high"])]
    side = _BOUNDS.get(type(node))
    if side is None:
        return []
    if isinstance(node.this, exp.Column):
        return [(str(node.this.name), side, node.expression)]
    if isinstance(node.expression, exp.Column):
        return [(str(node.expression.name), _FLIP[side], node.this)]
    return []


def _order(value: object) -> float:
    """A bound's position: the number, or the date text's time."""
    return float(pd.Timestamp(value).value) if isinstance(value, str) else float(value)  # type: ignore[arg-type]


def parse_conditions(
    meta: Metadata,
    where: str | Sequence[str] | None,
    dtypes: Mapping[str, Mapping[str, str]],
) -> dict[str, list[Condition]]:
    """``where`` (one text or several) as conditions, grouped by table (plan names).

    ``dtypes``: the pandas dtype of each column of each table (the synthesizer's
    ``dtypes_``), for the type checks.
    """
    if where is None:
        return {}
    texts = [where] if isinstance(where, str) else list(where)
    out: dict[str, list[Condition]] = {}
    for text in texts:
        if not isinstance(text, str):
            raise ConditionError(
                f"A condition must be a string such as \"Customers.Country = 'Germany'\"; "
                f"got {type(text).__name__}."
            )
        condition = _parse_one(meta, text, dtypes)
        out.setdefault(condition.table, []).append(condition)
    return out


def _parse_one(meta: Metadata, text: str, dtypes: Mapping[str, Mapping[str, str]]) -> Condition:
    if not text.strip():
        raise ConditionError(f"A condition is empty; {_HOW}.")
    try:
        trees = [t for t in sqlglot.parse(text) if t is not None]
    except (SqlglotError, RecursionError):
        trees = []
    if len(trees) != 1:
        raise ConditionError(
            f"The condition {text!r} does not parse as one SQL expression; {_HOW}."
        )
    tree = trees[0]
    table = _table_of(meta, text, tree)
    columns = meta.table(table).column_names
    bare = tree.copy()
    for column in bare.find_all(exp.Column):
        column.set("table", None)
    _allowed(text, table, bare.sql(), None)  # the allow-list first: a subquery is refused
    _check_columns(text, table, tree, columns)
    parsed = _allowed(text, table, bare.sql(), columns)
    _check_types(text, table, parsed, dtypes.get(table, {}))
    return Condition(table=table, text=text, expr=parsed)


def _allowed(text: str, table: str, sql: str, columns: Sequence[str] | None) -> exp.Expression:
    """The tree of ``sql`` (qualifiers removed) when the CHECK allow-list accepts it."""
    try:
        return parse_expression(
            sql, columns=columns, where=f"condition {text!r} on table {table!r}"
        )
    except MetadataError as why:
        message = str(why).split(". relsynth accepts")[0].split(". Fix or remove")[0]
        raise ConditionError(f"{message}; {_HOW}.") from None


def _table_of(meta: Metadata, text: str, tree: exp.Expression) -> str:
    named = {str(c.table) for c in tree.find_all(exp.Column) if c.table}
    if not named:
        raise ConditionError(
            f"The condition {text!r} names no table; qualify its columns with their table "
            "(Customers.Country = 'Germany')."
        )
    if len(named) > 1:
        raise ConditionError(
            f"The condition {text!r} names several tables ({', '.join(sorted(named))}); "
            "a condition restricts one table: give one --where per table."
        )
    (name,) = named
    found = find_table(meta, name)
    if found is not None:
        return found
    raise ConditionError(
        f"The condition {text!r} names the table {name!r}, which the model does not have "
        f"(tables: {', '.join(meta.tables)})."
    )


def find_table(meta: Metadata, name: str) -> str | None:
    """The table called ``name``: exactly, else the one table whose name differs only in
    case; None when there is none (or several)."""
    if name in meta.tables:
        return name
    folded = [t for t in meta.tables if t.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _check_columns(text: str, table: str, tree: exp.Expression, columns: Sequence[str]) -> None:
    folded = {c.casefold() for c in columns}
    for column in tree.find_all(exp.Column):
        name = str(column.name)
        if name not in columns and name.casefold() not in folded:
            raise ConditionError(
                f"The condition {text!r} names the column {table}.{name}, which does not "
                f"exist (columns of {table}: {', '.join(columns)})."
            )


def _family(dtype: str | None) -> str:
    """``number``, ``datetime``, ``bool``, ``text`` or ``any`` (unknown) for a pandas dtype."""
    if not dtype:
        return "any"
    low = dtype.lower()
    if low.startswith("datetime"):
        return "datetime"
    if low.startswith("bool"):
        return "bool"
    if low.startswith(("int", "uint", "float")):
        return "number"
    return "text"


def _literal(node: exp.Expression) -> tuple[bool, object]:
    """``(True, value)`` for a literal (through - and ()), else ``(False, None)``."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg):
        found, value = _literal(node.this)
        return found, value if not found or isinstance(value, str) else -value  # type: ignore[operator]
    if isinstance(node, exp.Literal):
        return True, str(node.this) if node.is_string else float(node.this)
    if isinstance(node, exp.Boolean):
        return True, bool(node.this)
    return False, None


def _check_types(text: str, table: str, tree: exp.Expression, dtypes: Mapping[str, str]) -> None:
    """A column compared with a literal of another type is refused (no silent coercion)."""
    for node in tree.walk():
        if isinstance(node, _COMPARISONS):
            pairs = [(node.this, [node.expression]), (node.expression, [node.this])]
        elif isinstance(node, exp.In):
            pairs = [(node.this, list(node.expressions))]
        elif isinstance(node, exp.Between):
            pairs = [(node.this, [node.args["low"], node.args["high"]])]
        else:
            continue
        for column, others in pairs:
            if not isinstance(column, exp.Column):
                continue
            name = str(column.name)
            family = _family(dtypes.get(name))
            for other in others:
                found, value = _literal(other)
                if found and value is not None and not _fits(family, value):
                    raise ConditionError(
                        f"The condition {text!r} compares {table}.{name} ({family}, "
                        f"{dtypes.get(name)}) with {other.sql()}, a value of another type; "
                        f"compare it with a {family} value."
                    )


def _fits(family: str, value: object) -> bool:
    if family == "any":
        return True
    if family == "text":
        return isinstance(value, str)
    if family == "number":
        return isinstance(value, float | bool)
    if family == "bool":
        return isinstance(value, bool) or value in (0.0, 1.0)
    if not isinstance(value, str):  # datetime
        return False
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        return False
    return True
