"""Stages 2-5 on frames: fit and sample a whole database, and model files.

:class:`Synthesizer` (:mod:`.synthesizer`) repairs the source once
(:mod:`._repair`), plans, fits the key generator (:mod:`relsynth.keys`) and a
column model per table (:mod:`relsynth.models`), samples in plan order and
finishes each table (unique values, CHECK constraints, cross-table rules through
:mod:`._rule_hooks`, dtypes). :mod:`.artifact` saves and loads a fitted
synthesizer as one model file (no pickle); :mod:`._privacy` summarises each
column's privacy treatment. This package works on DataFrames and never runs SQL:
reading and writing databases is :mod:`relsynth.io`'s job. Its modules are
imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FitInfo", "Synthesizer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from relsynth.synthesis import synthesizer

        return getattr(synthesizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
