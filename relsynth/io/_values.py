"""Value helpers of :mod:`relsynth.io._convert` for JSON, arrays and epoch numbers.

* JSON text of driver values (PostgreSQL arrays come back as lists, with Decimal,
  dates, UUIDs or addresses inside);
* PostgreSQL's array literal (``{1,2,"a b"}``) of a list, for ``COPY``;
* epoch numbers in a date/time column read as seconds, milliseconds or microseconds
  by magnitude (never nanoseconds, pandas' default), with a warning naming the column.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import logging
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["epochs_as_text", "json_list", "json_text", "pg_array"]

logger = logging.getLogger("relsynth.io._convert")


#: Epoch numbers in a date column: the unit is told by the magnitude (as of 2026,
#: seconds are ~1.8e9, milliseconds ~1.8e12, microseconds ~1.8e15).
_EPOCH_UNITS = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


def epochs_as_text(raw: pd.Series, name: str) -> pd.Series:
    """Numbers in a date/time column (SQLite stores what it is given) as ISO text.

    They are epoch seconds, milliseconds or microseconds by magnitude, never
    nanoseconds (pandas' default, which read 1600000000 as 1970-01-01 00:00:01.6).
    A warning names the column and the unit chosen.
    """
    numbers = raw.map(
        lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool),
        na_action="ignore",
    )
    is_number = numbers.fillna(False).astype(bool).to_numpy()
    if not is_number.any():
        return raw
    values = pd.to_numeric(raw[is_number]).astype("float64")
    magnitude = float(values.abs().median())
    unit = next((u for limit, u in _EPOCH_UNITS if magnitude < limit), "ns")
    logger.warning(
        "Column %s holds %d number(s) in a date/time column; they are read as epoch %s "
        "(by their magnitude). Store dates as ISO text to avoid the guess.",
        name,
        int(is_number.sum()),
        {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[unit],
    )
    stamps = pd.to_datetime(values, unit=unit)
    out = raw.astype(object).copy()
    out[is_number] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy()
    return out


def json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    """JSON form of the values a driver puts in arrays (Decimal, dates, UUIDs, bytes)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)  # UUID, ipaddress objects, ...


def json_list(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def pg_array(values: list[Any]) -> str:
    """PostgreSQL's array literal of a (nested) list."""
    return "{" + ",".join(_pg_element(v) for v in values) + "}"


def _pg_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return pg_array(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        value = json.dumps(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
