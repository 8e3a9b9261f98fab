"""A rule's text form (parsed and checked against the metadata) and its dict form.

A small recursive-descent parser over a handful of tokens; the text is never run
as SQL. Grammar::

    rule    := ref OP rhs | step "determines" step
                            (keys determine keys, or keys determine a value column)
    OP      := "=" | ">=" | "<="
    rhs     := ref | FUNC "(" NAME ")" | FUNC "(" col ["*" col] ")"
    ref     := step ("->" step)*
    step    := NAME "." (NAME | "(" NAME ("," NAME)* ")")
    col     := NAME "." NAME

Names are identifiers or double-quoted (``"Order Details"``, ``""`` for a quote).
Every error is a one-line :class:`~relsynth.errors.MetadataError` naming the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from relsynth.errors import MetadataError
from relsynth.metadata._rule import (
    AGGREGATE_FUNCTIONS,
    Aggregate,
    AggregateFunction,
    DeterminedValue,
    Determines,
    Equality,
    Order,
    PathAgreement,
    Ref,
    Rule,
)

if TYPE_CHECKING:
    from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = [
    "determines_keys",
    "parse_rule",
    "rule_from_dict",
    "rule_problems",
    "rule_to_dict",
    "value_keys",
]

_TOKEN = re.compile(
    r'\s*(?:(?P<quoted>"(?:[^"]|"")*")|(?P<name>[A-Za-z_][A-Za-z0-9_$]*)'
    r"|(?P<op>->|>=|<=|=|\.|\(|\)|,|\*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected {text[pos : pos + 10]!r} at character {pos + 1}")
        if match.group("quoted") is not None:
            out.append(("name", match.group("quoted")[1:-1].replace('""', '"')))
        elif match.group("name") is not None:
            out.append(("name", match.group("name")))
        else:
            out.append(("op", match.group("op")))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            want = repr(value) if value else "a name"
            got = "the end" if tok is None else repr(tok[1])
            raise ValueError(f"expected {want}, found {got}")
        self.i += 1
        return tok[1]

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] == value:
            self.i += 1
            return True
        return False

    def step(self) -> tuple[str, tuple[str, ...]]:
        table = self.take("name")
        self.take("op", ".")
        if self.accept("("):
            cols = [self.take("name")]
            while self.accept(","):
                cols.append(self.take("name"))
            self.take("op", ")")
            return table, tuple(cols)
        return table, (self.take("name"),)

    def ref(self) -> Ref:
        steps = [self.step()]
        while self.accept("->"):
            steps.append(self.step())
        return Ref(tuple(steps))

    def op(self) -> str:
        for value in ("=", ">=", "<="):
            if self.accept(value):
                return value
        if self.peek() == ("name", "determines"):
            self.i += 1
            return "determines"
        raise ValueError("expected '=', '>=', '<=' or 'determines' after the left-hand side")

    def end(self) -> None:
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r} after the rule")  # type: ignore[index]


def _syntax(text: str) -> tuple[Ref, str, Ref | tuple[str, str, tuple[str, ...]]]:
    """``(left, op, right)``; ``right`` is a Ref or ``(func, child, terms)``."""
    p = _Parser(text)
    left = p.ref()
    op = p.op()
    tok = p.peek()
    nxt = p.tokens[p.i + 1] if p.i + 1 < len(p.tokens) else None
    if tok is not None and tok[1].lower() in AGGREGATE_FUNCTIONS and nxt == ("op", "("):
        func = p.take("name").lower()
        p.take("op", "(")
        child = p.take("name")
        terms: list[str] = []
        if p.accept("."):
            terms.append(p.take("name"))
            if p.accept("*"):
                other = p.take("name")
                if other != child:
                    raise ValueError("both factors of a product must be columns of one table")
                p.take("op", ".")
                terms.append(p.take("name"))
        p.take("op", ")")
        p.end()
        return left, op, (func, child, tuple(terms))
    if tok is not None and tok[0] == "name" and nxt == ("op", "("):
        known = ", ".join(AGGREGATE_FUNCTIONS)
        raise ValueError(f"unknown function {tok[1]!r}; use one of {known}")
    right = p.ref()
    p.end()
    return left, op, right


def parse_rule(
    text: str, meta: Metadata, *, share: float | None = None, enforce: bool = True
) -> Rule:
    """Parse ``text`` and check it against ``meta``.

    Parameters
    ----------
    text : str
        The rule, e.g. ``"payment.payment_date >= payment.rental_id -> rental.rental_date"``.
    meta : Metadata
        The schema the rule's tables, columns and foreign keys must exist in.
    share, enforce
        Stored on the rule (see :mod:`relsynth.rules`).

    Raises
    ------
    MetadataError
        One line naming the rule: it does not parse, names an unknown table or
        column, or a step is not a foreign key.
    """
    try:
        left, op, right = _syntax(text)
    except ValueError as exc:
        raise MetadataError(f"Rule {text!r} does not parse: {exc}.") from None
    try:
        if isinstance(right, tuple):
            return _aggregate(meta, left, op, right, share, enforce)
        if op == "determines":
            return _determines(meta, left, right, share, enforce)
        _check_ref(meta, left)
        _check_ref(meta, right)
        if left.table != right.table:
            raise ValueError(
                f"both sides must start from the same table ({left.table!r}, {right.table!r})"
            )
        end_l, end_r = _ends_at(meta, left), _ends_at(meta, right)
        if end_l is not None and end_r is not None and op == "=":
            if end_l[0] != end_r[0]:
                raise ValueError(
                    f"the two routes reach different tables ({end_l[0]!r}, {end_r[0]!r})"
                )
            return PathAgreement(left, right, share, enforce)
        if left.hops or len(left.target[1]) != 1 or len(right.target[1]) != 1:
            raise ValueError(
                "the left-hand side must be one column of the table and the right-hand "
                "side one column reached along foreign keys (table.fk -> parent.column)"
            )
        if not right.hops:
            raise ValueError("the right-hand side must follow at least one foreign key (->)")
        if op == "=":
            return Equality(left, right, share, enforce)
        return Order(left, ">=" if op == ">=" else "<=", right, share, enforce)
    except (ValueError, MetadataError) as exc:
        msg = exc.summary if isinstance(exc, MetadataError) else str(exc)
        raise MetadataError(f"Rule {text!r}: {msg.rstrip('.')}.") from None


def _fk(meta: Metadata, table: str, columns: tuple[str, ...], parent: str) -> ForeignKey:
    for fk in meta.parents(table):
        if fk.columns == columns and fk.parent == parent:
            return fk
    cols = ", ".join(columns)
    raise ValueError(f"{table}({cols}) is not a foreign key to {parent!r}")


def _check_ref(meta: Metadata, ref: Ref) -> None:
    for i, (table, cols) in enumerate(ref.steps):
        tbl = meta.table(table)
        for col in cols:
            tbl.column(col)
        if i + 1 < len(ref.steps):
            _fk(meta, table, cols, ref.steps[i + 1][0])


def _ends_at(meta: Metadata, ref: Ref) -> tuple[str, tuple[str, ...]] | None:
    """``(ancestor table, its columns)`` when the last step's columns are a foreign key."""
    table, cols = ref.target
    for fk in meta.parents(table):
        if fk.columns == cols and not fk.is_self_reference:
            return fk.parent, fk.parent_columns
    return None


