"""Stage 1: what the database looks like (tables, columns, keys) and the generation plan.

The data model (:mod:`.schema`), its JSON/YAML form (:mod:`.serialize`) and the
foreign-key graph (:mod:`.graph`) are pure. :func:`reflect` (SQLAlchemy) and
:func:`infer` (pandas) are imported on first use, so importing this package does
not import a database driver.
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
    "reflect",
]


def __getattr__(name: str) -> Any:
    if name == "reflect":
        from relsynth.metadata.reflect import reflect

        return reflect
    if name == "infer":
        from relsynth.metadata.infer import infer

        return infer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
