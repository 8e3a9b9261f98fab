"""The arguments of ``Synthesizer.sample`` checked once, before anything is sampled."""

from __future__ import annotations

from collections.abc import Mapping

from relsynth._validation import Interval, validate_params
from relsynth.errors import ParameterError
from relsynth.metadata.graph import Plan

__all__ = ["check_sample_args"]


def check_sample_args(plan: Plan, scale: float, sizes: Mapping[str, int] | None) -> None:
    """``scale`` > 0; ``sizes`` only for root tables (child sizes follow from their parents)."""
    validate_params(
        "Synthesizer.sample",
        {"scale": scale},
        {"scale": Interval(float, 0, None, closed="neither")},
    )
    unknown = sorted(set(sizes or {}) - set(plan.roots))
    if unknown:
        raise ParameterError(
            f"'sizes' may only fix root tables ({', '.join(plan.roots)}); "
            f"got {', '.join(unknown)}. Child sizes follow from their parents."
        )
