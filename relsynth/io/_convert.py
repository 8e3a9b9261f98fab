"""Value conversion between database values and pandas columns (pure pandas/numpy).

Reading: a column's raw values (Python objects from a DB-API cursor, or strings
from a CSV file) become a pandas column whose dtype is chosen by the column's
*family*, derived from its portable ``sql_type`` (and its ``kind`` where the type
says nothing). Writing: a pandas column is validated against the target column
(every problem collected, nothing written) and turned into plain Python values,
batch by batch.

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
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from relsynth.errors import MetadataError, format_examples
from relsynth.io._values import epochs_as_text, json_list, json_text, pg_array
from relsynth.metadata import _numberformats, _textformats
from relsynth.metadata.schema import Column

__all__ = [
    "Family",
    "Target",
    "column_family",
    "prepare_column",
    "python_values",
    "to_pandas",
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
_INT_RANGE = {
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "SMALLINT UNSIGNED": (0, 2**16 - 1),
    "INTEGER UNSIGNED": (0, 2**32 - 1),
    "BIGINT UNSIGNED": (0, 2**64 - 1),
}
_EPOCH = _dt.datetime(1970, 1, 1)
_TRUE = {"1", "t", "true", "y", "yes"}
_FALSE = {"0", "f", "false", "n", "no"}


def _as_str(series: pd.Series) -> pd.Series:
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
            return _read_bool(out) if bool(out.dropna().isin([0, 1]).all()) else out
        return out
    if family == "float":
        return _read_float(raw)
    if family == "numeric":
        if params and params[0] > _FLOAT_DIGITS:
            return raw.map(_to_decimal, na_action="ignore").astype(object)
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
        return raw.map(_time_text, na_action="ignore").pipe(_as_str)
    if family == "bool":
        return _read_bool(raw)
    if family == "text":
        text = _read_text(raw)
        if text is not None and column_family(column)[1] == "CHAR":
            text = text.str.rstrip(" ")  # CHAR(n) padding is not data (PostgreSQL pads)
        if column.kind in ("datetime", "numerical") and text is not None:
            parsed = _read_text_dates(text, column.format, column.kind)
            return parsed if parsed is not None else text
        return text
    if family == "uuid":
        return raw.map(_uuid_text, na_action="ignore").pipe(_as_str)
    if family in ("json", "array"):
        return raw.map(json_text, na_action="ignore").pipe(_as_str)
    if family == "binary":
        return raw.map(_to_bytes, na_action="ignore").astype(object)
    if family == "interval":
        return _read_interval(raw)
    return _read_any(raw)


def _read_int(raw: pd.Series, *, unsigned: bool = False) -> pd.Series | None:
    if raw.dtype.kind in "iu":
        return raw.astype("uint64" if unsigned else "int64")
    if unsigned:
        return _read_unsigned(raw)
    num = pd.to_numeric(raw, errors="coerce")
    if bool((num.isna() != raw.isna()).any()):
        return None
    finite = num.dropna()
    if num.dtype.kind == "f" and not bool((finite == np.round(finite)).all()):
        return None
    if bool(num.isna().any()):
        return num.astype("Int64")
    return num.astype("int64")


def _read_unsigned(raw: pd.Series) -> pd.Series | None:
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


def _read_bool(raw: pd.Series) -> pd.Series | None:
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
        return raw.pipe(_as_str)
    if inferred == "bytes":
        return None
    return raw.map(_text, na_action="ignore").pipe(_as_str)  # INET, UUID... as their text


def _text(value: Any) -> str:
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
                raw.map(_as_datetime, na_action="ignore"), format="mixed", errors="raise"
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


def _as_datetime(value: Any) -> Any:
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
            return value - _EPOCH
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
        out = raw.pipe(_as_str)
    elif inferred == "boolean":
        out = raw.astype("boolean")
    elif inferred in ("datetime", "date", "datetime64"):
        out = _read_datetime(raw)
    else:
        out = None
    return out if out is not None else raw.astype(object)


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return decimal.Decimal(str(value))


def _time_text(value: Any) -> str:
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


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ValueError(value)


# -- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a column is written as: its family, SQL type parameters and the dialect."""

    family: Family
    base: str | None
    params: tuple[int, ...]
    dialect: str
    length: int | None = None  # enforced string length (VARCHAR(n) on PostgreSQL/MariaDB)
    enum_values: tuple[str, ...] | None = None
    text_format: str | None = None  # dates stored as text: the source's format


