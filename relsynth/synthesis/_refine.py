"""A conditioned child's kept rows made again from the quantile bin they fell in.

The importance sampler (:mod:`._proposal`) keeps rows of a child table whose slots
(parent contexts) and values follow the model's own unconditional output restricted
to the condition: the right parents (a slot is kept as often as its rows meet the
condition), but inside a numeric range the values are the tail of a generator
trained mostly on the body of the column. A model with quantile bins in its
conditional vector (:mod:`relsynth.models._bins`) was also trained to make the rows
*of* a bin, with the critic seeing the real rows of that bin beside them
(training-by-sampling). So each kept row is made again for its own slot with its
own bin asked for: the slots and the bins keep the sampler's distribution, the
values within a bin come from what the model learned of the real rows there.

A remade row must still meet every condition; a row whose remakes all miss
(``TRIES``) stays as the sampler kept it. The remade rows count as generated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth._random import stream
from relsynth.synthesis._conditions import Condition, meets, range_target
from relsynth.synthesis._sample import fill_rows, take_context

if TYPE_CHECKING:
    from relsynth.models.context import Context
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["TRIES", "refine_in_bins"]

#: Remakes of a kept row before it stays as kept.
TRIES = 3


def refine_in_bins(
    synth: Synthesizer,
    name: str,
    keys: pd.DataFrame,
    context: Context | None,
    done: Mapping[str, pd.DataFrame],
    slots: np.ndarray,
    frame: pd.DataFrame,
    conditions: list[Condition],
    finished: Callable[[pd.DataFrame], pd.DataFrame],
    base: int,
) -> tuple[pd.DataFrame, int, int]:
    """``frame`` (the kept rows, of skeleton ``slots``) with each row remade from its own
    quantile bin of the conditioned column; the rows remade and the rows generated."""
    from relsynth.models._conditioned import column_bins, encode_values, fed, numeric_feed

    model = synth.models_.get(name)
    target = range_target(conditions)
    feed = None if model is None or target is None else numeric_feed(model, *target)
    found = None if feed is None or target is None else column_bins(model, target[0])
    if feed is None or found is None or not len(frame) or target is None:
        return frame, 0, 0
    bins, offset = found
    try:
        encoded = encode_values(model, target[0], frame[target[0]].tolist())
    except (KeyError, TypeError, ValueError):
        return frame, 0, 0
    wanted = offset + bins.levels(encoded)
    todo = np.flatnonzero(np.isin(wanted, feed.slots))
    parts, generated = [], 0
    for attempt in range(TRIES):
        if not len(todo):
            break
        rng = stream(base, "where", name, f"refine {attempt}")
        with fed(model, feed, rows=wanted[todo]):
            made = fill_rows(
                synth, name, keys.iloc[slots[todo]], take_context(context, slots[todo]), done, rng
            )
        generated += len(todo)
        ok = np.asarray(meets(conditions, finished(made)), dtype=bool)
        parts.append(made[ok].set_axis(todo[ok]))
        todo = todo[~ok]
    if not parts:
        return frame, 0, generated
    remade = pd.concat(parts)
    kept = frame.drop(index=remade.index)
    out = pd.concat([kept, remade[frame.columns]]).sort_index().reset_index(drop=True)
    return out, len(remade), generated
