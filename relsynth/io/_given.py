"""Given rows for seeded sampling from CSV files (``relsynth sample --parents T=rows.csv``).

Each ``TABLE=PATH`` names a table and a CSV file (header row, comma separated,
UTF-8, an empty field is NULL). Values are read as text; the synthesizer converts
them to the model's types and checks them (:mod:`relsynth.synthesis._seeded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from relsynth.errors import DataError, ParameterError

__all__ = ["read_given"]


def read_given(specs: Sequence[str]) -> dict[str, pd.DataFrame]:
    """``{"Customers": frame}`` from ``["Customers=customers.csv", ...]``."""
    out: dict[str, pd.DataFrame] = {}
    for spec in specs:
        table, sep, path = spec.partition("=")
        if not sep or not table.strip() or not path.strip():
            raise ParameterError(
                f"--parents {spec!r}: write TABLE=FILE.csv (--parents Customers=customers.csv)."
            )
        file = Path(path.strip()).expanduser()
        if not file.is_file():
            raise ParameterError(f"--parents {spec!r}: {file} is not a file.")
        try:
            frame = pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as why:
            first = str(why).splitlines()[0] if str(why) else type(why).__name__
            raise DataError(
                f"--parents {spec!r}: {file} is not a readable CSV file ({first})."
            ) from None
        out[table.strip()] = frame.astype(object).where(frame.notna(), None)
    return out
