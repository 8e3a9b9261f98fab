"""SQL expressions in metadata (CHECK, DEFAULT, GENERATED): parsed, allow-listed, rendered.

A CHECK constraint, a column default or a generated column's expression comes
from a database (reflection) or from a file (a metadata file, a model file). Its
text never reaches a database as text: :func:`parse_expression` parses it with
`sqlglot <https://sqlglot.com>`_ into one expression tree and accepts it only when
every node is on an allow-list:

* column references of the same table (unqualified), literals, ``NULL``, ``TRUE``;
* comparisons, ``AND``/``OR``/``NOT``, arithmetic, ``||``, ``IN (literals)``,
  ``BETWEEN``, ``LIKE``/``ILIKE``/``GLOB``/regex match, ``IS [NOT] NULL``,
  ``CASE``/``IF``, ``CAST`` to a built-in type;
* a short list of functions (:data:`SAFE_FUNCTIONS`: ``LENGTH``, ``LOWER``,
  ``COALESCE``, ``ROUND``, ``CURRENT_TIMESTAMP``...).

Anything else (a second statement, a subquery, another table's column, any other
function) is refused with a :class:`~relsynth.errors.MetadataError` naming the
table, the column or constraint and the fix. :func:`render_expression` writes an
accepted tree for a target dialect (sqlglot translates between dialects:
SQLite ``length(x)``, PostgreSQL ``x::text``, MariaDB backticks), with every
identifier quoted.

Text is stored in the metadata in *portable* form: sqlglot's default dialect,
identifiers double-quoted (``"closed" IS NULL OR "closed" >= "opened"``).
Reflection converts from the source dialect; hand-written or older files may use
the spelling of SQLite, PostgreSQL or MariaDB, which are tried in turn when the
portable reading is refused.

Pure: sqlglot only (no SQLAlchemy).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from relsynth.errors import MetadataError

__all__ = [
    "SAFE_FUNCTIONS",
    "parse_expression",
    "portable_expression",
    "render_expression",
    "sqlglot_dialect",
]

#: sqlglot's dialect name for each SQLAlchemy dialect name.
_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
#: Dialects tried, in order, to read stored text (portable first). SQLite and MariaDB
#: spellings are only tried when the text has their quotes (``[x]``, `` `x` ``): MariaDB
#: reads ``"x"`` as a string, which must not rescue an unknown column name.
_READ_ORDER = ("", "postgres", "sqlite", "mysql")
_READ_ONLY_WITH = {"sqlite": "[", "mysql": "`"}

_STRUCTURE: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Neg,
    exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE,
    exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Glob, exp.RegexpLike, exp.RegexpILike, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.IntDiv, exp.DPipe, exp.Case, exp.If, exp.Cast, exp.DataType, exp.DataTypeParam,
)  # fmt: skip
_FUNCTIONS: tuple[type[exp.Expression], ...] = (
    exp.Length, exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Abs, exp.Round,
    exp.Floor, exp.Ceil, exp.Coalesce, exp.Nullif, exp.Concat, exp.Greatest, exp.Least,
    exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Uuid, exp.Typeof,
    exp.StrPosition,
)  # fmt: skip
_INTERVAL_AMOUNT = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
#: Units of an ``INTERVAL '30' DAY`` literal (the only place a bare word is accepted).
_INTERVAL_UNITS = frozenset(
    {"YEAR", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"}
    | {"YEARS", "MONTHS", "WEEKS", "DAYS", "HOURS", "MINUTES", "SECONDS"}
)
#: Functions sqlglot does not model, accepted by name (SQLite date functions, MariaDB's).
_NAMED = frozenset({"DATETIME", "DATE", "TIME", "STRFTIME", "JULIANDAY", "NOW", "CHAR_LENGTH"})
_ALLOWED = frozenset(_STRUCTURE + _FUNCTIONS)

#: The functions an expression may call (upper case).
SAFE_FUNCTIONS: tuple[str, ...] = tuple(
    sorted({c.sql_names()[0] for c in _FUNCTIONS} | _NAMED | {"IF", "CAST"})
)

_HOW = (
    "relsynth accepts one expression over the table's own columns (literals, comparisons, "
    "AND/OR/NOT, arithmetic, IN, BETWEEN, LIKE, IS NULL, CASE, CAST, common functions)"
)


class _Refused(Exception):
    """Why one reading of a text was refused."""


def sqlglot_dialect(dialect: str) -> str:
    """sqlglot's name for a SQLAlchemy dialect name (``postgresql`` -> ``postgres``)."""
    try:
        return _DIALECTS[dialect]
    except KeyError:
        raise MetadataError(
            f"No SQL expression support for dialect {dialect!r}; "
            f"relsynth writes CHECK/DEFAULT/GENERATED expressions for {', '.join(_DIALECTS)}."
        ) from None


