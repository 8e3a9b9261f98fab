"""What one write does, prepared without touching the database: the frames checked
against the metadata and put in load order (:func:`prepare_job`), and the
:class:`WriteReport` it ends with.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from relsynth.check import IntegrityReport
from relsynth.constraints import compute_generated
from relsynth.errors import DataError
from relsynth.io._ddl import Schema, build_schema
from relsynth.io._prepare import prepare_column
from relsynth.metadata.graph import Plan, plan
from relsynth.metadata.schema import ForeignKey, Metadata

logger = logging.getLogger("relsynth.io._write")  # the log of write(), as before the split

__all__ = ["WriteJob", "WriteReport", "next_chunk", "prepare_job", "row_key"]


@dataclass(frozen=True)
class WriteReport:
    """What :func:`relsynth.write_tables` wrote.

    Attributes
    ----------
    rows : Mapping of str to int
        Rows inserted per table, in insertion order.
    seconds : float
        Wall time of the whole write, validation included.
    dialect : str
        The target dialect (``sqlite``, ``postgresql``, ``mysql``/``mariadb``).
    dropped : tuple of str
        CHECK constraints and server defaults the target could not compile, which
        were not created, and generated columns it refused, written as plain columns
        holding the computed values (a :class:`~relsynth.errors.SchemaWarning` lists
        them too).
    schema : str or None
        The schema of the tables (:func:`target_schema`); None: the connection's
        default (SQLite/MariaDB: the URL's database) or each table's (:func:`as_written`).
    integrity : IntegrityReport or None
        The integrity check the write ran on the written tables inside its
        transaction, just before committing (SQLite, MariaDB/MySQL), or on PostgreSQL
        the report its own validated constraints prove (every key and NOT NULL of the
        metadata found enforced in the catalogue; rows counted); None where that does
        not hold (a table appended to without the constraints). A caller that shows
        integrity reuses it instead of scanning the tables again.
    """

    rows: Mapping[str, int]
    seconds: float
    dialect: str
    dropped: tuple[str, ...] = ()
    schema: str | None = None
    integrity: IntegrityReport | None = None

    @property
    def n_rows(self) -> int:
        """Total rows inserted."""
        return sum(self.rows.values())


@dataclass
class WriteJob:
    """Everything a write needs, validated before the database is touched."""

    meta: Metadata
    plan: Plan
    schema: Schema
    columns: dict[str, dict[str, pd.Series]]
    n_rows: dict[str, int]
    names: dict[str, str]
    update_later: tuple[ForeignKey, ...]
    relax: bool
    batch_size: int
    step: str = "preparing"
    dropped: list[str] = field(default_factory=list)
    # a chunked write: the chunks after the first, and what is told after each one
    more: Iterator[Mapping[str, pd.DataFrame]] = field(default_factory=lambda: iter(()))
    on_chunk: Callable[[int, int], None] | None = None
    after_chunk: Callable[[], None] | None = None  # run once each chunk is loaded
    written: dict[str, int] = field(default_factory=dict)  # rows loaded so far, per table
    integrity: IntegrityReport | None = None  # the check run before committing, if any

    def physical(self, name: str) -> sa.Table:
        return self.schema.tables[name]


def prepare_job(
    meta: Metadata,
    frames: Mapping[str, pd.DataFrame],
    dialect: str,
    *,
    staging: bool,
    batch_size: int,
) -> WriteJob:
    """Validate ``frames`` for ``dialect``; raise one DataError listing every problem."""
    _require_columns(meta, frames)
    the_plan = plan(meta)
    update_later = tuple(fk for fk in the_plan.deferred if fk.nullable and row_key(meta, fk.child))
    must_defer = tuple(fk for fk in the_plan.deferred if fk not in update_later)
    token = secrets.token_hex(3)
    names = {
        n: (f"_rs{token}_{i}" if staging else t.physical_name)
        for i, (n, t) in enumerate(meta.tables.items())
    }
    schema = build_schema(
        meta, dialect, names=names, use_alter=the_plan.deferred, deferrable=must_defer
    )
    columns = _prepared_columns(meta, schema, frames)
    return WriteJob(
        meta=meta,
        plan=the_plan,
        schema=schema,
        columns=columns,
        n_rows={n: len(frames[n]) for n in meta.tables},
        names=names,
        update_later=update_later,
        relax=bool(must_defer),
        batch_size=batch_size,
    )


def _prepared_columns(
    meta: Metadata, schema: Schema, frames: Mapping[str, pd.DataFrame]
) -> dict[str, dict[str, pd.Series]]:
    """Every column converted for its target type; one DataError listing every problem."""
    columns: dict[str, dict[str, pd.Series]] = {}
    problems: list[str] = []
    for name, table in meta.tables.items():
        frame = compute_generated(table, frames[name])  # the expression decides, not the model
        columns[name] = {}
        for col in table.columns:
            series, problem = prepare_column(
                frame[col.name].reset_index(drop=True), schema.targets[name][col.name]
            )
            if problem is not None:
                target = schema.targets[name][col.name]
                problems.append(f"{name}.{col.name} ({col.sql_type or target.family}): {problem}")
            columns[name][col.name] = series
    if problems:
        raise DataError(
            "Some values do not fit their column type; nothing was written:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nFix the values, or change the column's sql_type in the metadata."
        )
    return columns


def next_chunk(job: WriteJob, frames: Mapping[str, pd.DataFrame]) -> None:
    """Put the rows of the next chunk of a chunked write into ``job`` (same tables,
    same schema; the previous chunk's rows are let go)."""
    _require_columns(job.meta, frames)
    job.columns = {}  # the previous chunk's columns are freed before converting this one
    job.columns = _prepared_columns(job.meta, job.schema, frames)
    job.n_rows = {n: len(frames[n]) for n in job.meta.tables}


def _require_columns(meta: Metadata, frames: Mapping[str, pd.DataFrame]) -> None:
    problems = [f"table {n!r} has no DataFrame" for n in meta.tables if n not in frames]
    for name, table in meta.tables.items():
        frame = frames.get(name)
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            problems.append(f"table {name!r} is a {type(frame).__name__}, not a DataFrame")
            continue
        problems.extend(
            f"column {name}.{c} is missing" for c in table.column_names if c not in frame.columns
        )
    if problems:
        raise DataError(
            "The tables do not match the metadata; nothing was written: "
            + "; ".join(problems)
            + ". Pass one DataFrame per metadata table with every column, or drop "
            "tables/columns from the metadata."
        )
    extra = [n for n in frames if n not in meta.tables]
    if extra:
        logger.warning("write_tables: ignoring frames not in the metadata: %s", ", ".join(extra))


def row_key(meta: Metadata, table_name: str) -> tuple[str, ...]:
    """Columns that identify a row (for UPDATE): the primary key or a NOT NULL unique."""
    table = meta.table(table_name)
    if table.primary_key:
        return table.primary_key
    for unique in table.unique:
        if all(not table.column(c).nullable for c in unique):
            return unique
    return ()
