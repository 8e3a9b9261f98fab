"""CSV folders: one ``<table>.csv`` per table (header row, comma separated, UTF-8).

:func:`read_csv_folder` reads every column as text first and converts it with the
same metadata-driven rules as the database reader (see :mod:`relsynth.io._convert`),
so ``'01581'`` stays text in a text column and an INTEGER column becomes ``int64``.
An empty field is NULL (CSV cannot tell NULL from an empty string).
:func:`write_csv_folder` writes the opposite way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from relsynth.errors import DataError, ParameterError
from relsynth.io._convert import to_pandas
from relsynth.metadata.schema import Metadata

__all__ = ["read_csv_folder", "write_csv_folder"]

logger = logging.getLogger(__name__)


def read_csv_folder(
    folder: str | os.PathLike[str],
    metadata: Metadata,
    *,
    tables: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read ``<table>.csv`` files from ``folder`` with dtypes driven by ``metadata``.

    Parameters
    ----------
    folder : str or path-like
        The folder holding one CSV file per table.
    metadata : Metadata
        The tables and column types to read.
    tables : sequence of str, optional
        Only these tables (default: every table of the metadata).

    Returns
    -------
    dict of str to DataFrame
        Each frame has ``attrs["relsynth_source"] = "folder:<resolved path>"``.

    Raises
    ------
    DataError
        If a file or a column is missing (every problem listed at once).
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ParameterError(f"{os.fspath(folder)!r} is not a folder of CSV files.")
    names = list(tables) if tables is not None else list(metadata.tables)
    problems: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    for name in names:
        table = metadata.table(name)
        path = root / f"{name}.csv"
        if not path.is_file():
            problems.append(f"table {name!r}: no file {path.name}")
            continue
        raw = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""])
        missing = [c for c in table.column_names if c not in raw.columns]
        problems.extend(f"column {name}.{c}: not in {path.name}" for c in missing)
        if missing:
            continue
        frame = pd.DataFrame(
            {
                col.name: to_pandas(raw[col.name], col, where=f"{name}.{col.name}")
                for col in table.columns
            },
            columns=list(table.column_names),
        )
        frame.attrs["relsynth_source"] = f"folder:{root}"
        frames[name] = frame
    if problems:
        raise DataError(
            f"Cannot read the CSV folder {root}: "
            + "; ".join(problems)
            + ". Add the files/columns, or drop those tables from the metadata."
        )
    return frames


def write_csv_folder(
    folder: str | os.PathLike[str],
    metadata: Metadata,
    tables: Mapping[str, pd.DataFrame],
    *,
    overwrite: bool = False,
) -> dict[str, int]:
    """Write each table of ``metadata`` to ``<folder>/<table>.csv``; return rows per table.

    Raises
    ------
    DataError
        If a frame or one of its columns is missing.
    ParameterError
        If a file exists and ``overwrite`` is False.
    """
    root = Path(folder).expanduser()
    missing = [n for n in metadata.tables if n not in tables]
    missing += [
        f"{n}.{c}"
        for n in metadata.tables
        if n in tables
        for c in metadata.table(n).column_names
        if c not in tables[n].columns
    ]
    if missing:
        raise DataError(f"Cannot write CSV files: missing {', '.join(missing)}.")
    existing = [n for n in metadata.tables if (root / f"{n}.csv").exists()]
    if existing and not overwrite:
        raise ParameterError(
            f"{root} already has {', '.join(f'{n}.csv' for n in existing)}; "
            "pass overwrite=True to replace them."
        )
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, table in metadata.tables.items():
        frame = tables[name][list(table.column_names)]
        frame.to_csv(root / f"{name}.csv", index=False)
        counts[name] = len(frame)
    return counts
