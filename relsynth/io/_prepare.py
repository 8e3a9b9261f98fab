"""Writing values: a pandas column validated against its target column (every problem
collected, nothing written) and turned into plain Python values, batch by batch.
The families are :mod:`relsynth.io._convert`'s (which reads values back).
"""

from __future__ import annotations

import decimal
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import format_examples
from relsynth.io._convert import (
    EPOCH,
    INT_RANGE,
    Family,
    as_datetime,
    as_str,
    read_bool,
    read_unsigned,
    time_text,
    to_bytes,
    to_decimal,
    value_text,
)
from relsynth.io._values import json_list, json_text, pg_array
from relsynth.metadata import _textformats

__all__ = ["Target", "format_datetimes", "prepare_column", "python_values"]


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
        unsigned = read_unsigned(series)  # exact above 2**63, NULLs or not
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
    low, high = INT_RANGE.get(target.base or "BIGINT", INT_RANGE["BIGINT"])
    if target.dialect == "sqlite":
        low, high = INT_RANGE["BIGINT"]
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
        dec = series.map(to_decimal, na_action="ignore")
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
            series.map(as_datetime, na_action="ignore"), format="ISO8601", errors="coerce"
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
    out = read_bool(series)
    if out is None:
        return series, "are not booleans (use True/False, 1/0 or 'true'/'false')"
    return out, None


def _prepare_text(series: pd.Series, target: Target) -> tuple[pd.Series, str | None]:
    if target.family == "time":
        text = series.map(time_text, na_action="ignore").pipe(as_str)
    elif target.family == "json":
        text = series.map(json_text, na_action="ignore").pipe(as_str)
    elif target.family == "uuid":
        return _prepare_uuid(series, target)
    elif target.text_format and series.dtype.kind in "iufM":  # the source's text format
        text = _textformats.format_as_text(series, target.text_format)
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        text = format_datetimes(series, date_only=False)
    elif isinstance(series.dtype, pd.BooleanDtype) or series.dtype.kind == "b":
        text = series.map(lambda v: "1" if v else "0", na_action="ignore").pipe(as_str)
    elif series.dtype.kind == "f":
        text = series.map(value_text, na_action="ignore").pipe(as_str)
    else:
        if pd.api.types.infer_dtype(series, skipna=True) == "bytes":
            return series, "are bytes, not text"
        text = series.pipe(as_str) if series.dtype != "str" else series
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
        return series.map(conv, na_action="ignore").pipe(as_str), None
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
        return series.map(to_bytes, na_action="ignore").astype(object), None
    except ValueError:
        return series, "are not bytes"


def _prepare_interval(series: pd.Series) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return series, None
    return pd.to_timedelta(series), None


def format_datetimes(series: pd.Series, *, date_only: bool) -> pd.Series:
    """ISO text (``YYYY-MM-DD HH:MM:SS[.ffffff]``) of a datetime64 column, NULLs kept."""
    if date_only:
        fmt = "%Y-%m-%d"
    else:
        present = series.dropna()
        has_micros = bool((present.dt.microsecond != 0).any()) if len(present) else False
        fmt = "%Y-%m-%d %H:%M:%S.%f" if has_micros else "%Y-%m-%d %H:%M:%S"
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            fmt += "%z"
    return series.dt.strftime(fmt).pipe(as_str)


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
        series = format_datetimes(series, date_only=family == "date")
    elif family == "interval" and pd.api.types.is_timedelta64_dtype(series.dtype):
        if target.dialect == "postgresql":
            return [None if pd.isna(v) else v.to_pytimedelta() for v in series]
        # SQLAlchemy's emulated Interval stores epoch + delta as a DATETIME.
        return [
            None if pd.isna(v) else (EPOCH + v.to_pytimedelta()).isoformat(sep=" ") for v in series
        ]
    if isinstance(series.dtype, np.dtype):  # numpy-backed: no pd.NA inside
        if series.dtype.kind == "f":
            arr = series.to_numpy()
            return np.where(np.isnan(arr), None, arr).tolist()  # type: ignore[no-any-return]
        if series.dtype.kind in "iub":
            return series.tolist()  # type: ignore[no-any-return]
    return series.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[no-any-return]
