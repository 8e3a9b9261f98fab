"""FitInfo: what ``Synthesizer.fit`` did (seconds, rows, models, privacy, DP spent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FitInfo"]


@dataclass(frozen=True)
class FitInfo:
    """What ``fit`` did: seconds per stage and table, rows, model per table."""

    seconds: Mapping[str, float] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    dropped_rows: Mapping[str, int] = field(default_factory=dict)
    nulled_keys: Mapping[str, int] = field(default_factory=dict)
    #: rare categorical values withheld, per table and column (see min_category_count)
    withheld: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: each column's privacy treatment, per table (see relsynth.synthesis._privacy)
    privacy: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: differential privacy spent (epsilon, delta per table and in total); empty without DP
    dp: Mapping[str, Any] = field(default_factory=dict)
