"""Which tables a synthesizer copies verbatim instead of learning them.

A leaf module: the fit of a table (:mod:`._fit_table`), the cross-table rules
(:mod:`._rule_hooks`) and the schedule all ask it, and none of them may import another
to do so (the conditional samplers sit between them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["is_copied"]


def is_copied(synth: Synthesizer, name: str) -> bool:
    """Whether ``name`` is copied verbatim: a ``"copy"`` override, a table marked
    ``reference``, or (``reference`` unset) a lookup table found at fit."""
    override = (synth.table_models or {}).get(name)
    if override is not None:
        return override == "copy"
    table = synth.metadata.table(name)
    lookup = table.reference if table.reference is not None else name in synth.lookups_
    return bool(lookup) and synth.copy_reference_tables
