"""Seeded sampling (``sample(parents={"Customers": frame})``): the given rows, checked.

The given rows are kept exactly (real rows or rows written by hand) and everything
below them is generated from them: their children get counts from the learned
cardinalities conditioned on the given rows' values, and values conditioned on
them. This module checks a given frame against the model before any row is
sampled, so that a bad frame is one :class:`~relsynth.errors.DataError` naming the
table and column, and nothing is generated:

* the table is known, and the frame has exactly the table's columns;
* each column converts to the dtype the model learned (numbers, dates, text);
* the primary key is complete and unique;
* a foreign key of a given table points at rows that exist: into another given
  table, or into a table copied verbatim (a reference table). A key into a table
  relsynth would generate cannot be honoured: give that table too.

Pure: pandas, numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from relsynth._columns import parse_clock
from relsynth.errors import DataError, ParameterError
from relsynth.metadata.schema import Metadata
from relsynth.synthesis._conditions import find_table

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["given_frames", "as_done"]


def given_frames(
    synth: Synthesizer, parents: Mapping[str, pd.DataFrame] | None
) -> dict[str, pd.DataFrame]:
    """The given frames, by table, converted to the model's dtypes (checked)."""
    if parents is None:
        return {}
    if not isinstance(parents, Mapping):
        raise ParameterError(
            "'parents' must map table names to DataFrames (parents={'Customers': frame}); "
            f"got {type(parents).__name__}."
        )
    meta = synth.metadata
    out: dict[str, pd.DataFrame] = {}
    for raw_name, frame in parents.items():
        name = _table_name(meta, str(raw_name))
        if not isinstance(frame, pd.DataFrame):
            raise ParameterError(
                f"parents[{raw_name!r}] must be a pandas DataFrame; got {type(frame).__name__}."
            )
        out[name] = _convert(meta, name, frame, synth.dtypes_.get(name, {}))
        _check_primary_key(meta, name, out[name])
    for name in out:
        _check_references(synth, name, out)
    return out


def as_done(synth: Synthesizer, name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A given frame as the sampling loop holds tables (clock text as seconds)."""
    layout = synth.layouts_.get(name)
    done = frame.copy()
    if layout is not None and name not in synth.copies_:
        for col in layout.clocks:
            if col in done.columns:
                done[col] = parse_clock(done[col])
    return done


def _table_name(meta: Metadata, name: str) -> str:
    found = find_table(meta, name)
    if found is not None:
        return found
    raise ParameterError(
        f"parents names the table {name!r}, which the model does not have "
        f"(tables: {', '.join(meta.tables)})."
    )


def _convert(
    meta: Metadata, name: str, frame: pd.DataFrame, dtypes: Mapping[str, str]
) -> pd.DataFrame:
    columns = list(meta.table(name).column_names)
    missing = [c for c in columns if c not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in columns]
    if missing or extra:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown {', '.join(extra)}"] if extra else []
        raise DataError(
            f"The given rows of {name} do not have the table's columns ({'; '.join(parts)}); "
            f"give exactly: {', '.join(columns)}."
        )
    out = frame[columns].reset_index(drop=True).copy()
    for col in columns:
        dtype = dtypes.get(col)
        if dtype and str(out[col].dtype) != dtype:
            out[col] = _to_dtype(name, col, out[col], dtype)
    return out


def _to_dtype(name: str, col: str, values: pd.Series, dtype: str) -> pd.Series:
    low = dtype.lower()
    try:
        if low.startswith("datetime"):
            converted = pd.to_datetime(values, errors="raise")
            return converted.astype(dtype) if "tz" not in low else converted
        if low.startswith(("int", "uint", "float")):
            numbers = pd.to_numeric(values, errors="raise")
            if low.startswith(("int", "uint")):
                whole = numbers.dropna()
                if len(whole) and not (whole == whole.round()).all():
                    raise ValueError("not whole numbers")
                target = dtype if not numbers.isna().any() else dtype.replace("int", "Int")
                return numbers.astype(target)
            return numbers.astype(dtype)
        if low.startswith("bool"):
            return values.astype(dtype)
    except (TypeError, ValueError) as why:
        bad = values.dropna().astype(str).head(3).tolist()
        raise DataError(
            f"The given rows of {name}: column {col} does not convert to {dtype} "
            f"({why}; values such as {', '.join(bad)}); give {dtype} values."
        ) from None
    return values.astype(object).where(values.notna(), None) if low == "object" else values


def _check_primary_key(meta: Metadata, name: str, frame: pd.DataFrame) -> None:
    pk = list(meta.table(name).primary_key)
    if not pk:
        return
    if frame[pk].isna().any(axis=None):
        raise DataError(
            f"The given rows of {name} have a NULL in the primary key ({', '.join(pk)}); "
            "give every row its key."
        )
    dup = frame.duplicated(subset=pk)
    if dup.any():
        keys = frame.loc[dup, pk].astype(str).agg(", ".join, axis=1).head(3).tolist()
        raise DataError(
            f"The given rows of {name} repeat primary key values ({'; '.join(keys)}); "
            "give each row its own key."
        )


def _check_references(synth: Synthesizer, name: str, given: Mapping[str, pd.DataFrame]) -> None:
    frame = given[name]
    for fk in synth.metadata.parents(name):
        values = frame[list(fk.columns)]
        present = values.notna().all(axis=1)
        if not present.any():
            continue
        if fk.parent in given:
            parent = given[fk.parent]
        elif fk.parent in synth.copies_:
            parent = synth.copies_[fk.parent]
        else:
            raise DataError(
                f"The given rows of {name} point at {fk.parent} ({', '.join(fk.columns)}), "
                f"which relsynth generates; give {fk.parent} too, or leave those keys NULL."
            )
        known = set(parent[list(fk.parent_columns)].astype(str).itertuples(index=False))
        keys = values[present].astype(str).itertuples(index=False)
        orphans = [tuple(k) for k in keys if tuple(k) not in known]
        if orphans:
            raise DataError(
                f"The given rows of {name} point at {fk.parent} rows that do not exist "
                f"({', '.join(fk.columns)} = {', '.join(map(str, orphans[:3]))}); "
                f"give those {fk.parent} rows too."
            )
