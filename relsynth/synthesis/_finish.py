"""Finishing a sampled table: what the model's raw values become before they leave.

Clock text restored, unique constraints made to hold (:func:`enforce_unique`),
generated columns computed from their expressions, CHECK constraints repaired,
column order and dtypes restored (:func:`restore_dtypes`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from relsynth._columns import TableLayout, format_clock
from relsynth.constraints import Expr, compute_generated, enforce_checks, parse_check
from relsynth.metadata.schema import Metadata
from relsynth.synthesis._state import TableFit

__all__ = [
    "enforce_unique",
    "finish_table",
    "max_length",
    "name_column",
    "restore_dtypes",
    "table_checks",
]

logger = logging.getLogger(__name__)


def finish_table(
    meta: Metadata, name: str, frame: pd.DataFrame, fit: TableFit, rng: np.random.Generator
) -> pd.DataFrame:
    """Restore clock text, unique values, generated columns (computed from their
    expressions), CHECK constraints, column order and dtypes."""
    layout = None if fit.copy is not None else fit.layout
    if layout is not None:
        for col, fmt in layout.clocks.items():
            frame[col] = format_clock(frame[col], fmt)
        frame = enforce_unique(meta, name, frame, layout)
    columns = list(meta.table(name).column_names)
    frame = restore_dtypes(frame[columns], fit.dtypes)
    if layout is not None:
        frame = compute_generated(meta.table(name), frame)
    checks = table_checks(meta, name)
    if layout is None or not checks:
        return frame
    dtypes = fit.dtypes
    repaired = enforce_checks(
        frame,
        checks,
        protected=meta.key_columns(name),
        integers={c for c, d in dtypes.items() if d.lower().startswith(("int", "uint"))},
        rng=rng,
    )
    if repaired:
        logger.info("%s: rows repaired to satisfy CHECK constraints: %s", name, repaired)
    return restore_dtypes(frame, dtypes)


def table_checks(meta: Metadata, name: str, *, warn: bool = False) -> list[tuple[str, Expr]]:
    """The CHECK constraints of a table that relsynth can enforce, parsed.

    With ``warn``, each constraint it cannot parse is logged (once per fit): such a
    constraint is still created in the target, which then decides.
    """
    parsed = []
    for i, constraint in enumerate(meta.table(name).checks):
        label = constraint.name or f"{name}#{i + 1}"
        expr = parse_check(constraint.sqltext)
        if expr is not None:
            parsed.append((label, expr))
        elif warn:
            logger.warning(
                "%s: CHECK %s (%s) is not a form relsynth enforces (comparisons, BETWEEN, IN, "
                "IS NULL, AND/OR); sampled rows may break it",
                name, label, constraint.sqltext,
            )  # fmt: skip
    return parsed


def name_column(frame: pd.DataFrame, layout: TableLayout) -> pd.Series | None:
    """The table's personal-name column, if any (e-mail addresses follow it)."""
    for col, pii in layout.text.items():
        if pii == "name" and col in frame.columns:
            return frame[col]
    return None


def max_length(sql_type: str) -> int | None:
    """The length of a ``CHAR(n)``/``VARCHAR(n)`` type, else None."""
    match = re.search(r"(?:CHAR|VARCHAR)\s*\((\d+)\)", sql_type.upper())
    return int(match.group(1)) if match else None


def enforce_unique(
    meta: Metadata, name: str, frame: pd.DataFrame, layout: TableLayout
) -> pd.DataFrame:
    """Make unique constraints (one column or several) hold where a learned column is in them.

    The last learned column of the constraint is changed on the duplicate rows only:
    numbers and dates move by a small step (1, one day or one second) per duplicate,
    text gets a `` 2``, `` 3``... suffix; repeated while duplicates are left (a
    collapsed model can give hundreds of rows the same value), then numbers and dates
    move past the column's maximum and text gets a running number. Key columns never change
    (the key generator makes keys unique); personal text is made unique by its model.
    """
    table = meta.table(name)
    for unique in table.unique:
        learned = [c for c in unique if c in layout.learned]
        if not learned:
            continue
        col, cols = learned[-1], list(unique)
        for attempt in range(_NUDGE_ATTEMPTS + 1):
            sub = frame[cols]
            dup = (sub.duplicated(keep="first") & sub.notna().all(axis=1)).to_numpy()
            if not dup.any():
                break
            rank = sub.groupby(cols, sort=False, dropna=False).cumcount().to_numpy()[dup]
            last = attempt == _NUDGE_ATTEMPTS
            frame[col] = _nudge(frame[col], dup, rank, last_resort=last)
    return frame


_NUDGE_ATTEMPTS = 10  # small steps first; then values past the column's maximum


def _nudge(
    values: pd.Series, rows: np.ndarray, rank: np.ndarray, *, last_resort: bool
) -> pd.Series:
    """``values`` with the ``rows`` moved off their duplicates (``rank``: 1, 2... per group)."""
    out = values.copy()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values.dropna()
        daily = len(stamps) and (stamps == stamps.dt.normalize()).all()
        step = pd.Timedelta(days=1) if daily else pd.Timedelta(seconds=1)
        if last_resort:  # past the latest value: cannot collide
            out[rows] = stamps.max() + step * (1 + np.arange(int(rows.sum())))
        else:
            out[rows] = values[rows] + step * rank
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    ):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        whole = bool(np.all(np.isnan(numbers) | (numbers == np.round(numbers))))
        if last_resort:
            shifted = np.nanmax(numbers) + 1 + np.arange(int(rows.sum()))
        elif whole:
            shifted = numbers[rows] + rank
        else:
            shifted = numbers[rows] + np.maximum(np.abs(numbers[rows]), 1.0) * 1e-9 * rank
        if pd.api.types.is_integer_dtype(values.dtype):
            out[rows] = shifted.astype(np.int64)
        else:
            out = out.astype("float64")
            out[rows] = shifted
    else:
        text = values.astype(object)
        out = text.copy()
        if last_resort:  # a running number no other value has
            out[rows] = [f"{v} #{i + 1}" for i, v in enumerate(text[rows])]
        else:
            out[rows] = [f"{v} {r + 1}" for v, r in zip(text[rows], rank, strict=True)]
    return out


def restore_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with each column cast back to its source dtype where it can be
    (integers with NULLs become pandas' nullable ``Int`` types)."""
    out = frame.copy()
    for col, dtype in dtypes.items():
        if col not in out.columns or str(out[col].dtype) == dtype:
            continue
        try:
            if dtype.startswith("int") and out[col].isna().any():
                out[col] = out[col].astype(dtype.replace("int", "Int"))
            else:
                out[col] = out[col].astype(dtype)
        except (TypeError, ValueError) as exc:
            logger.debug("kept dtype %s for %s (%s)", out[col].dtype, col, exc)
    return out
