"""The portable SQL type vocabulary's mapping to and from SQLAlchemy types.

relsynth stores column types in :class:`~relsynth.metadata.schema.Column` as
*portable* strings, so that metadata reflected from one dialect can create the
same table on another (PostgreSQL -> SQLite, MariaDB -> PostgreSQL...). The
vocabulary, its parser and the default kind of each type are pure and live in
:mod:`relsynth.metadata.types`; this module is the single place where those
strings meet SQLAlchemy:

* :func:`to_portable` turns a reflected SQLAlchemy type (generic or dialect
  specific) into a portable string (used by :mod:`relsynth.io.reflect`);
* :func:`to_sqlalchemy` turns a portable string back into a type that creates
  correctly on a given dialect (used by :mod:`relsynth.io.sql` to write).

The vocabulary (uppercase; parameters only where they matter)::

    INTEGER  BIGINT  SMALLINT  NUMERIC  NUMERIC(p)  NUMERIC(p, s)  FLOAT  REAL
    VARCHAR(n)  CHAR(n)  TEXT  DATE  DATETIME  TIMESTAMP  TIMESTAMP WITH TIME ZONE
    TIME  INTERVAL  BOOLEAN  BLOB  JSON  UUID  ENUM
    SMALLINT UNSIGNED  INTEGER UNSIGNED  BIGINT UNSIGNED  INET  CIDR  MACADDR
    <type>[]  (arrays: INTEGER[], TEXT[] ...)

``FLOAT`` is an 8-byte double, ``REAL`` a 4-byte float (PostgreSQL ``real``,
MySQL ``FLOAT``). ``DATETIME`` and ``TIMESTAMP`` are both a date and time without
a time zone; they are kept apart only so a PostgreSQL/MySQL ``TIMESTAMP`` column
keeps its name on a round trip. Arrays, ``INET``/``CIDR``/``MACADDR`` and unsigned
integers are native on the dialects that have them and the nearest safe type elsewhere
(JSON text, ``VARCHAR``, a wider signed integer). Types with no portable equivalent
(PostgreSQL ``TSVECTOR``, ranges; an untyped SQLite column) become ``TEXT`` with a
:class:`~relsynth.errors.SchemaWarning`. See ``docs/metadata.md`` for the full
table across dialects.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine

from relsynth.errors import MetadataError, SchemaWarning
from relsynth.metadata.types import DEFAULT_TYPE_BY_KIND, array_element, parse_type

__all__ = [
    "DIALECTS",
    "MYSQL_INDEXED_TEXT_LENGTH",
    "enum_type_name",
    "to_portable",
    "to_sqlalchemy",
]

#: Dialects :func:`to_sqlalchemy` can target.
DIALECTS: Final[tuple[str, ...]] = ("sqlite", "postgresql", "mysql", "mariadb")

#: Length given on MySQL/MariaDB to a TEXT (or length-less VARCHAR) column that is
#: part of a primary key, a unique constraint, a foreign key or an index: those
#: dialects cannot index TEXT without a prefix length. 255 utf8mb4 characters is
#: 1,020 bytes, so a composite key of three such columns still fits InnoDB's
#: 3,072-byte index limit.
MYSQL_INDEXED_TEXT_LENGTH: Final[int] = 255

_PG_NAME_MAX = 63


# -- reflected type -> portable ------------------------------------------------------------


def to_portable(sa_type: TypeEngine[Any], *, where: str | None = None) -> str:
    """Return the portable name of a (reflected) SQLAlchemy type.

    Handles the generic types and the dialect types SQLite, PostgreSQL and
    MySQL/MariaDB reflect: ``DOUBLE_PRECISION`` is ``FLOAT``, MySQL ``TINYINT(1)``
    is ``BOOLEAN``, MySQL ``YEAR`` is ``SMALLINT``, PostgreSQL ``ARRAY`` and
    ``JSONB`` are ``JSON``, ``MONEY`` is ``NUMERIC(19, 2)``, PostgreSQL/MySQL
    ``ENUM`` is ``ENUM`` (the values are read from ``sa_type.enums``).

    Types with no portable equivalent, and ``NullType`` (an untyped SQLite
    column, or a type the dialect did not recognise) map to ``TEXT`` and emit a
    :class:`~relsynth.errors.SchemaWarning` naming ``where``. This function, not
    the caller, emits that warning, so every user of the mapping gets it.

    Parameters
    ----------
    sa_type : sqlalchemy.types.TypeEngine
        The type, as reflected (``Inspector.get_columns()[i]["type"]``).
    where : str, optional
        ``table.column``, named in the warning.

    Returns
    -------
    str
        A portable type such as ``"VARCHAR(40)"``.

    Examples
    --------
    >>> import sqlalchemy as sa
    >>> to_portable(sa.Numeric(10, 2))
    'NUMERIC(10, 2)'
    >>> from sqlalchemy.dialects import mysql
    >>> to_portable(mysql.TINYINT(display_width=1))
    'BOOLEAN'
    """
    portable = _portable_or_none(sa_type)
    if portable is None:
        described = _describe(sa_type)
        warnings.warn(
            f"Column {where or '(unknown)'} has type {described}, which has no portable "
            "equivalent; it is treated as TEXT. Set its sql_type in the metadata to "
            "change this.",
            SchemaWarning,
            stacklevel=2,
        )
        return "TEXT"
    return portable


def _describe(sa_type: TypeEngine[Any]) -> str:
    if isinstance(sa_type, sa.types.NullType):
        return "NULL (no declared type, or one the dialect did not recognise)"
    try:
        return str(sa_type)
    except Exception:  # noqa: BLE001 - some dialect types cannot compile generically
        return type(sa_type).__name__


def _portable_or_none(t: TypeEngine[Any]) -> str | None:  # noqa: C901, PLR0911, PLR0912
    # Order matters: Enum is a String, Boolean-like TINYINT is an Integer,
    # TIMESTAMP is a DateTime.
    if isinstance(t, sa.types.NullType):
        return None
    if isinstance(t, sa.Enum):
        return "ENUM"
    if isinstance(t, mysql.SET):
        return "TEXT"
    if isinstance(t, sa.Boolean):
        return "BOOLEAN"
    if isinstance(t, mysql.TINYINT):
        return "BOOLEAN" if getattr(t, "display_width", None) == 1 else "SMALLINT"
    if isinstance(t, mysql.BIT):
        return "BOOLEAN" if (t.length or 1) == 1 else "BIGINT"
    if isinstance(t, mysql.YEAR):
        return "SMALLINT"
    if isinstance(t, sa.Integer) and getattr(t, "unsigned", False):
        return _portable_unsigned(t)
    if isinstance(t, sa.BigInteger):
        return "BIGINT"
    if isinstance(t, sa.SmallInteger):
        return "SMALLINT"
    if isinstance(t, sa.Integer):
        return "INTEGER"
    if isinstance(t, sa.Float):
        return _portable_float(t)
    if isinstance(t, sa.Numeric):
        return _with_params("NUMERIC", t.precision, t.scale)
    if isinstance(t, postgresql.MONEY):
        return "NUMERIC(19, 2)"
    if isinstance(t, sa.Uuid):
        return "UUID"
    if isinstance(t, postgresql.ARRAY):
        element = _portable_or_none(t.item_type)
        return f"{element or 'TEXT'}[]" if element and not element.endswith("[]") else "TEXT[]"
    if isinstance(t, postgresql.INET):
        return "INET"
    if isinstance(t, postgresql.CIDR):
        return "CIDR"
    if isinstance(t, (postgresql.MACADDR, postgresql.MACADDR8)):
        return "MACADDR"
    if isinstance(t, (sa.JSON, postgresql.HSTORE)):
        return "JSON"
    if isinstance(t, sa.String):
        return _portable_string(t)
    if isinstance(t, (sa.TIMESTAMP, sa.DateTime)):
        return _portable_datetime(t)
    if isinstance(t, sa.Date):
        return "DATE"
    if isinstance(t, sa.Time):
        return "TIME"
    if isinstance(t, sqltypes._AbstractInterval):
        return "INTERVAL"
    if isinstance(t, (sa.LargeBinary, sqltypes._Binary)):
        return "BLOB"
    return None


def _portable_unsigned(t: sa.Integer) -> str:
    if isinstance(t, (sa.BigInteger, mysql.BIGINT)):
        return "BIGINT UNSIGNED"
    if isinstance(t, (mysql.INTEGER, mysql.MEDIUMINT)) or type(t) is sa.Integer:
        return "INTEGER UNSIGNED"
    return "SMALLINT UNSIGNED"  # SMALLINT, TINYINT


def _portable_float(t: sa.Float[Any]) -> str:
    if isinstance(t, (sa.REAL, postgresql.REAL)) and not isinstance(t, sa.Double):
        return "REAL"
    if isinstance(t, mysql.FLOAT):
        return "REAL"  # MySQL FLOAT is 4 bytes; DOUBLE is a separate type
    if isinstance(t, sa.Double):
        return "FLOAT"
    if t.precision is not None and t.precision <= 24:
        return "REAL"
    return "FLOAT"


def _portable_string(t: sa.String) -> str:
    if isinstance(t, (sa.Text, mysql.TINYTEXT, mysql.MEDIUMTEXT, mysql.LONGTEXT)):
        return "TEXT"
    if isinstance(t, (sa.CHAR, sa.NCHAR)) and t.length:
        return f"CHAR({t.length})"
    if t.length:
        return f"VARCHAR({t.length})"
    return "TEXT"


def _portable_datetime(t: sa.DateTime) -> str:
    if t.timezone:
        return "TIMESTAMP WITH TIME ZONE"
    if isinstance(t, sa.TIMESTAMP):
        return "TIMESTAMP"
    return "DATETIME"


def _with_params(base: str, *params: int | None) -> str:
    given = [str(p) for p in params if p is not None]
    return f"{base}({', '.join(given)})" if given else base


# -- portable -> SQLAlchemy type for a dialect -----------------------------------------------


def to_sqlalchemy(
    sql_type: str | None,
    *,
    kind: str,
    dialect: str,
    enum_values: tuple[str, ...] | None = None,
    name: str = "",
    indexed: bool = False,
) -> TypeEngine[Any]:
    """Return a SQLAlchemy type that creates ``sql_type`` correctly on ``dialect``.

    Parameters
    ----------
    sql_type : str or None
        A portable type. When None, it is derived from ``kind``: ``numerical`` ->
        ``FLOAT``, ``categorical``/``text`` -> ``TEXT``, ``datetime`` -> ``DATETIME``,
        ``boolean`` -> ``BOOLEAN``, ``id`` -> ``BIGINT``, ``binary`` -> ``BLOB``.
    kind : str
        The column kind (used when ``sql_type`` is None).
    dialect : {"sqlite", "postgresql", "mysql", "mariadb"}
        The target dialect (``engine.dialect.name``).
    enum_values : tuple of str, optional
        The values of an ``ENUM`` column. Without them an ENUM becomes text.
    name : str
        The column (or ``table.column``) the type is for: names the PostgreSQL
        enum type (``<name>_enum``, lowercased, non-alphanumerics as ``_``).
    indexed : bool
        Whether the column is part of a primary key, unique constraint, foreign
        key or index. On MySQL/MariaDB an indexed ``TEXT`` (or length-less
        ``VARCHAR``) becomes ``VARCHAR(255)`` and an indexed ``BLOB``
        ``VARBINARY(255)``, since those dialects cannot index unbounded columns.

    Returns
    -------
    sqlalchemy.types.TypeEngine
        A type instance for a ``sqlalchemy.Column``.

    Raises
    ------
    MetadataError
        If ``sql_type`` is not a portable type or ``dialect`` is not supported.

    Notes
    -----
    Dialect choices: ``DATETIME``/``TIMESTAMP`` are ``DATETIME(6)`` on MySQL/MariaDB
    (microseconds kept; MySQL ``TIMESTAMP`` is avoided for its 2038 range and
    implicit ``ON UPDATE``), ``TIMESTAMP WITH TIME ZONE`` is ``DATETIME(6)`` there
    too (no zone type: write UTC values); ``TIME`` is ``TIME(6)`` there. ``TEXT``
    is ``LONGTEXT`` and ``BLOB`` ``LONGBLOB`` on MySQL/MariaDB; ``BLOB`` is
    ``BYTEA`` and ``JSON`` ``JSONB`` on PostgreSQL. ``NUMERIC`` returns floats on
    SQLite (which stores no decimals) and ``Decimal`` elsewhere. ``UUID`` is the
    native type on PostgreSQL and ``CHAR(32)`` elsewhere (``sa.Uuid``, values as
    :class:`uuid.UUID`). ``INTERVAL`` is native on PostgreSQL and emulated
    (``sa.Interval``) elsewhere. ``ENUM`` is a named type on PostgreSQL, a native
    ``ENUM`` on MySQL/MariaDB and a ``VARCHAR`` as long as the longest value on
    SQLite.

    Examples
    --------
    >>> to_sqlalchemy("TEXT", kind="id", dialect="mariadb", indexed=True)
    String(length=255)
    """
    if dialect not in DIALECTS:
        raise MetadataError(
            f"Unsupported dialect {dialect!r}; relsynth writes to {', '.join(DIALECTS)}."
        )
    if sql_type is None:
        sql_type = DEFAULT_TYPE_BY_KIND.get(kind, "TEXT")
    base, params = parse_type(sql_type)
    special = _special_type(sql_type, base, dialect=dialect, indexed=indexed)
    if special is not None:
        return special
    return _base_type(
        base, params, dialect=dialect, enum_values=enum_values, name=name, indexed=indexed
    )


def _base_type(
    base: str,
    params: tuple[int, ...],
    *,
    dialect: str,
    enum_values: tuple[str, ...] | None,
    name: str,
    indexed: bool,
) -> TypeEngine[Any]:
    """The SQLAlchemy type of a portable base type (its parameters parsed) on ``dialect``."""
    is_mysql = dialect in ("mysql", "mariadb")
    if base == "ENUM":
        return _enum_type(enum_values, dialect=dialect, name=name, indexed=indexed)
    if base in ("INTEGER", "BIGINT", "SMALLINT"):
        return {"INTEGER": sa.Integer, "BIGINT": sa.BigInteger, "SMALLINT": sa.SmallInteger}[base]()
    if base == "NUMERIC":
        precision = params[0] if params else None
        scale = params[1] if len(params) > 1 else None
        if dialect == "sqlite":
            return sa.Numeric(precision, scale, asdecimal=False)
        return sa.Numeric(precision, scale)
    if base == "FLOAT":
        return sa.Double()
    if base == "REAL":
        return mysql.FLOAT() if is_mysql else sa.REAL()
    if base in ("VARCHAR", "CHAR", "TEXT"):
        return _string_type(base, params, is_mysql=is_mysql, indexed=indexed)
    if base == "BOOLEAN":
        return sa.Boolean(create_constraint=False)
    if base == "DATE":
        return sa.Date()
    if base in ("DATETIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return _datetime_type(base, dialect)
    if base == "TIME":
        return mysql.TIME(fsp=6) if is_mysql else sa.Time()
    if base == "INTERVAL":
        return postgresql.INTERVAL() if dialect == "postgresql" else sa.Interval()
    if base == "BLOB":
        if is_mysql:
            return mysql.VARBINARY(MYSQL_INDEXED_TEXT_LENGTH) if indexed else mysql.LONGBLOB()
        return sa.LargeBinary()
    if base == "JSON":
        return postgresql.JSONB() if dialect == "postgresql" else sa.JSON()
    # base == "UUID"
    return sa.Uuid()


#: Unsigned integers on dialects without them: the smallest signed type that holds the
#: range (BIGINT UNSIGNED needs NUMERIC(20, 0) on PostgreSQL; SQLite's INTEGER is a
#: signed 64-bit value, so values above 2**63 - 1 are refused there when written).
_UNSIGNED_AS_SIGNED: Final[dict[str, TypeEngine[Any]]] = {
    "SMALLINT UNSIGNED": sa.Integer(),
    "INTEGER UNSIGNED": sa.BigInteger(),
}
#: Longest text of an address: IPv6 with a /128 prefix; a MAC address (EUI-64 form).
_ADDRESS_LENGTH: Final[dict[str, int]] = {"INET": 43, "CIDR": 43, "MACADDR": 23}


def _special_type(
    sql_type: str, base: str, *, dialect: str, indexed: bool
) -> TypeEngine[Any] | None:
    """Arrays, network addresses and unsigned integers (None for the other types)."""
    is_mysql = dialect in ("mysql", "mariadb")
    if base == "ARRAY":
        element = array_element(sql_type) or "TEXT"
        if dialect == "postgresql":
            return postgresql.ARRAY(to_sqlalchemy(element, kind="text", dialect=dialect))
        return sa.JSON()  # JSON text: ``[1, 2, 3]``
    if base in _ADDRESS_LENGTH:
        if dialect == "postgresql":
            native = {"INET": postgresql.INET, "CIDR": postgresql.CIDR}
            return native.get(base, postgresql.MACADDR)()
        return sa.String(_ADDRESS_LENGTH[base])
    if base.endswith(" UNSIGNED"):
        if is_mysql:
            signed = {"SMALLINT": mysql.SMALLINT, "INTEGER": mysql.INTEGER, "BIGINT": mysql.BIGINT}
            return signed[base.split()[0]](unsigned=True)
        if base == "BIGINT UNSIGNED":
            return sa.Numeric(20, 0) if dialect == "postgresql" else sa.BigInteger()
        return _UNSIGNED_AS_SIGNED[base]
    return None


def _string_type(
    base: str, params: tuple[int, ...], *, is_mysql: bool, indexed: bool
) -> TypeEngine[Any]:
    length = params[0] if params else None
    if base == "CHAR" and length:
        return sa.CHAR(length)
    if base in ("VARCHAR", "CHAR") and length:
        return sa.String(length)
    if is_mysql:
        return sa.String(MYSQL_INDEXED_TEXT_LENGTH) if indexed else mysql.LONGTEXT()
    return sa.Text()


def _datetime_type(base: str, dialect: str) -> TypeEngine[Any]:
    if dialect in ("mysql", "mariadb"):
        return mysql.DATETIME(fsp=6)
    if base == "TIMESTAMP WITH TIME ZONE":
        return sa.TIMESTAMP(timezone=True) if dialect == "postgresql" else sa.DateTime()
    if base == "TIMESTAMP":
        return sa.TIMESTAMP()
    return sa.DateTime()


def _enum_type(
    values: tuple[str, ...] | None, *, dialect: str, name: str, indexed: bool
) -> TypeEngine[Any]:
    if not values:
        return _string_type("TEXT", (), is_mysql=dialect in ("mysql", "mariadb"), indexed=indexed)
    if dialect == "postgresql":
        return postgresql.ENUM(*values, name=enum_type_name(name))
    if dialect in ("mysql", "mariadb"):
        return mysql.ENUM(*values)
    return sa.Enum(
        *values, native_enum=False, create_constraint=False, length=max(len(v) for v in values)
    )


def enum_type_name(name: str) -> str:
    """Name of the PostgreSQL enum type made for column ``name`` (``orders.status`` ->
    ``orders_status_enum``), at most 63 characters."""
    slug = re.sub(r"\W+", "_", name.lower()).strip("_") or "relsynth"
    suffix = "_enum"
    return slug[: _PG_NAME_MAX - len(suffix)] + suffix
