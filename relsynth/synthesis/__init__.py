"""Stages 2-5 on frames: fit and sample a whole database, and model files.

:class:`Synthesizer` (:mod:`.synthesizer`, the façade) repairs the source once
(:mod:`._source`, :mod:`._repair`), plans, fits the key generator
(:mod:`relsynth.keys`) and each table (:mod:`._schedule` runs :mod:`._fit_table`
as independent tasks, here, in worker processes or on Ray: :mod:`._parallel`,
:mod:`._ray`), with each row's context from :mod:`._context` and sequential
children ordered by :mod:`._sequence`. Its fitted state is one
:class:`~._state.TableFit` per table. It samples in plan order (:mod:`._sample`)
and finishes each table (:mod:`._finish`: unique values, CHECK constraints,
dtypes; cross-table rules through :mod:`._rule_hooks`). :mod:`.artifact` saves and
loads the synthesizer's ``state_dict()`` as one model file (no pickle);
:mod:`._privacy` summarises each column's privacy treatment. This package works on
DataFrames and never runs SQL: reading and writing databases is
:mod:`relsynth.io`'s job. Its modules are imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FitInfo", "Synthesizer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from relsynth.synthesis import synthesizer

        return getattr(synthesizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
