"""Formats of values kept as text, learned from the values (pure, pandas only): dates
stored as text, and JSON documents in text columns (:func:`looks_like_json`).

SQLite has no date type, and many schemas keep dates in ``TEXT``/``VARCHAR`` columns
elsewhere too. An application that parses ``2004-04-06`` fails on
``2004-04-06 00:00:00``, so a ``datetime`` column whose SQL type is a string type keeps
its source's format: :func:`learn_text_format` finds it at reflection (stored as the
column's ``format`` in the metadata), the reader parses with it and the writer formats
with it (:func:`format_text_dates`), in every dialect.

Formats are ``strftime`` patterns, plus ``%<n>f`` for exactly ``n`` fraction digits
(Northwind's ``1996-07-04 00:00:00.000`` is ``%Y-%m-%d %H:%M:%S.%3f``). Recognised:

==============================  =======================================
values                          format
==============================  =======================================
``2004-04-06``                  ``%Y-%m-%d``
``2004-04-06 13:05``            ``%Y-%m-%d %H:%M``
``2004-04-06 13:05:09``         ``%Y-%m-%d %H:%M:%S``
``2004-04-06 13:05:09.250``     ``%Y-%m-%d %H:%M:%S.%3f`` (1 to 9 digits)
``2004-04-06T13:05:09``         the same with ``T``
``2004-04-06T13:05:09Z``        the same with a literal ``Z`` (UTC)
``06/04/2004``                  ``%d/%m/%Y`` (``%m/%d/%Y`` when a first part exceeds 12
                                and no second part does; day first when undecided)
``06.04.2004``, ``06-04-2004``  ``%d.%m.%Y``, ``%d-%m-%Y``
``20040406``                    ``%Y%m%d``
==============================  =======================================

Values with a UTC offset other than ``Z`` get no format (they are written as ISO text
with the offset, as before).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pandas as pd

from relsynth.metadata._numberformats import format_text_numbers, learn_number_format

__all__ = [
    "column_text_format",
    "format_as_text",
    "format_text_dates",
    "learn_text_format",
    "looks_like_json",
    "parse_text_dates",
]

_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?P<sep>[ T])\d{2}:\d{2}(?P<sec>:\d{2}(?P<frac>\.\d{1,9})?)?(?P<z>Z?)$"
)
_DMY_RE = re.compile(r"^(\d{2})(?P<sep>[/.-])(\d{2})(?P=sep)\d{4}$")
_FRAC_RE = re.compile(r"%(\d)f")


def learn_text_format(values: Sequence[str]) -> str | None:
    """The format all ``values`` (non-NULL strings) are written in, or None.

    Examples
    --------
    >>> learn_text_format(["2004-04-06", "1999-12-31"])
    '%Y-%m-%d'
    >>> learn_text_format(["1996-07-04 00:00:00.000"])
    '%Y-%m-%d %H:%M:%S.%3f'
    >>> learn_text_format(["2020-01-02T03:04:05Z"])
    '%Y-%m-%dT%H:%M:%SZ'
    >>> learn_text_format(["31/12/2020", "01/02/2021"])
    '%d/%m/%Y'
    """
    items = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not items:
        return None
    candidates = {_one_format(v) for v in items}
    if len(candidates) == 1:
        fmt = candidates.pop()
        return _order_day_month(fmt, items) if fmt is not None else None
    # fraction digits may vary (".5", ".25"): keep the widest
    iso = {c for c in candidates if c is not None and "%H" in c}
    if len(iso) == len(candidates) and len({_FRAC_RE.sub("%f", c) for c in iso}) == 1:
        return max(iso, key=lambda c: (len(c), c))  # "%2f" over "%1f"
    return None


def column_text_format(
    kind: str, base: str | None, present: pd.Series, current: str | None
) -> str | None:
    """The text format of a ``datetime`` or ``numerical`` column whose SQL type ``base``
    keeps text (``present``: its non-NULL values); ``current`` when it has no values;
    None for a native type (the driver returns dates and numbers, not text)."""
    if kind == "datetime" and base in ("DATE", "DATETIME", "TIMESTAMP"):
        if present.empty or not all(isinstance(v, str) for v in present):
            return None
    elif base not in ("TEXT", "VARCHAR", "CHAR"):
        return None
    if present.empty:
        return current
    distinct = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in present]
    distinct = pd.unique(pd.Series(distinct, dtype=object)).tolist()
    if kind == "numerical":
        return learn_number_format(distinct)
    return learn_text_format(distinct)


def format_as_text(series: pd.Series, fmt: str) -> pd.Series:
    """Dates (a datetime64 ``series``) or numbers as text in ``fmt``; NULLs stay NULL."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return format_text_dates(series, fmt)
    return format_text_numbers(series, fmt)


