"""The metadata data model: what a database looks like.

Stage 1 of the pipeline. :class:`Metadata` holds the tables (columns, keys and
CHECKs: :mod:`relsynth.metadata.table`, re-exported here), the foreign keys between
them and the cross-table rules (:mod:`relsynth.metadata._rule`). Frozen, slotted
dataclasses with tuples for sequences; tables and columns are referred to by name.
This module is pure (no torch, no SQLAlchemy); reflection lives in
:mod:`relsynth.io.reflect`, the file format in :mod:`relsynth.metadata._format`
(also as functions in :mod:`relsynth.metadata.serialize`) and graph queries in
:mod:`relsynth.metadata.graph`.

``sql_type`` strings are *portable* type names, uppercase, with parameters where
they matter: ``INTEGER``, ``BIGINT``, ``SMALLINT``, ``NUMERIC(10, 2)``, ``FLOAT``,
``REAL``, ``VARCHAR(40)``, ``CHAR(5)``, ``TEXT``, ``DATE``, ``DATETIME``,
``TIMESTAMP``, ``TIME``, ``BOOLEAN``, ``BLOB``, ``JSON``, ``UUID``, ``ENUM``.
The writer maps them to each dialect; the models never read them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from relsynth.errors import MetadataError
from relsynth.metadata._rule import Aggregate
from relsynth.metadata.expressions import parse_expression
from relsynth.metadata.table import (
    COLUMN_KINDS,
    PII_TYPES,
    CheckConstraint,
    Column,
    ForeignKey,
    Table,
)

if TYPE_CHECKING:
    from relsynth.metadata._rule import Rule

__all__ = [
    "COLUMN_KINDS",
    "PII_TYPES",
    "CheckConstraint",
    "Column",
    "ForeignKey",
    "Metadata",
    "Table",
]


@dataclass(frozen=True, slots=True)
class Metadata:
    """The schema of a database: tables, keys and constraints.

    ``Metadata`` is an immutable value: the ``with_*``/``without_*`` methods return
    modified copies. Build one with :func:`relsynth.reflect` (from a database),
    :func:`relsynth.infer` (from DataFrames) or :meth:`Metadata.load` (from a file).

    Parameters
    ----------
    tables : Mapping of str to Table
        Tables by name, in a stable order.
    foreign_keys : tuple of ForeignKey
        Every foreign key, declared or added by the user.
    schema : str, optional
        The database schema the tables were reflected from (``public``...). When
        the tables come from several schemas it is ``None`` and each
        :attr:`Table.schema` names its own (:meth:`schema_of`, :attr:`schemas`).
    rules : tuple of Rule
        Cross-table rules (:mod:`relsynth.rules`): found by discovery or declared by
        the user; a rule with ``enforce=False`` drops the discovered one of its text.

    Examples
    --------
    >>> from relsynth import Column, ForeignKey, Metadata, Table
    >>> meta = Metadata(
    ...     tables={
    ...         "customers": Table("customers", (Column("id", "id", "INTEGER", False),),
    ...                            primary_key=("id",)),
    ...         "orders": Table("orders", (Column("id", "id", "INTEGER", False),
    ...                                    Column("customer_id", "id", "INTEGER", False)),
    ...                         primary_key=("id",)),
    ...     },
    ...     foreign_keys=(ForeignKey("orders", ("customer_id",), "customers", ("id",)),),
    ... )
    >>> meta.validate()
    >>> [fk.label for fk in meta.parents("orders")]
    ['orders(customer_id) -> customers(id)']
    """

    tables: Mapping[str, Table]
    foreign_keys: tuple[ForeignKey, ...] = ()
    schema: str | None = None
    format_version: int = field(default=1, repr=False)
    rules: tuple[Rule, ...] = ()

    # -- queries ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables.values())

    def __len__(self) -> int:
        return len(self.tables)

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __getitem__(self, name: str) -> Table:
        return self.table(name)

    def table(self, name: str) -> Table:
        """Return the table called ``name``; raise ``MetadataError`` naming the known ones."""
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(self.tables) or "(none)"
            raise MetadataError(f"Unknown table {name!r}. Known tables: {known}.") from None

    def schema_of(self, table: str) -> str | None:
        """The database schema holding ``table``: its own, else the metadata's."""
        return self.table(table).schema or self.schema

    @property
    def schemas(self) -> tuple[str, ...]:
        """The distinct schemas of the tables, in table order (empty: the default one)."""
        found = [self.schema_of(n) for n in self.tables]
        return tuple(dict.fromkeys(s for s in found if s is not None))

    def flattened(self) -> Metadata:
        """The same metadata with every schema name removed (tables written into the
        database a URL names, as on SQLite and MariaDB targets)."""
        if self.schema is None and all(t.schema is None for t in self.tables.values()):
            return self
        tables = {n: replace(t, schema=None) for n, t in self.tables.items()}
        return replace(self, tables=tables, schema=None)

    def parents(self, table: str) -> tuple[ForeignKey, ...]:
        """Foreign keys held by ``table`` (pointing at its parents)."""
        return tuple(fk for fk in self.foreign_keys if fk.child == table)

    def children(self, table: str) -> tuple[ForeignKey, ...]:
        """Foreign keys pointing at ``table`` (held by its children)."""
        return tuple(fk for fk in self.foreign_keys if fk.parent == table)

    def key_columns(self, table: str) -> tuple[str, ...]:
        """Columns of ``table`` that belong to its primary key or to a foreign key."""
        cols = list(self.table(table).primary_key)
        for fk in self.parents(table):
            cols.extend(c for c in fk.columns if c not in cols)
        return tuple(cols)

    # -- copies ----------------------------------------------------------------------

    def with_column(self, table: str, column: str, **changes: Any) -> Metadata:
        """Return a copy with ``changes`` applied to one column (e.g. ``kind="categorical"``)."""
        tbl = self.table(table)
        old = tbl.column(column)
        try:
            new = replace(old, **changes)
        except TypeError as exc:
            raise MetadataError(f"Cannot change column {table}.{column}: {exc}.") from exc
        cols = tuple(new if c.name == column else c for c in tbl.columns)
        return self.with_table(replace(tbl, columns=cols))

    def with_table(self, table: Table) -> Metadata:
        """Return a copy where ``table`` replaces (or is added as) the table of its name."""
        tables = dict(self.tables)
        tables[table.name] = table
        return replace(self, tables=tables)

    def with_foreign_keys(self, *foreign_keys: ForeignKey) -> Metadata:
        """Return a copy with more foreign keys (e.g. ones the database does not declare)."""
        return replace(self, foreign_keys=self.foreign_keys + tuple(foreign_keys))

    def with_rules(self, *rules: Rule) -> Metadata:
        """Return a copy whose rules are ``rules`` (replacing the old ones)."""
        return replace(self, rules=tuple(rules))

    def without_tables(self, *names: str) -> Metadata:
        """Return a copy without ``names`` and without the foreign keys that touch them."""
        for name in names:
            self.table(name)
        drop = set(names)
        out = replace(
            self,
            tables={n: t for n, t in self.tables.items() if n not in drop},
            foreign_keys=tuple(
                fk for fk in self.foreign_keys if fk.child not in drop and fk.parent not in drop
            ),
            rules=tuple(r for r in self.rules if not _rule_tables(r) & drop),
        )
        if out.rules:  # and the rules that named a dropped key (a path's or a determines' end)
            from relsynth.metadata._rule_parse import rule_problems

            out = replace(out, rules=tuple(r for r in out.rules if not rule_problems(out, (r,))))
        return out

    def subset(self, names: Iterable[str]) -> Metadata:
        """Return a copy with only the tables in ``names``."""
        keep = set(names)
        return self.without_tables(*[n for n in self.tables if n not in keep])

    # -- validation ------------------------------------------------------------------

    def validate(self) -> None:
        """Check the metadata is consistent; raise one ``MetadataError`` listing every problem.

        Raises
        ------
        MetadataError
            With ``problems`` holding one line per problem found.
        """
        problems: list[str] = []
        for name, table in self.tables.items():
            problems.extend(_table_problems(name, table))
        problems.extend(_foreign_key_problems(self))
        if self.rules and not problems:
            from relsynth.metadata._rule_parse import rule_problems

            problems.extend(rule_problems(self, self.rules))
        if problems:
            raise MetadataError(
                f"The metadata has {len(problems)} problem(s); fix them in the metadata "
                "file or with Metadata.with_column()/with_table():",
                problems,
            )

    # -- persistence -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form described by ``schemas/metadata.schema.json``."""
        from relsynth.metadata._format import metadata_to_dict

        return metadata_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metadata:
        """Build metadata from its dict form (validated against the JSON schema)."""
        from relsynth.metadata._format import metadata_from_dict

        return metadata_from_dict(data, cls)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the metadata to a JSON (``.json``) or YAML (``.yaml``/``.yml``) file."""
        from relsynth.metadata._format import save_metadata

        save_metadata(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Metadata:
        """Read metadata from a JSON or YAML file and validate it."""
        from relsynth.metadata._format import load_metadata

        return load_metadata(path, cls)


def _rule_tables(rule: Rule) -> set[str]:
    """Every table a rule reads."""
    if isinstance(rule, Aggregate):
        return {rule.parent, rule.child}
    if rule.kind == "value":
        return {rule.table}
    pair = rule.kind in ("path", "determines")
    refs = (rule.left, rule.right) if pair else (rule.column, rule.anchor)  # type: ignore[union-attr]
    return {t for ref in refs for t, _ in ref.steps}


def _table_problems(name: str, table: Table) -> list[str]:
    problems: list[str] = []
    if table.name != name:
        problems.append(f"Table registered as {name!r} is named {table.name!r}.")
    names = [c.name for c in table.columns]
    if not names:
        problems.append(f"Table {name!r} has no columns.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"Table {name!r} has duplicate column names: {', '.join(dupes)}.")
    known = set(names)
    for col in table.columns:
        if col.kind not in COLUMN_KINDS:
            problems.append(
                f"Column {name}.{col.name} has unknown kind {col.kind!r}; "
                f"use one of {', '.join(COLUMN_KINDS)}."
            )
        if col.pii is not None and col.pii not in PII_TYPES:
            problems.append(
                f"Column {name}.{col.name} has unknown pii type {col.pii!r}; "
                f"use one of {', '.join(PII_TYPES)}."
            )
    for label, cols in [("primary key", table.primary_key), *[("unique", u) for u in table.unique]]:
        missing = [c for c in cols if c not in known]
        if missing:
            problems.append(
                f"The {label} of table {name!r} names unknown column(s): {', '.join(missing)}."
            )
        if len(set(cols)) != len(cols):
            problems.append(f"The {label} of table {name!r} repeats a column: {cols}.")
    problems.extend(expression_problems(table))
    if table.sequence_index is not None and table.sequence_index not in known:
        problems.append(
            f"The sequence_index of table {name!r} is {table.sequence_index!r}, "
            "which is not one of its columns."
        )
    return problems


def expression_problems(table: Table) -> list[str]:
    """One line per CHECK, default or generated expression of ``table`` that is refused.

    Every such expression must be one SQL expression over the table's own columns
    on the allow-list of :mod:`relsynth.metadata.expressions`; the text itself never
    reaches a database.
    """
    problems: list[str] = []
    names = table.column_names
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for i, check in enumerate(table.checks):
        label = repr(check.name) if check.name else f"#{i + 1}"
        found.append((f"CHECK {label} of table {table.name!r}", check.sqltext, names))
    for col in table.columns:
        if col.default is not None:
            found.append((f"default of column {table.name}.{col.name}", col.default, names))
        if col.generated is not None:
            others = tuple(n for n in names if n != col.name)
            where = f"generated expression of column {table.name}.{col.name}"
            found.append((where, col.generated, others))
    for where, text, columns in found:
        try:
            parse_expression(text, columns=columns, where=where)
        except MetadataError as exc:
            problems.append(str(exc))
    return problems


def _foreign_key_problems(meta: Metadata) -> list[str]:
    problems: list[str] = []
    for fk in meta.foreign_keys:
        where = f"Foreign key {fk.label}"
        if not fk.columns or len(fk.columns) != len(fk.parent_columns):
            problems.append(
                f"{where} has {len(fk.columns)} child column(s) and "
                f"{len(fk.parent_columns)} parent column(s); they must pair up."
            )
            continue
        child = meta.tables.get(fk.child)
        parent = meta.tables.get(fk.parent)
        if child is None:
            problems.append(f"{where}: the child table {fk.child!r} does not exist.")
        else:
            missing = [c for c in fk.columns if not child.has_column(c)]
            if missing:
                problems.append(f"{where}: {fk.child!r} has no column(s) {', '.join(missing)}.")
        if parent is None:
            problems.append(f"{where}: the parent table {fk.parent!r} does not exist.")
            continue
        missing = [c for c in fk.parent_columns if not parent.has_column(c)]
        if missing:
            problems.append(f"{where}: {fk.parent!r} has no column(s) {', '.join(missing)}.")
            continue
        keys = [set(parent.primary_key), *[set(u) for u in parent.unique]]
        if set(fk.parent_columns) not in keys:
            problems.append(
                f"{where}: the parent columns are neither the primary key nor a unique "
                f"constraint of {fk.parent!r}; declare one, or point the key at "
                f"{fk.parent}({', '.join(parent.primary_key) or '?'})."
            )
    return problems
