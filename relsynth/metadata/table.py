"""Tables: columns, keys and CHECK constraints, the parts of :class:`Metadata`.

Frozen, slotted dataclasses with tuples for sequences; tables and columns are
referred to by name. Composite keys are the normal case: a single-column key is a
1-tuple. Pure (no torch, no SQLAlchemy). :class:`~relsynth.metadata.schema.Metadata`
(:mod:`relsynth.metadata.schema`) holds them, with the foreign keys between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from relsynth._typing import ColumnKind
from relsynth.errors import MetadataError

__all__ = ["COLUMN_KINDS", "PII_TYPES", "CheckConstraint", "Column", "ForeignKey", "Table"]


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
