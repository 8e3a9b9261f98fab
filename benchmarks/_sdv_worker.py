"""SDV side of ``benchmarks/sdv_compare.py``: runs in the SDV virtual environment.

This file imports neither relsynth nor anything from the repository: it runs under
``benchmarks/_out/sdv-venv/bin/python`` (SDV and SDMetrics pin their own pandas and
numpy). ``sdv_compare.py`` calls it in two modes:

``fit``
    Read the training tables (a SQLite file written by the relsynth side with
    ``relsynth.write_tables``), build SDV ``Metadata`` (detected from the frames, then keys and
    relationships set from relsynth's reflected metadata), fit ``HMASynthesizer``,
    sample at scale 1 and write the synthetic tables as a folder of CSV files plus
    ``result.json``: fit and sample seconds, peak memory, the SDV metadata used,
    and every part of the schema SDV refused (with its error message).

``score``
    Compute SDMetrics' multi-table ``QualityReport`` (Column Shapes, Column Pair
    Trends, Cardinality, Intertable Trends) of one synthetic database (SQLite file
    or CSV folder) against the training file, with the SDV metadata saved by
    ``fit`` (composite keys left out, as SDMetrics cannot score them), and write it
    as JSON. It is saved even when HMA refuses the schema, so every system is
    scored.

Schema parts SDV refuses (composite keys, self-references, empty tables, binary
columns) are recorded and left out of SDV's metadata, so HMA runs on the
largest schema it accepts; the refusal messages are part of the result.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sqlite3
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

_INTEGER_TYPES = ("INT",)
_WHOLE_FLOAT = r"(?<=\d)\.0$"
_TRUE = {"1", "true", "t", "yes", "y", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "0.0"}


# -- reading and writing tables ------------------------------------------------------------


def _is_integer_type(sql_type: str | None) -> bool:
    return sql_type is not None and any(t in sql_type.upper() for t in _INTEGER_TYPES)


def _to_boolean(values: pd.Series) -> pd.Series:
    """Map 0/1, true/false text to booleans; anything else becomes missing."""
    text = values.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(_TRUE).fillna(False).astype(bool)] = True
    out[text.isin(_FALSE).fillna(False).astype(bool)] = False
    return out.astype(object).where(out.notna(), None)


def _raw_tables(source: Path, names: list[str]) -> dict[str, pd.DataFrame]:
    """Every table of a SQLite file or a folder of ``<table>.csv``, all values as text.

    SQLite tables go through CSV text in memory, so both sources give the same
    strings for the same values.
    """
    out = {}
    if source.is_dir():
        for name in names:
            out[name] = pd.read_csv(
                source / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""]
            )
        return out
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as con:
        for name in names:
            frame = pd.read_sql(f'SELECT * FROM "{name}"', con)
            text = io.StringIO(frame.to_csv(index=False))
            out[name] = pd.read_csv(text, dtype=str, keep_default_na=False, na_values=[""])
    return out


def read_tables(source: Path, meta: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Read a SQLite file or CSV folder typed by the relsynth metadata's column kinds.

    Numerical columns become numbers, datetimes ``datetime64``, booleans
    ``True``/``False``, integer keys numbers; categories stay text (``12.0`` read as
    ``12``), and so does free text. Binary columns are dropped (SDV has no sdtype
    for bytes). Real and synthetic data are read by this one function, so SDMetrics
    sees both typed alike.
    """
    raw = _raw_tables(source, [t["name"] for t in meta["tables"]])
    for table in meta["tables"]:
        frame = raw[table["name"]]
        for col in table["columns"]:
            cname, kind, sql_type = col["name"], col["kind"], col.get("sql_type")
            if kind == "binary":
                frame = frame.drop(columns=cname)
            elif kind == "numerical" or (kind == "id" and _is_integer_type(sql_type)):
                frame[cname] = pd.to_numeric(frame[cname], errors="coerce")
            elif kind == "datetime":
                frame[cname] = pd.to_datetime(frame[cname], format="mixed", errors="coerce")
            elif kind == "boolean":
                frame[cname] = _to_boolean(frame[cname])
            elif kind == "categorical":
                frame[cname] = frame[cname].str.replace(_WHOLE_FLOAT, "", regex=True)
        raw[table["name"]] = frame
    return raw


