"""Reading tables from a database into DataFrames (the body of ``read_tables``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from relsynth.errors import DatabaseError
from relsynth.io._connect import connect, database_error, read_only
from relsynth.io._convert import column_family, to_pandas
from relsynth.io._identity import connection_identity
from relsynth.io.urls import redact
from relsynth.metadata.schema import Column, Metadata, Table

__all__ = ["read_database"]

logger = logging.getLogger(__name__)


def read_database(
    engine: Engine, meta: Metadata, names: Sequence[str], *, chunksize: int
) -> dict[str, pd.DataFrame]:
    """Read ``names`` from ``engine`` in one read-only transaction."""
    frames: dict[str, pd.DataFrame] = {}
    name = "(catalog)"
    with connect(engine, action="read tables") as conn:
        try:
            with read_only(conn):
                source = connection_identity(conn, meta.schema or (meta.schemas or (None,))[0])
                _require_tables(conn, meta, names)
                for name in names:
                    frame = _read_table(conn, meta.table(name), meta.schema_of(name), chunksize)
                    frame.attrs["relsynth_source"] = source
                    frames[name] = frame
        except sa.exc.DBAPIError as exc:
            raise database_error(
                exc,
                f"Reading table {name!r} from {redact(engine.url)}",
                engine.url,
            ) from exc
    return frames


def _require_tables(conn: Connection, meta: Metadata, names: Sequence[str]) -> None:
    insp = sa.inspect(conn)
    problems: list[str] = []
    for schema in dict.fromkeys(meta.schema_of(n) for n in names):
        wanted = [n for n in names if meta.schema_of(n) == schema]
        existing = set(insp.get_table_names(schema=schema))
        within = f" in schema {schema!r}" if schema and meta.schema is None else ""
        sql = {n: meta.table(n).physical_name for n in wanted}
        problems.extend(
            f"table {sql[n]!r} does not exist{within}" for n in wanted if sql[n] not in existing
        )
        present = [n for n in wanted if sql[n] in existing]
        if present:
            multi = insp.get_multi_columns(schema=schema, filter_names=[sql[n] for n in present])
            columns = {key[1]: {c["name"] for c in cols} for key, cols in multi.items()}
            for name in present:
                have = columns[sql[name]]
                missing = [c for c in meta.table(name).column_names if c not in have]
                problems.extend(f"column {name}.{c} does not exist" for c in missing)
    if problems:
        where = redact(conn.engine.url)
        raise DatabaseError(
            f"Cannot read from {where}: {'; '.join(problems)}. Reflect the metadata from "
            "this database (relsynth.reflect), or drop those tables/columns from the "
            "metadata (Metadata.without_tables)."
        )


def _selected(conn: Connection, sa_table: sa.TableClause, col: Column) -> Any:
    """The column as selected: MySQL's 4-byte FLOAT is widened, as its text form has
    only 6 significant digits (-16.743632 would come back as -16.7436); PostgreSQL
    NUMERIC-family columns are cast to ``numeric``, as ``money`` (reflected as
    ``NUMERIC(19, 2)``) comes back as locale text such as ``'$1,234.50'``."""
    family, base, _ = column_family(col)
    if conn.dialect.name in ("mysql", "mariadb") and base == "REAL":
        return (sa_table.c[col.name] + sa.literal_column("0e0")).label(col.name)
    if conn.dialect.name == "postgresql" and family == "numeric":
        return sa.cast(sa_table.c[col.name], sa.Numeric()).label(col.name)
    return sa_table.c[col.name]


def _read_table(conn: Connection, table: Table, schema: str | None, chunksize: int) -> pd.DataFrame:
    sa_table = sa.table(
        table.physical_name, *[sa.column(c) for c in table.column_names], schema=schema
    )
    stmt = sa.select(*[_selected(conn, sa_table, col) for col in table.columns])
    if table.primary_key:
        stmt = stmt.order_by(*[sa_table.c[c] for c in table.primary_key])
    options: dict[str, Any] = {}
    if conn.dialect.name != "sqlite":
        options = {"stream_results": True, "max_row_buffer": chunksize}
    columns: list[list[Any]] = [[] for _ in table.columns]
    result = conn.execution_options(**options).execute(stmt)
    for part in result.partitions(chunksize):
        for values, out in zip(zip(*part, strict=True), columns, strict=True):
            out.extend(values)
    data = {
        col.name: to_pandas(values, col, where=f"{table.name}.{col.name}")
        for col, values in zip(table.columns, columns, strict=True)
    }
    frame = pd.DataFrame(data, columns=list(table.column_names))
    logger.info("read %s: %d rows", table.name, len(frame))
    return frame
