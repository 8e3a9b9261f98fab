"""The ``relsynth`` command line: a thin layer over the public API.

::

    relsynth reflect URL [-o metadata.json]      show (and save) the schema, keys and plan
    relsynth check URL [--metadata FILE]         integrity report; exit 0 clean, 1 violations
    relsynth fit SRC_URL -o MODEL                learn a database, save a model file
    relsynth sample MODEL DST_URL [--scale X]    write a synthetic database from a model file
    relsynth clone SRC_URL DST_URL [--scale X]   reflect, read, fit, sample, check, write

Results go to stdout; logs and progress to stderr. Any error prints one line
(``error: ...``, worded with the CLI's flags) and exits 1; an exception relsynth
did not raise on purpose says so and points to ``--debug``, which adds the
traceback. Usage errors exit 2. Errors that the arguments decide (an output file
that exists or cannot be written, a model path that is a folder, ``--device cuda``
without CUDA, an unreachable or existing target) are raised before any fit. Every
byte printed is redacted: no password given on the command line is ever shown.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from relsynth._cli_dp import dp_notes, dp_params, with_model_info
from relsynth._cli_parser import Handler, build_parser
from relsynth._cli_parser import schema as _schema
from relsynth._cli_render import Steps, copied_tables
from relsynth.errors import ParameterError, RelsynthError
from relsynth.io.urls import redact

if TYPE_CHECKING:
    from rich.console import Console

    from relsynth.check import IntegrityReport
    from relsynth.io.sql import WriteReport
    from relsynth.metadata.schema import Metadata
    from relsynth.rules.lookup import LookupTable
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["main"]

logger = logging.getLogger("relsynth.cli")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 error or violations, 2 usage).

    Everything written to stdout and stderr meanwhile is redacted: no password of a
    URL given on the command line is shown, whatever prints it.
    """
    from relsynth._cli_safety import argv_secrets, redacted_output

    args_list = list(sys.argv[1:] if argv is None else argv)
    with redacted_output(argv_secrets(args_list)):
        return _run(args_list)