def write_folder(folder: Path, meta: dict[str, Any], tables: dict[str, pd.DataFrame]) -> None:
    """Write synthetic tables as ``<table>.csv`` with every column of the relsynth metadata.

    Columns and tables SDV did not model are written empty (NULL), whole numbers of
    integer columns without a fraction, so the relsynth side can read the folder back
    with ``relsynth.read_tables``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for table in meta["tables"]:
        name = table["name"]
        names = [c["name"] for c in table["columns"]]
        frame = tables.get(name, pd.DataFrame(columns=names)).copy()
        for col in table["columns"]:
            cname = col["name"]
            if cname not in frame.columns:
                frame[cname] = None
            elif _is_integer_type(col.get("sql_type")) and col["kind"] != "boolean":
                values = pd.to_numeric(frame[cname], errors="coerce")
                if values.notna().any() and (values.dropna() % 1 == 0).all():
                    frame[cname] = values.round().astype("Int64")
        frame[names].to_csv(folder / f"{name}.csv", index=False)


# -- SDV metadata from relsynth's metadata -------------------------------------------------


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _natural_sdtype(kind: str, detected: dict[str, Any]) -> dict[str, Any]:
    """The sdtype of a column outside any key, from relsynth's kind.

    Measured kinds map one to one; free/personal ``text`` becomes ``unknown`` (SDV
    anonymizes it, SDMetrics skips it, as ``relsynth.evaluate`` skips text); other
    columns keep SDV's detection, an identifier-like one (``route_short_name``)
    as a category.
    """
    if kind in ("numerical", "categorical", "datetime", "boolean"):
        sdtype = kind
    elif kind == "text":
        sdtype = "unknown"
    else:
        sdtype = "categorical" if detected["sdtype"] == "id" else detected["sdtype"]
    if sdtype == detected["sdtype"]:
        return {k: v for k, v in detected.items() if not k.startswith("range_")} | {
            "sdtype": sdtype
        }
    return {"sdtype": sdtype}


def build_metadata(
    meta: dict[str, Any], data: dict[str, pd.DataFrame]
) -> tuple[Any, dict[str, pd.DataFrame], list[dict[str, str]], dict[tuple[str, str], Any]]:
    """SDV ``Metadata`` for ``data`` with relsynth's keys.

    Detection gives the column sdtypes, overridden by relsynth's kinds (see
    ``_natural_sdtype``); the keys and relationships are relsynth's: every primary
    key, then every foreign key, each tried on its own. What SDV rejects (an
    exception, or a ``validate()`` failure right after adding it) is taken out again
    and recorded as ``{"part", "error"}``. Returns the metadata, the data (empty
    tables left out), the refusals and each column's sdtype outside a key.
    """
    from sdv.metadata import Metadata

    refusals: list[dict[str, str]] = []
    data = dict(data)
    for table in meta["tables"]:
        name = table["name"]
        if len(data[name]) == 0:
            refusals.append(
                {
                    "part": f"table {name}",
                    "error": "empty table (0 rows): left out, HMA cannot fit it",
                }
            )
            del data[name]
        binary = [c["name"] for c in table["columns"] if c["kind"] == "binary"]
        if binary:
            refusals.append(
                {
                    "part": f"{name}({', '.join(binary)})",
                    "error": "binary (BLOB) columns: left out, SDV has no sdtype",
                }
            )

    metadata = Metadata.detect_from_dataframes(data, infer_keys=None)
    tables = {t["name"]: t for t in meta["tables"] if t["name"] in data}
    natural: dict[tuple[str, str], dict[str, Any]] = {}
    for name, table in tables.items():
        pk = tuple(table.get("primary_key") or ())
        fk_cols = {c for fk in meta["foreign_keys"] if fk["child"] == name for c in fk["columns"]}
        for col in table["columns"]:
            if col["kind"] == "binary":
                continue
            spec = natural[name, col["name"]] = _natural_sdtype(
                col["kind"], metadata.tables[name].columns[col["name"]]
            )
            if col["name"] in pk or col["name"] in fk_cols:
                metadata.update_column(col["name"], table_name=name, sdtype="id")
            else:
                metadata.update_column(col["name"], table_name=name, **spec)
        if not pk:
            continue
        try:
            metadata.set_primary_key(pk[0] if len(pk) == 1 else list(pk), table_name=name)
            metadata.validate()
        except Exception as exc:  # noqa: BLE001 - SDV raises several types; record any
            refusals.append(
                {"part": f"primary key {name}({', '.join(pk)})", "error": _message(exc)}
            )
            if metadata.tables[name].primary_key is not None:
                metadata.remove_primary_key(name)
    for fk in meta["foreign_keys"]:
        if fk["child"] not in data or fk["parent"] not in data:
            continue
        label = (
            f"{fk['child']}({', '.join(fk['columns'])}) -> "
            f"{fk['parent']}({', '.join(fk['parent_columns'])})"
        )
        before = list(metadata.relationships)
        cols, pcols = tuple(fk["columns"]), tuple(fk["parent_columns"])
        try:
            metadata.add_relationship(
                parent_table_name=fk["parent"],
                child_table_name=fk["child"],
                parent_primary_key=pcols[0] if len(pcols) == 1 else list(pcols),
                child_foreign_key=cols[0] if len(cols) == 1 else list(cols),
            )
            metadata.validate()
        except Exception as exc:  # noqa: BLE001
            refusals.append({"part": f"foreign key {label}", "error": _message(exc)})
            metadata.relationships[:] = before
    return metadata, data, refusals, natural


# -- modes ---------------------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _as_list(key: Any) -> list[str]:
    return list(key) if isinstance(key, (list, tuple)) else [key]


def _drop_composite_keys(metadata: Any, natural: dict[tuple[str, str], Any]) -> list[str]:
    """Remove composite primary keys and the relationships that use them; name them.

    Columns left in no key get their sdtype outside a key back (``weather.time_hour``
    becomes a datetime again).
    """
    removed, freed = [], set()
    for name, table in metadata.tables.items():
        pk = table.primary_key
        if isinstance(pk, (list, tuple)) and len(pk) > 1:
            removed.append(f"primary key {name}({', '.join(pk)})")
            freed.update((name, c) for c in pk)
            for rel in [r for r in metadata.relationships if r["parent_table_name"] == name]:
                cols = _as_list(rel["child_foreign_key"])
                removed.append(f"foreign key {rel['child_table_name']}({', '.join(cols)})")
                freed.update((rel["child_table_name"], c) for c in cols)
                metadata.relationships.remove(rel)
            metadata.remove_primary_key(name)
    for rel in [r for r in metadata.relationships if len(_as_list(r["child_foreign_key"])) > 1]:
        cols = _as_list(rel["child_foreign_key"])
        removed.append(f"foreign key {rel['child_table_name']}({', '.join(cols)})")
        freed.update((rel["child_table_name"], c) for c in cols)
        metadata.relationships.remove(rel)
    keyed = {(n, c) for n, t in metadata.tables.items() for c in _as_list(t.primary_key or [])}
    keyed |= {
        (r["child_table_name"], c)
        for r in metadata.relationships
        for c in _as_list(r["child_foreign_key"])
    }
    for name, column in sorted(freed - keyed):
        metadata.update_column(column, table_name=name, **natural[name, column])
    return removed


def make_synthesizer(
    metadata: Any, natural: dict[tuple[str, str], Any], refusals: list[dict[str, str]]
) -> Any:
    """``HMASynthesizer(metadata)``; if it refuses a schema with composite keys, retry without.

    SDV Community supports no composite key, and a composite foreign key can also
    push the schema past HMA's depth limit; the keys left out are recorded with
    SDV's message. Any other refusal (HMA's schema-size limit) is raised: it is the
    result.
    """
    from sdv.multi_table import HMASynthesizer

    try:
        return HMASynthesizer(metadata, verbose=False)
    except Exception as exc:  # noqa: BLE001 - SDV's refusal is the benchmark's result
        removed = _drop_composite_keys(metadata, natural)
        if not removed:
            raise
        synthesizer = HMASynthesizer(metadata, verbose=False)  # still refused: the result
        refusals.append({"part": "; ".join(removed), "error": _message(exc)})
        return synthesizer


def fit(args: argparse.Namespace) -> dict[str, Any]:
    """Fit HMA on the training folder, sample at scale 1, write the result folder."""
    meta = json.loads(Path(args.meta).read_text())
    result: dict[str, Any] = {"system": "sdv-hma", "refusals": [], "error": None}
    try:
        import sdv
        from sdv.metadata import Metadata

        result["sdv_version"] = sdv.__version__
        data = read_tables(Path(args.train), meta)
        metadata, data, result["refusals"], natural = build_metadata(meta, data)
        # SDMetrics scores every system with this metadata, even where HMA refuses the
        # schema; it cannot score composite keys either.
        scoring = Metadata.load_from_dict(metadata.to_dict())
        _drop_composite_keys(scoring, natural)
        Path(args.out, "sdv_metadata.json").write_text(json.dumps(scoring.to_dict()))
        if args.metadata_only:  # sdv_compare.py --skip-hma: metadata for scoring only
            result["error"] = "skipped (--skip-hma)"
            result["skipped"] = True
            return result
        synthesizer = make_synthesizer(metadata, natural, result["refusals"])
        metadata.validate_data(data)
        tick = time.perf_counter()
        synthesizer.fit(data)
        result["fit_s"] = time.perf_counter() - tick
        tick = time.perf_counter()
        synthetic = synthesizer.sample_scale(1.0)
        result["sample_s"] = time.perf_counter() - tick
        result["rows"] = {name: len(frame) for name, frame in synthetic.items()}
        write_folder(Path(args.out, "synthetic"), meta, synthetic)
    except Exception as exc:  # noqa: BLE001 - SDV's refusal is the benchmark's result
        result["error"] = _message(exc)
        result["traceback"] = traceback.format_exc(limit=8)
    result["peak_mb"] = _peak_mb()
    return result


def score(args: argparse.Namespace) -> dict[str, Any]:
    """SDMetrics' multi-table quality report of one synthetic folder."""
    from sdmetrics.reports import QualityReport

    meta = json.loads(Path(args.meta).read_text())
    sdv_meta = json.loads(Path(args.sdv_metadata).read_text())
    real = read_tables(Path(args.train), meta)
    synthetic = read_tables(Path(args.synthetic), meta)
    names = list(sdv_meta["tables"])
    real = {n: real[n] for n in names}
    synthetic = {n: synthetic[n] for n in names}
    report = QualityReport()
    tick = time.perf_counter()
    report.generate(real, synthetic, sdv_meta, verbose=False)
    properties = report.get_properties()
    import sdmetrics

    return {
        "sdmetrics_version": sdmetrics.__version__,
        "overall": float(report.get_score()),
        "properties": {
            row["Property"]: float(row["Score"]) for row in properties.to_dict("records")
        },
        "seconds": time.perf_counter() - tick,
        "intertable_trends": _intertable_details(report),
    }


