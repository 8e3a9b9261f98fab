"""Hypothesis strategies shared by the tests.

``metadata_strategy()`` (metadata section, self-contained) draws random valid
:class:`~relsynth.metadata.schema.Metadata`: 1-6 tables with unicode names, random
column kinds, types and flags, composite primary keys, a DAG of foreign keys
(single or composite, to a primary key or a unique constraint), optional nullable
self-references, checks, comments and reference tables.
"""

from __future__ import annotations

from hypothesis import strategies as st

from relsynth.metadata.schema import (
    COLUMN_KINDS,
    PII_TYPES,
    CheckConstraint,
    Column,
    ForeignKey,
    Metadata,
    Table,
)

# -- metadata ---------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_NAME = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N"), include_characters=" _"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s)
_SQL_TYPES = st.sampled_from(
    [None, "INTEGER", "BIGINT", "NUMERIC(10, 2)", "FLOAT", "VARCHAR(40)", "CHAR(5)", "TEXT",
     "DATE", "DATETIME", "TIMESTAMP", "BOOLEAN", "BLOB", "JSON", "UUID", "ENUM"]
)  # fmt: skip


@st.composite
def _column(draw: st.DrawFn, name: str, *, key: bool = False) -> Column:
    sql_type = draw(_SQL_TYPES)
    kind = "id" if key else draw(st.sampled_from(COLUMN_KINDS))
    return Column(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        sql_type=sql_type,
        nullable=False if key else draw(st.booleans()),
        default=draw(st.none() | st.sampled_from(["0", "'x'", "CURRENT_TIMESTAMP"])),
        autoincrement=draw(st.booleans()) if key else False,
        enum_values=(
            tuple(draw(st.lists(_NAME, min_size=1, max_size=4, unique=True)))
            if sql_type == "ENUM"
            else None
        ),
        pii=draw(st.sampled_from(PII_TYPES)) if kind == "text" and draw(st.booleans()) else None,
    )


@st.composite
def metadata_strategy(draw: st.DrawFn, max_tables: int = 6) -> Metadata:
    """Draw a random valid ``Metadata`` (see the module docstring)."""
    names = draw(st.lists(_NAME, min_size=1, max_size=max_tables, unique=True))
    tables: dict[str, Table] = {}
    fks: list[ForeignKey] = []
    for i, name in enumerate(names):
        n_pk = draw(st.integers(0, 2))
        col_names = draw(st.lists(_NAME, min_size=max(n_pk, 1), max_size=6, unique=True))
        pk = tuple(col_names[:n_pk])
        columns = [draw(_column(c, key=c in pk)) for c in col_names]
        rest = [c for c in col_names if c not in pk]
        unique: tuple[tuple[str, ...], ...] = ()
        if rest and draw(st.booleans()):
            unique = ((rest[0],),)
        # keys to earlier tables only (a DAG), matched to their PK or unique constraint
        for parent in names[:i]:
            ptable = tables[parent]
            targets = [k for k in (ptable.primary_key, *ptable.unique) if k]
            if not targets or not draw(st.booleans()):
                continue
            target = draw(st.sampled_from(targets))
            fk_cols = []
            for j, pcol in enumerate(target):
                col = f"{parent}_{pcol}_{j}"
                if col in col_names or col in fk_cols:
                    break
                fk_cols.append(col)
            else:
                nullable = draw(st.booleans())
                columns.extend(Column(c, "id", "INTEGER", nullable=nullable) for c in fk_cols)
                fks.append(
                    ForeignKey(
                        child=name,
                        columns=tuple(fk_cols),
                        parent=parent,
                        parent_columns=tuple(target),
                        nullable=nullable,
                        name=draw(st.none() | _NAME),
                    )
                )
        if len(pk) == 1 and draw(st.booleans()):
            self_col = f"parent_{pk[0]}"
            if self_col not in col_names:
                columns.append(Column(self_col, "id", "INTEGER", nullable=True))
                fks.append(ForeignKey(name, (self_col,), name, pk, nullable=True))
        all_names = [c.name for c in columns]
        tables[name] = Table(
            name=name,
            columns=tuple(columns),
            primary_key=pk,
            unique=unique,
            checks=tuple(
                CheckConstraint(
                    sqltext=f"{_quoted(all_names[0])} IS NOT NULL", name=draw(st.none() | _NAME)
                )
                for _ in range(draw(st.integers(0, 1)))
            ),
            sequence_index=draw(st.none() | st.sampled_from(all_names)),
            reference=draw(st.booleans()),
            comment=draw(st.none() | st.text(max_size=20)),
        )
    meta = Metadata(
        tables=tables, foreign_keys=tuple(fks), schema=draw(st.none() | st.just("public"))
    )
    meta.validate()
    return meta
