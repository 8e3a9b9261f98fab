"""The Synthesizer: a database in, a checked synthetic database out.

Stage 4 of the pipeline; it orchestrates the others::

    fit(tables)
      check the source (orphans reported, or dropped on request)
      plan = graph.plan(metadata)                   order, driver keys, deferred keys
      keys = KeyGenerator().fit(...)                cardinalities, secondary degrees, formats
      per table, independently, given the REAL parents:
        learned columns  -> ConditionalWGAN(context = driver parent's row,
                            family size, position) or SequenceModel (one
                            sequence per driver parent, LSTM)
        personal text    -> TextColumnModel (Faker; never the source's values)

    sample(scale)
      per table in plan order, given the SYNTHETIC parents:
        keys.sample_table -> context from the synthetic parents -> model.sample
        -> personal text -> constraints (unique) -> dtypes
      keys.fill_deferred (cycle breakers), then check(): clean or an error

Tables are independent at fit time (each learns from its real parents), so a
model for one table never sees another table's synthetic values during training.

Semantics decided once (style.md §4.4): ``scale`` multiplies the root tables and
children follow from the cardinality models; ``sizes`` pins root tables to exact
row counts; ``sample(seed=None)`` draws from the synthesizer's own stream so calls
differ, ``sample(seed=int)`` is reproducible.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from relsynth._columns import (
    POSITION_COLUMN,
    SIBLINGS_COLUMN,
    TableLayout,
    datetime_seconds,
    format_clock,
    monotone_columns,
    parse_clock,
    table_layout,
)
from relsynth._random import as_generator, child_seed, stream
from relsynth._typing import DeviceLike, SeedLike
from relsynth._validation import Interval, Options, check_is_fitted, validate_params
from relsynth.check import check
from relsynth.constraints import Expr, compute_generated, enforce_checks, parse_check
from relsynth.errors import DataError, ParameterError
from relsynth.metadata.graph import Plan, plan
from relsynth.metadata.schema import ForeignKey, Metadata
from relsynth.synthesis import _dp
from relsynth.synthesis import _rule_hooks as rule_hooks
from relsynth.synthesis._info import FitInfo
from relsynth.synthesis._repair import Repair, drop_violations

if TYPE_CHECKING:
    from relsynth.keys import KeyGenerator
    from relsynth.models.base import TableModel
    from relsynth.models.pii import TextColumnModel
    from relsynth.synthesis.dp import DifferentialPrivacy

__all__ = ["FitInfo", "Synthesizer"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, str, int, int], None]
"""``progress(stage, table, done, total)``: called as each table finishes a stage."""


class Synthesizer:
    """Learns a relational database and samples synthetic copies of it.

    Parameters
    ----------
    metadata : Metadata
        The schema (from :func:`relsynth.reflect`, :func:`relsynth.infer` or a file).
    seed : int, numpy.random.Generator or None
        Drives every random choice (keys, models, fake text). Same seed, same
        model, same database (on CPU).
    device : {"auto", "cpu", "cuda"}
        Where the neural models train; ``"auto"`` picks CUDA when available.
    steps : int, optional
        Training steps for every table's model. By default each model decides from
        its table's data (:meth:`TableModel.default_steps <relsynth.models.base.
        TableModel.default_steps>`: rows for a table, sequences for a sequential
        child), never from the clock, so the same data and seed give the same model.
    time_budget : float, optional
        A wall-clock limit in seconds for the whole ``fit`` (keys, encoders, rule
        discovery, training, calibration; not saving), shared among the tables in
        proportion to their expected training time (each model's ``fit_cost``); what
        a table leaves unused passes on to the tables after it. Training then stops
        on the clock, so the result depends on the machine and its load.
    max_seconds : float, optional
        Deprecated: a wall-clock cap per table. Use ``steps`` or ``time_budget``.
    epochs : int, optional
        Deprecated: training epochs per table. Use ``steps``.
    table_models : Mapping of str to TableModel or "copy", optional
        Per-table overrides: a configured model (its own budget, architecture) or
        ``"copy"`` to copy a small reference table verbatim (only for tables with no
        private data, e.g. airlines or regions).
    copy_reference_tables : bool
        Copy reference tables verbatim: those marked ``reference`` in the metadata,
        and the lookup tables relsynth finds where ``reference`` is unset (small tables
        without personal or free text that other tables point at: genres, carriers;
        :mod:`relsynth.rules.lookup`). ``reference: false`` keeps a table modelled.
    drivers : Mapping of str to ForeignKey or None, optional
        Driver key overrides (see :func:`relsynth.plan`).
    locale : str
        Faker locale for personal text (names, addresses...).
    n_threads : int, optional
        Torch (and BLAS) threads for each table's fit, and for sampling. By default a
        table fit uses one thread: floating-point sums in training depend on how
        they are split among threads, so a fixed count is what makes a fit give the
        same bytes on any machine, under any load; fits run in parallel with
        ``n_jobs`` instead. Sampling (forward passes only) uses the usable cores.
    n_jobs : int, optional
        Tables fitted at once, in worker processes (each table learns from its real
        parents, so table fits are independent). None: 1, in this process; -1: the
        usable cores. The result does not depend on it.
    executor : {"local", "ray"}
        Where table fits run: this machine, or Ray tasks (``pip install
        relsynth[ray]``) on the cluster at ``ray_address`` (default: ``RAY_ADDRESS``,
        else a local Ray started for the fit, ``n_jobs`` CPUs). Same result.
    ray_address : str, optional
        Address of a running Ray cluster (``executor="ray"``).
    min_category_count : int
        In learned tables, a categorical value held by fewer than this many source
        rows is never emitted: it is replaced by a fake value of the column's kind or
        by the frequent values (see :mod:`relsynth.models._rare`). The default 2
        withholds every value that a single row holds; 1 withholds nothing. Tables
        copied as reference tables are not affected.
    rules : {"discover", "metadata", "none"}
        Cross-table rules to keep (:mod:`relsynth.rules`, docs/rules.md): discovered at
        fit and merged with the metadata's (``"discover"``), only the metadata's, or none.
    privacy : DifferentialPrivacy, optional
        Fit under differential privacy per entity (docs/privacy.md; ``relsynth[dp]``).

    Examples
    --------
    >>> import relsynth
    >>> meta = relsynth.reflect("sqlite:///shop.db")                    # doctest: +SKIP
    >>> tables = relsynth.read_tables("sqlite:///shop.db", meta)        # doctest: +SKIP
    >>> synth = relsynth.Synthesizer(meta, seed=0).fit(tables)          # doctest: +SKIP
    >>> fake = synth.sample(scale=0.5)                                  # doctest: +SKIP
    >>> relsynth.check(meta, fake).ok                                   # doctest: +SKIP
    True
    """

    def __init__(
        self,
        metadata: Metadata,
        *,
        seed: SeedLike = None,
        device: DeviceLike = "auto",
        steps: int | None = None,
        time_budget: float | None = None,
        max_seconds: float | None = None,
        epochs: int | None = None,
        table_models: Mapping[str, TableModel | Literal["copy"]] | None = None,
        copy_reference_tables: bool = True,
        drivers: Mapping[str, ForeignKey | None] | None = None,
        locale: str = "en_US",
        n_threads: int | None = None,
        min_category_count: int = 2,
        rules: Literal["discover", "metadata", "none"] = "discover",
        n_jobs: int | None = None,
        executor: Literal["local", "ray"] = "local",
        ray_address: str | None = None,
        privacy: DifferentialPrivacy | None = None,
    ) -> None:
        self.metadata = metadata
        self.seed = seed
        self.device = device
        self.steps = steps
        self.max_seconds = max_seconds
        self.time_budget = time_budget
        self.epochs = epochs
        self.table_models = table_models
        self.copy_reference_tables = copy_reference_tables
        self.drivers = drivers
        self.locale = locale
        self.n_threads = n_threads
        self.min_category_count = min_category_count
        self.rules = rules
        self.n_jobs = n_jobs
        self.executor = executor
        self.ray_address = ray_address
        self.privacy = privacy

    # -- fit -------------------------------------------------------------------------

    def _validate_params(self) -> None:
        validate_params(
            "Synthesizer",
            vars(self),
            {
                "max_seconds": Interval(float, 0, None, closed="neither", allow_none=True),
                "time_budget": Interval(float, 0, None, closed="neither", allow_none=True),
                "steps": Interval(int, 1, None, closed="left", allow_none=True),
                "epochs": Interval(int, 1, None, closed="left", allow_none=True),
                "n_threads": Interval(int, 1, None, closed="left", allow_none=True),
                "min_category_count": Interval(int, 1, None, closed="left"),
                "n_jobs": Interval(int, -1, None, closed="left", allow_none=True),
                "device": Options(["auto", "cpu", "cuda", None]),
                "executor": Options(["local", "ray"]),
                "copy_reference_tables": Options([True, False]),
                "rules": Options(["discover", "metadata", "none"]),
            },
        )
        if self.n_jobs == 0:
            raise ParameterError(
                "The 'n_jobs' parameter of Synthesizer must be an int >= 1, -1 (all cores) "
                "or None. Got 0 instead."
            )
        if not isinstance(self.metadata, Metadata):
            raise ParameterError(
                "The 'metadata' parameter of Synthesizer must be a relsynth.Metadata "
                f"(from relsynth.reflect or Metadata.load). Got {type(self.metadata).__name__}."
            )

    def fit(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        on_violations: Literal["raise", "drop"] = "raise",
        progress: Progress | None = None,
    ) -> Synthesizer:
        """Learn the keys and the values of every table.

        Parameters
        ----------
        tables : Mapping of str to DataFrame
            The source tables (e.g. from :func:`relsynth.read_tables`).
        on_violations : {"raise", "drop"}
            What to do when the source breaks its own keys: raise a ``DataError``
            naming the violations, or drop the offending rows (logged, counted in
            ``fit_info_.dropped_rows``).
        progress : callable, optional
            ``progress(stage, table, done, total)``: ``("keys", "*", 1, total)`` once
            the keys are learned, ``("fit-start", table, done, total)`` as a table's
            fit starts and ``("fit", table, done, total)`` as it ends. ``total`` is
            the number of tables plus one (the keys) throughout, ``done`` counts what
            has ended. Tables fitted in parallel start and end in any order.

        Returns
        -------
        Synthesizer
            ``self``, fitted.
        """
        from relsynth.keys import KeyGenerator
        from relsynth.rules.lookup import lookup_tables
        from relsynth.synthesis._privacy import privacy_summary, withheld_values

        self._validate_params()
        allowed = {"on_violations": Options(["raise", "drop"])}
        validate_params("Synthesizer.fit", {"on_violations": on_violations}, allowed)
        self._warn_deprecated()
        meta = self.metadata
        meta.validate()
        started = time.perf_counter()
        # Wall clock (not perf_counter): worker processes and Ray tasks compare with it.
        deadline = None if self.time_budget is None else time.time() + self.time_budget
        source, repair = _clean_source(meta, tables, on_violations)
        self.source_digests_ = _source_digests(tables)
        self.plan_: Plan = plan(meta, self.drivers)
        seconds: dict[str, float] = {"check": time.perf_counter() - started}
        self._rng = as_generator(self.seed)
        base_seed = child_seed(self._rng)
        if self.privacy is not None:  # [dp] the whole fit under DP: relsynth.synthesis._dp
            return _dp.fit_synthesizer(self, source, repair, seconds, started, base_seed)
        order = self.plan_.order
        total = len(order) + 1

        t0 = time.perf_counter()
        self.rules_ = rule_hooks.fit_rules(self, source)
        self.lookups_ = lookup_tables(meta, source)  # copied verbatim unless overridden
        seconds["rules"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        self.key_generator_: KeyGenerator = KeyGenerator().fit(meta, source, plan=self.plan_)
        seconds["keys"] = time.perf_counter() - t0
        _report(progress, "keys", "*", 1, total)

        # every table, copied ones too: a copied table's columns feed its children's context
        self.layouts_: dict[str, TableLayout] = {n: table_layout(meta, n, source[n]) for n in order}
        self.models_: dict[str, TableModel | None] = {}
        self.text_models_: dict[str, dict[str, TextColumnModel]] = {}
        self.copies_: dict[str, pd.DataFrame] = {}
        self.sequence_: dict[str, dict[str, Any]] = {}
        self.context_keys_: dict[str, list[list[Any]]] = {}
        self.dtypes_: dict[str, dict[str, str]] = {}
        results = self._fit_tables(source, base_seed, deadline, progress, total)
        models: dict[str, str] = {}
        for name in order:
            result = results[name]
            models[name] = result.label
            seconds[f"fit:{name}"] = result.seconds
            self.dtypes_[name] = result.dtypes
            self.models_[name] = result.model
            if result.text_models is not None:
                self.text_models_[name] = result.text_models
            if result.copy is not None:
                self.copies_[name] = result.copy
            if result.sequence is not None:
                self.sequence_[name] = result.sequence
            if result.context_keys is not None:
                self.context_keys_[name] = result.context_keys
        self._base_seed = base_seed
        for name in order:
            table_checks(meta, name, warn=True)
        seconds["total"] = time.perf_counter() - started
        self.fit_info_ = FitInfo(
            seconds=seconds,
            rows={n: len(source[n]) for n in order},
            models=models,
            dropped_rows=dict(repair.dropped),
            nulled_keys=dict(repair.nulled),
            withheld=withheld_values(self),
            privacy=privacy_summary(self),
        )
        return self

    def _warn_deprecated(self) -> None:
        if self.max_seconds is not None:
            warnings.warn(
                "Synthesizer(max_seconds=...) is deprecated: training length is a number of "
                "steps derived from the data (reproducible); use steps=N to set it, or "
                "time_budget=SECONDS for a wall-clock limit on the whole fit.",
                FutureWarning,
                stacklevel=3,
            )
        if self.epochs is not None:
            warnings.warn(
                "Synthesizer(epochs=...) is deprecated: use steps=N (training steps per "
                "table) or leave it to the data.",
                FutureWarning,
                stacklevel=3,
            )

    def _copied(self, name: str) -> bool:
        """Whether ``name`` is copied verbatim: a ``"copy"`` override, a table marked
        ``reference``, or (``reference`` unset) a lookup table found at fit."""
        override = (self.table_models or {}).get(name)
        if override is not None:
            return override == "copy"
        table = self.metadata.table(name)
        lookup = table.reference if table.reference is not None else name in self.lookups_
        return bool(lookup) and self.copy_reference_tables

    def _inputs(self, name: str) -> list[str]:
        """The source tables a table's fit reads: itself and the parents in its context."""
        needed = [name]
        driver = self.plan_.driver.get(name)
        if driver is not None:
            needed.append(driver.parent)
        needed += [fk.parent for fk in self.plan_.secondary.get(name, ())]
        return list(dict.fromkeys(needed))

    def _fit_weight(self, name: str, source: Mapping[str, pd.DataFrame]) -> float:
        """A table's expected training time, relative to the others (its model's ``fit_cost``)."""
        from relsynth.models.sequential import SequenceModel
        from relsynth.models.wgan import ConditionalWGAN

        layout = self.layouts_.get(name)
        frame = source[name]
        if layout is None or self._copied(name) or not layout.learned or len(frame) == 0:
            return 0.0
        override = (self.table_models or {}).get(name)
        driver = self.plan_.driver.get(name)
        sequence_col = _sequence_column(self.metadata, name, driver)
        params = {"steps": self.steps, "epochs": self.epochs}
        if driver is not None and sequence_col is not None:
            lengths = _sequence_order(frame, driver, sequence_col, source[driver.parent]).lengths
            model = override if override is not None else SequenceModel(**params)
            return model.fit_cost(len(frame), len(layout.learned), lengths=lengths)
        model = override if override is not None else ConditionalWGAN(**params)
        return model.fit_cost(len(frame), len(layout.learned))

    def _fit_tables(
        self,
        source: Mapping[str, pd.DataFrame],
        base_seed: int,
        deadline: float | None,
        progress: Progress | None,
        total: int,
    ) -> dict[str, _TableFit]:
        """Fit every table (independent tasks), largest first, on ``n_jobs`` workers."""
        from relsynth.synthesis._parallel import resolve_jobs, run_tasks

        order = self.plan_.order
        jobs = resolve_jobs(self.n_jobs)
        weights = {n: self._fit_weight(n, source) for n in order}
        queue = sorted(order, key=lambda n: -weights[n])  # stable: plan order among ties
        unstarted = [sum(weights.values())]
        shell = self._shell()
        done = [1]  # the keys
        if deadline is not None:
            from relsynth.models._torch import warm_up

            warm_up()  # one-off imports, before the tables' shares of the budget are set

        waiting = set(order)

        def make_args(name: str) -> tuple[Any, ...]:
            budget = None
            waiting.discard(name)
            if deadline is not None:  # the share of what is left, by expected time
                # every table still to start needs a moment for its encoders and text
                others = sum(1 for n in waiting if weights[n] > 0) / jobs
                left = deadline - time.time()
                left -= min(_TABLE_OVERHEAD_SECONDS * others, left / 2)
                share = weights[name] / unstarted[0] if unstarted[0] > 0 else 1.0
                budget = max(min(left, left * jobs * share), _MIN_TABLE_SECONDS)
            unstarted[0] -= weights[name]
            frames = {t: source[t] for t in self._inputs(name)}
            return (shell, name, frames, stream(base_seed, "fit", name), budget, deadline)

        def on_start(name: str) -> None:
            logger.info("fitting %s (%d rows)", name, len(source[name]))
            _report(progress, "fit-start", name, done[0], total)

        def on_done(name: str, result: _TableFit) -> None:
            done[0] += 1
            logger.info("fitted %s (%s) in %.1fs", name, result.label, result.seconds)
            _report(progress, "fit", name, done[0], total)

        return run_tasks(
            _fit_table_task, queue, make_args, n_jobs=jobs, threads=self._fit_threads(),
            executor=self.executor, address=self.ray_address, on_start=on_start, on_done=on_done,
        )  # fmt: skip

    def _fit_threads(self) -> int:
        """Torch/BLAS threads per table fit: ``n_threads``, else 1 (reproducible anywhere)."""
        return 1 if self.n_threads is None else int(self.n_threads)

    def _shell(self) -> Synthesizer:
        """A copy of this synthesizer's settings and plan, for fitting tables elsewhere."""
        shell = Synthesizer(
            self.metadata,
            seed=None,
            device=self.device,
            max_seconds=self.max_seconds,
            steps=self.steps,
            epochs=self.epochs,
            table_models=self.table_models,
            copy_reference_tables=self.copy_reference_tables,
            locale=self.locale,
            n_threads=self.n_threads,
            min_category_count=self.min_category_count,
            rules=self.rules,
        )
        shell.plan_ = self.plan_
        shell.layouts_ = self.layouts_
        shell.lookups_ = self.lookups_
        return shell

    def _fit_table(
        self,
        name: str,
        tables: Mapping[str, pd.DataFrame],
        rng: np.random.Generator,
        max_seconds: float | None,
    ) -> str:
        """Fit one table's models; ``max_seconds`` is its training budget (None: default)."""
        meta = self.metadata
        frame = tables[name]
        self.dtypes_[name] = {c: str(frame[c].dtype) for c in frame.columns}
        override = (self.table_models or {}).get(name)
        if self._copied(name):
            self.copies_[name] = frame.reset_index(drop=True).copy()
            self.models_[name] = None
            return "copy"
        layout = self.layouts_[name]
        self.text_models_[name] = self._fit_text(name, frame, layout, rng)
        values = _learned_frame(frame, layout)
        if len(frame) == 0:  # nothing to learn; sampled tables stay empty unless scaled up
            self.models_[name] = None
            return "empty"
        if not layout.learned:
            self.models_[name] = None
            return "keys+text" if layout.text else "keys"
        driver = self.plan_.driver.get(name)
        sequence_col = _sequence_column(meta, name, driver)
        if driver is not None and sequence_col is not None:
            model = self._fit_sequence(
                name,
                frame,
                values,
                driver,
                sequence_col,
                layout,
                tables,
                rng,
                override,
                max_seconds,
            )
        else:
            time_keys = time_key_columns(layout, self.dtypes_[name])
            self.context_keys_[name] = self._secondary_features(name, tables)
            context = _context(
                frame, driver, tables, self.layouts_, time_keys, self._secondary(name)
            )
            model = (
                override if override is not None else self._default_wgan(layout, rng, max_seconds)
            )
            self._fit_model(model, values, context)
        self.models_[name] = model
        return type(model).__name__

    def _fit_sequence(
        self, name, frame, values, driver, sequence_col, layout, tables, rng, override, max_seconds
    ):  # noqa: ANN001, ANN202 - private, typed by its caller
        from relsynth.models.sequential import SequenceModel

        parent = tables[driver.parent]
        order_idx = _sequence_order(frame, driver, sequence_col, parent)
        sorted_values = values.iloc[order_idx.order].reset_index(drop=True)
        lengths = order_idx.lengths
        parent_context = _parent_features(parent, driver.parent, self.layouts_)
        numeric = [c for c in layout.learned if layout.kinds.get(c) == "numerical"]
        mono = tuple(
            c for c in monotone_columns(sorted_values, numeric, lengths) if c != sequence_col
        )
        self.sequence_[name] = {"order_column": sequence_col, "monotone": list(mono)}
        if override is not None:
            model = override
        else:
            model = SequenceModel(
                kinds=dict(layout.kinds),
                order_column=sequence_col if sequence_col in layout.learned else None,
                monotone_columns=mono,
                **self._model_params(rng, max_seconds),
            )
        self._fit_model(model, sorted_values, parent_context, lengths=lengths)
        return model

    def _fit_model(self, model: TableModel, *args: Any, **kwargs: Any) -> None:
        """``model.fit`` under the fit's thread count (a model's own ``n_threads`` wins).

        The model keeps ``n_threads=None`` afterwards, so that sampling uses the cores.
        """
        pin = getattr(model, "n_threads", 1) is None
        if pin:
            model.n_threads = self._fit_threads()  # type: ignore[attr-defined]
        try:
            model.fit(*args, **kwargs)
        finally:
            if pin:
                model.n_threads = None  # type: ignore[attr-defined]

    def _secondary_features(self, name: str, tables: Mapping[str, pd.DataFrame]) -> list[list[Any]]:
        """``[foreign key index, parent columns]`` of each secondary parent whose values
        join the context of ``name``'s rows (decided once, at fit time).

        A secondary key qualifies when its parent is another table generated before
        this one (not a self-reference, not a key deferred to break a cycle). Its
        parent's learned columns join, less categories that name nearly every row
        apart (:func:`~relsynth.models.encoding.is_distinct`, airport names): an
        identifier says nothing a model can carry over to new rows, and would only
        widen the context.
        """
        from relsynth.models.encoding import infer_kind, is_distinct

        fks = list(self.metadata.foreign_keys)
        out: list[list[Any]] = []
        for fk in self.plan_.secondary.get(name, ()):
            layout = self.layouts_.get(fk.parent)
            if fk.parent == name or self.plan_.is_deferred(fk) or layout is None:
                continue
            parent = tables[fk.parent]
            cols = [
                col
                for col in layout.learned
                if not (
                    (layout.kinds.get(col) or infer_kind(parent[col])) == "categorical"
                    and is_distinct(parent[col])
                )
            ]
            if cols:
                out.append([fks.index(fk), cols])
        return out

    def _secondary(self, name: str) -> list[tuple[ForeignKey, list[str]]]:
        """The secondary parents (key, columns) in the context of ``name``."""
        fks = self.metadata.foreign_keys
        return [(fks[i], list(cols)) for i, cols in self.context_keys_.get(name, [])]

    def _default_wgan(
        self, layout: TableLayout, rng: np.random.Generator, max_seconds: float | None
    ) -> TableModel:
        from relsynth.models.wgan import ConditionalWGAN

        return ConditionalWGAN(kinds=dict(layout.kinds), **self._model_params(rng, max_seconds))

    def _model_params(self, rng: np.random.Generator, max_seconds: float | None) -> dict[str, Any]:
        """Device, threads, steps, budget and a seed from the table's own stream."""
        params: dict[str, Any] = {"device": self.device, "seed": child_seed(rng)}
        if self.n_threads is not None:
            params["n_threads"] = self.n_threads
        if self.steps is not None:
            params["steps"] = self.steps
        if self.epochs is not None:
            params["epochs"] = self.epochs
        deadline = getattr(self, "_table_deadline", None)
        if deadline is not None:  # text models and contexts took some of the share
            params["max_seconds"] = max(deadline - time.time(), _MIN_TABLE_SECONDS)
        elif max_seconds is not None:
            params["max_seconds"] = max_seconds
        return params

    def _fit_text(
        self, name: str, frame: pd.DataFrame, layout: TableLayout, rng: np.random.Generator
    ) -> dict[str, TextColumnModel]:
        from relsynth.models.pii import TextColumnModel

        table = self.metadata.table(name)
        unique = {u[0] for u in table.unique if len(u) == 1}
        out = {}
        for col, pii in layout.text.items():
            sql_type = table.column(col).sql_type or ""
            out[col] = TextColumnModel(
                pii, unique=col in unique, locale=self.locale, max_length=_max_length(sql_type)
            ).fit(frame[col], rng=rng)
        return out

    # -- sample ------------------------------------------------------------------------

    def sample(
        self,
        scale: float = 1.0,
        *,
        sizes: Mapping[str, int] | None = None,
        seed: SeedLike = None,
        progress: Progress | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Sample a synthetic database.

        Parameters
        ----------
        scale : float
            Multiplies the row counts of the root tables; children follow from
            the learned cardinalities.
        sizes : Mapping of str to int, optional
            Exact row counts for root tables (overrides ``scale`` for them).
        seed : int, numpy.random.Generator or None
            ``None`` continues the synthesizer's own stream (calls differ); an int
            makes the call reproducible.
        progress : callable, optional
            ``progress(stage, table, done, total)`` after each table.

        Returns
        -------
        dict of str to DataFrame
            Every table, with the source's columns and dtypes; integrity checked.
        """
        from relsynth.models._torch import torch_threads

        check_is_fitted(self, "fit_info_")
        validate_params(
            "Synthesizer.sample",
            {"scale": scale},
            {"scale": Interval(float, 0, None, closed="neither")},
        )
        unknown = sorted(set(sizes or {}) - set(self.plan_.roots))
        if unknown:
            raise ParameterError(
                f"'sizes' may only fix root tables ({', '.join(self.plan_.roots)}); "
                f"got {', '.join(unknown)}. Child sizes follow from their parents."
            )
        base = child_seed(self._rng) if seed is None else child_seed(as_generator(seed))
        done: dict[str, pd.DataFrame] = {}
        order = self.plan_.order
        with torch_threads(self.n_threads):
            for i, name in enumerate(order):
                t0 = time.perf_counter()
                done[name] = self._sample_table(
                    name, done, scale, sizes, stream(base, "sample", name)
                )
                logger.info(
                    "sampled %s: %d rows in %.2fs", name, len(done[name]), time.perf_counter() - t0
                )
                _report(progress, "sample", name, i + 1, len(order))
        done = self.key_generator_.fill_deferred(done, rng=stream(base, "deferred"))
        out = {name: self._finish(name, done[name], stream(base, "finish", name)) for name in order}
        out = rule_hooks.apply_aggregates(self, out, stream(base, "rules", "aggregates"))
        check(self.metadata, out).raise_for_violations()
        for frame in out.values():  # the writer refuses the source database by these
            frame.attrs["relsynth_source_digests"] = list(getattr(self, "source_digests_", []))
        return out

    def _sample_table(
        self,
        name: str,
        done: Mapping[str, pd.DataFrame],
        scale: float,
        sizes: Mapping[str, int] | None,
        rng: np.random.Generator,
    ) -> pd.DataFrame:
        if name in self.copies_:
            return self.copies_[name].copy()
        keys = self.key_generator_.sample_table(name, done, scale=scale, sizes=sizes, rng=rng)
        keys = rule_hooks.match_paths(self, name, keys.reset_index(drop=True), done, rng)
        layout = self.layouts_[name]
        model = self.models_.get(name)
        driver = self.plan_.driver.get(name)
        if model is not None and name in self.sequence_ and driver is not None:
            keys, values = self._sample_sequence(name, keys, done, driver, model, rng)
        elif model is not None:
            time_keys = time_key_columns(layout, self.dtypes_[name])
            context = _context(keys, driver, done, self.layouts_, time_keys, self._secondary(name))
            if name in self.fit_info_.dp.get("unconditional", ()):  # [dp] no context under DP
                context = None
            values = model.sample(context, n_rows=len(keys), seed=rng)
        else:  # no learned columns, or an empty source table: NULLs
            values = pd.DataFrame({c: [None] * len(keys) for c in layout.learned})
        values = values.reset_index(drop=True)
        frame = pd.concat([keys, values], axis=1)
        for col, text_model in self.text_models_.get(name, {}).items():
            names = _name_column(frame, layout)
            frame[col] = text_model.sample(len(frame), rng=rng, names=names).to_numpy()
        for col in layout.empty:
            frame[col] = None
        return rule_hooks.derive_values(self, name, frame, done, rng)

    def _sample_sequence(self, name, keys, done, driver, model, rng):  # noqa: ANN001, ANN202
        parent = done[driver.parent]
        seq_col = self.sequence_[name]["order_column"]
        order_idx = _sequence_order(keys, driver, seq_col, parent)
        keys = keys.iloc[order_idx.order].reset_index(drop=True)
        context = _parent_features(parent, driver.parent, self.layouts_)
        values = model.sample(context, lengths=order_idx.lengths, seed=rng)
        if seq_col in values.columns:  # the keys decide the positions
            values = values.drop(columns=[seq_col])
        return keys, values

    def _finish(self, name: str, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Restore clock text, unique values, generated columns (computed from their
        expressions), CHECK constraints, column order and dtypes."""
        layout = None if name in self.copies_ else self.layouts_.get(name)
        if layout is not None:
            for col, fmt in layout.clocks.items():
                frame[col] = format_clock(frame[col], fmt)
            frame = _enforce_unique(self.metadata, name, frame, layout)
        columns = list(self.metadata.table(name).column_names)
        frame = _restore_dtypes(frame[columns], self.dtypes_[name])
        if layout is not None:
            frame = compute_generated(self.metadata.table(name), frame)
        checks = table_checks(self.metadata, name)
        if layout is None or not checks:
            return frame
        dtypes = self.dtypes_[name]
        repaired = enforce_checks(
            frame,
            checks,
            protected=self.metadata.key_columns(name),
            integers={c for c, d in dtypes.items() if d.lower().startswith(("int", "uint"))},
            rng=rng,
        )
        if repaired:
            logger.info("%s: rows repaired to satisfy CHECK constraints: %s", name, repaired)
        return _restore_dtypes(frame, dtypes)

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Save the fitted synthesizer to one model file (no pickle; see synthesis.artifact)."""
        from relsynth.synthesis.artifact import save_synthesizer

        check_is_fitted(self, "fit_info_", action="save")
        save_synthesizer(rule_hooks.with_rules_in_metadata(self), path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: DeviceLike = "auto") -> Synthesizer:
        """Load a synthesizer saved with :meth:`save` (tensors only; loading runs no code)."""
        from relsynth.synthesis.artifact import load_synthesizer

        return load_synthesizer(path, device=device)


# -- helpers ------------------------------------------------------------------------------


def _report(progress: Progress | None, stage: str, table: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, table, done, total)


def _clean_source(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], on_violations: str
) -> tuple[dict[str, pd.DataFrame], Repair]:
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


def table_checks(meta: Metadata, name: str, *, warn: bool = False) -> list[tuple[str, Expr]]:
    """The CHECK constraints of a table that relsynth can enforce, parsed.

    With ``warn``, each constraint it cannot parse is logged (once per fit): such a
    constraint is still created in the target, which then decides.
    """
    parsed = []
    for i, constraint in enumerate(meta.table(name).checks):
        label = constraint.name or f"{name}#{i + 1}"
        expr = parse_check(constraint.sqltext)
        if expr is not None:
            parsed.append((label, expr))
        elif warn:
            logger.warning(
                "%s: CHECK %s (%s) is not a form relsynth enforces (comparisons, BETWEEN, IN, "
                "IS NULL, AND/OR); sampled rows may break it",
                name, label, constraint.sqltext,
            )  # fmt: skip
    return parsed


def _learned_frame(frame: pd.DataFrame, layout: TableLayout) -> pd.DataFrame:
    values = frame[list(layout.learned)].copy()
    for col in layout.clocks:
        values[col] = parse_clock(values[col])
    return values


def _parent_features(
    parent: pd.DataFrame,
    parent_name: str,
    layouts: Mapping[str, TableLayout],
    columns: Sequence[str] | None = None,
    prefix: str | None = None,
) -> pd.DataFrame:
    """A parent's learned columns (or ``columns``), clock text as seconds, named
    ``prefix.column`` (``parent.column`` by default)."""
    layout = layouts.get(parent_name)
    learned = layout.learned if layout else ()
    cols = [c for c in (learned if columns is None else columns) if c in parent.columns]
    feats = parent[cols].reset_index(drop=True).copy()
    if layout is not None:
        for col in layout.clocks:
            if col in feats.columns and not pd.api.types.is_numeric_dtype(feats[col].dtype):
                feats[col] = parse_clock(feats[col])
    feats.columns = [f"{prefix or parent_name}.{c}" for c in cols]
    return feats


#: A table's share of ``time_budget`` is never below this: a model takes at least one
#: step. Only a budget smaller than the tables' encoders need can be overrun by it.
_MIN_TABLE_SECONDS = 0.05
#: Time kept back from a table's share for each table still to start (encoders, fake
#: text, calibration of a table that trains for only a moment).
_TABLE_OVERHEAD_SECONDS = 0.15


@dataclass
class _TableFit:
    """What fitting one table gives back (from this process, a worker or Ray)."""

    label: str
    seconds: float
    dtypes: dict[str, str]
    model: TableModel | None = None
    text_models: dict[str, TextColumnModel] | None = None
    copy: pd.DataFrame | None = None
    sequence: dict[str, Any] | None = None
    context_keys: list[list[Any]] | None = None


def _source_digests(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """SHA-256 digests of the identities of the databases ``tables`` were read from
    (``attrs["relsynth_source"]``, set by :func:`relsynth.io.sql.read_tables`).

    Saved with the model, and set on every sampled frame, so that writing a sample
    into its own source is refused however the target is named (the identity itself,
    a server's host or a file's inode, is not kept).
    """
    import hashlib

    found = {
        str(frame.attrs["relsynth_source"])
        for frame in tables.values()
        if getattr(frame, "attrs", None) and frame.attrs.get("relsynth_source")
    }
    return sorted(hashlib.sha256(identity.encode()).hexdigest() for identity in found)


def _fit_table_task(
    shell: Synthesizer,
    name: str,
    tables: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    max_seconds: float | None,
    deadline: float | None = None,
) -> _TableFit:
    """Fit one table on a private copy of ``shell`` (settings, plan and layouts only).

    Module-level so that worker processes and Ray can run it; it reads only
    ``tables`` (the table and the parents in its context) and ``rng`` (the table's
    own stream), so its result does not depend on where or when it runs.
    """
    t0 = time.perf_counter()
    if deadline is not None and max_seconds is not None:  # a worker may start late
        max_seconds = max(min(max_seconds, deadline - time.time()), _MIN_TABLE_SECONDS)
    own = copy.copy(shell)
    # the model's cap is what is left of the table's share when the model starts
    own._table_deadline = None if max_seconds is None else time.time() + max_seconds
    own.models_, own.text_models_, own.copies_ = {}, {}, {}
    own.sequence_, own.context_keys_, own.dtypes_ = {}, {}, {}
    from relsynth.models._rare import withhold_rare_categories

    # the threshold is set here, in the process that fits (a worker or Ray task too)
    with withhold_rare_categories(shell.min_category_count):
        label = own._fit_table(name, tables, rng, max_seconds)
    return _TableFit(
        label=label,
        seconds=time.perf_counter() - t0,
        dtypes=own.dtypes_[name],
        model=own.models_.get(name),
        text_models=own.text_models_.get(name),
        copy=own.copies_.get(name),
        sequence=own.sequence_.get(name),
        context_keys=own.context_keys_.get(name),
    )


def _join_parent(
    child_keys: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """Parent features aligned row by row with the child (NaN where the key is NULL)."""
    lookup = parent[list(fk.parent_columns)].reset_index(drop=True).copy()
    lookup.columns = list(fk.columns)
    lookup = pd.concat([lookup, features.reset_index(drop=True)], axis=1)
    lookup = lookup.drop_duplicates(subset=list(fk.columns))
    left = child_keys[list(fk.columns)].reset_index(drop=True)
    for col in fk.columns:  # align key dtypes for the merge
        if left[col].dtype != lookup[col].dtype:
            left[col] = left[col].astype(object)
            lookup[col] = lookup[col].astype(object)
    merged = left.merge(lookup, how="left", on=list(fk.columns), sort=False)
    return merged[list(features.columns)].reset_index(drop=True)


def _family(child_keys: pd.DataFrame, fk: ForeignKey) -> pd.DataFrame:
    """Family size (rows sharing the parent) and position in it; NULL keys form one group."""
    cols = list(fk.columns)
    groups = child_keys[cols].reset_index(drop=True).groupby(cols, dropna=False, sort=False)
    ids = groups.ngroup().to_numpy()
    sizes = np.bincount(ids)[ids] if len(ids) else np.zeros(0)
    return pd.DataFrame(
        {
            SIBLINGS_COLUMN: sizes.astype("float64"),
            POSITION_COLUMN: groups.cumcount().to_numpy(dtype="float64"),
        }
    )


def _context(
    keys: pd.DataFrame,
    driver: ForeignKey | None,
    parents: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
    time_keys: Sequence[str],
    secondary: Sequence[tuple[ForeignKey, Sequence[str]]] = (),
) -> pd.DataFrame | None:
    """What a row's values are conditioned on: its driver parent's values, its family
    size and position, its secondary parents' values (``secondary``: key and parent
    columns, named ``parent(key columns).column``: a flight's ``airports(dest).lon``)
    and the row's own date/time key values.

    The same function builds the context at fit time (real parents, real keys) and at
    sample time (synthetic parents, the skeleton's keys), so the two always match.
    Date/time keys carry meaning the values depend on: ``weather(origin, time_hour)``
    has month, hour and temperature that follow ``time_hour``.
    """
    parts = []
    if driver is not None:
        parent = parents[driver.parent]
        features = _parent_features(parent, driver.parent, layouts)
        parts += [_join_parent(keys, driver, parent, features), _family(keys, driver)]
    for fk, cols in secondary:
        parent = parents[fk.parent]
        prefix = f"{fk.parent}({','.join(fk.columns)})"
        features = _parent_features(parent, fk.parent, layouts, cols, prefix)
        parts.append(_join_parent(keys, fk, parent, features))
    if time_keys:
        parts.append(_time_key_features(keys, time_keys))
    return pd.concat(parts, axis=1) if parts else None


def _time_key_features(keys: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Date/time key columns as calendar features (NaN for NULL).

    Seconds since the epoch for trends, and the calendar parts (month, day of month,
    day of week, hour and minute of day) that values follow but that a network cannot
    easily read off a single time axis: ``weather.hour`` is periodic in ``time_hour``.
    """
    out = {}
    for col in columns:
        stamps = pd.to_datetime(keys[col], errors="coerce").reset_index(drop=True)
        out[f"__key.{col}"] = datetime_seconds(stamps)
        parts = {
            "month": stamps.dt.month,
            "day": stamps.dt.day,
            "weekday": stamps.dt.day_of_week,
            "minute_of_day": stamps.dt.hour * 60 + stamps.dt.minute,
        }
        for part, values in parts.items():
            out[f"__key.{col}.{part}"] = values.to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(out)


def time_key_columns(layout: TableLayout, dtypes: Mapping[str, str]) -> tuple[str, ...]:
    """The key columns of a table that hold dates or times (conditioning context)."""
    return tuple(c for c in layout.keys if dtypes.get(c, "").startswith("datetime64"))


def _sequence_column(meta: Metadata, name: str, driver: ForeignKey | None) -> str | None:
    """The column ordering a child's rows under its driver parent, if any.

    Declared with ``Table.sequence_index``, or recognised when the primary key is the
    driver key plus one more column (``stop_times(trip_id, stop_sequence)``).
    """
    table = meta.table(name)
    if table.sequence_index is not None:
        return table.sequence_index
    if driver is None:
        return None
    pk = table.primary_key
    n = len(driver.columns)
    if len(pk) == n + 1 and tuple(pk[:n]) == driver.columns:
        col = table.column(pk[n])
        if col.kind in ("numerical", "id", "categorical") and (col.sql_type or "").upper() in (
            "INTEGER",
            "BIGINT",
            "SMALLINT",
        ):
            return col.name
    return None


@dataclass(frozen=True)
class _SequenceOrder:
    order: np.ndarray  # row positions, sequence after sequence, in parent order
    lengths: np.ndarray  # one per parent row


def _sequence_order(
    frame: pd.DataFrame, fk: ForeignKey, seq_col: str, parent: pd.DataFrame
) -> _SequenceOrder:
    """Sort child rows by (parent position, sequence column); count rows per parent."""
    lookup = parent[list(fk.parent_columns)].reset_index(drop=True).copy()
    lookup.columns = list(fk.columns)
    lookup["__parent_pos"] = np.arange(len(lookup))
    left = frame[list(fk.columns)].reset_index(drop=True).copy()
    for col in fk.columns:
        if left[col].dtype != lookup[col].dtype:
            left[col] = left[col].astype(object)
            lookup[col] = lookup[col].astype(object)
    pos = left.merge(lookup, how="left", on=list(fk.columns), sort=False)["__parent_pos"]
    pos = pos.fillna(-1).to_numpy(dtype=np.int64)
    seq = pd.to_numeric(frame[seq_col], errors="coerce").to_numpy(dtype="float64")
    order = np.lexsort((seq, pos))
    order = order[pos[order] >= 0]
    lengths = np.bincount(pos[pos >= 0], minlength=len(parent)).astype(np.int64)
    return _SequenceOrder(order=order, lengths=lengths)


def _name_column(frame: pd.DataFrame, layout: TableLayout) -> pd.Series | None:
    for col, pii in layout.text.items():
        if pii == "name" and col in frame.columns:
            return frame[col]
    return None


def _max_length(sql_type: str) -> int | None:
    import re

    match = re.search(r"(?:CHAR|VARCHAR)\s*\((\d+)\)", sql_type.upper())
    return int(match.group(1)) if match else None


def _enforce_unique(
    meta: Metadata, name: str, frame: pd.DataFrame, layout: TableLayout
) -> pd.DataFrame:
    """Make unique constraints (one column or several) hold where a learned column is in them.

    The last learned column of the constraint is changed on the duplicate rows only:
    numbers and dates move by a small step (1, one day or one second) per duplicate,
    text gets a `` 2``, `` 3``... suffix; repeated while duplicates are left (a
    collapsed model can give hundreds of rows the same value), then numbers and dates
    move past the column's maximum and text gets a running number. Key columns never change
    (the key generator makes keys unique); personal text is made unique by its model.
    """
    table = meta.table(name)
    for unique in table.unique:
        learned = [c for c in unique if c in layout.learned]
        if not learned:
            continue
        col, cols = learned[-1], list(unique)
        for attempt in range(_NUDGE_ATTEMPTS + 1):
            sub = frame[cols]
            dup = (sub.duplicated(keep="first") & sub.notna().all(axis=1)).to_numpy()
            if not dup.any():
                break
            rank = sub.groupby(cols, sort=False, dropna=False).cumcount().to_numpy()[dup]
            last = attempt == _NUDGE_ATTEMPTS
            frame[col] = _nudge(frame[col], dup, rank, last_resort=last)
    return frame


_NUDGE_ATTEMPTS = 10  # small steps first; then values past the column's maximum


def _nudge(
    values: pd.Series, rows: np.ndarray, rank: np.ndarray, *, last_resort: bool
) -> pd.Series:
    """``values`` with the ``rows`` moved off their duplicates (``rank``: 1, 2... per group)."""
    out = values.copy()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values.dropna()
        daily = len(stamps) and (stamps == stamps.dt.normalize()).all()
        step = pd.Timedelta(days=1) if daily else pd.Timedelta(seconds=1)
        if last_resort:  # past the latest value: cannot collide
            out[rows] = stamps.max() + step * (1 + np.arange(int(rows.sum())))
        else:
            out[rows] = values[rows] + step * rank
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    ):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        whole = bool(np.all(np.isnan(numbers) | (numbers == np.round(numbers))))
        if last_resort:
            shifted = np.nanmax(numbers) + 1 + np.arange(int(rows.sum()))
        elif whole:
            shifted = numbers[rows] + rank
        else:
            shifted = numbers[rows] + np.maximum(np.abs(numbers[rows]), 1.0) * 1e-9 * rank
        if pd.api.types.is_integer_dtype(values.dtype):
            out[rows] = shifted.astype(np.int64)
        else:
            out = out.astype("float64")
            out[rows] = shifted
    else:
        text = values.astype(object)
        out = text.copy()
        if last_resort:  # a running number no other value has
            out[rows] = [f"{v} #{i + 1}" for i, v in enumerate(text[rows])]
        else:
            out[rows] = [f"{v} {r + 1}" for v, r in zip(text[rows], rank, strict=True)]
    return out


def _restore_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    out = frame.copy()
    for col, dtype in dtypes.items():
        if col not in out.columns or str(out[col].dtype) == dtype:
            continue
        try:
            if dtype.startswith("int") and out[col].isna().any():
                out[col] = out[col].astype(dtype.replace("int", "Int"))
            else:
                out[col] = out[col].astype(dtype)
        except (TypeError, ValueError) as exc:
            logger.debug("kept dtype %s for %s (%s)", out[col].dtype, col, exc)
    return out
