"""The rule data model: frozen values with a readable text form.

A :class:`Ref` names a value reached from a table along foreign keys: each step
is a table and the columns read there; every step but the last holds a foreign
key to the next step's table. ``payment.rental_id -> rental.customer_id`` starts
at ``payment``, follows ``payment(rental_id) -> rental`` and reads
``rental.customer_id``. Composite keys are written ``t.(a, b)``; names that are
not plain identifiers are double-quoted (``"Order Details".UnitPrice``).

Six kinds of rule:

* :class:`PathAgreement` ``payment.customer_id = payment.rental_id -> rental.customer_id``:
  two routes from a row to one ancestor table reach the same ancestor row (both
  ends are foreign keys to that ancestor).
* :class:`Equality` ``orders.ship_country = orders.customer_id -> customers.country``.
* :class:`Order` ``payment.payment_date >= payment.rental_id -> rental.rental_date``,
  with the gap ``column - anchor`` summarised by quantiles (seconds for dates).
* :class:`Aggregate` ``invoice.total = sum(invoice_line.unit_price * invoice_line.quantity)``:
  a parent's column from its children (``count``, ``sum``, ``min``, ``max``,
  ``mean``; a product of two child columns under ``sum``).
* :class:`Determines` ``flights.tailnum determines flights.carrier``: one foreign
  key of a table determines another (a functional dependency between two keys of
  one table): the rows that share a plane share an airline.

``share`` is the fraction of source rows where the rule holds (None: declared by
the user and not yet measured); ``enforce=False`` keeps a rule in the metadata
without enforcing or re-discovering it (how a user drops a discovered rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "GAP_PROBS",
    "Aggregate",
    "Determines",
    "DeterminedValue",
    "Equality",
    "Order",
    "PathAgreement",
    "Ref",
    "Rule",
    "quote",
]

AggregateFunction = Literal["count", "sum", "min", "max", "mean"]
AGGREGATE_FUNCTIONS: tuple[str, ...] = ("count", "sum", "min", "max", "mean")

#: Probabilities at which the gap of an order rule is summarised: finer in the
#: tails, where a rule that holds in 99.5 % of rows has its exceptions.
GAP_PROBS: tuple[float, ...] = (
    0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5,
    0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0,
)  # fmt: skip

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def quote(name: str) -> str:
    """``name`` as written in a rule: bare when a plain identifier, else double-quoted."""
    if _PLAIN.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _columns_text(columns: tuple[str, ...]) -> str:
    if len(columns) == 1:
        return quote(columns[0])
    return "(" + ", ".join(quote(c) for c in columns) + ")"


@dataclass(frozen=True, slots=True)
class Ref:
    """Columns reached from ``steps[0]``'s table along foreign keys.

    ``steps`` is a tuple of ``(table, columns)``; each step but the last holds a
    foreign key (those columns) to the next step's table.
    """

    steps: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def table(self) -> str:
        """The table the reference starts from."""
        return self.steps[0][0]

    @property
    def target(self) -> tuple[str, tuple[str, ...]]:
        """The last step: the table and columns read."""
        return self.steps[-1]

    @property
    def hops(self) -> int:
        """How many foreign keys are followed."""
        return len(self.steps) - 1

    def __str__(self) -> str:
        return " -> ".join(f"{quote(t)}.{_columns_text(cols)}" for t, cols in self.steps)


@dataclass(frozen=True, slots=True)
class PathAgreement:
    """Two routes from a row of one table reach the same row of an ancestor table."""

    left: Ref
    right: Ref
    share: float | None = None
    enforce: bool = True

    kind = "path"

    @property
    def table(self) -> str:
        """The table whose rows the rule is about."""
        return self.left.table

    def __str__(self) -> str:
        return f"{self.left} = {self.right}"


@dataclass(frozen=True, slots=True)
class Equality:
    """A column equals an ancestor's column (``anchor``, reached along foreign keys)."""

    column: Ref
    anchor: Ref
    share: float | None = None
    enforce: bool = True

    kind = "equality"

    @property
    def table(self) -> str:
        """The table whose rows the rule is about."""
        return self.column.table

    def __str__(self) -> str:
        return f"{self.column} = {self.anchor}"


