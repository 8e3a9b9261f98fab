"""A database's catalogue as read (:class:`Raw`: one batch of SQLAlchemy
``get_multi_*`` reads per schema) and its conversion into frozen
:mod:`relsynth.metadata` objects (columns, keys, uniques, CHECKs, foreign keys).
Part of :func:`relsynth.io.reflect.reflect`.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Inspector

from relsynth.errors import MetadataError, SchemaWarning
from relsynth.io.types import to_portable
from relsynth.metadata.expressions import portable_expression
from relsynth.metadata.schema import CheckConstraint, Column, ForeignKey, Metadata, Table
from relsynth.metadata.types import kind_from_type

__all__ = ["RawCatalog", "build_foreign_keys", "build_metadata", "build_table"]

logger = logging.getLogger("relsynth.io.reflect")  # the log of reflect(), as before the split

_JSON_VALID_RE = re.compile(r"^\s*json_valid\(\s*[`\"]?(?P<col>[^`\"()]+)[`\"]?\s*\)\s*$", re.I)
_NEXTVAL_RE = re.compile(r"^\s*nextval\(", re.I)

TableKey = tuple[str | None, str]


@dataclass
class RawCatalog:
    """What the Inspector reported, keyed by table name."""

    columns: dict[str, list[Any]]
    pks: dict[str, Any]
    fks: dict[str, list[Any]]
    uniques: dict[str, list[Any]]
    indexes: dict[str, list[Any]]
    checks: dict[str, list[Any]]
    comments: dict[str, Any]
    names: list[str]
    dialect: str = ""

    @classmethod
    def read(cls, insp: Inspector, schema: str | None, names: list[str]) -> RawCatalog:
        if not names:
            return cls({}, {}, {}, {}, {}, {}, {}, [])
        kw: dict[str, Any] = {"schema": schema, "filter_names": names}
        return cls(
            columns=_by_table(insp.get_multi_columns(**kw)),
            pks=_by_table(insp.get_multi_pk_constraint(**kw)),
            fks=_by_table(insp.get_multi_foreign_keys(**kw)),
            uniques=_by_table(_optional(insp.get_multi_unique_constraints, kw)),
            # SQLite: a column-level UNIQUE only shows as an automatic index.
            indexes=_by_table(
                _optional(
                    insp.get_multi_indexes,
                    {**kw, "include_auto_indexes": True} if insp.dialect.name == "sqlite" else kw,
                )
            ),
            checks=_by_table(_optional(insp.get_multi_check_constraints, kw)),
            comments=_by_table(_optional(insp.get_multi_table_comment, kw)),
            names=names,
            dialect=insp.dialect.name,
        )


def _optional(method: Any, kw: dict[str, Any]) -> Mapping[TableKey, Any]:
    try:
        result: Mapping[TableKey, Any] = method(**kw)
    except NotImplementedError:
        return {}
    return result


def _by_table(multi: Mapping[TableKey, Any]) -> dict[str, Any]:
    return {name: value for (_, name), value in multi.items()}


def build_metadata(raw: RawCatalog, schema: str | None, sqlite_rowid: set[str]) -> Metadata:
    tables: dict[str, Table] = {}
    for name in raw.names:
        tables[name] = build_table(name, raw, name in sqlite_rowid)
    fks = build_foreign_keys(raw, tables, schema)
    return Metadata(tables=tables, foreign_keys=tuple(fks), schema=schema)


def build_table(name: str, raw: RawCatalog, rowid_alias: bool) -> Table:
    pk = tuple((raw.pks.get(name) or {}).get("constrained_columns") or ())
    names = [str(c["name"]) for c in raw.columns.get(name, ())]
    checks: list[CheckConstraint] = []
    json_columns: set[str] = set()
    for i, chk in enumerate(raw.checks.get(name, ())):
        sqltext = str(chk.get("sqltext") or "").strip()
        match = _JSON_VALID_RE.match(sqltext)
        if match:  # MariaDB's automatic constraint on a JSON column
            json_columns.add(match.group("col"))
            continue
        label = repr(chk["name"]) if chk.get("name") else f"#{i + 1}"
        where = f"CHECK {label} of table {name!r}"
        portable = _portable(sqltext, raw.dialect, names, where) if sqltext else None
        if portable is not None:
            checks.append(CheckConstraint(sqltext=portable, name=chk.get("name")))
    columns = tuple(
        _column(name, c, pk, rowid_alias, c["name"] in json_columns, raw.dialect, names)
        for c in raw.columns.get(name, ())
    )
    comment = (raw.comments.get(name) or {}).get("text")
    return Table(
        name=name,
        columns=columns,
        primary_key=pk,
        unique=_uniques(name, raw, pk),
        checks=tuple(checks),
        comment=comment or None,
    )


def _portable(text: str, dialect: str, columns: Sequence[str], where: str) -> str | None:
    """``text`` in portable form, or ``None`` (with a warning) when it is refused."""
    try:
        return portable_expression(text, columns=columns, where=where, dialect=dialect)
    except MetadataError as exc:
        warnings.warn(f"{exc} It is left out of the metadata.", SchemaWarning, stacklevel=5)
        return None


def _column(
    table: str,
    col: Mapping[str, Any],
    pk: tuple[str, ...],
    rowid_alias: bool,
    is_json: bool,
    dialect: str,
    names: Sequence[str],
) -> Column:
    name = str(col["name"])
    sql_type = "JSON" if is_json else to_portable(col["type"], where=f"{table}.{name}")
    default = col.get("default")
    default_text = None if default is None else str(default)
    autoincrement = False
    if col.get("identity") or col.get("autoincrement") is True:
        autoincrement = True
    if default_text is not None and _NEXTVAL_RE.match(default_text):
        autoincrement, default_text = True, None
    if rowid_alias and pk == (name,):
        autoincrement = True
    if default_text is not None:
        where = f"default of column {table}.{name}"
        default_text = _portable(default_text, dialect, names, where)
    computed = col.get("computed") or {}
    generated = None
    if computed.get("sqltext") is not None:
        where = f"generated expression of column {table}.{name}"
        others = [n for n in names if n != name]
        generated = _portable(str(computed["sqltext"]), dialect, others, where)
        default_text = None
    enum_values = getattr(col["type"], "enums", None) if sql_type == "ENUM" else None
    return Column(
        name=name,
        kind=kind_from_type(sql_type),
        sql_type=sql_type,
        nullable=bool(col.get("nullable", True)),
        default=default_text,
        autoincrement=autoincrement,
        enum_values=tuple(enum_values) if enum_values else None,
        generated=generated,
        generated_stored=generated is not None and bool(computed.get("persisted")),
    )


def _uniques(name: str, raw: RawCatalog, pk: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    found: list[tuple[str, ...]] = []
    seen = {frozenset(pk)} if pk else set()
    candidates = [tuple(u.get("column_names") or ()) for u in raw.uniques.get(name, ())]
    for idx in raw.indexes.get(name, ()):
        if not idx.get("unique"):
            continue
        options = idx.get("dialect_options") or {}
        if any(k.endswith("_where") and v is not None for k, v in options.items()):
            logger.info("Ignoring partial unique index %s on %s", idx.get("name"), name)
            continue
        cols = tuple(idx.get("column_names") or ())
        if not cols or any(c is None for c in cols):  # expression index
            logger.info("Ignoring expression unique index %s on %s", idx.get("name"), name)
            continue
        candidates.append(cols)
    for cols in candidates:
        if cols and frozenset(cols) not in seen:
            seen.add(frozenset(cols))
            found.append(cols)
    return tuple(found)


def build_foreign_keys(
    raw: RawCatalog,
    tables: Mapping[str, Table],
    schema: str | None,
    *,
    key_of: Mapping[tuple[str, str], str] | None = None,
) -> list[ForeignKey]:
    """The valid foreign keys of ``raw`` (read from ``schema``) among ``tables``.

    ``key_of`` (several schemas read) maps each (schema, table) read to its metadata
    name: a key whose parent lives in another schema read is kept, one into a schema
    not read dropped.
    """
    out: list[ForeignKey] = []
    seen: set[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = set()
    for raw_child in raw.names:
        child = raw_child if key_of is None else key_of[(str(schema), raw_child)]
        for fk in raw.fks.get(raw_child, ()):
            parent = fk.get("referred_table")
            if key_of is not None:  # None: a table of a schema not read
                parent = key_of.get((fk.get("referred_schema") or str(schema), str(parent)))
            columns = tuple(fk.get("constrained_columns") or ())
            parent_columns = tuple(fk.get("referred_columns") or ())
            shown = parent if parent is not None else fk.get("referred_table")
            label = f"{child}({', '.join(columns)}) -> {shown}({', '.join(parent_columns)})"
            referred_schema = fk.get("referred_schema")
            in_read = key_of is not None or referred_schema in (None, schema)
            if parent not in tables or not in_read:
                logger.info("Dropping foreign key %s: its parent table is not reflected", label)
                continue
            if not parent_columns:  # SQLite "REFERENCES parent" without columns: its PK
                parent_columns = tables[parent].primary_key
            key = (child, columns, parent, parent_columns)
            if key in seen:
                continue
            seen.add(key)
            problem = _fk_problem(tables, child, columns, parent, parent_columns)
            if problem:
                warnings.warn(
                    f"Foreign key {label} was dropped: {problem}. Declare a primary key or "
                    "unique constraint on the parent, or add the key back by hand with "
                    "Metadata.with_foreign_keys() after fixing the parent.",
                    SchemaWarning,
                    stacklevel=4,
                )
                continue
            child_table = tables[child]
            options = fk.get("options") or {}
            initially = str(options.get("initially") or "").upper() == "DEFERRED"
            out.append(
                ForeignKey(
                    child=child,
                    columns=columns,
                    parent=parent,
                    parent_columns=parent_columns,
                    nullable=all(child_table.column(c).nullable for c in columns),
                    name=fk.get("name") or None,
                    deferrable=bool(options.get("deferrable")) or initially,
                    initially_deferred=initially,
                )
            )
    return out


def _fk_problem(
    tables: Mapping[str, Table],
    child: str,
    columns: tuple[str, ...],
    parent: str,
    parent_columns: tuple[str, ...],
) -> str | None:
    if not columns or len(columns) != len(parent_columns):
        return "its child and parent columns do not pair up"
    missing = [c for c in columns if not tables[child].has_column(c)]
    if missing:
        return f"{child!r} has no column(s) {', '.join(missing)}"
    ptable = tables[parent]
    missing = [c for c in parent_columns if not ptable.has_column(c)]
    if missing:
        return f"{parent!r} has no column(s) {', '.join(missing)}"
    keys = [set(ptable.primary_key), *[set(u) for u in ptable.unique]]
    if set(parent_columns) not in keys:
        return (
            f"the parent columns ({', '.join(parent_columns)}) are neither the primary key nor "
            f"a unique constraint of {parent!r}"
        )
    return None
