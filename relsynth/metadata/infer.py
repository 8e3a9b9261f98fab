"""Column kinds from data, and metadata for tables that do not come from a database.

Stage 1 of the pipeline, pure (pandas only). Two entry points share one set of
value-based rules:

* :func:`refine_kinds` refines the kinds of existing metadata from a sample of
  each table (called by :func:`relsynth.reflect` after reading the schema);
* :func:`infer` builds metadata from DataFrames (a CSV folder, a dict of
  frames): columns and portable types from the dtypes, primary keys given or
  guessed, foreign keys given as objects or ``"orders.customer_id -> customers.id"``.

:func:`suggest_foreign_keys` proposes foreign keys (name similarity and value
containment) without applying them.

The kind rules, in the order they are tried for each column (``docs/metadata.md``
has the same list with examples):

1. Keys. A single-column primary key and every foreign-key column is ``id``. A
   column of a composite primary key that is in no foreign key keeps a
   value-based kind (``stop_sequence`` is ``numerical``, ``calendar_dates.date``
   is ``datetime``): it carries meaning that the models learn, while the key
   generator still treats it as a key column (``Metadata.key_columns``).
2. The SQL type gives the starting kind (:func:`relsynth.io.types.kind_from_type`).
   ``BLOB``, ``BOOLEAN``, dates/times, ``UUID``, ``ENUM`` and ``JSON`` keep it.
3. Integers (or numbers that are all whole): exactly the two values 0 and 1 is
   ``boolean``; at most 20 distinct values that are also at most 5 % of the
   non-null values (at least 2 allowed) is ``categorical``, since a column that
   few values repeat that often is a code (status, weekday, duration in
   {12, 24, 36}) better modelled by its frequencies than by a density; all
   distinct, at least 10 rows, and a name that says identifier (``id``,
   ``*_id``, ``*_no``, ``*number``, ``*code``) is ``id``; otherwise ``numerical``.
4. Strings, in this order: two distinct values forming a pair such as
   ``0/1``, ``Y/N``, ``yes/no``, ``true/false``, ``t/f`` is ``boolean``; all ISO
   dates or date-times (``1996-07-04 00:00:00.000``), or all ``DD/MM/YYYY``
   (``MM/DD/YYYY``, ``.`` or ``-`` separated) dates, is ``datetime``, and a column
   stored as text records its text ``format``
   (:mod:`relsynth.metadata._textformats`); all
   ``YYYYMMDD`` valid dates between 1900 and 2099 *and* a column name containing
   ``date`` is ``datetime`` (an 8-digit string alone could be any code); all
   ``H:MM[:SS]`` times is ``categorical``, never ``datetime``, because GTFS times
   run past midnight (``25:10:00``); secrets and account names
   (:mod:`relsynth.metadata._secrets`: digests, password hashes, tokens by shape;
   ``password``/``token``... by name; ``username``/``login``/``handle`` with
   identifier-like values) are ``text`` with ``pii`` ``secret`` or ``username``,
   except a unique digest in a column named like an identifier, which is ``id``;
   a name saying personal data (``email``,
   ``phone``/``fax``, ``first_name``, ``LastName``, ``CompanyName``,
   ``ContactName``, ``address``, ``PostalCode``, ``url``/``HomePage``...) is
   ``text`` with that ``pii``, except ``city``/``country`` columns with at most 50
   distinct values, which stay ``categorical``; values that look like emails,
   URLs, phone numbers or street addresses (90 % of the distinct values; 80 % for
   addresses) are ``text`` with that ``pii``; a column called ``name`` whose values
   are mostly two or three capitalised words is ``text``/``name``; long text
   (mean length >= 40 characters and >= 5 words, half the values distinct, at
   least 5 values) is
   ``text``/``free_text``; numbers in one text format (``12.50``, ``0007``,
   ``1,234.00``; :mod:`relsynth.metadata._numberformats`) that rule 3 makes
   ``numerical`` are ``numerical`` with that ``format``; unique opaque codes (all
   distinct, >= 10 rows, no spaces, mostly with digits, or all UUIDs) are ``id``;
   anything else is ``categorical``.
5. A column with no sampled values keeps its type's kind, except that a name
   saying personal data still makes it ``text`` with that ``pii``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np
import pandas as pd

from relsynth._typing import ColumnKind
from relsynth.errors import MetadataError
from relsynth.metadata._numberformats import text_numbers
from relsynth.metadata._secrets import detect_secret
from relsynth.metadata._textformats import column_text_format, learn_text_format, parse_text_dates
from relsynth.metadata.schema import Column, ForeignKey, Metadata, Table

__all__ = [
    "infer",
    "parse_foreign_key",
    "refine_kinds",
    "suggest_foreign_keys",
]

logger = logging.getLogger(__name__)

#: Integer columns with at most this many distinct values...
MAX_CATEGORICAL_INTEGERS: Final = 20
#: ...that are also at most this share of the non-null values are categorical.
CATEGORICAL_INTEGER_SHARE: Final = 0.05
#: city/country columns with more distinct values than this are PII text.
MAX_CATEGORICAL_PLACES: Final = 50
#: Share of values a pattern must match to decide a kind from the values.
_PATTERN_SHARE: Final = 0.9
_ADDRESS_SHARE: Final = 0.8
#: Minimum containment of child values in parent values for a suggested FK.
FK_CONTAINMENT: Final = 0.99

_INTEGER_TYPES: Final = frozenset(
    {"INTEGER", "BIGINT", "SMALLINT", "SMALLINT UNSIGNED", "INTEGER UNSIGNED", "BIGINT UNSIGNED"}
)
#: Types whose values have a structure (JSON, arrays, addresses): kind ``text``, and
#: the synthesizer generates values of that structure (``relsynth.models.structured``).
_STRUCTURED_TYPES: Final = frozenset({"ENUM", "JSON", "ARRAY", "INET", "CIDR", "MACADDR"})
_KEEP_KINDS: Final = frozenset({"binary", "boolean", "datetime", "id"})
_BOOLEAN_PAIRS: Final = (
    frozenset({"0", "1"}),
    frozenset({"y", "n"}),
    frozenset({"yes", "no"}),
    frozenset({"true", "false"}),
    frozenset({"t", "f"}),
)
_JSON_START_RE = re.compile(r"^\s*[\[{]")
_ISO_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_YYYYMMDD_RE = re.compile(r"^(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")
_CLOCK_RE = re.compile(r"^\d{1,3}:\d{2}(?::\d{2})?$")
_EMAIL_RE = re.compile(r"^[\w.+'-]+@[\w-]+(?:\.[\w-]+)+$")
_URL_RE = re.compile(r"^(?:(?:https?|ftp)://|www\.)\S+$", re.I)
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")
_PLAIN_NUMBER_RE = re.compile(r"^\d+(?:\.\d+)?$")
_ADDRESS_RE = re.compile(
    r"^\d+[A-Za-z]?,? .*\b(?:st|street|rd|road|ave|avenue|blvd|boulevard|lane|ln|dr|drive|way|"
    r"court|ct|place|pl|square|sq|terrace|highway|hwy|parkway|pkwy|circle|cir)\b\.?.*$",
    re.I,
)
_PERSON_RE = re.compile(r"^[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+){1,2}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_ID_NAME_RE = re.compile(r"(?:^id$|_id$|(?<=[a-z])Id$|ID$|_no$|number$|code$)", re.I)

_PERSON_NOUNS: Final = frozenset(
    {
        "contact", "customer", "client", "employee", "person", "user", "owner", "author",
        "patient", "member", "passenger", "driver", "staff", "manager", "full", "display",
        "student", "teacher", "account", "holder", "buyer", "seller", "recipient", "sender",
    }
)  # fmt: skip
_IDENTIFYING_PII: Final = frozenset(
    {"name", "first_name", "last_name", "email", "phone", "address", "street", "postcode",
     "company", "url"}
)  # fmt: skip


# -- refine_kinds ----------------------------------------------------------------------------


def refine_kinds(meta: Metadata, samples: Mapping[str, pd.DataFrame]) -> Metadata:
    """Return ``meta`` with every column's ``kind`` (and ``pii``) decided by the rules above.

    The starting kind comes from each column's ``sql_type`` (or its current kind
    when it has none); the values of ``samples[table][column]`` refine it. Tables
    or columns missing from ``samples`` get the type- and name-based rules only.

    Parameters
    ----------
    meta : Metadata
        The metadata to refine (not modified).
    samples : Mapping of str to DataFrame
        Some rows of each table, with raw values (any dtype).

    Returns
    -------
    Metadata
        A copy with new kinds and ``pii``.

    Examples
    --------
    >>> import pandas as pd
    >>> from relsynth import Column, Metadata, Table
    >>> meta = Metadata({"t": Table("t", (Column("Discontinued", "categorical", "TEXT"),))})
    >>> refined = refine_kinds(meta, {"t": pd.DataFrame({"Discontinued": ["0", "1", "1"]})})
    >>> refined["t"].column("Discontinued").kind
    'boolean'
    """
    tables: dict[str, Table] = {}
    for name, table in meta.tables.items():
        frame = samples.get(name)
        fk_columns = {c for fk in meta.parents(name) for c in fk.columns}
        columns = []
        for col in table.columns:
            values = frame[col.name] if frame is not None and col.name in frame.columns else None
            kind, pii = _column_kind(table, col, values, fk_columns)
            fmt = _text_format(col, kind, values)
            columns.append(replace(col, kind=kind, pii=pii, format=fmt))
        tables[name] = replace(table, columns=tuple(columns))
    return reconcile_key_kinds(replace(meta, tables=tables))


def reconcile_key_kinds(meta: Metadata) -> Metadata:
    """Give each foreign-key column the kind (and text format) of the parent column it
    references.

    A key column must have one kind on both sides of every foreign key: the kind
    decides how values are read (ISO text as a datetime, or as text) and compared,
    so a child ``ts`` inferred ``id`` (text) under a parent ``ts`` inferred
    ``datetime`` would make every child row an orphan. The parent's kind wins (its
    values are the ones the children copy); chains of keys are followed until
    nothing changes.

    Examples
    --------
    >>> from relsynth import Column, ForeignKey, Metadata, Table
    >>> meta = Metadata(
    ...     {"p": Table("p", (Column("ts", "datetime", "TEXT"),), primary_key=("ts",)),
    ...      "c": Table("c", (Column("ts", "id", "TEXT"),))},
    ...     foreign_keys=(ForeignKey("c", ("ts",), "p", ("ts",)),))
    >>> reconcile_key_kinds(meta)["c"].column("ts").kind
    'datetime'
    """
    tables = dict(meta.tables)
    for _ in range(len(meta.foreign_keys) + 1):
        changed = False
        for fk in meta.foreign_keys:
            child, parent = tables[fk.child], tables[fk.parent]
            for col, pcol in zip(fk.columns, fk.parent_columns, strict=True):
                want = parent.column(pcol)
                have = child.column(col)
                if have.kind != want.kind or have.format != want.format:
                    logger.debug(
                        "%s.%s takes the kind of %s.%s (%s, not %s)",
                        fk.child,
                        col,
                        fk.parent,
                        pcol,
                        want.kind,
                        have.kind,
                    )
                    # the text format too: both sides must write the same text
                    new = replace(have, kind=want.kind, pii=want.pii, format=want.format)
                    columns = tuple(new if c.name == col else c for c in child.columns)
                    child = replace(child, columns=columns)
                    tables[fk.child] = child
                    changed = True
        if not changed:
            break
    return replace(meta, tables=tables)


def _column_kind(
    table: Table, col: Column, values: pd.Series | None, fk_columns: set[str]
) -> tuple[ColumnKind, str | None]:
    if col.name in fk_columns or table.primary_key == (col.name,):
        return "id", None
    base, type_kind = _type_kind(col)
    nonnull = _non_null(values)
    if type_kind in _KEEP_KINDS or base in _STRUCTURED_TYPES:
        return type_kind, None
    if type_kind == "numerical":
        return _numeric_kind(col.name, nonnull, base), None
    return _string_kind(col.name, nonnull)


def _text_format(col: Column, kind: str, values: pd.Series | None) -> str | None:
    """The text format of a date or number column stored as text (else None)."""
    if kind not in ("datetime", "numerical") or col.sql_type is None:
        return None
    return column_text_format(kind, _type_kind(col)[0], _non_null(values), col.format)


def _type_kind(col: Column) -> tuple[str | None, ColumnKind]:
    from relsynth.metadata.types import _KIND_BY_SQL_TYPE, parse_type

    if col.sql_type is None:
        return None, col.kind
    try:
        base, _ = parse_type(col.sql_type)
    except MetadataError:
        return None, col.kind
    return base, _KIND_BY_SQL_TYPE[base]


def _non_null(values: pd.Series | None) -> pd.Series:
    if values is None:
        return pd.Series([], dtype=object)
    return values[values.notna()]


def _numeric_kind(name: str, values: pd.Series, base: str | None) -> ColumnKind:
    numbers = pd.to_numeric(values.astype(object), errors="coerce")
    numbers = numbers[numbers.notna()].astype(float)
    if numbers.empty:
        return "numerical"
    integral = base in _INTEGER_TYPES or bool((numbers % 1 == 0).all())
    if not integral:
        return "numerical"
    distinct = numbers.unique()
    n_distinct, n = len(distinct), len(numbers)
    if n_distinct == 2 and set(distinct.tolist()) == {0.0, 1.0}:
        return "boolean"
    if n_distinct <= MAX_CATEGORICAL_INTEGERS and n_distinct <= max(
        2.0, CATEGORICAL_INTEGER_SHARE * n
    ):
        return "categorical"
    if n_distinct == n and n >= 10 and _ID_NAME_RE.search(name):
        return "id"
    return "numerical"


def _string_kind(name: str, values: pd.Series) -> tuple[ColumnKind, str | None]:
    name_pii = pii_from_name(name)
    strings = values.map(_as_text)
    n = len(strings)
    if n == 0:
        secret = detect_secret(name, [])
        if secret is not None:
            return "text", secret[0]
        return ("text", name_pii) if name_pii in _IDENTIFYING_PII else ("categorical", None)
    distinct = [str(v) for v in pd.unique(strings)]  # a list: pandas 2 gives an ndarray
    n_distinct = len(distinct)
    if n_distinct == 2 and frozenset(str(v).strip().lower() for v in distinct) in _BOOLEAN_PAIRS:
        return "boolean", None
    if _are_dates(distinct, name):
        return "datetime", None
    if n >= 2 and _share(distinct, _JSON_START_RE) == 1.0 and _all_json(distinct):
        return "text", None  # JSON documents kept as text (SQLite, MariaDB): generated

    if _share(distinct, _CLOCK_RE) == 1.0:
        return "categorical", None  # GTFS times run past 24:00: not a time of day
    secret = detect_secret(name, [str(v) for v in distinct])
    if secret is not None and not (secret[1] and _ID_NAME_RE.search(name) and n_distinct == n):
        return "text", secret[0]  # a unique hex code named like an id stays an id
    if name_pii is not None:
        if name_pii in _IDENTIFYING_PII or n_distinct > MAX_CATEGORICAL_PLACES:
            return "text", name_pii
        return "categorical", None
    value_pii = _pii_from_values(distinct)
    if value_pii is not None:
        return "text", value_pii
    if _tokens(name) == ["name"] and n >= 10 and _share(distinct, _PERSON_RE) >= 0.8:
        return "text", "name"
    if _is_free_text(strings, n_distinct):
        return "text", "free_text"
    numbers = text_numbers(strings, distinct)  # '12.50', '0007': learned as numbers
    if numbers is not None and _numeric_kind(name, numbers, None) == "numerical":
        return "numerical", None
    if _is_opaque_code(distinct, n, n_distinct):
        return "id", None
    return "categorical", None


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _share(values: Iterable[str], pattern: re.Pattern[str]) -> float:
    items = list(values)
    if not items:
        return 0.0
    return sum(1 for v in items if pattern.match(v)) / len(items)


def _are_dates(distinct: Sequence[str], name: str) -> bool:
    if _share(distinct, _ISO_DATETIME_RE) == 1.0:
        try:
            parsed = pd.to_datetime(pd.Series(distinct), format="ISO8601", errors="coerce")
        except (ValueError, TypeError):
            return False
        return bool(parsed.notna().all())
    if "date" in name.lower() and _share(distinct, _YYYYMMDD_RE) == 1.0:
        parsed = pd.to_datetime(pd.Series(distinct), format="%Y%m%d", errors="coerce")
        return bool(parsed.notna().all())
    fmt = learn_text_format(distinct)
    if fmt is not None and fmt[:2] in ("%d", "%m"):  # 31/12/2020, 12.31.2020
        return parse_text_dates(pd.Series(list(distinct), dtype=object), fmt) is not None
    return False


def _pii_from_values(distinct: Sequence[str]) -> str | None:
    if _share(distinct, _EMAIL_RE) >= _PATTERN_SHARE:
        return "email"
    if _share(distinct, _URL_RE) >= _PATTERN_SHARE:
        return "url"
    phones = [
        v
        for v in distinct
        if _PHONE_RE.match(v)
        and not _PLAIN_NUMBER_RE.match(v)
        and sum(ch.isdigit() for ch in v) >= 7
    ]
    if len(distinct) and len(phones) / len(distinct) >= _PATTERN_SHARE:
        return "phone"
    if _share(distinct, _ADDRESS_RE) >= _ADDRESS_SHARE:
        return "address"
    return None


def _all_json(distinct: Sequence[str]) -> bool:
    for value in distinct:
        try:
            json.loads(value)
        except ValueError:
            return False
    return True


def _is_free_text(strings: pd.Series, n_distinct: int) -> bool:
    lengths = strings.str.len()
    words = strings.str.split().str.len()
    return bool(
        len(strings) >= 5
        and lengths.mean() >= 40
        and words.mean() >= 5
        and n_distinct >= 0.5 * len(strings)
    )


def _is_opaque_code(distinct: Sequence[str], n: int, n_distinct: int) -> bool:
    if n_distinct != n:
        return False
    if _share(distinct, _UUID_RE) == 1.0:
        return True
    if n < 10 or any(not v or any(ch.isspace() for ch in v) or len(v) > 64 for v in distinct):
        return False
    with_digit = sum(1 for v in distinct if any(ch.isdigit() for ch in v))
    return with_digit >= 0.5 * n_distinct


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return [t for t in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if t]


def pii_from_name(name: str) -> str | None:
    """The kind of personal data a column's name announces, or None.

    Examples
    --------
    >>> pii_from_name("ContactName"), pii_from_name("HomePhone"), pii_from_name("stop_name")
    ('name', 'phone', None)
    """
    tokens = _tokens(name)
    t = set(tokens)
    joined = "".join(tokens)
    if t & {"email", "mail"} or joined.endswith("email"):
        return "email"
    if t & {"phone", "fax", "mobile", "telephone", "tel", "cellphone", "homephone"}:
        return "phone"
    if (
        {"first", "name"} <= t
        or t & {"firstname", "forename", "givenname"}
        or ({"given", "name"} <= t)
    ):
        return "first_name"
    if (
        {"last", "name"} <= t
        or t & {"lastname", "surname", "familyname"}
        or ({"family", "name"} <= t)
    ):
        return "last_name"
    if t & {"company", "companyname", "organization", "organisation", "employer"}:
        return "company"
    if ("name" in t and t & _PERSON_NOUNS) or joined in {"fullname", "contactname"}:
        return "name"
    if t & {"postcode", "zip", "zipcode"} or {"postal", "code"} <= t or {"post", "code"} <= t:
        return "postcode"
    if t & {"address", "addr"}:
        return "address"
    if "street" in t:
        return "street"
    if t & {"url", "website", "homepage"} or {"home", "page"} <= t or {"web", "site"} <= t:
        return "url"
    if t & {"city", "town"}:
        return "city"
    if "country" in t:
        return "country"
    return None


# -- infer -----------------------------------------------------------------------------------


def infer(
    tables: Mapping[str, pd.DataFrame],
    *,
    primary_keys: Mapping[str, Sequence[str] | str] | None = None,
    foreign_keys: Sequence[ForeignKey | str] = (),
) -> Metadata:
    """Build metadata for tables that do not come from a database.

    Parameters
    ----------
    tables : Mapping of str to DataFrame
        The tables, by name.
    primary_keys : Mapping of str to str or sequence of str, optional
        Primary keys by table. A table left out gets the column called ``id`` or
        ``<table>_id`` (also the singular, ``orders`` -> ``order_id``; case
        ignored) when it is unique and has no NULL, else no primary key.
    foreign_keys : sequence of ForeignKey or str
        Foreign keys, as objects or strings ``"orders.customer_id -> customers.id"``
        (composite: ``"a.(x, y) -> b.(x, y)"``). Their ``nullable`` is computed
        from the data.

    Returns
    -------
    Metadata
        Validated metadata: portable ``sql_type`` from the dtypes, ``nullable``
        true where the data holds a NULL (false for primary-key columns), kinds
        refined by :func:`refine_kinds`.

    Raises
    ------
    MetadataError
        If a key names an unknown table or column, a foreign-key string cannot be
        parsed, or the result is inconsistent (every problem listed).

    Examples
    --------
    >>> import pandas as pd
    >>> meta = infer(
    ...     {"customers": pd.DataFrame({"id": [1, 2]}),
    ...      "orders": pd.DataFrame({"id": [1, 2, 3], "customer_id": [1, 1, 2]})},
    ...     foreign_keys=["orders.customer_id -> customers.id"],
    ... )
    >>> meta["orders"].primary_key, meta.foreign_keys[0].label
    (('id',), 'orders(customer_id) -> customers(id)')
    """
    given_pks = dict(primary_keys or {})
    unknown = sorted(set(given_pks) - set(tables))
    if unknown:
        raise MetadataError(
            f"primary_keys names unknown table(s): {', '.join(unknown)}. "
            f"Known tables: {', '.join(tables) or '(none)'}."
        )
    built: dict[str, Table] = {}
    for name, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            raise MetadataError(
                f"Table {name!r} must be a pandas DataFrame; got {type(frame).__name__}."
            )
        pk_given = given_pks.get(name)
        pk = (pk_given,) if isinstance(pk_given, str) else tuple(pk_given or ())
        if pk_given is None:
            pk = _guess_primary_key(name, frame)
        columns = tuple(_column_from_series(str(c), frame[c], str(c) in pk) for c in frame.columns)
        built[name] = Table(name=name, columns=columns, primary_key=pk)
    fks = []
    for fk in foreign_keys:
        parsed = parse_foreign_key(fk) if isinstance(fk, str) else fk
        child = built.get(parsed.child)
        nullable = child is not None and all(
            child.has_column(c) and child.column(c).nullable for c in parsed.columns
        )
        fks.append(replace(parsed, nullable=nullable))
    meta = Metadata(tables=built, foreign_keys=tuple(fks))
    meta.validate()
    return refine_kinds(meta, tables)


def _guess_primary_key(name: str, frame: pd.DataFrame) -> tuple[str, ...]:
    singular = name[:-1] if name.lower().endswith("s") else name
    wanted = {"id", f"{name}_id".lower(), f"{singular}_id".lower()}
    for col in frame.columns:
        if str(col).lower() in wanted:
            values = frame[col]
            if len(values) and values.notna().all() and values.is_unique:
                return (str(col),)
    return ()


def _column_from_series(name: str, values: pd.Series, in_pk: bool) -> Column:
    from relsynth.metadata.types import kind_from_type

    sql_type = _sql_type_of(values)
    return Column(
        name=name,
        kind=kind_from_type(sql_type),
        sql_type=sql_type,
        nullable=not in_pk and bool(values.isna().any()),
    )


def _sql_type_of(values: pd.Series) -> str:  # noqa: PLR0911 - one return per dtype family
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        size = np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize
        return {1: "SMALLINT", 2: "SMALLINT", 4: "INTEGER"}.get(size, "BIGINT")
    if pd.api.types.is_float_dtype(dtype):
        return "FLOAT"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMP WITH TIME ZONE"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "DATETIME"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "INTERVAL"
    if isinstance(dtype, pd.CategoricalDtype):
        return _sql_type_of(pd.Series(dtype.categories))
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "TEXT"
    return _sql_type_of_objects(values[values.notna()])


def _sql_type_of_objects(values: pd.Series) -> str:  # noqa: PLR0911
    types = {type(v) for v in values}
    if not types:
        return "TEXT"
    if types <= {bool, np.bool_}:
        return "BOOLEAN"
    if types <= {int, np.int64, np.int32}:
        return "BIGINT"
    if types <= {float, int, np.float64}:
        return "FLOAT"
    if types <= {decimal.Decimal, int}:
        return "NUMERIC"
    if all(issubclass(t, (bytes, bytearray, memoryview)) for t in types):
        return "BLOB"
    if all(issubclass(t, (dict, list)) for t in types):
        return "JSON"
    if types <= {uuid.UUID}:
        return "UUID"
    if all(issubclass(t, dt.datetime) for t in types):
        return "DATETIME"
    if all(issubclass(t, dt.date) for t in types):
        return "DATE"
    if types <= {dt.time}:
        return "TIME"
    return "TEXT"


_FK_SIDE_RE = re.compile(
    r"^\s*(?P<table>.+?)\s*\.\s*(?:\((?P<cols>[^()]*)\)|(?P<col>[^.()]+?))\s*$"
)


def parse_foreign_key(text: str) -> ForeignKey:
    """Parse ``"child.col -> parent.col"`` (or ``"a.(x, y) -> b.(x, y)"``) into a ForeignKey.

    The table part may contain spaces (``"Order Details.OrderID -> Orders.OrderID"``);
    the last dot separates it from the column(s).

    Raises
    ------
    MetadataError
        If ``text`` does not have that form.

    Examples
    --------
    >>> parse_foreign_key("flights.(origin, time_hour) -> weather.(origin, time_hour)").label
    'flights(origin, time_hour) -> weather(origin, time_hour)'
    """
    parts = text.split("->")
    child = _FK_SIDE_RE.match(parts[0]) if len(parts) == 2 else None
    parent = _FK_SIDE_RE.match(parts[1]) if len(parts) == 2 else None
    if child is None or parent is None:
        raise MetadataError(
            f"Cannot parse foreign key {text!r}; write it as "
            "'child.column -> parent.column' or 'child.(a, b) -> parent.(a, b)'."
        )

    def columns(match: re.Match[str]) -> tuple[str, ...]:
        if match.group("cols") is not None:
            return tuple(c.strip() for c in match.group("cols").split(",") if c.strip())
        return (match.group("col").strip(),)

    return ForeignKey(
        child=child.group("table"),
        columns=columns(child),
        parent=parent.group("table"),
        parent_columns=columns(parent),
    )


# -- suggest_foreign_keys ----------------------------------------------------------------------


def suggest_foreign_keys(
    tables: Mapping[str, pd.DataFrame], metadata: Metadata
) -> list[ForeignKey]:
    """Suggest foreign keys the metadata lacks; nothing is applied.

    A column ``c`` of table ``child`` is suggested as a foreign key to the
    single-column primary key ``p`` of another table ``parent`` when

    * the names are similar: ``c == p`` (case, ``_`` ignored) when ``p`` is not a
      bare ``id``, or ``c`` is ``<parent>_id``, its singular, or ``<parent>id``; and
    * at least 99 % of the non-null values of ``c`` occur in ``p``.

    Parameters
    ----------
    tables : Mapping of str to DataFrame
        The data.
    metadata : Metadata
        The metadata; its foreign keys are not suggested again.

    Returns
    -------
    list of ForeignKey
        Suggestions, sorted by child table and column; review them and add the
        right ones with ``Metadata.with_foreign_keys``.
    """
    existing = {(fk.child, fk.columns, fk.parent) for fk in metadata.foreign_keys}
    out: list[ForeignKey] = []
    for parent in metadata:
        if len(parent.primary_key) != 1 or parent.name not in tables:
            continue
        pcol = parent.primary_key[0]
        pvalues = tables[parent.name][pcol] if pcol in tables[parent.name] else None
        if pvalues is None:
            continue
        for child in metadata:
            if child.name == parent.name or child.name not in tables:
                continue
            for col in child.columns:
                if (child.name, (col.name,), parent.name) in existing:
                    continue
                if not _similar(col.name, parent.name, pcol) or col.name not in tables[child.name]:
                    continue
                if _containment(tables[child.name][col.name], pvalues) >= FK_CONTAINMENT:
                    out.append(
                        ForeignKey(
                            child=child.name,
                            columns=(col.name,),
                            parent=parent.name,
                            parent_columns=(pcol,),
                            nullable=col.nullable,
                        )
                    )
    return sorted(out, key=lambda fk: (fk.child, fk.columns, fk.parent))


def _norm(name: str) -> str:
    return "".join(_tokens(name))


def _similar(column: str, parent: str, pcol: str) -> bool:
    col = _norm(column)
    singular = parent[:-1] if parent.lower().endswith("s") else parent
    if _norm(pcol) != "id" and col == _norm(pcol):
        return True
    return col in {_norm(f"{parent}_id"), _norm(f"{singular}_id")}


def _containment(child: pd.Series, parent: pd.Series) -> float:
    values = child[child.notna()]
    if values.empty:
        return 0.0
    pvals = parent[parent.notna()]
    both_numeric = pd.api.types.is_numeric_dtype(values) and pd.api.types.is_numeric_dtype(pvals)
    if not both_numeric:
        values, pvals = values.map(str), pvals.map(str)
    return float(values.isin(set(pvals.tolist())).mean())
