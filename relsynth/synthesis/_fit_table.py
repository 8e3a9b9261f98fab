"""Fitting one table: the task that worker processes and Ray run.

:func:`fit_table_task` receives a *shell* (a synthesizer holding only the settings,
the plan and the lookup tables), the table and the parents in its context, every
table's layout and the table's own random stream, and returns the table's
:class:`~relsynth.synthesis._state.TableFit`. It reads nothing else, so its result
does not depend on where or when it runs. Per table:

* a copied reference table keeps its rows;
* personal text gets a :class:`~relsynth.models.pii.TextColumnModel` per column;
* learned columns get a :class:`~relsynth.models.sequential.SequenceModel` (a
  sequential child: one sequence per driver parent) or a
  :class:`~relsynth.models.wgan.ConditionalWGAN` conditioned on the row's context
  (:mod:`._context`: with the values its keys determine, ``synth.rules_``), unless
  ``table_models`` overrides it;
* under differential privacy (``privacy``), a public table is copied and a private
  one gets fake text with a noisy NULL rate and a ConditionalWGAN trained with DP-SGD
  on an encoder made from DP releases (:meth:`_TableFitter.fit_private`; the releases
  and the noise come from :func:`relsynth.synthesis._dp.prepare`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._columns import TableLayout, monotone_columns, parse_clock
from relsynth._random import child_seed
from relsynth.synthesis import _rule_hooks as rule_hooks
from relsynth.synthesis._context import (
    build_context,
    determined_features,
    parent_features,
    secondary_features,
    secondary_parents,
    time_key_columns,
)
from relsynth.synthesis._copied import is_copied
from relsynth.synthesis._finish import max_length
from relsynth.synthesis._sequence import sequence_column, sequence_order
from relsynth.synthesis._state import TableFit
from relsynth.synthesis._tails import fit_model_tails

if TYPE_CHECKING:
    from relsynth.metadata.schema import ForeignKey
    from relsynth.models._dp import DPContextFrames
    from relsynth.models.base import TableModel
    from relsynth.models.pii import TextColumnModel
    from relsynth.synthesis._dp import TableDP
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["MIN_TABLE_SECONDS", "SPENT_SECONDS", "FittedTable", "fit_table_task", "fit_threads"]

#: A table's share of ``time_budget`` is never below this while some of the budget is
#: left. Only a budget smaller than the tables' encoders need can be overrun by it.
MIN_TABLE_SECONDS = 0.05
#: The cap of a table (and its model) that starts once the budget (or its share) is
#: spent: the cheapest fit, one training step with no calibration and no tails.
SPENT_SECONDS = 1e-3


@dataclass
class FittedTable:
    """What fitting one table gives back (from this process, a worker or Ray)."""

    state: TableFit
    label: str  # the model's class name, or "copy", "empty", "keys", "keys+text"
    seconds: float
    dp: dict[str, float] | None = None  # the DP-SGD run (what the accountant needs)


def fit_threads(n_threads: int | None) -> int:
    """Torch/BLAS threads per table fit: ``n_threads``, else 1 (reproducible anywhere)."""
    return 1 if n_threads is None else int(n_threads)


def fit_table_task(
    shell: Synthesizer,
    name: str,
    tables: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
    rng: np.random.Generator,
    max_seconds: float | None,
    deadline: float | None = None,
    dp: TableDP | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> FittedTable:
    """Fit one table; ``max_seconds`` is its training budget (None: the model's steps);
    ``dp``: its DP inputs under differential privacy (None: a public table).

    ``on_step(step, total)`` hears of the model's training steps (about each 1% of
    them). Module-level so that worker processes and Ray can run it.
    """
    t0 = time.perf_counter()
    if deadline is not None and max_seconds is not None:  # a worker may start late
        max_seconds = min(max_seconds, max(deadline - time.time(), SPENT_SECONDS))
    # the model's cap is what is left of the table's share when the model starts
    table_deadline = None if max_seconds is None else time.time() + max_seconds
    fitter = _TableFitter(shell, name, tables, layouts, rng, table_deadline, dp, on_step=on_step)
    state, label = fitter.fit_private() if shell.privacy is not None else fitter.fit()
    seconds = time.perf_counter() - t0
    return FittedTable(state=state, label=label, seconds=seconds, dp=fitter.dp_run)


class _StepReports:
    """A model's ``callback``: passes ``(step, total)`` on at each whole percent."""

    def __init__(self, on_step: Callable[[int, int], None]) -> None:
        self.on_step, self.last = on_step, -1

    def __call__(self, step: int, total: int, losses: Mapping[str, float]) -> None:
        percent = 100 * step // max(total, 1)
        if percent != self.last or step == total:
            self.last = percent
            self.on_step(step, total)


def _learned_frame(frame: pd.DataFrame, layout: TableLayout) -> pd.DataFrame:
    values = frame[list(layout.learned)].copy()
    for col in layout.clocks:
        values[col] = parse_clock(values[col])
    return values


