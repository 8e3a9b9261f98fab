"""The text format of numbers stored as text, learned from the values (pure, pandas only).

A price kept in a ``TEXT``/``VARCHAR`` column as ``12.50`` must come back as ``12.50``,
not ``12.5``, and a padded quantity ``0007`` as ``0007``, not ``7.0``: an application
that parses the source's text (or compares it as text) fails otherwise. So a
``numerical`` column whose SQL type is a string type keeps its source's format:
:func:`learn_number_format` finds it at reflection (stored as the column's ``format``
in the metadata), the reader parses with it (:func:`parse_text_numbers`) and the writer
formats with it (:func:`format_text_numbers`), in every dialect.

Formats are Python format specifications (``format(12.5, ".2f") == "12.50"``), of the
shapes below; every value of the column must have the same shape:

======================  ===========  ============================================
values                  format       meaning
======================  ===========  ============================================
``12``, ``-3``          ``d``        whole numbers
``12.50``, ``0.05``     ``.2f``      exactly two decimals (1 to 9)
``0007``, ``0120``      ``04d``      zero-padded to four characters
``007.50``              ``06.2f``    zero-padded, two decimals
``1,234``, ``12``       ``,d``       thousands grouped by commas
``1,234.00``            ``,.2f``     grouped, two decimals
======================  ===========  ============================================

Values whose decimals vary (``12.5``, ``3.25``), with a sign ``+``, exponents or
spaces get no format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["format_text_numbers", "learn_number_format", "parse_text_numbers", "text_numbers"]

_NUMBER_RE = re.compile(r"^(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,9}))?$")
_SPEC_RE = re.compile(r"^(?P<pad>0\d+)?(?P<group>,)?(?:\.(?P<digits>\d)f|d)$")


def learn_number_format(values: Sequence[str]) -> str | None:  # noqa: C901 - one rule each
    """The format all ``values`` (non-NULL strings) are written in, or None.

    Examples
    --------
    >>> learn_number_format(["12.50", "3.05", "-1.00"])
    '.2f'
    >>> learn_number_format(["0007", "0120"])
    '04d'
    >>> learn_number_format(["1,234.00", "12.00"])
    ',.2f'
    >>> learn_number_format(["12.5", "3.25"]) is None
    True
    """
    matches = [_NUMBER_RE.match(str(v)) for v in values]
    if not matches or any(m is None for m in matches):
        return None
    fracs = {len(m.group("frac") or "") for m in matches if m is not None}
    if len(fracs) != 1:
        return None
    digits = fracs.pop()
    ints = [m.group("int") for m in matches if m is not None]
    grouped = any("," in i for i in ints)
    if grouped and any(len(i) > 3 and "," not in i for i in ints):
        return None  # '1,234' beside '5678': no one format
    padded = any(len(i) > 1 and i[0] == "0" for i in ints)
    pad = ""
    if padded:
        widths = {len(str(v)) for v in values}
        if grouped or len(widths) != 1 or any(m.group("sign") for m in matches if m is not None):
            return None
        pad = f"0{widths.pop()}"
    body = f".{digits}f" if digits else "d"
    return f"{pad}{',' if grouped else ''}{body}"


def text_numbers(strings: pd.Series, distinct: Sequence[str]) -> pd.Series | None:
    """``strings`` as numbers when every distinct value is a text number of one format,
    else None; also None for zero-padded whole numbers that are all distinct (codes
    such as ``'01581'``, better kept as text)."""
    fmt = learn_number_format(distinct)
    if fmt is None:
        return None
    if fmt[0] == "0" and fmt.endswith("d") and len(distinct) == len(strings):
        return None
    return parse_text_numbers(strings, fmt)


def _spec(fmt: str) -> re.Match[str]:
    match = _SPEC_RE.match(fmt)
    if match is None:
        raise ValueError(f"{fmt!r} is not a number format such as 'd', '.2f', '04d' or ',.2f'")
    return match


def parse_text_numbers(text: pd.Series, fmt: str) -> pd.Series | None:
    """Parse numbers written in ``fmt`` (None when a value does not fit): int64 (Int64
    with NULLs) for whole-number formats, float64 otherwise.

    Examples
    --------
    >>> parse_text_numbers(pd.Series(["1,234.50", None]), ",.2f").tolist()
    [1234.5, nan]
    """
    if _SPEC_RE.match(fmt) is None:
        return None
    present = text.dropna().astype(str)
    whole = fmt.endswith("d")
    if not bool(present.str.match(_NUMBER_RE).all()) or (
        whole and present.str.contains(".", regex=False).any()
    ):
        return None  # not numbers, or decimals where whole numbers were learned
    numbers = pd.to_numeric(text.astype(object).where(text.notna()).str.replace(",", ""))
    if whole:
        return numbers.astype("Int64" if bool(numbers.isna().any()) else "int64")
    return numbers.astype("float64")


def format_text_numbers(series: pd.Series, fmt: str) -> pd.Series:
    """Numbers as text in ``fmt``; NULLs stay NULL. Whole-number formats round first.

    Examples
    --------
    >>> format_text_numbers(pd.Series([12.5, None, 3.006]), ".2f").tolist()
    ['12.50', None, '3.01']
    >>> format_text_numbers(pd.Series([7.4, 120]), "04d").tolist()
    ['0007', '0120']
    """
    whole = fmt.endswith("d") and _spec(fmt) is not None
    values = pd.to_numeric(series.astype(object), errors="raise").astype("float64").to_numpy()
    finite = np.isfinite(values)
    out = np.full(len(values), None, dtype=object)
    if whole:
        out[finite] = [format(int(v), fmt) for v in np.round(values[finite])]
    else:
        _spec(fmt)
        out[finite] = [format(float(v), fmt) for v in values[finite]]
    return pd.Series(out, index=series.index, dtype=object)