def parse_expression(
    text: str,
    *,
    columns: Collection[str] | None,
    where: str,
    dialect: str | None = None,
) -> exp.Expression:
    """Parse ``text`` into an allow-listed sqlglot tree, or raise ``MetadataError``.

    Parameters
    ----------
    text : str
        The SQL text of one expression.
    columns : collection of str, or None
        The columns of the table; column references must name one of them (an
        unambiguous case-insensitive match is accepted and spelled as the column).
        ``None`` accepts any unqualified column name.
    where : str
        What the expression belongs to, for messages: ``CHECK ck of table 't'``.
    dialect : str, optional
        The SQLAlchemy dialect the text is written in; by default the portable
        form, then the spellings of SQLite, PostgreSQL and MariaDB.

    Returns
    -------
    sqlglot.exp.Expression
        A fresh tree (the caller may change it).
    """
    if not isinstance(text, str) or not text.strip():
        raise MetadataError(f"The {where} is empty; remove it or write one SQL expression.")
    order = (sqlglot_dialect(dialect),) if dialect is not None else _READ_ORDER
    tree = _cached_parse(text, None if columns is None else tuple(columns), order)
    if isinstance(tree, str):
        raise MetadataError(
            f"Refused the {where}: {_short(text)!r} {tree}. {_HOW}. Fix or remove it "
            "in the metadata."
        )
    return tree.copy()


def portable_expression(
    text: str, *, columns: Collection[str] | None, where: str, dialect: str | None = None
) -> str:
    """The portable (stored) form of ``text``; raise ``MetadataError`` if it is refused."""
    tree = parse_expression(text, columns=columns, where=where, dialect=dialect)
    return tree.sql(identify=True)


def render_expression(
    text: str, dialect: str, *, columns: Collection[str] | None, where: str
) -> str:
    """``text`` (stored form) rendered for the SQLAlchemy ``dialect``, identifiers quoted."""
    tree = parse_expression(text, columns=columns, where=where)
    return tree.sql(dialect=sqlglot_dialect(dialect), identify=True)


@lru_cache(maxsize=4096)
def _cached_parse(
    text: str, columns: tuple[str, ...] | None, order: tuple[str, ...]
) -> exp.Expression | str:
    first: str | None = None
    for read in order:
        if len(order) > 1 and _READ_ONLY_WITH.get(read, "") not in text:
            continue
        try:
            return _read(text, read, columns)
        except _Refused as why:
            first = first or str(why)
    return first or "is not an SQL expression"


def _read(text: str, read: str, columns: tuple[str, ...] | None) -> exp.Expression:
    try:
        trees = sqlglot.parse(text, read=read or None)
    except SqlglotError:
        raise _Refused("is not one SQL expression (it does not parse)") from None
    except RecursionError:
        raise _Refused("is nested too deeply") from None
    if len(trees) != 1 or trees[0] is None:
        raise _Refused(f"holds {len([t for t in trees if t is not None])} statements, not one")
    tree = trees[0]
    while isinstance(tree, exp.Paren):  # "(a > 0)" is stored as "a > 0"
        tree = tree.this
    tree = _normalize(tree)
    _check_nodes(tree, columns)
    return tree


