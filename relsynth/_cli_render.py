"""What the CLI shows: progress per stage and summaries (``Steps``), and the ``reflect``
output (tables, keys, columns, plan); the ``sample`` options for conditional and seeded
sampling (``--where``, ``--parents``) and their report."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from relsynth.io.urls import redact

if TYPE_CHECKING:
    from rich.console import Console

    from relsynth.check import IntegrityReport
    from relsynth.metadata.schema import Metadata
    from relsynth.rules import Rule
    from relsynth.synthesis.synthesizer import Synthesizer

logger = logging.getLogger("relsynth.cli")

__all__ = ["Steps", "copied_tables", "show_metadata", "show_rules"]


def show_metadata(meta: Metadata, out: Console, *, title: str) -> None:
    """Print tables, keys, the FK graph and the plan of ``meta``."""
    from rich.table import Table as RichTable
    from rich.tree import Tree

    from relsynth.metadata.graph import plan

    the_plan = plan(meta)
    summary = RichTable(title=f"{title}: {len(meta.tables)} tables, {len(meta.foreign_keys)} FKs")
    for heading in ("table", "columns", "primary key", "unique", "parents (driver first)"):
        summary.add_column(heading)
    for name in the_plan.order:
        table = meta.table(name)
        driver = the_plan.driver.get(name)
        parents = ([f"*{driver.label}"] if driver else []) + [
            fk.label for fk in meta.parents(name) if fk is not driver
        ]
        summary.add_row(
            name,
            str(len(table.columns)),
            ", ".join(table.primary_key) or "-",
            "; ".join(", ".join(u) for u in table.unique) or "-",
            "\n".join(parents) or "(root)",
        )
    out.print(summary)

    kinds = RichTable(title="columns")
    for heading in ("table", "column", "kind", "sql type", "null", "notes"):
        kinds.add_column(heading)
    for name in the_plan.order:
        table = meta.table(name)
        for col in table.columns:
            notes = []
            if col.name in table.primary_key:
                notes.append("pk")
            if col.autoincrement:
                notes.append("auto")
            if col.pii:
                notes.append(f"pii:{col.pii}")
            if col.format:
                notes.append(f"format:{col.format}")
            if col.enum_values:
                notes.append("enum(" + ", ".join(col.enum_values[:5]) + ")")
            kinds.add_row(
                name,
                col.name,
                col.kind,
                col.sql_type or "-",
                "yes" if col.nullable else "no",
                " ".join(notes),
            )
    out.print(kinds)

    show_rules(meta.rules, out, title="rules")

    tree = Tree("generation plan (parents before children)")
    for name in the_plan.order:
        driver = the_plan.driver.get(name)
        label = f"{name}" + (
            f"  [dim]per {driver.parent} row[/dim]" if driver else "  [dim]root[/dim]"
        )
        tree.add(label)
    out.print(tree)
    if the_plan.self_references:
        out.print("self-references: " + "; ".join(fk.label for fk in the_plan.self_references))
    if the_plan.deferred:
        out.print(
            "deferred (cycle breakers): "
            + "; ".join(
                fk.label + ("" if fk.nullable else " [NOT NULL]") for fk in the_plan.deferred
            )
        )


class Steps:
    """Progress on stderr for each stage, and the final summary on stdout."""

    def __init__(self, out: Console) -> None:
        from rich.console import Console

        self.out = out
        self.err = Console(stderr=True)
        self.seconds: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        self.notes: list[str] = []

    def step(self, name: str, total: int | None = None) -> Any:
        import contextlib
        import time

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        @contextlib.contextmanager
        def run() -> Any:
            progress = Progress(
                TextColumn(f"[bold]{name:<8}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} {task.description}"),
                TimeElapsedColumn(),
                console=self.err,
                transient=True,
                disable=not self.err.is_terminal,
            )
            started = time.perf_counter()
            running: list[str] = []
            trained: dict[str, str] = {}  # table -> "step/steps steps"
            quarter: dict[str, int] = {}  # the quarters of its steps a table's log told
            plain = not self.err.is_terminal  # a CI log or a file: one line per event
            with progress:
                task = progress.add_task("", total=total or 1)

                def say(table: str, text: str) -> None:
                    clock = time.perf_counter() - started
                    self.err.print(
                        f"{name}: {table} {text}, {clock:.0f}s)", markup=False, highlight=False
                    )

                def tick(stage: str, table: str, done: int, n: int) -> None:
                    if stage == "fit-step":  # done/n: the table's training steps
                        trained[table] = f"{done}/{n} steps"
                        if plain and done < n and 4 * done // n > quarter.get(table, 0):
                            quarter[table] = 4 * done // n
                            say(table, f"training ({done}/{n} steps")
                        label = ", ".join(f"{t} {trained.get(t, '')}".strip() for t in running)
                        progress.update(task, description=label)
                        return
                    if stage == "fit-start":
                        running.append(table)
                    elif stage == "fit" and table in running:
                        running.remove(table)
                        trained.pop(table, None)
                    if plain and stage == "rows":
                        self.err.print(f"{name}: {table}", markup=False, highlight=False)
                    if plain and stage in ("fit-start", "fit"):
                        verb = "started" if stage == "fit-start" else "done"
                        say(table, f"{verb} ({done}/{n} done")
                    label = (
                        ", ".join(f"{t} {trained.get(t, '')}".strip() for t in running)
                        if running
                        else f"{stage} {table}"
                    )
                    label = table if stage == "rows" else label
                    progress.update(task, completed=done, total=n, description=label)

                yield tick
                progress.update(task, completed=total or 1)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            logger.info("%s done in %.1fs", name, self.seconds[name])
            self.err.print(f"[green]✓[/green] {name} ({self.seconds[name]:.1f}s)")

        return run()

    @staticmethod
    def rate(tick: Any, total: int) -> Any:
        """An ``on_chunk(chunk, rows)`` callback showing rows written and rows/s."""
        import time

        started = time.perf_counter()

        def on_chunk(chunk: int, rows: int) -> None:
            per_second = rows / max(time.perf_counter() - started, 1e-9)
            label = f"chunk {chunk + 1}/{total}: {rows:,} rows, {per_second:,.0f} rows/s"
            tick("rows", label, chunk + 1, total)

        return on_chunk

    def show_fit(self, synth: Synthesizer) -> None:
        from rich.table import Table as RichTable

        table = RichTable(title="fitted")
        for heading in ("table", "rows", "model", "seconds"):
            table.add_column(heading, justify="right" if heading in ("rows", "seconds") else "left")
        info = synth.fit_info_
        for name in synth.plan_.order:
            table.add_row(
                name,
                f"{info.rows.get(name, 0):,}",
                info.models.get(name, "-"),
                f"{info.seconds.get('fit:' + name, 0.0):.1f}",
            )
        self.out.print(table)
        for line in copied_tables(synth):
            self.out.print(f"copied verbatim: {line}", markup=False)
        show_rules(getattr(synth, "rules_", ()), self.out, title="rules kept")
        self._show_privacy(info.privacy)
        self._show_stages()

    def _show_privacy(self, privacy: Mapping[str, Mapping[str, str]]) -> None:
        from rich.table import Table as RichTable

        if not privacy:
            return
        table = RichTable(title="privacy: what each column gets")
        for heading in ("table", "treatment", "columns"):
            table.add_column(heading)
        for name, columns in privacy.items():
            by_treatment: dict[str, list[str]] = {}
            for col, treatment in columns.items():
                by_treatment.setdefault(treatment, []).append(col)
            for treatment, cols in by_treatment.items():
                table.add_row(name, treatment, ", ".join(cols))
        self.out.print(table)

    def sample(self, synth: Synthesizer, args: Any, tick: Any) -> dict[str, Any]:
        """``synth.sample`` with the command's options; the conditions' yield as notes."""
        from relsynth.io._given import read_given

        where, given = getattr(args, "where", None), getattr(args, "parents", None)
        fake = synth.sample(
            scale=args.scale,
            seed=args.seed,
            progress=tick,
            where=where,
            parents=read_given(given) if given else None,
        )
        if where or given:
            self.notes += str(synth.sample_report_).splitlines()
        return fake

    def show(self, fake: Mapping[str, Any], report: IntegrityReport, target: str) -> None:
        from rich.table import Table as RichTable

        table = RichTable(title=f"synthetic database: {redact(target)}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, frame in fake.items():  # frames, or row counts (a chunked write)
            table.add_row(name, f"{frame if isinstance(frame, int) else len(frame):,}")
        self.out.print(table)
        self._show_stages()
        status = "[green]integrity OK[/green]" if report.ok else "[red]VIOLATIONS[/red]"
        self.out.print(f"{status}: {report}", markup=True)

    def _show_stages(self) -> None:
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        self.out.print(f"stages: {stages}; total {sum(self.seconds.values()):.1f}s")
        for note in self.notes:
            self.out.print(f"note: {note}")


def copied_tables(synth: Synthesizer) -> list[str]:
    """The tables a fit copies verbatim, each with why: the lookup or reference rule it
    met (:mod:`relsynth.rules.lookup`), or the metadata's ``reference: true``."""
    reasons = getattr(synth, "lookup_reasons_", None) or {}
    out = []
    for name, model in synth.fit_info_.models.items():
        if model != "copy":
            continue
        if (synth.table_models or {}).get(name) == "copy":
            why = "table_models copy"
        elif synth.metadata.table(name).reference:
            why = "marked reference"
        else:
            why = reasons.get(name, "lookup/reference table")
        out.append(f"{name} ({why})")
    return out


def show_rules(rules: Sequence[Rule], out: Console, *, title: str) -> None:
    """Print cross-table rules with the share of source rows where each holds."""
    from rich.table import Table as RichTable

    if not rules:
        return
    table = RichTable(title=f"{title} ({len(rules)})")
    for heading in ("kind", "rule", "share"):
        table.add_column(heading, justify="right" if heading == "share" else "left")
    for rule in rules:
        share = "declared" if rule.share is None else f"{rule.share:.2%}"
        table.add_row(rule.kind, str(rule), share + ("" if rule.enforce else " (dropped)"))
    out.print(table)
