"""The portable SQL type vocabulary (pure: no SQLAlchemy).

The names, their default column kinds (``_KIND_BY_SQL_TYPE``), the default type of
each kind and the parser live here so that the pure layers
(:mod:`relsynth.metadata.infer`, :mod:`relsynth._columns`) can use them without
importing a database library. The database layer's :mod:`relsynth.io.types` maps
them to and from SQLAlchemy types (``to_portable``/``to_sqlalchemy``).
"""

from __future__ import annotations

import re
from typing import Final

from relsynth._typing import ColumnKind
from relsynth.errors import MetadataError

__all__ = [
    "DEFAULT_TYPE_BY_KIND",
    "PORTABLE_TYPES",
    "UNSIGNED_RANGES",
    "array_element",
    "kind_from_type",
    "parse_type",
    "value_format",
]

#: Portable type used when ``sql_type`` is None, per kind.
DEFAULT_TYPE_BY_KIND: Final[dict[str, str]] = {
    "numerical": "FLOAT",
    "categorical": "TEXT",
    "datetime": "DATETIME",
    "boolean": "BOOLEAN",
    "text": "TEXT",
    "id": "BIGINT",
    "binary": "BLOB",
}

#: Default column kind of each portable base type (parameters stripped). Users
#: override the result per column with ``Metadata.with_column(..., kind=...)``.
_KIND_BY_SQL_TYPE: Final[dict[str, ColumnKind]] = {
    "INTEGER": "numerical",
    "BIGINT": "numerical",
    "SMALLINT": "numerical",
    "SMALLINT UNSIGNED": "numerical",
    "INTEGER UNSIGNED": "numerical",
    "BIGINT UNSIGNED": "numerical",
    "NUMERIC": "numerical",
    "FLOAT": "numerical",
    "REAL": "numerical",
    "INTERVAL": "numerical",
    "VARCHAR": "categorical",
    "CHAR": "categorical",
    "TEXT": "categorical",
    "ENUM": "categorical",
    "DATE": "datetime",
    "DATETIME": "datetime",
    "TIMESTAMP": "datetime",
    "TIMESTAMP WITH TIME ZONE": "datetime",
    "TIME": "datetime",
    "BOOLEAN": "boolean",
    "BLOB": "binary",
    "JSON": "text",
    "ARRAY": "text",
    "INET": "text",
    "CIDR": "text",
    "MACADDR": "text",
    "UUID": "id",
}

#: Value range of each unsigned integer type (MySQL/MariaDB ``... UNSIGNED``).
UNSIGNED_RANGES: Final[dict[str, tuple[int, int]]] = {
    "SMALLINT UNSIGNED": (0, 2**16 - 1),
    "INTEGER UNSIGNED": (0, 2**32 - 1),
    "BIGINT UNSIGNED": (0, 2**64 - 1),
}

#: Portable types whose values have a structure the synthesizer generates (valid JSON,
#: arrays, bytes, addresses) instead of faking free text: base type -> value format.
_FORMAT_BY_BASE: Final[dict[str, str]] = {
    "JSON": "json",
    "ARRAY": "array",
    "BLOB": "binary",
    "INET": "inet",
    "CIDR": "cidr",
    "MACADDR": "macaddr",
}

#: The portable base type names.
PORTABLE_TYPES: Final[tuple[str, ...]] = tuple(_KIND_BY_SQL_TYPE)

#: Spellings accepted in hand-written metadata files, mapped to portable names.
_ALIASES: Final[dict[str, str]] = {
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "INT2": "SMALLINT",
    "DECIMAL": "NUMERIC",
    "DOUBLE": "FLOAT",
    "DOUBLE PRECISION": "FLOAT",
    "FLOAT8": "FLOAT",
    "FLOAT4": "REAL",
    "CHARACTER VARYING": "VARCHAR",
    "NVARCHAR": "VARCHAR",
    "CHARACTER": "CHAR",
    "NCHAR": "CHAR",
    "STRING": "TEXT",
    "CLOB": "TEXT",
    "BOOL": "BOOLEAN",
    "BYTEA": "BLOB",
    "BINARY": "BLOB",
    "VARBINARY": "BLOB",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "JSONB": "JSON",
    "MACADDR8": "MACADDR",
    "INT UNSIGNED": "INTEGER UNSIGNED",
    "MEDIUMINT UNSIGNED": "INTEGER UNSIGNED",
    "TINYINT UNSIGNED": "SMALLINT UNSIGNED",
}