def _intertable_details(report: Any) -> list[dict[str, Any]]:
    """SDMetrics' per-pair Intertable Trends (parent column, child column, score),
    worst first; pairs without a score (below SDMetrics' association threshold) last."""
    details = report.get_details("Intertable Trends")
    rows = []
    for rec in details.to_dict("records"):
        row = {str(k): v for k, v in rec.items()}
        for key, value in row.items():
            if isinstance(value, float) and value != value:
                row[key] = None
            elif not isinstance(value, (str, int, float, type(None))):
                row[key] = str(value)
        rows.append(row)
    rows.sort(key=lambda r: (r.get("Score") is None, r.get("Score") or 0.0))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: ``fit`` or ``score`` (see the module docstring); writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_fit = sub.add_parser("fit")
    p_fit.add_argument("--meta", required=True, help="relsynth metadata JSON")
    p_fit.add_argument("--train", required=True, help="training SQLite file")
    p_fit.add_argument("--out", required=True, help="output folder")
    p_fit.add_argument(
        "--metadata-only", action="store_true", help="write sdv_metadata.json, fit nothing"
    )
    p_score = sub.add_parser("score")
    p_score.add_argument("--meta", required=True)
    p_score.add_argument("--sdv-metadata", required=True)
    p_score.add_argument("--train", required=True)
    p_score.add_argument("--synthetic", required=True)
    p_score.add_argument("--json", required=True, help="where to write the scores")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.mode == "fit":
        Path(args.out).mkdir(parents=True, exist_ok=True)
        result = fit(args)
        Path(args.out, "result.json").write_text(json.dumps(result, default=str, indent=1))
    else:
        Path(args.json).write_text(json.dumps(score(args), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
