"""The metadata data model: what a database looks like.

Stage 1 of the pipeline. Frozen, slotted dataclasses with tuples for sequences;
tables and columns are referred to by name. Composite keys are the normal case:
a single-column key is a 1-tuple. This module is pure (no torch, no SQLAlchemy);
reflection lives in :mod:`relsynth.io.reflect`, the JSON/YAML form in
:mod:`relsynth.metadata.serialize` and graph queries in
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
from typing import TYPE_CHECKING, Any, get_args

from relsynth._typing import ColumnKind
from relsynth.errors import MetadataError
from relsynth.metadata.expressions import parse_expression

if TYPE_CHECKING:
    from relsynth.rules import Rule

__all__ = [
    "COLUMN_KINDS",
    "PII_TYPES",
    "CheckConstraint",
    "Column",
    "ForeignKey",
    "Metadata",
    "Table",
]

COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)

#: Kinds of personal text a column can hold; the synthesizer fills them with
#: realistic fake values and never copies them from the source. ``secret`` (password
#: hashes, digests, tokens) is regenerated in the source's format, ``username``
#: (logins, handles) gets fake account names.
PII_TYPES: tuple[str, ...] = (
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "street",
    "city",
    "postcode",
    "country",
    "company",
    "url",
    "free_text",
    "secret",
    "username",
)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    name : str
        Column name, exactly as in the database.
    kind : {"numerical", "categorical", "datetime", "boolean", "text", "id", "binary"}
        How the values are modelled. ``id`` columns are keys or opaque
        identifiers; ``text`` columns are free or personal text (see ``pii``).
    sql_type : str, optional
        Portable SQL type (see the module docstring), used to write the column back.
    nullable : bool
        Whether the column accepts NULL.
    default : str, optional
        The server default: one SQL expression in portable form (see
        :mod:`relsynth.metadata.expressions`), never run as text.
    autoincrement : bool
        Whether the database generates values (identity, serial, AUTO_INCREMENT).
    enum_values : tuple of str, optional
        The allowed values of an ENUM column.
    pii : str, optional
        For ``text`` columns: the kind of personal data (one of ``PII_TYPES``).
    format : str, optional
        For a ``datetime`` column stored as text: the text format of its values
        (``"%Y-%m-%d"``, ``"%d/%m/%Y"``, ``"%Y-%m-%dT%H:%M:%SZ"``; ``%3f`` is three
        fraction digits); for a ``numerical`` column stored as text, a Python format
        spec (``"d"``, ``".2f"``, ``"04d"``, ``",.2f"``). Learned at reflection and
        used to read and write the column (see :mod:`relsynth.metadata._textformats`,
        :mod:`relsynth.metadata._numberformats`).
    generated : str, optional
        For a generated (computed) column: its expression over the table's other
        columns, in portable form. The writer recreates the column as generated
        where the target can, and computes its values from the expression otherwise.
    generated_stored : bool
        Whether the source stores the generated values (``STORED``/``PERSISTENT``)
        rather than computing them on read (``VIRTUAL``).
    """

    name: str
    kind: ColumnKind
    sql_type: str | None = None
    nullable: bool = True
    default: str | None = None
    autoincrement: bool = False
    enum_values: tuple[str, ...] | None = None
    pii: str | None = None
    format: str | None = None
    generated: str | None = None
    generated_stored: bool = False


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key: ``child(columns) -> parent(parent_columns)``.

    ``nullable`` is true when every child column accepts NULL, so the key can be
    left empty while rows are inserted and filled later (this is how cycles are
    broken). ``deferrable`` and ``initially_deferred`` are the source's
    ``DEFERRABLE [INITIALLY DEFERRED]``, kept on targets that have them
    (PostgreSQL, SQLite).
    """

    child: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    nullable: bool = False
    name: str | None = None
    deferrable: bool = False
    initially_deferred: bool = False

    @property
    def is_self_reference(self) -> bool:
        """True when the child and the parent are the same table."""
        return self.child == self.parent

    @property
    def label(self) -> str:
        """Readable form used in messages: ``orders(customer_id) -> customers(id)``."""
        return (
            f"{self.child}({', '.join(self.columns)}) -> "
            f"{self.parent}({', '.join(self.parent_columns)})"
        )

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True, slots=True)
class CheckConstraint:
    """A CHECK constraint: one SQL expression in portable form, never run as text.

    The text is parsed and allow-listed (:mod:`relsynth.metadata.expressions`) when
    metadata is loaded and again when a target schema is written.
    """

    sqltext: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """One table.

    Parameters
    ----------
    name : str
        Table name, exactly as in the database (spaces and unicode allowed).
    columns : tuple of Column
        The columns, in database order.
    primary_key : tuple of str
        Primary key columns; empty when the table has none.
    unique : tuple of tuple of str
        Unique constraints other than the primary key.
    checks : tuple of CheckConstraint
        CHECK constraints.
    sequence_index : str, optional
        A column that orders the rows of one driver parent (``stop_sequence``):
        the child rows form a sequence.
    reference : bool, optional
        A lookup table holding no personal data (airlines, regions): ``True``
        copies it verbatim, ``False`` never does, ``None`` (the default) lets the
        synthesizer decide (:func:`relsynth.rules.lookup.lookup_tables`).
    comment : str, optional
        The table comment, if any.
    schema : str, optional
        The database schema holding the table when the metadata spans several
        schemas (``relsynth.reflect(url, schema=["sales", "hr"])``); ``None``: the
        metadata's own :attr:`Metadata.schema`.
    sql_name : str, optional
        The table's name in its schema when it differs from ``name``: two schemas
        read together both holding ``notes`` give the tables ``sales.notes`` and
        ``hr.notes``, each with ``sql_name="notes"``.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    checks: tuple[CheckConstraint, ...] = ()
    sequence_index: str | None = None
    reference: bool | None = None
    comment: str | None = None
    schema: str | None = None
    sql_name: str | None = None

    @property
    def physical_name(self) -> str:
        """The table's name in the database (``sql_name``, else ``name``)."""
        return self.sql_name or self.name

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the columns, in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called ``name``.

        Raises
        ------
        MetadataError
            If the table has no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise MetadataError(
            f"Table {self.name!r} has no column {name!r}. "
            f"Its columns are: {', '.join(self.column_names)}."
        )

    def has_column(self, name: str) -> bool:
        """Whether the table has a column called ``name``."""
        return any(c.name == name for c in self.columns)


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
        return replace(
            self,
            tables={n: t for n, t in self.tables.items() if n not in drop},
            foreign_keys=tuple(
                fk for fk in self.foreign_keys if fk.child not in drop and fk.parent not in drop
            ),
            rules=tuple(r for r in self.rules if not _rule_tables(r) & drop),
        )

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
            from relsynth.rules import rule_problems

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
        from relsynth.metadata.serialize import metadata_to_dict

        return metadata_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metadata:
        """Build metadata from its dict form (validated against the JSON schema)."""
        from relsynth.metadata.serialize import metadata_from_dict

        return metadata_from_dict(data)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the metadata to a JSON (``.json``) or YAML (``.yaml``/``.yml``) file."""
        from relsynth.metadata.serialize import save_metadata

        save_metadata(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Metadata:
        """Read metadata from a JSON or YAML file and validate it."""
        from relsynth.metadata.serialize import load_metadata

        return load_metadata(path)


def _rule_tables(rule: Rule) -> set[str]:
    """Every table a rule reads."""
    from relsynth.rules import Aggregate

    if isinstance(rule, Aggregate):
        return {rule.parent, rule.child}
    refs = (rule.left, rule.right) if rule.kind == "path" else (rule.column, rule.anchor)  # type: ignore[union-attr]
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
