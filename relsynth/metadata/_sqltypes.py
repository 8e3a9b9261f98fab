"""The portable SQL type vocabulary (pure: no SQLAlchemy).

The names, their default column kinds (``_KIND_BY_SQL_TYPE``) and the parser live
here so that the pure layers (:mod:`relsynth.metadata.infer`) can use them without
importing a database library; :mod:`relsynth.io.types` re-exports them next to the
SQLAlchemy mappings (``to_portable``/``to_sqlalchemy``).
"""

from __future__ import annotations

import re
from typing import Final

from relsynth._typing import ColumnKind
from relsynth.errors import MetadataError

__all__ = ["PORTABLE_TYPES", "kind_from_type", "parse_type"]

#: Default column kind of each portable base type (parameters stripped). Users
#: override the result per column with ``Metadata.with_column(..., kind=...)``.
_KIND_BY_SQL_TYPE: Final[dict[str, ColumnKind]] = {
    "INTEGER": "numerical",
    "BIGINT": "numerical",
    "SMALLINT": "numerical",
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
    "UUID": "id",
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