def _run(argv: list[str]) -> int:
    from relsynth._cli_safety import one_line, unexpected

    parser = _parser()
    args = parser.parse_args(argv)
    log_handler = _configure_logging(args.verbose, args.debug)
    from rich.console import Console

    out = Console(soft_wrap=True, highlight=False)
    handler: Handler = args.handler
    try:
        return handler(args, out)
    except RelsynthError as exc:
        if args.debug:
            _traceback()
        sys.stderr.write(f"error: {one_line(exc)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one line
        if args.debug:
            _traceback()
        sys.stderr.write(f"error: {unexpected(exc)}\n")
        return 1
    finally:
        # the handler writes to this run's (redacting) stderr: it goes with the run, so
        # a later caller in the same process (tests, notebooks) never logs into it
        logging.getLogger("relsynth").removeHandler(log_handler)


def _traceback() -> None:
    """With --debug: the traceback, through the redacting stderr."""
    import traceback

    sys.stderr.write(traceback.format_exc())


# -- parser -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    """The parser (relsynth._cli_parser), each command bound to its handler here."""
    return build_parser(
        {
            "reflect": _cmd_reflect,
            "check": _cmd_check,
            "fit": _cmd_fit,
            "sample": _cmd_sample,
            "clone": _cmd_clone,
            "evaluate": _cmd_evaluate,
        }
    )


def _configure_logging(verbose: int, debug: bool) -> logging.Handler:
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("relsynth")
    root.handlers = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(level)
    return handler


# -- commands -----------------------------------------------------------------------


def _cmd_reflect(args: argparse.Namespace, out: Console) -> int:
    from relsynth._cli_safety import check_output_file
    from relsynth.io.reflect import reflect

    check_output_file(args.output, "-o", overwrite=args.overwrite, example="metadata.json")
    meta = reflect(
        args.url,
        schema=_schema(args),
        include=args.include,
        exclude=args.exclude,
        sample_rows=args.sample_rows,
    )
    lookups: tuple[LookupTable, ...] = ()
    if args.rules:
        meta, lookups = _discover_rules(args.url, meta)
    from relsynth._cli_render import show_metadata

    show_metadata(meta, out, title=redact(args.url))
    if lookups:
        note = "lookup/reference tables (copied verbatim; 'reference: false' to model them):"
        out.print(note, markup=False)
        for found in lookups:
            out.print(f"  {found}", markup=False)
    if args.output is not None:
        meta.save(args.output, overwrite=args.overwrite)
        out.print(f"metadata saved to {args.output}")
    return 0


def _discover_rules(url: str, meta: Metadata) -> tuple[Metadata, tuple[LookupTable, ...]]:
    """``meta`` with the rules that hold in the database's tables (its own rules first),
    and the lookup and reference tables a fit would copy, with the reason."""
    from relsynth.io.sql import read_tables
    from relsynth.rules import discover
    from relsynth.rules.lookup import find_lookups

    tables = read_tables(url, meta)
    found = discover(meta, tables)
    known = {str(r) for r in meta.rules}
    lookups = tuple(
        t for t in find_lookups(meta, tables) if meta.table(t.name).reference is not False
    )
    return meta.with_rules(*meta.rules, *(r for r in found if str(r) not in known)), lookups


def _cmd_check(args: argparse.Namespace, out: Console) -> int:
    from relsynth.io.sql import check_database
    from relsynth.metadata.schema import Metadata

    schema = _schema(args)
    meta = _with_schema(Metadata.load(args.metadata), schema) if args.metadata else None
    if meta is not None and schema is None and args.url.startswith("sqlite"):
        meta = _as_written(args.url, meta)  # a file's schema (e.g. 'sales') is flattened there
    if meta is None and schema is not None:
        from relsynth.io.reflect import reflect

        meta = reflect(args.url, schema=schema, sample_rows=0)
    report = check_database(args.url, meta)
    if args.json:
        import json

        out.print_json(json.dumps(report.to_dict()))
    else:
        status = "[green]OK[/green]" if report.ok else "[red]VIOLATIONS[/red]"
        out.print(f"{status} {redact(args.url)}")
        out.print(str(report), markup=False)
    return 0 if report.ok else 1


def _source_metadata(args: argparse.Namespace, url: str) -> Metadata:
    from relsynth.io.reflect import reflect
    from relsynth.metadata.schema import Metadata

    schema = _schema(args)
    if args.metadata is not None:
        meta = _with_schema(Metadata.load(args.metadata), schema)
    else:
        meta = reflect(url, schema=schema)
    if args.exclude:
        meta = meta.without_tables(*args.exclude)
    if not meta.tables:  # an empty copy of nothing would "succeed" silently
        where = f" in schema {meta.schema!r}" if meta.schema else ""
        where += " left after --exclude" if args.exclude else ""
        raise ParameterError(
            f"The source {redact(url)} has no tables{where}; there is nothing to learn. "
            "Check the database name in the URL, or pass --schema."
        )
    return meta


def _with_schema(meta: Metadata, schema: str | list[str] | None) -> Metadata:
    """``meta`` read from ``--schema`` when given (one overrides the file's schema;
    several must be the schemas the file's tables already name)."""
    import dataclasses

    if schema is None:
        return meta
    if isinstance(schema, str):
        if meta.schema is None and meta.schemas:
            raise ParameterError(
                f"The metadata file spans schemas {', '.join(meta.schemas)}; --schema {schema} "
                "cannot move them all into one. Leave --schema out."
            )
        return dataclasses.replace(meta, schema=schema)
    if set(schema) != set(meta.schemas) or meta.schema is not None:
        raise ParameterError(
            f"--schema {' --schema '.join(schema)} does not match the schemas of the metadata "
            f"file ({', '.join(meta.schemas) or 'the default one'}); leave --schema out to "
            "use the file's schemas."
        )
    return meta


def _as_written(url: str, meta: Metadata) -> Metadata:
    """``meta`` in the schema a write to ``url`` puts it (kept on PostgreSQL, flattened
    elsewhere: see relsynth.io.sql.target_schema)."""

    from relsynth.io._connect import parse_url
    from relsynth.io.sql import as_written

    return as_written(meta, parse_url(url).get_backend_name())


def _fit(
    args: argparse.Namespace,
    url: str,
    steps: Steps,
    meta: Metadata | None = None,
    target: str | None = None,
) -> Synthesizer:
    """Read ``url`` and fit; with a ``target``, first check that the target's column
    types hold values like the source's (the data's errors come before the fit)."""
    from relsynth.io.sql import check_values, read_tables
    from relsynth.synthesis.synthesizer import Synthesizer

    if meta is None:
        with steps.step("reflect"):
            meta = _source_metadata(args, url)
    with steps.step("read"):
        tables = read_tables(url, meta)
        if target is not None:
            check_values(target, meta, tables)
    steps.rows["source"] = sum(len(t) for t in tables.values())
    synth = Synthesizer(
        meta,
        seed=args.seed,
        device=args.device,
        steps=args.steps,
        time_budget=args.time_budget,
        max_seconds=args.max_seconds,
        epochs=args.epochs,
        n_threads=args.threads,
        min_category_count=args.min_category_count,
        n_jobs=_jobs(args),
        executor=args.executor,
        ray_address=args.ray_address,
        **dp_params(args),
    )
    with steps.step("fit", total=len(meta.tables) + 1) as tick, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # said once, in the CLI's words
        synth.fit(
            tables,
            on_violations="drop" if args.drop_violations else "raise",
            progress=tick,
        )
    info = synth.fit_info_
    changes = [f"{t}: {n:,} row(s) dropped" for t, n in info.dropped_rows.items()]
    changes += [f"{t}: {n:,} orphan key(s) set to NULL" for t, n in info.nulled_keys.items()]
    if changes:
        steps.notes.append("repaired source rows that broke their keys: " + "; ".join(changes))
    withheld = [f"{t}.{c} {n:,}" for t, cols in info.withheld.items() for c, n in cols.items()]
    if withheld:
        steps.notes.append(
            f"rare values withheld (held by < {args.min_category_count} source rows, replaced): "
            + "; ".join(withheld)
        )
    steps.notes += dp_notes(info.dp)  # epsilon and delta spent
    return synth


def _jobs(args: argparse.Namespace) -> int:
    """``--jobs`` (default: the usable cores); deprecated flags named once on stderr."""
    from relsynth.synthesis._parallel import usable_cores

    for flag, value, instead in (
        ("--max-seconds", getattr(args, "max_seconds", None), "--steps N or --budget TIME"),
        ("--epochs", getattr(args, "epochs", None), "--steps N"),
    ):
        if value is not None:
            sys.stderr.write(f"warning: {flag} is deprecated; use {instead}\n")
    if args.jobs is not None and args.jobs < 1:
        raise _usage(f"--jobs must be 1 or more, got {args.jobs}")
    return args.jobs if args.jobs is not None else usable_cores()


def _usage(message: str) -> RelsynthError:
    from relsynth.errors import ParameterError

    return ParameterError(message)


def _sample_write(
    synth: Synthesizer, args: argparse.Namespace, target: str, steps: Steps, source: str | None
) -> int:
    from relsynth.io.sql import write_tables

    if _chunked(synth, args):
        return _sample_write_chunks(synth, args, target, steps, source)
    with steps.step("sample", total=len(synth.plan_.order)) as tick:
        fake = steps.sample(synth, args, tick)

    with steps.step("write"):
        written = write_tables(
            target, synth.metadata, fake, if_exists=args.if_exists, source=source
        )
    report = _integrity(written, target, synth, steps)
    steps.show(fake, report, target)
    return 0 if report.ok else 1


def _integrity(
    written: WriteReport, target: str, synth: Synthesizer, steps: Steps
) -> IntegrityReport:
    """The written tables' integrity: the check the write ran inside its transaction
    (SQLite, MariaDB) or what PostgreSQL's validated constraints prove, else a check
    of the target (a second scan of every table, seconds per million rows, saved where
    the write already made it)."""
    from relsynth.io.sql import as_written, check_database

    if written.integrity is not None:
        return written.integrity
    with steps.step("check"):  # where the tables went (the schema is kept on PostgreSQL only)
        return check_database(target, as_written(synth.metadata, written.dialect))


def _chunked(synth: Synthesizer, args: argparse.Namespace) -> bool:
    """Sample in chunks: asked for (--chunk-rows), or a sample bigger than one chunk."""
    from relsynth.synthesis._chunks import n_chunks

    if getattr(args, "where", None) or getattr(args, "parents", None):
        return False  # conditional and seeded samples are made whole
    return args.chunk_rows is not None or n_chunks(synth, args.scale, None, None) > 1


def _sample_write_chunks(
    synth: Synthesizer, args: argparse.Namespace, target: str, steps: Steps, source: str | None
) -> int:
    """Sample and write chunk by chunk, in one transaction; progress in rows/s."""
    from relsynth.io.sql import write_table_chunks
    from relsynth.synthesis._chunks import n_chunks

    total = n_chunks(synth, args.scale, None, args.chunk_rows)
    if args.executor == "ray" and args.ray_address:
        synth.ray_address = args.ray_address
    with steps.step("sample+write", total=total) as tick:
        chunks = synth.sample_chunks(
            args.scale, seed=args.seed, chunk_rows=args.chunk_rows, n_jobs=_jobs(args),
            executor=args.executor,
        )  # fmt: skip
        written = write_table_chunks(
            target, synth.metadata, chunks, if_exists=args.if_exists, source=source,
            on_chunk=steps.rate(tick, total),
        )  # fmt: skip
    steps.rows["written"] = written.n_rows
    report = _integrity(written, target, synth, steps)
    steps.notes.append(
        f"{total} chunk(s), {written.n_rows:,} rows, "
        f"{written.n_rows / max(steps.seconds['sample+write'], 1e-9):,.0f} rows/s"
    )
    steps.show(written.rows, report, target)
    return 0 if report.ok else 1


def _cmd_fit(args: argparse.Namespace, out: Console) -> int:
    from relsynth._cli_safety import check_device, check_output_file

    check_output_file(args.output, "-o", overwrite=args.overwrite)
    check_device(args.device)
    steps = Steps(out)
    synth = _fit(args, args.url, steps)
    with steps.step("save"):
        synth.save(args.output, overwrite=args.overwrite)
    steps.show_fit(synth)
    out.print(f"model saved to {args.output}")
    return 0


def _cmd_sample(args: argparse.Namespace, out: Console) -> int:
    from relsynth._cli_safety import check_model_file
    from relsynth.io.sql import check_target
    from relsynth.synthesis.synthesizer import Synthesizer

    check_model_file(args.model)
    steps = Steps(out)
    with steps.step("load"):
        synth = Synthesizer.load(args.model)
    check_target(args.url, synth.metadata, if_exists=args.if_exists)
    if args.threads is not None:
        synth.n_threads = args.threads
    return _sample_write(synth, args, args.url, steps, source=None)


def _cmd_clone(args: argparse.Namespace, out: Console) -> int:
    from relsynth._cli_safety import check_device, check_output_file
    from relsynth.io.sql import check_target

    check_output_file(args.save, "--save", overwrite=args.overwrite)
    check_device(args.device)
    steps = Steps(out)
    with steps.step("reflect"):
        meta = _source_metadata(args, args.source)
    check_target(args.target, meta, if_exists=args.if_exists, source=args.source)
    synth = _fit(args, args.source, steps, meta, target=args.target)
    rules = getattr(synth, "rules_", ())
    if rules:
        steps.notes.append(f"{len(rules)} cross-table rule(s) kept: " + "; ".join(map(str, rules)))
    copied = copied_tables(synth)
    if copied:
        steps.notes.append("copied verbatim (lookup/reference tables): " + "; ".join(copied))
    if args.save is not None:
        with steps.step("save"):
            synth.save(args.save, overwrite=args.overwrite)
    return _sample_write(synth, args, args.target, steps, source=args.source)


def _cmd_evaluate(args: argparse.Namespace, out: Console) -> int:
    from relsynth._cli_safety import check_output_file
    from relsynth.evaluate import evaluate
    from relsynth.io.reflect import reflect
    from relsynth.io.sql import read_tables
    from relsynth.metadata.schema import Metadata

    check_output_file(args.html, "--html", overwrite=True, example="report.html")
    schema = _schema(args)
    steps = Steps(out)
    with steps.step("read"):
        if args.metadata:
            meta = _with_schema(Metadata.load(args.metadata), schema)
        else:
            meta = reflect(args.real, schema=schema)
        real = read_tables(args.real, meta)
        synthetic = read_tables(args.synthetic, _as_written(args.synthetic, meta))
        holdout = (
            read_tables(args.holdout, _as_written(args.holdout, meta)) if args.holdout else None
        )
    with steps.step("evaluate"):
        report = evaluate(
            meta, real, synthetic, holdout=holdout, seed=args.seed, max_rows=args.max_rows
        )
    if args.model is not None:  # column treatments, DP spent
        report = with_model_info(report, args.model)
    if args.html is not None:
        with steps.step("html"):
            report.to_html(args.html)
    if args.json:
        out.print_json(report.to_json())
    else:
        out.print(str(report), markup=False, highlight=False)
        if args.html is not None:
            out.print(f"HTML report written to {args.html}")
    return 0