def aggregate_key(meta: Metadata, child: str, parent: str) -> ForeignKey:
    """The one foreign key from ``child`` to ``parent`` (ValueError if none or several)."""
    fks = [fk for fk in meta.parents(child) if fk.parent == parent and not fk.is_self_reference]
    if len(fks) != 1:
        how = "no" if not fks else "more than one"
        raise ValueError(f"{child!r} has {how} foreign key to {parent!r}")
    return fks[0]


def _aggregate(
    meta: Metadata,
    left: Ref,
    op: str,
    right: tuple[str, str, tuple[str, ...]],
    share: float | None,
    enforce: bool,
) -> Aggregate:
    func, child, terms = right
    if op != "=" or left.hops or len(left.target[1]) != 1:
        raise ValueError("an aggregate rule reads 'parent.column = func(child.column)'")
    if len(terms) == 2 and func != "sum":
        raise ValueError("a product of two columns is only aggregated with sum")
    if not terms and func != "count":
        raise ValueError(f"{func}() needs a column (child.column)")
    parent, column = left.table, left.target[1][0]
    meta.table(parent).column(column)
    ctable = meta.table(child)
    for term in terms:
        ctable.column(term)
    fk = aggregate_key(meta, child, parent)
    return Aggregate(
        parent, column, cast("AggregateFunction", func), child, terms, fk.columns, share, enforce
    )


def determines_keys(meta: Metadata, rule: Determines) -> tuple[ForeignKey, ForeignKey]:
    """The two foreign keys of a :class:`Determines` rule: ``(determining, determined)``."""
    out = []
    for ref in (rule.left, rule.right):
        table, cols = ref.target
        found = [fk for fk in meta.parents(table) if fk.columns == cols]
        if len(found) != 1 or found[0].is_self_reference:
            raise ValueError(f"{ref} is not the columns of one foreign key of {table!r}")
        out.append(found[0])
    return out[0], out[1]


