"""Rendering of the ``relsynth reflect`` output (tables, keys, columns, plan) for the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from relsynth.metadata.schema import Metadata

__all__ = ["show_metadata"]


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
