"""Lookup tables: small tables of public codes that the rest of the database points at.

Genres, media types, carriers, regions, districts: a synthetic copy that invents their
rows (with reshuffled names) leaves every child pointing at a made-up genre or carrier,
so its link to "its" genre carries nothing real. Such tables are copied verbatim by
default. The rule is conservative; a table is a lookup table when

* it has at most ``max_rows`` rows (100) and at least one;
* it has no personal or free-text column (kind ``text``, any ``pii``): nothing private;
* it has no date or time column: codes do not happen at a time, records of events and
  of people (a customer who joined, a plane built) do; and no binary column (pictures
  are content, not codes);
* some other table points at it (a foreign key that is not a self-reference);
* every table it points at is itself a lookup table (chains: territories -> regions),
  and it has no self-reference.

``Table.reference`` in the metadata overrides it per table: ``true`` copies the table,
``false`` never does; unset (``None``) leaves it to this rule.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from relsynth.metadata.schema import Metadata

__all__ = ["LOOKUP_MAX_ROWS", "lookup_tables"]

#: Largest table that is copied as a lookup table without being marked ``reference``.
LOOKUP_MAX_ROWS = 100


def lookup_tables(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], *, max_rows: int = LOOKUP_MAX_ROWS
) -> tuple[str, ...]:
    """The tables of ``meta`` that are lookup tables (see the module docstring), in order."""
    candidates = set()
    for name, table in meta.tables.items():
        frame = tables.get(name)
        if frame is None or not 1 <= len(frame) <= max_rows:
            continue
        kinds = ("text", "datetime", "binary")
        if any(col.kind in kinds or col.pii is not None for col in table.columns):
            continue
        if not any(not fk.is_self_reference for fk in meta.children(name)):
            continue
        if any(fk.is_self_reference for fk in meta.parents(name)):
            continue
        candidates.add(name)
    changed = True
    while changed:  # a lookup table points only at lookup tables
        changed = False
        for name in sorted(candidates):
            if any(fk.parent not in candidates for fk in meta.parents(name)):
                candidates.discard(name)
                changed = True
    return tuple(n for n in meta.tables if n in candidates)