_TYPE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


def parse_type(sql_type: str) -> tuple[str, tuple[int, ...]]:
    """Split a portable type into its base name and integer parameters.

    Aliases (``INT``, ``DECIMAL``, ``DOUBLE PRECISION``, ``TIMESTAMPTZ``...) and
    lowercase spellings are normalised.

    Parameters
    ----------
    sql_type : str
        A portable type such as ``"NUMERIC(10, 2)"`` or ``"varchar(40)"``.

    Returns
    -------
    tuple
        ``(base, params)``, e.g. ``("NUMERIC", (10, 2))``.

    Raises
    ------
    MetadataError
        If ``sql_type`` is not a portable type.

    Examples
    --------
    >>> parse_type("numeric(10,2)")
    ('NUMERIC', (10, 2))
    >>> parse_type("TEXT")
    ('TEXT', ())
    """
    if sql_type.strip().endswith("[]"):
        array_element(sql_type)  # validates the element type
        return "ARRAY", ()
    match = _TYPE_RE.match(sql_type)
    base = " ".join(match.group(1).upper().split()) if match else ""
    base = _ALIASES.get(base, base)
    if match is None or base not in _KIND_BY_SQL_TYPE:
        raise MetadataError(
            f"Unknown portable SQL type {sql_type!r}; use one of "
            f"{', '.join(PORTABLE_TYPES)} (with a length or precision where it applies)."
        )
    params = tuple(int(g) for g in match.groups()[1:] if g is not None)
    return base, params


def array_element(sql_type: str) -> str | None:
    """The element type of an array type (``"INTEGER[]"`` -> ``"INTEGER"``), else None.

    Arrays are spelled ``<portable type>[]`` (PostgreSQL ``int[]``, ``text[]``); the
    element is itself a portable type that is not an array. Multi-dimensional
    PostgreSQL arrays are ``<type>[]`` too (PostgreSQL does not enforce dimensions).
    """
    text = sql_type.strip()
    if not text.endswith("[]"):
        return None
    element = text[:-2].rstrip()
    while element.endswith("[]"):
        element = element[:-2].rstrip()
    base, _ = parse_type(element)
    if base == "ARRAY":
        raise MetadataError(f"Unknown portable SQL type {sql_type!r}.")
    return element


def value_format(sql_type: str | None, kind: str) -> str | None:
    """The structured value format of a column (``json``, ``array``, ``binary``, ``inet``,
    ``cidr``, ``macaddr``), or None for ordinary columns.

    Examples
    --------
    >>> value_format("INTEGER[]", "text")
    'array'
    >>> value_format(None, "binary")
    'binary'
    """
    if sql_type is None:
        return "binary" if kind == "binary" else None
    try:
        base, _ = parse_type(sql_type)
    except MetadataError:
        return None
    return _FORMAT_BY_BASE.get(base)


def kind_from_type(sql_type: str) -> ColumnKind:
    """Return the default column kind of a portable SQL type.

    Parameters
    ----------
    sql_type : str
        A portable type (parameters allowed).

    Returns
    -------
    str
        One of the column kinds: integers and decimals are ``numerical``, strings
        and enums ``categorical`` (refined from the data by
        :func:`relsynth.metadata.infer.refine_kinds`), dates and times
        ``datetime``, ``BLOB`` ``binary``, ``JSON`` ``text`` and ``UUID`` ``id``.

    Raises
    ------
    MetadataError
        If ``sql_type`` is not a portable type.

    Examples
    --------
    >>> kind_from_type("NUMERIC(10, 2)")
    'numerical'
    >>> kind_from_type("UUID")
    'id'
    """
    base, _ = parse_type(sql_type)
    return _KIND_BY_SQL_TYPE[base]