def value_keys(meta: Metadata, rule: DeterminedValue) -> tuple[ForeignKey, ...]:
    """The foreign keys whose columns make up a :class:`DeterminedValue` rule's keys, in
    the order of their first column there (ValueError if they do not cover them)."""
    table, cols = rule.keys.target
    fks = [
        fk
        for fk in meta.parents(table)
        if not fk.is_self_reference and set(fk.columns) <= set(cols)
    ]
    if not fks or {c for fk in fks for c in fk.columns} != set(cols):
        raise ValueError(f"{rule.keys} is not the columns of one or more foreign keys of {table!r}")
    return tuple(sorted(fks, key=lambda fk: cols.index(fk.columns[0])))


def _determines(
    meta: Metadata, left: Ref, right: Ref, share: float | None, enforce: bool
) -> Determines | DeterminedValue:
    if left.hops or right.hops:
        raise ValueError("both sides of 'determines' are columns of the table (no ->)")
    if left.table != right.table:
        raise ValueError(
            f"both sides must be columns of the same table ({left.table!r}, {right.table!r})"
        )
    _check_ref(meta, left)
    _check_ref(meta, right)
    table, cols = right.target
    keyed = {c for fk in meta.parents(table) for c in fk.columns}
    if len(cols) == 1 and cols[0] not in keyed:  # a value column
        if cols[0] in meta.key_columns(table):
            raise ValueError(f"{right} is a key column; keys determine a value column")
        found = DeterminedValue(left, right, share, enforce)
        value_keys(meta, found)
        return found
    rule = Determines(left, right, share, enforce)
    a, b = determines_keys(meta, rule)
    if set(a.columns) & set(b.columns):
        raise ValueError("the two foreign keys share columns")
    return rule


def rule_problems(meta: Metadata, rules: tuple[Rule, ...]) -> list[str]:
    """One line per rule that no longer fits ``meta`` (re-parsed from its text)."""
    problems = []
    for rule in rules:
        try:
            parse_rule(str(rule), meta)
        except MetadataError as exc:
            problems.append(exc.summary)
    return problems


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """``{"rule": text, "share": ..., ...}``: the text form plus what was learned."""
    out: dict[str, Any] = {"rule": str(rule)}
    if rule.share is not None:
        out["share"] = rule.share
    if not rule.enforce:
        out["enforce"] = False
    if isinstance(rule, Order) and rule.gap:
        out["gap"] = {"quantiles": list(rule.gap), "step": rule.step}
        if rule.span:
            out["gap"]["span"] = list(rule.span)
        if rule.by_anchor:
            out["gap"]["anchors"] = list(rule.anchors)
            out["gap"]["by_anchor"] = [list(q) for q in rule.by_anchor]
    if isinstance(rule, Aggregate) and rule.decimals is not None:
        out["decimals"] = rule.decimals
    if isinstance(rule, DeterminedValue) and rule.values:
        out["values"] = [[list(keys), value] for keys, value in rule.values]
    return out


def _check_bins(rule: Order) -> None:
    """A gap's anchor bins: one row of quantiles per anchor, each as long as ``gap``."""
    rows = {len(q) for q in rule.by_anchor}
    if len(rule.by_anchor) != len(rule.anchors) or (rows and rows != {len(rule.gap)}):
        raise MetadataError(
            f"Rule {str(rule)!r}: its gap has {len(rule.anchors)} anchors and "
            f"{len(rule.by_anchor)} rows of quantiles (of lengths {sorted(rows)}; "
            f"want one row per anchor, each of {len(rule.gap)} quantiles); fix the rule's "
            "gap in the metadata file, or delete 'anchors' and 'by_anchor'."
        )


def rule_from_dict(data: Mapping[str, Any] | str, meta: Metadata) -> Rule:
    """Inverse of :func:`rule_to_dict` (a bare string is a declared rule)."""
    if isinstance(data, str):
        return parse_rule(data, meta)
    rule = parse_rule(
        data["rule"], meta, share=data.get("share"), enforce=data.get("enforce", True)
    )
    if isinstance(rule, Order) and "gap" in data:
        rule = replace(
            rule,
            gap=tuple(float(q) for q in data["gap"]["quantiles"]),
            step=float(data["gap"].get("step", 0.0)),
            span=tuple(float(v) for v in data["gap"].get("span", ())),
            anchors=tuple(float(a) for a in data["gap"].get("anchors", ())),
            by_anchor=tuple(
                tuple(float(q) for q in row) for row in data["gap"].get("by_anchor", ())
            ),
        )
        _check_bins(rule)
    if isinstance(rule, Aggregate) and data.get("decimals") is not None:
        rule = replace(rule, decimals=int(data["decimals"]))
    if isinstance(rule, DeterminedValue) and data.get("values"):
        pairs = tuple((tuple(keys), value) for keys, value in data["values"])
        rule = replace(rule, values=pairs)
    return rule
