"""Lookup and reference tables: tables of public codes that the rest of the database
points at, copied verbatim by default.

Genres, media types, carriers, regions, districts, airports: a synthetic copy that
invents their rows (with reshuffled or withheld names) leaves every child pointing at a
made-up genre or airport, so its link to "its" airport carries nothing real, and a
child's columns cannot keep how they depend on it (a flight's distance on where it
goes). Such tables are copied verbatim by default. Two conservative rules, both on the
table's shape and its data, never on its name:

A **lookup table** (small code lists: genres, carriers, regions) when

* it has at most ``max_rows`` rows (100) and at least one;
* it has no personal or free-text column (kind ``text``, any ``pii``): nothing private;
* it has no date or time column: codes do not happen at a time, records of events and
  of people (a customer who joined, a plane built) do; and no binary column (pictures
  are content, not codes);
* some other table points at it (a foreign key that is not a self-reference);
* every table it points at is itself a lookup table (chains: territories -> regions),
  and it has no self-reference.

A **reference table** (larger public code lists: airports, countries, currencies,
stations, diagnosis or industry codes) when it has up to ``REFERENCE_MAX_ROWS`` rows
(10,000) and, besides the lookup rule's conditions on columns, parents and
self-references,

* its primary key is one column of **codes**: text of at most 12 characters without
  spaces or lower-case letters (``JFK``, ``EUR``, ``DE``, ``A01.1``, ``10115``). Surrogate
  integer keys (how customers, users, employees and orders are numbered) and handles
  (``jsmith42``, ``anna.k``: usernames, e-mail-like logins, slugs) never qualify;
* it has a **label**: a non-key categorical column whose values name one row each
  (distinct in at least 90 % of the rows), short (at most 100 characters, at most 12
  words: a name, not free text), the code's name (``John F Kennedy Intl``). A code list
  is a dictionary of codes and their names; a table of things keyed by codes without
  names (aircraft by tail number, with their build year and seats) is a register of
  entities and is modelled;
* its codes are **used many times**: some table (not a self-reference) points at each
  code it uses ``REFERENCE_MIN_RATIO`` (10) times on average, so the table is the
  shared vocabulary of the database's records, not one of its records (a list of
  airports of which flights use a hundred, each a hundred times).

What is copied is thus public by construction: no person's column, no event, codes and
their names. Tables that hold people or accounts fail on several counts (personal text,
integer or handle keys, dates); a product catalogue keyed by codes, with a name and a
price per code, does qualify: it is a list of public codes, not of persons (mark it
``reference: false`` when the catalogue itself is confidential).

``Table.reference`` in the metadata overrides both rules per table: ``true`` copies the
table, ``false`` never does; unset (``None``) leaves it to the rules.
:func:`find_lookups` says which rule each table met and why (``relsynth reflect
--rules``, ``clone``, ``fit`` and ``evaluate`` print it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from relsynth.metadata.schema import Metadata

__all__ = [
    "LOOKUP_MAX_ROWS",
    "REFERENCE_MAX_ROWS",
    "REFERENCE_MIN_RATIO",
    "LookupTable",
    "find_lookups",
    "lookup_tables",
]

#: Largest table that is copied as a lookup table without being marked ``reference``.
LOOKUP_MAX_ROWS = 100
#: Largest table that is copied as a reference table (codes with their names).
REFERENCE_MAX_ROWS = 10_000
#: A reference table's busiest child uses each code it points at this often on average.
REFERENCE_MIN_RATIO = 10
#: A code: up to 12 characters, no white space, no lower-case letter.
_CODE = re.compile(r"^[^\sa-z]{1,12}$")
#: Share of a label column's rows whose value no other row has (one name per code).
_LABEL_DISTINCT = 0.9
_LABEL_MAX_CHARS = 100
_LABEL_MAX_WORDS = 12


@dataclass(frozen=True)
class LookupTable:
    """A table copied verbatim by default, with the rule it met and why."""

    name: str
    rule: Literal["lookup", "reference"]
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.rule}: {self.reason})"


def lookup_tables(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], *, max_rows: int = LOOKUP_MAX_ROWS
) -> tuple[str, ...]:
    """The tables of ``meta`` that are lookup or reference tables (see the module
    docstring), in metadata order."""
    return tuple(t.name for t in find_lookups(meta, tables, max_rows=max_rows))


def find_lookups(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], *, max_rows: int = LOOKUP_MAX_ROWS
) -> tuple[LookupTable, ...]:
    """The lookup and reference tables of ``meta`` with the reason each qualifies,
    in metadata order (the ``reference`` overrides are not applied here)."""
    found: dict[str, LookupTable] = {}
    for name in meta.tables:
        frame = tables.get(name)
        if frame is None or not _public_columns(meta, name):
            continue
        if len(frame) and len(frame) <= max_rows and _pointed_at(meta, name):
            found[name] = LookupTable(name, "lookup", _lookup_reason(meta, name, len(frame)))
            continue
        reason = _reference_reason(meta, name, tables)
        if reason is not None:
            found[name] = LookupTable(name, "reference", reason)
    changed = True
    while changed:  # a lookup table points only at lookup tables
        changed = False
        for name in sorted(found):
            if any(fk.parent not in found for fk in meta.parents(name)):
                del found[name]
                changed = True
    return tuple(found[n] for n in meta.tables if n in found)


def _public_columns(meta: Metadata, name: str) -> bool:
    """No personal, free-text, date/time or binary column, and no self-reference."""
    kinds = ("text", "datetime", "binary")
    if any(c.kind in kinds or c.pii is not None for c in meta.table(name).columns):
        return False
    return not any(fk.is_self_reference for fk in meta.parents(name))


def _pointed_at(meta: Metadata, name: str) -> bool:
    return any(not fk.is_self_reference for fk in meta.children(name))


def _lookup_reason(meta: Metadata, name: str, n_rows: int) -> str:
    children = sorted({fk.child for fk in meta.children(name) if not fk.is_self_reference})
    return (
        f"{n_rows:,} row(s), no personal, free-text, date or binary column, "
        f"pointed at by {', '.join(children)}"
    )


def _reference_reason(meta: Metadata, name: str, tables: Mapping[str, pd.DataFrame]) -> str | None:
    """Why ``name`` is a reference table (code key, label, codes used many times);
    None when it is not one."""
    frame = tables[name]
    table = meta.table(name)
    if not 1 <= len(frame) <= REFERENCE_MAX_ROWS or len(table.primary_key) != 1:
        return None
    key = table.primary_key[0]
    if key not in frame or not _codes(frame[key]):
        return None
    label = _label_column(meta, name, frame)
    if label is None:
        return None
    busy = _busy_child(meta, name, tables)
    if busy is None:
        return None
    child, use = busy
    return (
        f"{len(frame):,} rows of codes ({key}) with their names ({label}), no personal, "
        f"date or binary column, used by {child} ({len(tables[child]):,} rows, "
        f"{use:,.0f} per code)"
    )


def _codes(values: pd.Series) -> bool:
    """Whether every value is a code (short text, no space, no lower-case letter)."""
    if values.isna().any() or not len(values):
        return False
    if not all(isinstance(v, str) for v in values):
        return False  # integer (surrogate) keys number records, they are not codes
    return bool(values.map(lambda v: _CODE.match(v) is not None).all())


def _label_column(meta: Metadata, name: str, frame: pd.DataFrame) -> str | None:
    """The first non-key categorical column naming one row each (short, not free text)."""
    table = meta.table(name)
    keys = set(table.primary_key) | {c for fk in meta.parents(name) for c in fk.columns}
    for col in table.columns:
        if col.name in keys or col.kind != "categorical" or col.name not in frame:
            continue
        values = frame[col.name].dropna()
        if len(values) < _LABEL_DISTINCT * len(frame) or not all(
            isinstance(v, str) for v in values
        ):
            continue
        once = (values.map(values.value_counts()) == 1).sum()
        if once < _LABEL_DISTINCT * len(frame):
            continue
        if values.str.len().max() > _LABEL_MAX_CHARS:
            continue
        if values.str.split().str.len().max() > _LABEL_MAX_WORDS:
            continue
        if values.str.contains("\n").any():
            continue
        return col.name
    return None


def _busy_child(
    meta: Metadata, name: str, tables: Mapping[str, pd.DataFrame]
) -> tuple[str, float] | None:
    """The table that uses ``name``'s codes most often, with how often: its non-NULL
    keys per distinct code it points at, when that is at least
    ``REFERENCE_MIN_RATIO``; else None."""
    best, best_use = None, 0.0
    for fk in meta.children(name):
        child = tables.get(fk.child)
        if fk.is_self_reference or child is None or not all(c in child for c in fk.columns):
            continue
        keys = child[list(fk.columns)].dropna()
        distinct = len(keys.drop_duplicates())
        use = len(keys) / distinct if distinct else 0.0
        if use >= REFERENCE_MIN_RATIO and (use, fk.child) > (best_use, best or ""):
            best, best_use = fk.child, use
    return None if best is None else (best, best_use)
