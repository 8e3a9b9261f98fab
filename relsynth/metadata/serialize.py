"""The persistent form of :class:`~relsynth.metadata.schema.Metadata` as functions.

The same as ``Metadata.to_dict`` / ``from_dict`` / ``save`` / ``load``; the file
format itself (dict form, JSON schema, JSON/YAML text) is
:mod:`relsynth.metadata._format`, which both use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from relsynth.metadata._format import FORMAT_VERSION
from relsynth.metadata.schema import Metadata

__all__ = [
    "FORMAT_VERSION",
    "load_metadata",
    "metadata_from_dict",
    "metadata_to_dict",
    "save_metadata",
]


def metadata_to_dict(meta: Metadata) -> dict[str, Any]:
    """Return the JSON-able dict form of ``meta`` (defaults omitted for readability)."""
    return meta.to_dict()


def metadata_from_dict(data: Mapping[str, Any]) -> Metadata:
    """Build and validate :class:`Metadata` from its dict form (``MetadataError`` listing
    every problem)."""
    return Metadata.from_dict(data)


def save_metadata(meta: Metadata, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write ``meta`` to ``path`` as JSON, or YAML when the suffix is ``.yaml``/``.yml``."""
    meta.save(path, overwrite=overwrite)


def load_metadata(path: str | os.PathLike[str]) -> Metadata:
    """Read metadata from a JSON or YAML file; raise ``MetadataError`` on any problem."""
    return Metadata.load(path)