@dataclass
class _TableFitter:
    """One table's fit: its settings (``synth``), inputs and stream."""

    synth: Synthesizer
    name: str
    tables: Mapping[str, pd.DataFrame]
    layouts: Mapping[str, TableLayout]
    rng: np.random.Generator
    table_deadline: float | None
    dp: TableDP | None = None
    dp_run: dict[str, float] | None = None
    on_step: Callable[[int, int], None] | None = None

    def fit(self) -> tuple[TableFit, str]:
        """The table's state and a label for the fit info."""
        synth, name = self.synth, self.name
        frame = self.tables[name]
        dtypes = {c: str(frame[c].dtype) for c in frame.columns}
        layout = self.layouts[name]
        if is_copied(synth, name):
            return TableFit(layout, dtypes, copy=frame.reset_index(drop=True).copy()), "copy"
        text = self._fit_text(frame, layout)
        values = _learned_frame(frame, layout)
        if len(frame) == 0:  # nothing to learn; sampled tables stay empty unless scaled up
            return TableFit(layout, dtypes, text_models=text), "empty"
        if not layout.learned:
            return TableFit(
                layout, dtypes, text_models=text
            ), "keys+text" if layout.text else "keys"
        override = (synth.table_models or {}).get(name)
        driver = synth.plan_.driver.get(name)
        sequence_col = sequence_column(synth.metadata, name, driver)
        if driver is not None and sequence_col is not None:
            model, sequence = self._fit_sequence(frame, values, driver, sequence_col, override)
            state = TableFit(layout, dtypes, model, text, sequence=sequence)
            return state, type(model).__name__
        copied = [t for t in synth.metadata.tables if is_copied(synth, t)]
        context_keys = secondary_features(
            synth.metadata, synth.plan_, self.layouts, name, self.tables, copied
        )
        secondary = secondary_parents(synth.metadata, context_keys)
        time_keys = time_key_columns(layout, dtypes)
        rule_context = rule_hooks.context_columns(synth, name, layout.learned) or None
        rules = rule_hooks.context_rules(synth, name, rule_context)
        context = build_context(
            frame, driver, self.tables, self.layouts, time_keys, secondary,
            determined=determined_features(frame, rules, dtypes),
        )  # fmt: skip
        model = override if override is not None else self._default_wgan(layout)
        self._fit_model(model, values, context)
        if override is None:  # where a child's tail rows sit, for conditional sampling
            self._fit_tails(model, values, context)
        state = TableFit(
            layout, dtypes, model, text, context_keys=context_keys, rule_context=rule_context
        )
        return state, type(model).__name__

    def _fit_tails(self, model: TableModel, values: pd.DataFrame, context: Any) -> None:
        """The model's tails (:func:`fit_model_tails`); under a time budget, only while
        the table's share lasts (none once it is spent: the cheapest thing)."""
        if self.table_deadline is not None and time.time() >= self.table_deadline:
            return
        layout = self.layouts[self.name]
        numeric = values.drop(columns=[c for c in layout.clocks if c in values.columns])
        seed = getattr(model, "seed", None)
        seed = seed if isinstance(seed, int) else child_seed(self.rng)
        min_count = self.synth.min_category_count
        fit_model_tails(model, numeric, context, min_count, seed, self.table_deadline)

    def fit_private(self) -> tuple[TableFit, str]:
        """The table's state under differential privacy (see the module's docstring)."""
        from relsynth.synthesis._dp import DP_MODEL, text_null_rates

        frame, layout, dp = self.tables[self.name], self.layouts[self.name], self.dp
        dtypes = {c: str(frame[c].dtype) for c in frame.columns}
        if dp is None:  # a public table
            return TableFit(layout, dtypes, copy=frame.reset_index(drop=True).copy()), "copy"
        blank = pd.DataFrame({c: pd.Series([None] * 4, dtype=object) for c in layout.text})
        text = self._fit_text(blank, layout)  # no source value, length or digest
        text_null_rates(text, dp.text_nulls)
        if not layout.learned or len(frame) == 0:
            label = "empty" if len(frame) == 0 else "keys+text" if layout.text else "keys"
            return TableFit(layout, dtypes, text_models=text), label
        from relsynth.models._dp import DPTraining, fit_dp_wgan

        model = self._default_wgan(layout)
        for key, value in DP_MODEL.items():
            setattr(model, key, value)
        run = DPTraining(
            0.0, dp.delta, dp.n_entities, dp.steps, clip=dp.clip, noise=dp.noise,
            deadline=self.table_deadline,
        )  # fmt: skip
        learned = frame[list(layout.learned)].reset_index(drop=True)
        pin = model.n_threads is None
        if pin:
            model.n_threads = fit_threads(self.synth.n_threads)
        fit_dp_wgan(model, learned, dp.entity, dp.columns, run, self._dp_context(frame))
        if pin:
            model.n_threads = None
        self.dp_run = run.summary()
        return TableFit(layout, dtypes, model, text), type(model).__name__

    def _dp_context(self, frame: pd.DataFrame) -> DPContextFrames | None:
        """Under DP: each row's real context (its parent's values, the family counters
        when the parent is private) and the synthetic contexts (None: unconditional)."""
        from relsynth.models._dp import DPContextFrames

        spec = self.dp.context if self.dp is not None else None
        if spec is None:
            return None
        driver = self.synth.plan_.driver[self.name]
        real = build_context(frame, driver, self.tables, self.layouts, (), family=spec.family)
        assert real is not None
        real_frame = real.frame().reset_index(drop=True)[list(spec.synthetic.columns)]
        return DPContextFrames(real_frame, spec.synthetic, spec.kinds, spec.correlations)

    def _fit_sequence(
        self,
        frame: pd.DataFrame,
        values: pd.DataFrame,
        driver: ForeignKey,
        sequence_col: str,
        override: TableModel | None,
    ) -> tuple[TableModel, dict[str, Any]]:
        from relsynth.models.sequential import SequenceModel

        layout = self.layouts[self.name]
        parent = self.tables[driver.parent]
        order_idx = sequence_order(frame, driver, sequence_col, parent)
        sorted_values = values.iloc[order_idx.order].reset_index(drop=True)
        lengths = order_idx.lengths
        parent_context = parent_features(parent, driver.parent, self.layouts)
        numeric = [c for c in layout.learned if layout.kinds.get(c) == "numerical"]
        mono = tuple(
            c for c in monotone_columns(sorted_values, numeric, lengths) if c != sequence_col
        )
        sequence = {"order_column": sequence_col, "monotone": list(mono)}
        if override is not None:
            model = override
        else:
            model = SequenceModel(
                kinds=dict(layout.kinds),
                order_column=sequence_col if sequence_col in layout.learned else None,
                monotone_columns=mono,
                **self._model_params(),
            )
        self._fit_model(model, sorted_values, parent_context, lengths=lengths)
        return model, sequence

    def _fit_model(self, model: TableModel, *args: Any, **kwargs: Any) -> None:
        """``model.fit`` under the fit's thread count (a model's own ``n_threads`` wins).

        The model keeps ``n_threads=None`` afterwards, so that sampling uses the cores.
        """
        if getattr(model, "min_category_count", 0) is None:  # the synthesizer's threshold
            model.min_category_count = self.synth.min_category_count  # type: ignore[attr-defined]
        pin = getattr(model, "n_threads", 1) is None
        if pin:
            model.n_threads = fit_threads(self.synth.n_threads)  # type: ignore[attr-defined]
        listen = self.on_step is not None and getattr(model, "callback", 0) is None
        if listen:
            model.callback = _StepReports(self.on_step)  # type: ignore[attr-defined]
        try:
            model.fit(*args, **kwargs)
        finally:
            if pin:
                model.n_threads = None  # type: ignore[attr-defined]
            if listen:
                model.callback = None  # type: ignore[attr-defined]

    def _default_wgan(self, layout: TableLayout) -> TableModel:
        from relsynth.models.wgan import ConditionalWGAN

        return ConditionalWGAN(kinds=dict(layout.kinds), **self._model_params())

    def _model_params(self) -> dict[str, Any]:
        """Device, threads, training length and a seed from the table's own stream.

        Training length: the model's own steps (``default_steps``) unless ``steps`` is
        set; the deprecated ``epochs`` passes through to the model; a clock cap
        (``max_seconds``) only where the fit has a time budget (or the deprecated
        per-table cap).
        """
        synth = self.synth
        params: dict[str, Any] = {"device": synth.device, "seed": child_seed(self.rng)}
        params["min_category_count"] = synth.min_category_count
        if synth.n_threads is not None:
            params["n_threads"] = synth.n_threads
        if synth.steps is not None:
            params["steps"] = synth.steps
        if synth.early_stopping is not None:
            params["early_stopping"] = synth.early_stopping
        if synth.epochs is not None:
            params["epochs"] = synth.epochs
        if self.table_deadline is not None:  # text models and contexts took some of the share
            params["max_seconds"] = max(self.table_deadline - time.time(), SPENT_SECONDS)
        return params

    def _fit_text(self, frame: pd.DataFrame, layout: TableLayout) -> dict[str, TextColumnModel]:
        from relsynth.models.pii import TextColumnModel

        table = self.synth.metadata.table(self.name)
        unique = {u[0] for u in table.unique if len(u) == 1}
        out = {}
        for col, pii in layout.text.items():
            sql_type = table.column(col).sql_type or ""
            out[col] = TextColumnModel(
                pii, unique=col in unique, locale=self.synth.locale, max_length=max_length(sql_type)
            ).fit(frame[col], rng=self.rng)
        return out