@dataclass(frozen=True, slots=True)
class Order:
    """A column is ``>=`` (or ``<=``) an ancestor's column; the gap's quantiles are kept.

    ``gap`` holds the quantiles of ``column - anchor`` at :data:`GAP_PROBS`
    (seconds for dates and times), ``step`` the gap's resolution (86400 for whole
    days, 1 for whole numbers, 0 for continuous values), ``span`` the column's
    ``(min, max)`` on the rows it applies to: a rebuilt value stays inside it, as
    the source's values do (no card issued after the data end).

    Where the gap depends on the anchor (a card is issued sooner after a late account
    is opened: the data end in 1998), ``anchors`` holds the anchor's medians in bins
    of equal count and ``by_anchor`` the gap's quantiles in each bin; a gap is then
    drawn from the quantiles interpolated between the two bins around its anchor
    (:mod:`relsynth.rules._gaps`). Both are empty where ``gap`` alone holds.
    """

    column: Ref
    op: Literal[">=", "<="]
    anchor: Ref
    share: float | None = None
    enforce: bool = True
    gap: tuple[float, ...] = field(default=(), compare=False)
    step: float = field(default=0.0, compare=False)
    span: tuple[float, ...] = field(default=(), compare=False)
    anchors: tuple[float, ...] = field(default=(), compare=False)
    by_anchor: tuple[tuple[float, ...], ...] = field(default=(), compare=False)

    kind = "order"

    @property
    def table(self) -> str:
        """The table whose rows the rule is about."""
        return self.column.table

    def __str__(self) -> str:
        return f"{self.column} {self.op} {self.anchor}"


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A parent's column computed from its children: ``func(child terms)``.

    ``terms`` are child columns: none for ``count(child)``, one, or two multiplied
    (``sum`` only). ``via`` is the child's foreign key columns to the parent.
    ``decimals`` is the parent column's rounding (None: as computed).
    """

    parent: str
    column: str
    func: AggregateFunction
    child: str
    terms: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    share: float | None = None
    enforce: bool = True
    decimals: int | None = field(default=None, compare=False)

    kind = "aggregate"

    @property
    def table(self) -> str:
        """The table whose rows the rule is about (the parent)."""
        return self.parent

    def __str__(self) -> str:
        if self.terms:
            arg = " * ".join(f"{quote(self.child)}.{quote(t)}" for t in self.terms)
        else:
            arg = quote(self.child)
        return f"{quote(self.parent)}.{quote(self.column)} = {self.func}({arg})"


@dataclass(frozen=True, slots=True)
class Determines:
    """One foreign key of a table determines another: the rows that share ``left``'s
    parent share ``right``'s parent (``flights.tailnum determines flights.carrier``).

    Both sides are foreign keys of the same table (references without hops).
    ``share`` is the share of rows, among those whose ``left`` parent has two rows or
    more (both keys set), that hold the ``right`` parent most common among their
    ``left`` parent's rows.
    """

    left: Ref
    right: Ref
    share: float | None = None
    enforce: bool = True

    kind = "determines"

    @property
    def table(self) -> str:
        """The table whose rows the rule is about."""
        return self.left.table

    def __str__(self) -> str:
        return f"{self.left} determines {self.right}"


@dataclass(frozen=True, slots=True)
class DeterminedValue:
    """The keys of a table's foreign keys determine one of its value columns: the rows
    that share ``keys`` (one step: the columns of one or more whole foreign keys) share
    ``column``'s value (``flights.(origin, dest) determines flights.distance``).

    ``values`` pairs each key combination (one value per column of ``keys``) with its
    value: the most common value of the source rows holding it, for combinations held
    by enough rows (``min_category_count``, docs/privacy.md). ``share`` is the share
    of rows, among those whose combination two rows or more hold (column set), that
    hold their combination's most common value.
    """

    keys: Ref
    column: Ref
    share: float | None = None
    enforce: bool = True
    values: tuple[tuple[tuple[object, ...], object], ...] = field(default=(), compare=False)

    kind = "value"

    @property
    def table(self) -> str:
        """The table whose rows the rule is about."""
        return self.keys.table

    def __str__(self) -> str:
        return f"{self.keys} determines {self.column}"


Rule = PathAgreement | Equality | Order | Aggregate | Determines | DeterminedValue
