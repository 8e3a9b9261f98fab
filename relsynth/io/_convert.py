"""Value conversion between database values and pandas columns (pure pandas/numpy).

Reading: a column's raw values (Python objects from a DB-API cursor, or strings
from a CSV file) become a pandas column whose dtype is chosen by the column's
*family*, derived from its portable ``sql_type`` (and its ``kind`` where the type
says nothing). Writing (:mod:`relsynth.io._prepare`): a pandas column is validated against the
target column and turned into plain Python values, with the converters shared here.

Families and the dtypes they read as::

    int       INTEGER BIGINT SMALLINT      int64 (no NULLs) / Int64 (NULLs)
              ... UNSIGNED                 uint64 / UInt64 (2**64 - 1 kept exact)
    float     FLOAT REAL                   float64
    numeric   NUMERIC(p, s)                float64; object of Decimal when p > 15
    datetime  DATETIME TIMESTAMP [TZ] DATE datetime64[ns] (UTC for TZ; [us] when out of
                                           the ns range); text that does not parse stays text
    time      TIME                         str 'HH:MM:SS[.ffffff]' (hours may exceed 24)
    bool      BOOLEAN                      boolean
    text      VARCHAR CHAR TEXT ENUM       str (leading zeros kept: '01581')
              INET CIDR MACADDR            str ('10.0.0.1', '10.0.0.0/24', '08:00:2b:01:02:03')
    uuid      UUID                         str, canonical 8-4-4-4-12 form
    json      JSON                         str (JSON text)
    array     <type>[]                     str (JSON text of the list: '[1, 2]')
    binary    BLOB                         object of bytes
    interval  INTERVAL                     timedelta64[ns]

A text-typed column whose ``kind`` is ``datetime`` reads as datetime64 when all of
its values parse as ISO 8601 (or its ``format``), else stays text, one whose kind is
``numerical`` with a ``format`` as numbers; an integer column whose kind is
``boolean`` reads as ``boolean`` when its values are 0/1.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from relsynth.errors import MetadataError, format_examples
from relsynth.io._values import epochs_as_text, json_text
from relsynth.metadata import _numberformats, _textformats
from relsynth.metadata.schema import Column

__all__ = [
    "EPOCH",
    "INT_RANGE",
    "Family",
    "as_datetime",
    "as_str",
    "column_family",
    "read_bool",
    "read_unsigned",
    "time_text",
    "to_bytes",
    "to_decimal",
    "to_pandas",
    "value_text",
]

logger = logging.getLogger(__name__)

Family = Literal[
    "int",
    "float",
    "numeric",
    "datetime",
    "date",
    "datetimetz",
    "time",
    "bool",
    "text",
    "uuid",
    "json",
    "array",
    "binary",
    "interval",
    "any",
]

_FAMILY_BY_BASE: dict[str, Family] = {
    "INTEGER": "int",
    "BIGINT": "int",
    "SMALLINT": "int",
    "NUMERIC": "numeric",
    "FLOAT": "float",
    "REAL": "float",
    "VARCHAR": "text",
    "CHAR": "text",
    "TEXT": "text",
    "ENUM": "text",
    "DATE": "date",
    "DATETIME": "datetime",
    "TIMESTAMP": "datetime",
    "TIMESTAMP WITH TIME ZONE": "datetimetz",
    "TIME": "time",
    "INTERVAL": "interval",
    "BOOLEAN": "bool",
    "BLOB": "binary",
    "JSON": "json",
    "ARRAY": "array",
    "INET": "text",
    "CIDR": "text",
    "MACADDR": "text",
    "SMALLINT UNSIGNED": "int",
    "INTEGER UNSIGNED": "int",
    "BIGINT UNSIGNED": "int",
    "UUID": "uuid",
}

_FAMILY_BY_KIND: dict[str, Family] = {
    "numerical": "float",
    "boolean": "bool",
    "datetime": "datetime",
    "binary": "binary",
}

#: Largest NUMERIC precision read as float64 (a double holds 15 significant digits).
_FLOAT_DIGITS = 15
INT_RANGE = {
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "SMALLINT UNSIGNED": (0, 2**16 - 1),
    "INTEGER UNSIGNED": (0, 2**32 - 1),
    "BIGINT UNSIGNED": (0, 2**64 - 1),
}
EPOCH = _dt.datetime(1970, 1, 1)
_TRUE = {"1", "t", "true", "y", "yes"}
_FALSE = {"0", "f", "false", "n", "no"}


def as_str(series: pd.Series) -> pd.Series:
    """``astype("str")`` that keeps NULLs: pandas 2 turns None into ``'None'`` and NaN
    into ``'nan'`` (pandas 3's ``str`` dtype keeps them missing)."""
    out = series.astype("str")
    missing = series.isna()
    if out.dtype == object and bool(missing.any()):
        out = out.where(~missing.to_numpy(), None)
    return out


def column_family(column: Column) -> tuple[Family, str | None, tuple[int, ...]]:
    """Return ``(family, base type, type parameters)`` of a metadata column."""
    from relsynth.metadata.types import parse_type

    if column.sql_type is None:
        return _FAMILY_BY_KIND.get(column.kind, "any"), None, ()
    try:
        base, params = parse_type(column.sql_type)
    except MetadataError:
        return "any", None, ()
    return _FAMILY_BY_BASE.get(base, "any"), base, params


# -- reading ------------------------------------------------------------------------------


def to_pandas(values: Sequence[Any], column: Column, *, where: str) -> pd.Series:
    """Turn a column's raw values (Python objects or CSV strings) into a typed Series."""
    raw = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    family, base, params = column_family(column)
    if family in ("datetime", "date", "datetimetz"):
        raw = epochs_as_text(raw, where)
    out = _read_family(raw, family, params, column)
    if out is None:
        logger.warning(
            "Column %s (%s) holds values that are not %s; it is read as Python objects.",
            where,
            column.sql_type or column.kind,
            family,
        )
        out = raw.astype(object)
    return out.reset_index(drop=True)


def _read_family(  # noqa: PLR0911, C901
    raw: pd.Series, family: Family, params: tuple[int, ...], column: Column
) -> pd.Series | None:
    if family == "int":
        unsigned = bool(column.sql_type and "UNSIGNED" in column.sql_type.upper())
        out = _read_int(raw, unsigned=unsigned)
        if out is not None and column.kind == "boolean":
            return read_bool(out) if bool(out.dropna().isin([0, 1]).all()) else out
        return out
    if family == "float":
        return _read_float(raw)
    if family == "numeric":
        if params and params[0] > _FLOAT_DIGITS:
            return raw.map(to_decimal, na_action="ignore").astype(object)
        return _read_float(raw)
    if family in ("datetime", "date", "datetimetz"):
        out = None
        if column.format and pd.api.types.infer_dtype(raw, skipna=True) == "string":
            out = _read_text_dates(raw, column.format)  # SQLite: dates kept as text
        if out is None:
            out = _read_datetime(raw)
        if (
            family == "datetimetz"
            and out is not None
            and not isinstance(out.dtype, pd.DatetimeTZDtype)
        ):  # dialects without a zone type hold UTC (see to_sqlalchemy)
            out = out.dt.tz_localize("UTC")
        return out
    if family == "time":
        return raw.map(time_text, na_action="ignore").pipe(as_str)
    if family == "bool":
        return read_bool(raw)
    if family == "text":
        text = _read_text(raw)
        if text is not None and column_family(column)[1] == "CHAR":
            text = text.str.rstrip(" ")  # CHAR(n) padding is not data (PostgreSQL pads)
        if column.kind in ("datetime", "numerical") and text is not None:
            parsed = _read_text_dates(text, column.format, column.kind)
            return parsed if parsed is not None else text
        return text
    if family == "uuid":
        return raw.map(_uuid_text, na_action="ignore").pipe(as_str)
    if family in ("json", "array"):
        return raw.map(json_text, na_action="ignore").pipe(as_str)
    if family == "binary":
        return raw.map(to_bytes, na_action="ignore").astype(object)
    if family == "interval":
        return _read_interval(raw)
    return _read_any(raw)


def _read_int(raw: pd.Series, *, unsigned: bool = False) -> pd.Series | None:
    if raw.dtype.kind in "iu":
        return raw.astype("uint64" if unsigned else "int64")
    if unsigned:
        return read_unsigned(raw)
    num = pd.to_numeric(raw, errors="coerce")
    if bool((num.isna() != raw.isna()).any()):
        return None
    finite = num.dropna()
    if num.dtype.kind == "f" and not bool((finite == np.round(finite)).all()):
        return None
    if bool(num.isna().any()):
        return num.astype("Int64")
    return num.astype("int64")


def read_unsigned(raw: pd.Series) -> pd.Series | None:
    """Unsigned integers up to 2**64 - 1, exactly (no trip through float64)."""
    try:
        values = [None if v is None or v is pd.NA else int(v) for v in raw]
    except (TypeError, ValueError):
        return None
    if any(v is not None and not 0 <= v < 2**64 for v in values):
        return None
    if any(v is None for v in values):
        return pd.Series(pd.array(values, dtype="UInt64"))
    return pd.Series(np.array(values, dtype=np.uint64))


def _read_float(raw: pd.Series) -> pd.Series | None:
    num = pd.to_numeric(raw, errors="coerce")
    if bool((num.isna() != raw.isna()).any()):
        return None
    return num.astype("float64")


def read_bool(raw: pd.Series) -> pd.Series | None:
    def conv(value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(value)

    try:
        return raw.map(conv, na_action="ignore").astype("boolean")
    except (ValueError, TypeError):
        return None


def _read_text(raw: pd.Series) -> pd.Series | None:
    inferred = pd.api.types.infer_dtype(raw, skipna=True)
    if inferred in ("string", "empty"):
        return raw.pipe(as_str)
    if inferred == "bytes":
        return None
    return raw.map(value_text, na_action="ignore").pipe(as_str)  # INET, UUID... as their text


def value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_datetime(raw: pd.Series) -> pd.Series | None:
    try:
        parsed = pd.to_datetime(raw, format="ISO8601", errors="raise")
    except (ValueError, TypeError, OverflowError):
        try:  # mixed date/datetime objects (a DATE column read from some drivers), or
            # text in several formats ('2020-01-02' and '2020/02/01')
            parsed = pd.to_datetime(
                raw.map(as_datetime, na_action="ignore"), format="mixed", errors="raise"
            )
        except (ValueError, TypeError, OverflowError):
            return None
        if pd.api.types.infer_dtype(raw, skipna=True) == "string":
            logger.warning(
                "A date/time column holds text in several formats (e.g. %s); each value "
                "is parsed on its own and written back as ISO 8601.",
                format_examples(raw.dropna().drop_duplicates().head(3).tolist()),
            )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC")
        target = "datetime64[ns, UTC]"
    else:
        target = "datetime64[ns]"
    try:
        return parsed.astype(target)
    except (ValueError, OverflowError):  # outside 1677-2262: keep microseconds
        return parsed


def _read_text_dates(text: pd.Series, fmt: str | None, kind: str = "datetime") -> Any:
    """Dates (numbers) stored as text: parsed with the column's learned ``format``."""
    if kind == "numerical":
        return _numberformats.parse_text_numbers(text, fmt) if fmt else None
    parsed = _textformats.parse_text_dates(text, fmt) if fmt else None
    if parsed is None:
        return _read_datetime(text)
    target = (
        "datetime64[ns, UTC]" if isinstance(parsed.dtype, pd.DatetimeTZDtype) else "datetime64[ns]"
    )
    try:
        return parsed.astype(target)  # as _read_datetime: nanoseconds where they fit
    except (ValueError, OverflowError):
        return parsed


def as_datetime(value: Any) -> Any:
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return _dt.datetime(value.year, value.month, value.day)
    return value


def _read_interval(raw: pd.Series) -> pd.Series | None:
    def conv(value: Any) -> Any:
        if isinstance(value, _dt.timedelta):
            return value
        if isinstance(value, str):
            value = _dt.datetime.fromisoformat(value)
        if isinstance(value, _dt.datetime):  # emulated INTERVAL: epoch + delta
            return value - EPOCH
        raise ValueError(value)

    try:
        return pd.to_timedelta(raw.map(conv, na_action="ignore"))
    except (ValueError, TypeError):
        return None


def _read_any(raw: pd.Series) -> pd.Series:
    inferred = pd.api.types.infer_dtype(raw, skipna=True)
    if inferred == "integer":
        out = _read_int(raw)
    elif inferred in ("floating", "mixed-integer-float", "decimal"):
        out = _read_float(raw)
    elif inferred in ("string", "empty"):
        out = raw.pipe(as_str)
    elif inferred == "boolean":
        out = raw.astype("boolean")
    elif inferred in ("datetime", "date", "datetime64"):
        out = _read_datetime(raw)
    else:
        out = None
    return out if out is not None else raw.astype(object)


def to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return decimal.Decimal(str(value))


def time_text(value: Any) -> str:
    if isinstance(value, _dt.time):
        return value.isoformat()
    if isinstance(value, (_dt.timedelta, pd.Timedelta)):
        micros = int(value / _dt.timedelta(microseconds=1))
        sign = "-" if micros < 0 else ""
        secs, frac = divmod(abs(micros), 1_000_000)
        hours, rest = divmod(secs, 3600)
        text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        return f"{text}.{frac:06d}" if frac else text
    return str(value)


def _uuid_text(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ValueError(value)