def _normalize(tree: exp.Expression) -> exp.Expression:
    """Portable spellings: ``x = ANY(ARRAY[..])`` -> ``x IN (..)``; casts to user types dropped."""

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.EQ | exp.NEQ):
            quantifier, values = _quantified(node.expression)
            if (type(node), quantifier) == (exp.EQ, "ANY") and values is not None:
                return exp.In(this=node.this, expressions=values)
            if (type(node), quantifier) == (exp.NEQ, "ALL") and values is not None:
                return exp.Not(this=exp.In(this=node.this, expressions=values))
        if isinstance(node, exp.Cast) and _user_type(node.to):
            inner = node.this
            while isinstance(inner, exp.Paren):
                inner = inner.this
            if isinstance(inner, exp.Literal):  # 'a'::mood (a PostgreSQL enum) -> 'a'
                return inner
        return node

    return tree.transform(fix, copy=False)


def _quantified(node: exp.Expression) -> tuple[str, list[exp.Expression] | None]:
    """``ANY(ARRAY[...])``/``ALL(ARRAY[...])`` (sqlglot reads ALL as an unknown function)."""
    if isinstance(node, exp.Any):
        return "ANY", _array_items(node.this)
    if isinstance(node, exp.All):
        return "ALL", _array_items(node.this)
    if isinstance(node, exp.Anonymous) and str(node.name).upper() in ("ANY", "ALL"):
        args = node.expressions
        return str(node.name).upper(), _array_items(args[0]) if len(args) == 1 else None
    return "", None


def _array_items(node: exp.Expression | None) -> list[exp.Expression] | None:
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    if isinstance(node, exp.Array):
        return list(node.expressions)
    return None


def _user_type(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.DataType) and node.this == exp.DataType.Type.USERDEFINED


def _check_nodes(tree: exp.Expression, columns: tuple[str, ...] | None) -> None:
    folded: dict[str, list[str]] = {}
    for name in columns or ():
        folded.setdefault(name.casefold(), []).append(name)
    for node in tree.walk():
        kind = type(node)
        if kind is exp.Interval:
            unit = node.args.get("unit")
            amount = node.this
            if not (
                isinstance(amount, exp.Literal)
                and _INTERVAL_AMOUNT.match(str(amount.this))
                and isinstance(unit, exp.Var)
                and str(unit.name).upper() in _INTERVAL_UNITS
            ):
                raise _Refused(f"contains the interval {node.sql()}, which is not allowed")
            continue
        if kind is exp.Var and isinstance(node.parent, exp.Interval):
            continue  # its unit, checked with the interval
        if kind is exp.Anonymous:
            name = str(node.name).upper()
            if name not in _NAMED:
                raise _Refused(f"calls the function {name}, which is not allowed")
            continue
        if kind not in _ALLOWED:
            raise _Refused(f"contains {_describe(node)}, which is not allowed")
        if kind is exp.In and (node.args.get("query") or node.args.get("unnest")):
            raise _Refused("contains a subquery, which is not allowed")
        if kind is exp.DataType and _user_type(node):
            raise _Refused(f"casts to the type {node.sql()}, which is not a built-in type")
        if kind is exp.Column:
            _check_column(node, columns, folded)


def _check_column(
    node: exp.Column, columns: tuple[str, ...] | None, folded: dict[str, list[str]]
) -> None:
    if any(node.args.get(part) for part in ("table", "db", "catalog")):
        raise _Refused(f"names {node.sql()}, a column qualified by a table")
    ident = node.this
    if not isinstance(ident, exp.Identifier):
        raise _Refused(f"contains {node.sql()}, which is not a column name")
    name = str(ident.this)
    if columns is None or name in columns:
        return
    matches = folded.get(name.casefold(), [])
    if len(matches) != 1:
        raise _Refused(f"names the column {name!r}, which the table does not have")
    node.set("this", exp.to_identifier(matches[0], quoted=True))


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Func):
        return f"the function {node.sql_name()}"
    if isinstance(node, exp.Query | exp.Subquery):
        return "a query"
    return f"{type(node).__name__} ({_short(node.sql())})"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
