"""The value-based kind rules shared by :func:`refine_kinds` (metadata from a
database, refined from a sample of rows) and :func:`relsynth.metadata.infer.infer`
(metadata from frames): the rules are listed in :mod:`relsynth.metadata.infer`'s
docstring and in ``docs/metadata.md``. Pure (pandas only).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import pandas as pd

from relsynth._typing import ColumnKind
from relsynth.errors import MetadataError
from relsynth.metadata._numberformats import text_numbers
from relsynth.metadata._secrets import detect_secret
from relsynth.metadata._textformats import column_text_format, learn_text_format, parse_text_dates
from relsynth.metadata.schema import Column, Metadata, Table

logger = logging.getLogger("relsynth.metadata.infer")  # the log of infer/refine_kinds

__all__ = [
    "CATEGORICAL_INTEGER_SHARE",
    "MAX_CATEGORICAL_INTEGERS",
    "MAX_CATEGORICAL_PLACES",
    "name_tokens",
    "pii_from_name",
    "reconcile_key_kinds",
    "refine_kinds",
]


#: Integer columns with at most this many distinct values...
MAX_CATEGORICAL_INTEGERS: Final = 20


#: ...that are also at most this share of the non-null values are categorical.
CATEGORICAL_INTEGER_SHARE: Final = 0.05


#: city/country columns with more distinct values than this are PII text.
MAX_CATEGORICAL_PLACES: Final = 50


#: Share of values a pattern must match to decide a kind from the values.
_PATTERN_SHARE: Final = 0.9


_ADDRESS_SHARE: Final = 0.8


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
    if name_tokens(name) == ["name"] and n >= 10 and _share(distinct, _PERSON_RE) >= 0.8:
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


def name_tokens(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return [t for t in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if t]


def pii_from_name(name: str) -> str | None:
    """The kind of personal data a column's name announces, or None.

    Examples
    --------
    >>> pii_from_name("ContactName"), pii_from_name("HomePhone"), pii_from_name("stop_name")
    ('name', 'phone', None)
    """
    tokens = name_tokens(name)
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
