"""The Synthesizer: a database in, a checked synthetic database out.

Stage 4 of the pipeline; it orchestrates the others. This module is the façade:
settings, and the two pipelines, each step a call into the module that owns it::

    fit(tables)
      _source.clean_source          check the source (orphans reported, or dropped)
      plan = graph.plan(metadata)   order, driver keys, deferred keys
      _rule_hooks.fit_rules         cross-table rules; lookup tables
      KeyGenerator().fit(...)       cardinalities, secondary degrees, formats
      _schedule.fit_tables          per table, independently, given the REAL parents
        -> _fit_table.fit_table_task (here, in a worker process or on Ray):
           learned columns -> ConditionalWGAN(context: _context.build_context) or
                              SequenceModel (one sequence per driver parent)
           personal text   -> TextColumnModel (Faker; never the source's values)
      tables_ = {table: TableFit}   the fitted state (_state), and fit_info_

    sample(scale)
      per table in plan order, given the SYNTHETIC parents (_sample.sample_table):
        keys.sample_table -> context from the synthetic parents -> model.sample
        -> personal text
      keys.fill_deferred (cycle breakers)
      per table: _finish.finish_table (clocks, unique, generated, CHECK, dtypes)
      aggregate rules, then check(): clean or an error

Tables are independent at fit time (each learns from its real parents), so a
model for one table never sees another table's synthetic values during training.

Semantics decided once (style.md §4.4): ``scale`` multiplies the root tables and
children follow from the cardinality models; ``sizes`` pins root tables to exact
row counts; ``sample(seed=None)`` draws from the synthesizer's own stream so calls
differ, ``sample(seed=int)`` is reproducible.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from relsynth._columns import TableLayout, table_layout
from relsynth._random import as_generator, child_seed
from relsynth._typing import DeviceLike, SeedLike
from relsynth._validation import Interval, Options, check_is_fitted, validate_params
from relsynth.errors import ParameterError
from relsynth.metadata.graph import Plan, plan
from relsynth.metadata.schema import ForeignKey, Metadata
from relsynth.synthesis import _conditional, _dp
from relsynth.synthesis import _rule_hooks as rule_hooks
from relsynth.synthesis._finish import table_checks
from relsynth.synthesis._progress import Progress, report
from relsynth.synthesis._repair import Repair
from relsynth.synthesis._sample_args import check_sample_args
from relsynth.synthesis._state import SAVED_PARAMETERS, FitInfo, TableFit

if TYPE_CHECKING:
    from relsynth.keys import KeyGenerator
    from relsynth.models.base import TableModel
    from relsynth.models.pii import TextColumnModel
    from relsynth.synthesis._fit_table import FittedTable
    from relsynth.synthesis.dp import DifferentialPrivacy

__all__ = ["FitInfo", "Progress", "Synthesizer"]

logger = logging.getLogger(__name__)


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
        and the lookup and reference tables relsynth finds where ``reference`` is unset
        (small tables without personal or free text that other tables point at: genres,
        carriers; larger lists of codes with their names that a much larger table points
        at: airports; :mod:`relsynth.rules.lookup`). ``reference: false`` keeps a table
        modelled.
    drivers : Mapping of str to ForeignKey or None, optional
        Driver key overrides (see :func:`relsynth.plan`).
    locale : str
        Faker locale for personal text (names, addresses...).
    n_threads : int, optional
        Torch (and BLAS) threads for each table's fit, and for sampling. By default a
        table fit uses one thread: floating-point sums in training depend on how
        they are split among threads, so a fixed count is what makes a fit give the
        same bytes on machines of one CPU kind, under any load; fits run in parallel with
        ``n_jobs`` instead. Sampling (forward passes only) uses one thread too, unless
        set: a forward pass split among threads may round a value differently, so the
        default gives the same rows on any machine (large samples run in parallel as
        chunks, ``sample_chunks``).
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
    early_stopping : bool, optional
        Whether the learned tables' models stop training early on a deterministic
        fidelity gap to held-back rows (sequences for a sequential table) once it stops
        improving (``early_stopping`` of
        :class:`~relsynth.models.wgan.ConditionalWGAN` and
        :class:`~relsynth.models.sequential.SequenceModel`). None: each model's
        default, on where the training length comes from the data (``steps`` unset)
        for tables of at least 2,000 rows or 1,000 sequences. It counts steps, never
        seconds: the result stays reproducible.
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
        early_stopping: bool | None = None,
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
        self.early_stopping = early_stopping
        self.rules = rules
        self.n_jobs = n_jobs
        self.executor = executor
        self.ray_address = ray_address
        self.privacy = privacy

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
                "early_stopping": Options([True, False, None]),
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

    def get_params(self) -> dict[str, Any]:
        """Every constructor parameter and its value (scikit-learn's ``get_params``),
        read from the ``__init__`` signature: ``type(self)(**get_params())`` is an
        unfitted copy with the same settings."""
        return {name: getattr(self, name) for name in _init_parameters(type(self))}

    # -- fit ---------------------------------------------------------------------------
    #
    # check the source -> plan -> rules -> keys -> every table's TableFit (tasks) -> info

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
            has ended. Tables fitted in parallel start and end in any order. While a
            table trains, ``("fit-step", table, step, steps)`` reports its training
            steps (about each 1% of them; an early stop ends before ``steps``; not
            from Ray tasks).

        Returns
        -------
        Synthesizer
            ``self``, fitted.
        """
        from relsynth.synthesis._source import clean_source, source_digests

        self._validate_params()
        validate_params(
            "Synthesizer.fit",
            {"on_violations": on_violations},
            {"on_violations": Options(["raise", "drop"])},
        )
        self._warn_deprecated()
        self.metadata.validate()
        started = time.perf_counter()
        # Wall clock (not perf_counter): worker processes and Ray tasks compare with it.
        clock = (time.time(), time.process_time())  # how busy the machine is: _schedule
        deadline = None if self.time_budget is None else clock[0] + self.time_budget
        source, repair = clean_source(self.metadata, tables, on_violations)
        self.source_digests_ = source_digests(tables)
        self.plan_: Plan = plan(self.metadata, self.drivers)
        seconds: dict[str, float] = {"check": time.perf_counter() - started}
        self._rng = as_generator(self.seed)
        base_seed = child_seed(self._rng)
        layouts = {n: table_layout(self.metadata, n, source[n]) for n in self.plan_.order}
        dp = None
        if self.privacy is not None:  # DP releases and key skeleton: relsynth.synthesis._dp
            dp = _dp.prepare(self, source, layouts, base_seed)
            seconds["keys"] = dp.seconds
        else:
            seconds["rules"] = self._fit_rules(source)
            seconds["keys"] = self._fit_keys(source)
        total = len(self.plan_.order) + 1
        report(progress, "keys", "*", 1, total)
        fitted = self._fit_tables(source, layouts, base_seed, deadline, progress, total, dp, clock)
        seconds.update({f"fit:{name}": fitted[name].seconds for name in self.plan_.order})
        self.tables_: dict[str, TableFit] = {n: fitted[n].state for n in self.plan_.order}
        self._base_seed = base_seed
        for name in self.plan_.order:
            table_checks(self.metadata, name, warn=True)
        seconds["total"] = time.perf_counter() - started
        self.fit_info_ = self._fit_info(source, repair, seconds, fitted)
        if dp is not None:
            self.fit_info_ = _dp.fit_info(self, dp, fitted, self.fit_info_)
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

    def _fit_rules(self, source: Mapping[str, pd.DataFrame]) -> float:
        """Cross-table rules and lookup tables; returns the seconds taken."""
        from relsynth.rules.lookup import find_lookups

        t0 = time.perf_counter()
        found = find_lookups(self.metadata, source)
        self.lookups_ = tuple(t.name for t in found)  # copied unless overridden
        #: why each was found (shown by fit/clone; a loaded model file has none)
        self.lookup_reasons_ = {t.name: f"{t.rule}: {t.reason}" for t in found}
        self.rules_ = rule_hooks.fit_rules(self, source)  # keys to copied tables: after
        return time.perf_counter() - t0

    def _fit_keys(self, source: Mapping[str, pd.DataFrame]) -> float:
        """The key generator; returns the seconds taken."""
        from relsynth.keys import KeyGenerator

        t0 = time.perf_counter()
        from relsynth.synthesis._copied import is_copied

        copied = [n for n in self.plan_.order if is_copied(self, n)]
        self.key_generator_: KeyGenerator = KeyGenerator(min_count=self.min_category_count).fit(
            self.metadata, source, plan=self.plan_, copied=copied
        )
        return time.perf_counter() - t0

    def _fit_tables(
        self,
        source: Mapping[str, pd.DataFrame],
        layouts: Mapping[str, TableLayout],
        base_seed: int,
        deadline: float | None,
        progress: Progress | None,
        total: int,
        dp: _dp.DPFit | None = None,
        clock: tuple[float, float] | None = None,
    ) -> dict[str, FittedTable]:
        """Every table's fit, as independent tasks (:mod:`._schedule`, :mod:`._fit_table`);
        ``layouts``: every table's, copied ones too (their columns feed children's context);
        ``clock``: the fit's start (wall clock, CPU time)."""
        from relsynth.synthesis._schedule import fit_tables

        return fit_tables(self, source, layouts, base_seed, deadline, progress, total, dp, clock)

    def _fit_info(
        self,
        source: Mapping[str, pd.DataFrame],
        repair: Repair,
        seconds: dict[str, float],
        fitted: Mapping[str, FittedTable],
    ) -> FitInfo:
        from relsynth.synthesis._privacy import privacy_summary, withheld_values

        order = self.plan_.order
        return FitInfo(
            seconds=seconds,
            rows={n: len(source[n]) for n in order},
            models={n: fitted[n].label for n in order},
            dropped_rows=dict(repair.dropped),
            nulled_keys=dict(repair.nulled),
            withheld=withheld_values(self),
            privacy=privacy_summary(self),
        )

    def _shell(self) -> Synthesizer:
        """A copy of this synthesizer's settings (every constructor parameter), plan and
        lookup tables, for fitting tables elsewhere (worker processes, Ray)."""
        shell = type(self)(**self.get_params())
        shell.plan_ = self.plan_
        shell.lookups_ = self.lookups_
        shell.rules_ = getattr(self, "rules_", ())  # a determined value joins a context
        return shell

    # -- sample ------------------------------------------------------------------------
    #
    # per table in plan order: skeleton -> values -> text (_sample.sample_table);
    # deferred keys; per table: finishing (_finish); aggregate rules; integrity check

    def sample(
        self,
        scale: float = 1.0,
        *,
        sizes: Mapping[str, int] | None = None,
        seed: SeedLike = None,
        progress: Progress | None = None,
        where: str | Sequence[str] | None = None,
        parents: Mapping[str, pd.DataFrame] | None = None,
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
        where, parents : str or sequence of str, Mapping of str to DataFrame, optional
            Conditions and given rows: docs/synthesizer.md, "Conditional and seeded sampling".

        Returns
        -------
        dict of str to DataFrame
            Every table, with the source's columns and dtypes; integrity checked.
        """
        check_is_fitted(self, "fit_info_")
        check_sample_args(self.plan_, scale, sizes)
        base = child_seed(self._rng) if seed is None else child_seed(as_generator(seed))
        if where is not None or parents is not None:  # synthesis/_conditional.py
            return _conditional.sample_conditional(
                self, base, scale, sizes, where, parents, progress
            )
        out = self._sample_database(scale, sizes, base, progress)
        for frame in out.values():  # the writer refuses the source database by these
            frame.attrs["relsynth_source_digests"] = list(getattr(self, "source_digests_", []))
        return out

    def sample_chunks(
        self,
        scale: float = 1.0,
        *,
        sizes: Mapping[str, int] | None = None,
        seed: SeedLike = None,
        chunk_rows: int | None = None,
        n_jobs: int | None = None,
        executor: Literal["local", "ray"] | None = None,
        progress: Progress | None = None,
    ) -> Iterator[dict[str, pd.DataFrame]]:
        """Sample a database too big for memory as a stream of chunks, for
        :func:`relsynth.io.sql.write_table_chunks` (docs/synthesizer.md, "Chunked sampling").

        Independent partitions of about ``chunk_rows`` rows (default: one chunk, exactly
        :meth:`sample`'s output, up to a million rows, else 100,000 a chunk), each a
        dict of every table (copied tables in the first only), keys unique across
        chunks; made by ``n_jobs`` processes or on Ray (``executor``), one torch thread
        each: a function of (model, seed, scale, sizes, chunk_rows) only.
        ``progress("chunk", "*", done, total)`` after each chunk."""
        from relsynth.synthesis._chunks import sample_chunks

        return sample_chunks(
            self, scale, sizes=sizes, seed=seed, chunk_rows=chunk_rows,
            n_jobs=n_jobs, executor=executor, progress=progress,
        )  # fmt: skip

    def _sample_database(
        self,
        scale: float,
        sizes: Mapping[str, int] | None,
        base: int,
        progress: Progress | None,
        threads: int | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Every table, deferred keys, finishing, aggregates, checked (:mod:`._sample`)."""
        from relsynth.synthesis._sample import sample_database

        return sample_database(self, scale, sizes, base, progress, threads)

    # -- state and persistence ---------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The fitted state, typed: what a model file keeps (:mod:`.artifact`).

        ``metadata`` (with the fitted rules), ``parameters`` (the settings a model
        file keeps), ``plan``, ``key_generator``, ``tables`` (one
        :class:`~relsynth.synthesis._state.TableFit` per table, in plan order),
        ``source_digests`` and ``fit_info``.
        """
        check_is_fitted(self, "fit_info_", action="save")
        return {
            # the fitted rules join the metadata: a loaded synthesizer enforces those
            "metadata": rule_hooks.metadata_with_rules(self),
            "parameters": {name: getattr(self, name) for name in SAVED_PARAMETERS},
            "plan": self.plan_,
            "key_generator": self.key_generator_,
            "tables": {name: self.tables_[name] for name in self.plan_.order},
            "source_digests": list(getattr(self, "source_digests_", [])),
            "fit_info": self.fit_info_,
        }

    @classmethod
    def from_state_dict(
        cls, state: Mapping[str, Any], *, device: DeviceLike = "auto"
    ) -> Synthesizer:
        """A fitted synthesizer from :meth:`state_dict`'s parts (models on ``device``)."""
        meta: Metadata = state["metadata"]
        synth = cls(meta, **{**state["parameters"], "device": device})
        synth.plan_ = state["plan"]
        synth.drivers = dict(synth.plan_.driver) or None
        synth.key_generator_ = state["key_generator"]
        synth.tables_ = {name: state["tables"][name] for name in synth.plan_.order}
        synth.source_digests_ = [str(d) for d in state.get("source_digests", [])]
        synth.fit_info_ = state["fit_info"]
        synth._rng = np.random.default_rng()
        return synth

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Save the fitted synthesizer to one model file (no pickle; see synthesis.artifact)."""
        from relsynth.synthesis.artifact import write_state

        check_is_fitted(self, "fit_info_", action="save")
        write_state(self.state_dict(), path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: DeviceLike = "auto") -> Synthesizer:
        """Load a synthesizer saved with :meth:`save` (tensors only; loading runs no code)."""
        from relsynth.synthesis.artifact import read_state

        return cls.from_state_dict(read_state(path, device=device), device=device)

    # -- per-table views of tables_ (read-only; the state is tables_) ------------------

    @property
    def layouts_(self) -> dict[str, TableLayout]:
        """Each table's column layout (keys, learned, text, empty, clocks)."""
        return {n: t.layout for n, t in self.tables_.items()}

    @property
    def dtypes_(self) -> dict[str, dict[str, str]]:
        """Each table's source dtypes."""
        return {n: t.dtypes for n, t in self.tables_.items()}

    @property
    def models_(self) -> dict[str, TableModel | None]:
        """Each table's model (None: copied, empty, or nothing learned)."""
        return {n: t.model for n, t in self.tables_.items()}

    @property
    def text_models_(self) -> dict[str, dict[str, TextColumnModel]]:
        """Personal-text models, per modelled table and column."""
        return {n: t.text_models for n, t in self.tables_.items() if t.text_models is not None}

    @property
    def copies_(self) -> dict[str, pd.DataFrame]:
        """The reference tables copied verbatim."""
        return {n: t.copy for n, t in self.tables_.items() if t.copy is not None}

    @property
    def sequence_(self) -> dict[str, dict[str, Any]]:
        """Sequential children: order column and monotone columns."""
        return {n: t.sequence for n, t in self.tables_.items() if t.sequence is not None}

    @property
    def context_keys_(self) -> dict[str, list[list[Any]]]:
        """``[foreign key index, parent columns]`` of the secondary parents in a
        table's context."""
        return {n: t.context_keys for n, t in self.tables_.items() if t.context_keys is not None}


def _init_parameters(cls: type) -> list[str]:
    """The names of ``cls.__init__``'s parameters (``self`` and ``*args`` left out)."""
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind not in kinds]
