"""Stages 1 and 6: the database layer, the one boundary with databases and CSV folders.

:func:`reflect` (a live database -> :class:`~relsynth.metadata.schema.Metadata`)
lives in :mod:`relsynth.io.reflect`; :func:`read_tables`, :func:`write_tables` and
:func:`check_database` in :mod:`relsynth.io.sql`; CSV folders in
:mod:`relsynth.io.files`; the mapping of the portable SQL types
(:mod:`relsynth.metadata.types`) to and from SQLAlchemy types in
:mod:`relsynth.io.types`; connecting, URL redaction and error translation in
:mod:`relsynth.io._connect` and :mod:`relsynth.io.urls`. This package is the only
part of relsynth that imports SQLAlchemy; its submodules are imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "WriteReport",
    "check_database",
    "read_csv_folder",
    "read_tables",
    "reflect",
    "write_csv_folder",
    "write_table_chunks",
    "write_tables",
]

_LAZY = {
    "WriteReport": "relsynth.io.sql",
    "check_database": "relsynth.io.sql",
    "read_tables": "relsynth.io.sql",
    "reflect": "relsynth.io.reflect",
    "write_tables": "relsynth.io.sql",
    "write_table_chunks": "relsynth.io.sql",
    "read_csv_folder": "relsynth.io.files",
    "write_csv_folder": "relsynth.io.files",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
