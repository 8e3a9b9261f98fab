"""The key skeleton: key columns only, per table (pure data).

Stage 2 of the pipeline (keys). A :class:`KeySkeleton` maps each table name to a
DataFrame holding only its key columns: primary key columns, foreign key columns,
and unique columns that foreign keys reference. Its invariant is that
``check(skeleton.metadata, skeleton.tables).ok`` is always true, where
``skeleton.metadata`` is :func:`key_metadata` of the source metadata (the same
tables reduced to their key columns: a skeleton has no value columns, so the full
metadata would report them missing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType

import pandas as pd

from relsynth.metadata.schema import Metadata, Table

__all__ = ["KeySkeleton", "key_columns", "key_metadata"]


def key_columns(meta: Metadata, table: str) -> tuple[str, ...]:
    """Key columns of ``table``: primary key, foreign keys, referenced unique columns."""
    cols = list(meta.key_columns(table))
    for fk in meta.children(table):
        cols.extend(c for c in fk.parent_columns if c not in cols)
    order = meta.table(table).column_names
    return tuple(c for c in order if c in cols)


def key_metadata(meta: Metadata) -> Metadata:
    """``meta`` with every table reduced to its key columns (and the constraints over them)."""
    tables: dict[str, Table] = {}
    for name, table in meta.tables.items():
        keep = set(key_columns(meta, name))
        tables[name] = replace(
            table,
            columns=tuple(c for c in table.columns if c.name in keep),
            unique=tuple(u for u in table.unique if set(u) <= keep),
            checks=(),
            sequence_index=table.sequence_index if table.sequence_index in keep else None,
        )
    return replace(meta, tables=tables)


class KeySkeleton(Mapping[str, pd.DataFrame]):
    """A frozen mapping from table name to a DataFrame of its key columns.

    Parameters
    ----------
    metadata : Metadata
        The source metadata (full); ``self.metadata`` is its key-only projection.
    tables : Mapping of str to DataFrame
        One frame per table, holding the key columns.
    """

    __slots__ = ("_metadata", "_tables")

    def __init__(self, metadata: Metadata, tables: Mapping[str, pd.DataFrame]) -> None:
        self._metadata = key_metadata(metadata)
        frames = {}
        for name in metadata.tables:
            cols = list(key_columns(metadata, name))
            frames[name] = tables[name][cols].reset_index(drop=True)
        self._tables = MappingProxyType(frames)

    @property
    def metadata(self) -> Metadata:
        """The key-only metadata the skeleton is checked against."""
        return self._metadata

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        """Read-only mapping of table name to key frame."""
        return self._tables

    @property
    def sizes(self) -> dict[str, int]:
        """Number of rows per table."""
        return {name: len(frame) for name, frame in self._tables.items()}

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v:,}" for k, v in self.sizes.items())
        return f"KeySkeleton({sizes})"

    def equals(self, other: KeySkeleton) -> bool:
        """Whether both skeletons hold the same tables with equal frames."""
        if set(self) != set(other):
            return False
        return all(self[name].equals(other[name]) for name in self)