def _one_format(value: str) -> str | None:  # noqa: PLR0911 - one return per shape
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        return "%Y-%m-%d" if value.replace("-", "").isdigit() else None
    if len(value) == 8 and value.isdigit():
        return "%Y%m%d"
    match = _ISO_RE.match(value)
    if match:
        fmt = f"%Y-%m-%d{match.group('sep')}%H:%M"
        if match.group("sec"):
            fmt += ":%S"
            frac = match.group("frac")
            if frac:
                fmt += f".%{len(frac) - 1}f"
        return fmt + ("Z" if match.group("z") else "")
    match = _DMY_RE.match(value)
    if match:
        sep = match.group("sep")
        return f"%d{sep}%m{sep}%Y"
    return None


def _order_day_month(fmt: str, values: Sequence[str]) -> str | None:
    if not fmt.startswith("%d"):
        return fmt
    sep = fmt[2]
    firsts = [int(v.split(sep)[0]) for v in values]
    seconds = [int(v.split(sep)[1]) for v in values]
    if max(seconds) > 12 and max(firsts) <= 12:
        return f"%m{sep}%d{sep}%Y"
    if max(seconds) > 12:  # both parts above 12: not a date
        return None
    return fmt


def _split(fmt: str) -> tuple[str, int | None, str]:
    match = _FRAC_RE.search(fmt)
    if match is None:
        return fmt, None, ""
    return fmt[: match.start()], int(match.group(1)), fmt[match.end() :]


def parse_text_dates(text: pd.Series, fmt: str) -> pd.Series | None:
    """Parse text dates written in ``fmt`` (None when a value does not fit)."""
    before, digits, after = _split(fmt)
    strptime = before + ("%f" if digits is not None else "") + after
    if strptime.endswith("Z"):
        strptime = strptime[:-1]
        text = text.str.removesuffix("Z")
    try:
        parsed = pd.to_datetime(text, format=strptime, errors="raise")
    except (ValueError, TypeError, OverflowError):
        return None
    if fmt.endswith("Z"):
        parsed = parsed.dt.tz_localize("UTC")
    return parsed


def format_text_dates(series: pd.Series, fmt: str) -> pd.Series:
    """Datetimes as text in ``fmt``; NULLs stay NULL.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2004-04-06 13:05:09.25", None]))
    >>> format_text_dates(s, "%Y-%m-%d %H:%M:%S.%3f").tolist()
    ['2004-04-06 13:05:09.250', nan]
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC")
    before, digits, after = _split(fmt)
    text = series.dt.strftime(before)
    if digits is not None:
        micros = series.dt.strftime("%f").str.pad(6, fillchar="0")
        text = text + (micros + "000").str[:digits]
        if after:  # pandas 2.1 formats an empty pattern as the default date text
            text = text + series.dt.strftime(after)
    # no astype(str): on pandas 2 it would turn NULL into the text 'nan'
    return text.where(series.notna())


def looks_like_json(values: pd.Series) -> bool:
    """Whether every non-NULL value is the JSON text of an object or an array."""
    present = values.dropna()
    if present.empty:
        return False
    for value in present.astype(str):
        text = value.strip()
        if not text or text[0] not in "[{":
            return False
        try:
            json.loads(text)
        except ValueError:
            return False
    return True
