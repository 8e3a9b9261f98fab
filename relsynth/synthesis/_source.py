"""The source tables as ``fit`` takes them: checked once, repaired on request, and
the digests of the databases they came from."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

import pandas as pd

from relsynth.check import check
from relsynth.errors import DataError
from relsynth.metadata.schema import Metadata
from relsynth.synthesis._repair import Repair, drop_violations

__all__ = ["clean_source", "source_digests"]

logger = logging.getLogger(__name__)


def clean_source(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], on_violations: str
) -> tuple[dict[str, pd.DataFrame], Repair]:
    """The metadata's tables (fresh index), checked; rows breaking their keys are an
    error (``"raise"``) or dropped/nulled (``"drop"``, counted in the Repair)."""
    missing = [n for n in meta.tables if n not in tables]
    if missing:
        raise DataError(
            f"Tables missing from the data: {', '.join(missing)}. Read them with "
            "relsynth.read_tables(url, metadata), or remove them from the metadata "
            "with metadata.without_tables(...)."
        )
    source = {n: tables[n].reset_index(drop=True) for n in meta.tables}
    report = check(meta, source)
    if report.ok:
        return source, Repair()
    if on_violations == "raise":
        raise DataError(
            "The source tables violate their keys; fix the source, declare the right keys "
            "in the metadata, or fit with on_violations='drop':\n" + str(report),
            report=report,
        )
    source, repair = drop_violations(meta, source)
    logger.warning("repaired source rows that broke their keys: %s", repair)
    return source, repair


def source_digests(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """SHA-256 digests of the identities of the databases ``tables`` were read from
    (``attrs["relsynth_source"]``, set by :func:`relsynth.io.sql.read_tables`).

    Saved with the model, and set on every sampled frame, so that writing a sample
    into its own source is refused however the target is named (the identity itself,
    a server's host or a file's inode, is not kept).
    """
    found = {
        str(frame.attrs["relsynth_source"])
        for frame in tables.values()
        if getattr(frame, "attrs", None) and frame.attrs.get("relsynth_source")
    }
    return sorted(hashlib.sha256(identity.encode()).hexdigest() for identity in found)
