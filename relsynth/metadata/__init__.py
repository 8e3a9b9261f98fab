"""Stage 1: what the database looks like (tables, columns, keys) and the generation plan.

The data model (:mod:`.schema`), its JSON/YAML form (:mod:`.serialize`), the
foreign-key graph (:mod:`.graph`) and the portable SQL type vocabulary
(:mod:`.types`) are pure. :func:`infer` (pandas) is imported on first use.
Reflecting a live database is the database layer's job
(:func:`relsynth.io.reflect.reflect`, also ``relsynth.reflect``).
"""

from __future__ import annotations

from typing import Any

from relsynth.metadata.graph import Plan, fk_graph, plan
from relsynth.metadata.schema import (
    COLUMN_KINDS,
    PII_TYPES,
    CheckConstraint,
    Column,
    ForeignKey,
    Metadata,
    Table,
)

__all__ = [
    "COLUMN_KINDS",
    "PII_TYPES",
    "CheckConstraint",
    "Column",
    "ForeignKey",
    "Metadata",
    "Plan",
    "Table",
    "fk_graph",
    "infer",
    "plan",
]


def __getattr__(name: str) -> Any:
    if name == "infer":
        from relsynth.metadata.infer import infer

        return infer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
