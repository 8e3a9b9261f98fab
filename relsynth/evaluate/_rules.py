"""The Rules section of an evaluation: each cross-table rule's share, real against synthetic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from relsynth.metadata.schema import Metadata
from relsynth.rules import discover, measure

__all__ = ["rule_scores"]

#: A rule holding in at least this share of real rows must hold as often in synthetic ones.
EXACT = 0.99
#: A weaker rule is kept when its synthetic share is within this many points of the real one.
TOLERANCE = 0.05


def rule_scores(
    meta: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    *,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per rule found in ``real`` or declared in ``meta``, worst first.

    Shares are measured on every row (discovery looks at a sample only).
    """
    rules = list(discover(meta, real, EXACT, seed=seed))
    known = {str(r) for r in rules}
    rules += [r for r in meta.rules if r.enforce and str(r) not in known]
    rows = []
    for rule in rules:
        share_real, n_real = measure(meta, real, rule)
        share_synth, n_synth = measure(meta, synthetic, rule)
        diff = share_synth - share_real
        if share_real >= EXACT:
            kept = share_synth >= EXACT
        else:
            kept = abs(diff) <= TOLERANCE
        rows.append(
            {
                "table": rule.table,
                "kind": rule.kind,
                "rule": str(rule),
                "real": share_real,
                "synthetic": share_synth,
                "difference": diff,
                "kept": bool(kept and n_synth > 0),
                "rows_real": n_real,
                "rows_synthetic": n_synth,
            }
        )
    rows.sort(
        key=lambda r: (
            r["kept"],
            -abs(r["difference"]) if r["difference"] == r["difference"] else 0.0,
        )
    )
    return rows