def prepare_column(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    """Validate and coerce one frame column for writing.

    Returns the coerced column and, when some values do not fit the target type, a
    problem description (without the ``table.column`` prefix); nothing is raised
    so that every problem of every table can be reported at once.
    """
    family = target.family
    try:
        if family == "int":
            return _prepare_int(series, target)
        if family in ("float", "numeric"):
            return _prepare_number(series, target)
        if family in ("datetime", "date", "datetimetz"):
            return _prepare_datetime(series, target)
        if family == "bool":
            return _prepare_bool(series)
        if family in ("text", "uuid", "json", "time"):
            return _prepare_text(series, target)
        if family == "array":
            return _prepare_array(series, target)
        if family == "binary":
            return _prepare_binary(series)
        if family == "interval":
            return _prepare_interval(series)
    except (TypeError, ValueError, OverflowError) as exc:
        return series, f"cannot be converted ({exc})"
    return series.astype(object), None


def _bad(values: pd.Series, what: str) -> str:
    examples = format_examples(values.drop_duplicates().head(5).tolist())
    return f"{len(values)} value(s) {what} (e.g. {examples})"


def _prepare_int(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    if series.dtype.kind == "b" or isinstance(series.dtype, pd.BooleanDtype):
        series = series.astype("Int64")
    if series.dtype == object and (target.base or "").endswith("UNSIGNED"):
        unsigned = _read_unsigned(series)  # exact above 2**63, NULLs or not
        if unsigned is None:
            return series, _bad(series.dropna(), "are not unsigned integers")
        series = unsigned.set_axis(series.index)
    num = series if series.dtype.kind in "iu" else pd.to_numeric(series, errors="coerce")
    lost = num.isna() & series.notna()
    if bool(lost.any()):
        return series, _bad(series[lost], "are not numbers")
    if num.dtype.kind == "f":
        finite = num.dropna()
        frac = finite != np.round(finite)
        if bool(frac.any()):
            return series, _bad(finite[frac], "are not whole numbers")
    low, high = _INT_RANGE.get(target.base or "BIGINT", _INT_RANGE["BIGINT"])
    if target.dialect == "sqlite":
        low, high = _INT_RANGE["BIGINT"]
    present = num.dropna()
    out_of_range = (present < low) | (present > high)
    if bool(out_of_range.any()):
        problem = _bad(present[out_of_range], f"are outside [{low}, {high}]")
        if target.dialect == "sqlite" and (target.base or "").endswith("UNSIGNED"):
            problem += (
                "; SQLite integers are signed 64-bit: write to MariaDB/MySQL (BIGINT "
                "UNSIGNED) or PostgreSQL (NUMERIC(20, 0)), where these values are exact"
            )
        return series, problem
    if num.dtype.kind == "u" or (len(present) and bool((present > 2**63 - 1).any())):
        return num.astype("UInt64" if bool(num.isna().any()) else "uint64"), None
    return num.astype("Int64" if bool(num.isna().any()) else "int64"), None


def _prepare_number(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    if series.dtype == object and target.family == "numeric":
        decimals = series.map(lambda v: isinstance(v, decimal.Decimal), na_action="ignore")
        if bool(decimals.fillna(False).astype(bool).any()):
            return _prepare_decimal(series, target)
    if series.dtype.kind == "b" or isinstance(series.dtype, pd.BooleanDtype):
        series = series.astype("float64")
    num = pd.to_numeric(series, errors="coerce").astype("float64")
    lost = num.isna() & series.notna()
    if bool(lost.any()):
        return series, _bad(series[lost], "are not numbers")
    infinite = np.isinf(num.to_numpy())
    if bool(infinite.any()) and not _stores_infinity(target):
        where = "MariaDB/MySQL" if target.dialect in ("mysql", "mariadb") else "this column type"
        return series, _bad(num[infinite], f"are infinite, which {where} cannot store") + (
            "; write to PostgreSQL or SQLite, or set those values to NULL in the source."
        )
    problem = _numeric_overflow(num.dropna(), target)
    return num, problem


def _stores_infinity(target: Target) -> bool:
    """PostgreSQL floats and NUMERIC (14+) and SQLite REAL store ±Inf; MariaDB does not."""
    return target.dialect in ("postgresql", "sqlite")


def _prepare_decimal(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    try:
        dec = series.map(_to_decimal, na_action="ignore")
    except decimal.InvalidOperation:
        return series, "are not numbers"
    problem = _numeric_overflow(dec.dropna().astype(float), target)
    return dec.astype(object), problem


def _numeric_overflow(num: pd.Series, target: Target) -> str | None:
    if target.family != "numeric" or not target.params or target.dialect == "sqlite":
        return None
    precision = target.params[0]
    scale = target.params[1] if len(target.params) > 1 else 0
    limit = 10.0 ** (precision - scale)
    over = num.abs().round(scale) >= limit
    if bool(over.any()):
        return _bad(num[over], f"do not fit NUMERIC({precision}, {scale}) (|value| < {limit:g})")
    return None


def _prepare_datetime(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = pd.to_datetime(
            series.map(_as_datetime, na_action="ignore"), format="ISO8601", errors="coerce"
        )
        lost = parsed.isna() & series.notna()
        if bool(lost.any()):
            return series, _bad(series[lost], "are not dates/times")
        series = parsed
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC")
        if target.family != "datetimetz" or target.dialect != "postgresql":
            series = series.dt.tz_localize(None)
    return series, None


def _prepare_bool(series: pd.Series) -> tuple[pd.Series, str | None]:
    if isinstance(series.dtype, pd.BooleanDtype) or series.dtype.kind == "b":
        return series.astype("boolean"), None
    out = _read_bool(series)
    if out is None:
        return series, "are not booleans (use True/False, 1/0 or 'true'/'false')"
    return out, None


def _prepare_text(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    if target.family == "time":
        text = series.map(_time_text, na_action="ignore").pipe(_as_str)
    elif target.family == "json":
        text = series.map(json_text, na_action="ignore").pipe(_as_str)
    elif target.family == "uuid":
        return _prepare_uuid(series, target)
    elif target.text_format and series.dtype.kind in "iufM":  # the source's text format
        text = _textformats.format_as_text(series, target.text_format)
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        text = _format_datetimes(series, date_only=False)
    elif isinstance(series.dtype, pd.BooleanDtype) or series.dtype.kind == "b":
        text = series.map(lambda v: "1" if v else "0", na_action="ignore").pipe(_as_str)
    elif series.dtype.kind == "f":
        text = series.map(_text, na_action="ignore").pipe(_as_str)
    else:
        if pd.api.types.infer_dtype(series, skipna=True) == "bytes":
            return series, "are bytes, not text"
        text = series.pipe(_as_str) if series.dtype != "str" else series
    if target.enum_values:
        unknown = text.notna() & ~text.isin(target.enum_values)
        if bool(unknown.any()):
            allowed = ", ".join(repr(v) for v in target.enum_values)
            return text, _bad(text[unknown], f"are not among the ENUM values {allowed}")
    if target.length is not None:
        too_long = text.str.len() > target.length
        if bool(too_long.fillna(False).any()):
            bad = text[too_long.fillna(False).astype(bool)]
            return text, _bad(bad, f"are longer than {target.length} characters")
    return text, None


def _prepare_array(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    """Arrays travel as JSON text; PostgreSQL gets its array literal (``{1,2,"a b"}``)."""
    text = series.map(json_text, na_action="ignore").astype(object)  # None stays NULL
    parsed = text.map(json_list, na_action="ignore")
    bad = parsed.isna() & text.notna()
    if bool(bad.any()):
        return series, _bad(text[bad], "are not JSON arrays")
    if target.dialect != "postgresql":
        return text, None
    return parsed.map(pg_array, na_action="ignore").astype(object), None


def _prepare_uuid(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    def conv(value: Any) -> str:
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        return str(parsed) if target.dialect == "postgresql" else parsed.hex

    try:
        return series.map(conv, na_action="ignore").pipe(_as_str), None
    except ValueError:
        bad = series[series.map(_not_uuid, na_action="ignore").fillna(False).astype(bool)]
        return series, _bad(bad, "are not UUIDs")


def _not_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return True
    return False


def _prepare_binary(series: pd.Series) -> tuple[pd.Series, str | None]:
    try:
        return series.map(_to_bytes, na_action="ignore").astype(object), None
    except ValueError:
        return series, "are not bytes"


def _prepare_interval(series: pd.Series) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return series, None
    return pd.to_timedelta(series), None


def _format_datetimes(series: pd.Series, *, date_only: bool) -> pd.Series:
    """ISO text (``YYYY-MM-DD HH:MM:SS[.ffffff]``) of a datetime64 column, NULLs kept."""
    if date_only:
        fmt = "%Y-%m-%d"
    else:
        present = series.dropna()
        has_micros = bool((present.dt.microsecond != 0).any()) if len(present) else False
        fmt = "%Y-%m-%d %H:%M:%S.%f" if has_micros else "%Y-%m-%d %H:%M:%S"
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            fmt += "%z"
    return series.dt.strftime(fmt).pipe(_as_str)


def _is_null(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def python_values(series: pd.Series, target: Target) -> list[Any]:
    """Plain Python values (None for NULL) of a prepared column, as the driver wants them.

    Dates and times are sent as ISO text on every dialect: SQLite stores text anyway,
    PostgreSQL's COPY and MariaDB parse it, and formatting is vectorised.
    """
    family = target.family
    if family == "numeric" and target.dialect == "sqlite" and series.dtype == object:
        # sqlite3 cannot bind Decimal; SQLite keeps NUMERIC as REAL (or INTEGER) anyway
        return [None if _is_null(v) else float(v) for v in series]
    if pd.api.types.is_datetime64_any_dtype(series.dtype) and target.text_format:
        series = _textformats.format_text_dates(series, target.text_format)
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = _format_datetimes(series, date_only=family == "date")
    elif family == "interval" and pd.api.types.is_timedelta64_dtype(series.dtype):
        if target.dialect == "postgresql":
            return [None if pd.isna(v) else v.to_pytimedelta() for v in series]
        # SQLAlchemy's emulated Interval stores epoch + delta as a DATETIME.
        return [
            None if pd.isna(v) else (_EPOCH + v.to_pytimedelta()).isoformat(sep=" ") for v in series
        ]
    if isinstance(series.dtype, np.dtype):  # numpy-backed: no pd.NA inside
        if series.dtype.kind == "f":
            arr = series.to_numpy()
            return np.where(np.isnan(arr), None, arr).tolist()  # type: ignore[no-any-return]
        if series.dtype.kind in "iub":
            return series.tolist()  # type: ignore[no-any-return]
    return series.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[no-any-return]
