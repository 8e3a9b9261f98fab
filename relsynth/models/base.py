"""The :class:`TableModel` template shared by every column-value model (stage 3 of 5).

A table model learns the non-key columns of one table given its parents' *context*
(:class:`~relsynth.models.context.Context`) and samples new rows for new contexts.
The synthesizer owns keys and lengths; the models own values.

``fit`` and ``sample`` are final template methods: they check the parameters (one
declarative list per class, :mod:`relsynth._validation`) and the data, and run the
same chain for every model::

    fit:    offsets -> dependencies -> encode -> train -> calibrate
    sample: encode context -> generate (calibrated) -> decode -> dependencies -> offsets

Offsets (:mod:`~relsynth.models.offsets`), dependencies
(:mod:`~relsynth.models.dependencies`) and calibration
(:mod:`~relsynth.models.calibration`) are transforms that the template runs for any
model that enables them (``offsets``, ``dependencies``, ``calibrate`` parameters).
Subclasses implement the private hooks (``_encode``, ``_train``, ``_fit_calibration``,
``_generate``, ``_decode``, ``_get_state``, ``_set_state``), and pick one of two
protocols:

- :class:`RowTableModel`: one row per context row (``sample(context)`` or
  ``sample(n_rows=n)`` for a root table); takes no ``lengths``;
- :class:`SequenceTableModel`: one ordered sequence per context row, ``lengths[i]``
  rows long (``fit(table, context, lengths=...)``, ``sample(context, lengths=...)``).
"""

from __future__ import annotations

import abc
import inspect
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from relsynth._random import as_generator
from relsynth._typing import SeedLike
from relsynth._validation import BOOL, Interval, Options, OrNone, Predicate, validate_params
from relsynth.errors import DataError, NotFittedError, ParameterError
from relsynth.metadata.schema import COLUMN_KINDS
from relsynth.models._level_draw import draw_levels, fit_level_draw
from relsynth.models._nulls import apply_null_rules, find_null_rules
from relsynth.models._ranks import fit_rank_copula, ruled_columns
from relsynth.models._ties import apply_ties, find_ties
from relsynth.models.budget import ProgressCallback, TrainingBudget
from relsynth.models.context import Context, as_context
from relsynth.models.dependencies import apply_dependencies, find_dependencies
from relsynth.models.encoding import MODEL_KINDS, TableEncoder, as_frame
from relsynth.models.formulas import apply_formulas, find_formulas
from relsynth.models.null_patterns import apply_null_groups, fill_null_groups, find_null_groups
from relsynth.models.offsets import anchored, apply_offsets, find_offsets, restore_offsets
from relsynth.models.trends import apply_trends, find_trends, restore_trends

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "COMMON_PARAMS",
    "ProgressCallback",
    "RowTableModel",
    "SequenceTableModel",
    "TableModel",
    "TrainingBudget",
]

logger = logging.getLogger(__name__)

_POSITIVE_INT = Interval(int, 1, None, closed="left")

#: Constraints of the parameters every built-in model has (see :mod:`relsynth._validation`).
COMMON_PARAMS: dict[str, Any] = {
    "steps": OrNone(_POSITIVE_INT),
    "epochs": OrNone(_POSITIVE_INT),
    "max_seconds": OrNone(Interval(float, 0, None, closed="neither")),
    "batch_size": _POSITIVE_INT,
    "learning_rate": Interval(float, 0, None, closed="neither"),
    "n_threads": OrNone(_POSITIVE_INT),
    "min_category_count": OrNone(_POSITIVE_INT),
    "encoding": Options(("quantile", "gmm")),
    "calibrate": BOOL,
    "gp_lambda": Interval(float, 0, None, closed="left"),
    "callback": Predicate(lambda v: v is None or callable(v), "a callable or None"),
    "kinds": Predicate(
        lambda v: v is None or all(k in COLUMN_KINDS for k in dict(v).values()),
        f"None or a mapping to {', '.join(MODEL_KINDS)}",
    ),
}


class TableModel(abc.ABC):
    """Learns the non-key columns of one table given its parents' context.

    ``fit``/``sample`` are final (see the module docstring); constructor arguments
    are recorded by name (as scikit-learn's ``get_params``) so ``state_dict`` can
    rebuild the model. ``PARAMS`` lists the constraints of the parameters.
    """

    #: True for models whose ``sample`` takes ``lengths`` (one sequence per context row).
    sequential: ClassVar[bool] = False
    #: Parameter constraints, checked at the start of ``fit``.
    PARAMS: ClassVar[Mapping[str, Any]] = COMMON_PARAMS

    kinds: dict[str, str]
    encoder: TableEncoder
    context_encoder: TableEncoder | None

    @property
    def has_parent_context(self) -> bool:
        """Whether the model learned its rows given a parent context.

        False only for a model fitted without context columns (``_fit_context`` set its
        ``context_encoder`` to None: a root table, or a child whose parents give no
        features); a model class that keeps no context encoder counts as having one.
        ``fit`` reorders the rows of a calibrated model without one to the source's rank
        correlations (:mod:`relsynth.models._ranks`), which would move a child's values
        off its parents'.
        """
        return getattr(self, "context_encoder", True) is not None

    # -- public interface (final) -------------------------------------------------------

    def fit(
        self,
        table: pd.DataFrame,
        context: Context | pd.DataFrame | None = None,
        *,
        lengths: np.ndarray | None = None,
    ) -> Self:
        """Learn ``table`` (non-key columns) given ``context`` (parent features).

        ``lengths`` (rows per sequence) is for sequence models only.
        """
        from relsynth.models._torch import resolve_device, torch_threads

        name = type(self).__name__
        validate_params(name, self.get_params(), self.PARAMS)
        self._check_table(table, context)
        ctx = as_context(context)
        self._check_data(table)
        lengths = self._fit_shape(table, ctx, lengths)
        if len(table) == 0:
            raise DataError(f"Cannot fit {name} on a table with no rows.")
        rng = as_generator(getattr(self, "seed", None))
        budget = TrainingBudget(
            name, 1, getattr(self, "max_seconds", None), getattr(self, "callback", None)
        )
        self.columns_ = [str(c) for c in table.columns]
        self.dtypes_ = {str(c): str(t) for c, t in table.dtypes.items()}
        learned = self._fit_transforms(table, ctx, rng)
        data = self._encode(learned, ctx, lengths, rng)
        self.device_ = resolve_device(getattr(self, "device", "auto"))
        self.steps_, self.training_seconds_ = 0, 0.0
        self.calibration_: Any = None
        with torch_threads(getattr(self, "n_threads", None)):
            self._train(data, rng, budget)
            if getattr(self, "calibrate", False) and self._calibratable():
                if budget.left() > 0:
                    self.calibration_ = self._fit_calibration(data, rng)
                else:
                    logger.info("%s: no time left to calibrate", name)
        # ranks: not given parents (a reorder across families moves values off them)
        rules, k = ruled_columns(self), self._min_count()
        if hasattr(self.calibration_, "ranks") and not self.has_parent_context:
            self.calibration_.ranks = fit_rank_copula(table, rules, self.kinds)
        if hasattr(self.calibration_, "levels") and not self.sequential:  # given the parents
            self.calibration_.levels = fit_level_draw(table, rules, self.kinds, ctx.frame(), k)
        self.fitted_ = True
        return self

    def sample(
        self,
        context: Context | pd.DataFrame | None = None,
        *,
        n_rows: int | None = None,
        lengths: np.ndarray | None = None,
        seed: SeedLike = None,
    ) -> pd.DataFrame:
        """Generate rows for ``context`` (or ``n_rows`` rows of a root table; a sequence
        model takes ``lengths``)."""
        import torch

        from relsynth.models._torch import torch_threads

        self._check_fitted()
        ctx = as_context(context)
        n, lengths = self._sample_shape(ctx, n_rows, lengths)
        rng = as_generator(seed)
        encoded = self._sample_context(ctx, n, lengths, rng)
        with torch_threads(getattr(self, "n_threads", None)), torch.inference_mode():
            generated = self._generate(encoded, lengths, rng)
        decoded = self._decode(generated, lengths, rng)
        if self.dependencies_:
            decoded = apply_dependencies(self.dependencies_, decoded, ctx.frame(), rng)
        if getattr(self, "trends_", None):
            decoded = restore_trends(decoded, ctx.frame(), self.trends_)
        decoded = restore_offsets(decoded, self.offsets_)
        decoded = apply_null_groups(decoded, getattr(self, "null_groups_", None) or [])
        decoded = apply_null_rules(decoded, getattr(self, "null_rules_", None) or [], rng)
        decoded = apply_ties(decoded, getattr(self, "ties_", None) or [], rng)
        decoded = apply_null_rules(decoded, getattr(self, "point_rules_", None) or [], rng)
        decoded = apply_formulas(decoded, getattr(self, "formulas_", None) or [])
        ranks = getattr(self.calibration_, "ranks", None)
        decoded = decoded if ranks is None else ranks.apply(decoded)
        return draw_levels(self.calibration_, decoded, rng, ctx.frame())

    def state_dict(self) -> dict[str, Any]:
        """Constructor parameters, encoders and weights: plain containers and CPU tensors.

        The result loads with ``torch.load(..., weights_only=True)``.
        """
        self._check_fitted()
        params = {k: v for k, v in self.get_params().items() if k not in ("callback", "seed")}
        params["kinds"] = dict(params.get("kinds") or {}) or None
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        return {"class": type(self).__name__, "params": params, "fitted": self._get_state()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], *, device: str | None = None) -> Self:
        """Rebuild a fitted model from :meth:`state_dict` (runs no pickled code)."""
        if state.get("class") != cls.__name__:
            raise ParameterError(
                f"This state dict was made by {state.get('class')!r}, not {cls.__name__!r}. "
                f"Load it with {state.get('class')}.from_state_dict."
            )
        params = dict(state["params"])
        if device is not None:
            params["device"] = device
        model = cls(**params)
        model._set_state(state["fitted"])
        return model

    def default_steps(self, n_rows: int, *, lengths: np.ndarray | None = None) -> int:
        """Training steps this model takes on ``n_rows`` rows when not told otherwise.

        Derived from the data only (never from the clock), so a fit is reproducible.
        ``lengths`` (rows per sequence) is given for sequential models.
        """
        return TrainingBudget.steps(n_rows, 1, None, 40.0, 200, 2000)

    def training_steps(
        self, n_rows: int, batch_size: int, *, lengths: np.ndarray | None = None
    ) -> int:
        """The steps ``fit`` will run: ``steps``, else ``epochs`` passes, else the default."""
        steps = getattr(self, "steps", None)
        if steps is not None:
            return int(steps)
        epochs = getattr(self, "epochs", None)
        if epochs is not None:
            return int(epochs) * max(1, math.ceil(n_rows / batch_size))
        return self.default_steps(n_rows, lengths=lengths)

    def fit_cost(self, n_rows: int, n_columns: int, *, lengths: np.ndarray | None = None) -> float:
        """Relative training time of a table (steps x rows per step x width).

        Shares a wall-clock budget among tables; only the ratios between tables matter.
        """
        if n_rows == 0:
            return 0.0
        batch = min(getattr(self, "batch_size", 500), max(n_rows, 10))
        steps = self.training_steps(n_rows, batch, lengths=lengths)
        return float(steps * batch * (1 + n_columns))

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters by name."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- transforms (run by the template for the models that enable them) ---------------

    def _min_count(self) -> int:
        """Rows a categorical value needs to be emitted (``min_category_count``, else 1)."""
        return int(getattr(self, "min_category_count", None) or 1)

    def _fit_transforms(
        self, table: pd.DataFrame, context: Context, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Find offsets and dependencies (when enabled); the table the encoder learns."""
        self.offsets_ = find_offsets(table, self.kinds) if getattr(self, "offsets", False) else []
        learned = apply_offsets(table, self.offsets_)
        learned = self._fit_reparametrisations(table, learned, context)
        # Rules are found (and applied) on what the generator produces, gaps included:
        # a flight's departure gap is its delay, exactly.
        self.dependencies_ = (
            find_dependencies(
                learned,
                context.frame(),
                rng=rng,
                excluded=anchored(self.offsets_),
                family=context.family_columns,
                min_count=self._min_count(),
            )
            if getattr(self, "dependencies", False)
            else []
        )
        return fill_null_groups(table, learned, self.null_groups_)

    def _fit_reparametrisations(
        self, table: pd.DataFrame, learned: pd.DataFrame, context: Context
    ) -> pd.DataFrame:
        """Within-row formulas (computed after sampling) and numbers that follow the row's
        time key (learned as residuals from their trend), with ``offsets`` on; their own
        fixed random splits leave the model's stream alone (formulas.py, trends.py)."""
        self.formulas_, self.trends_, self.null_rules_, self.ties_ = [], [], [], []
        self.point_rules_, self.null_groups_ = [], []
        if not getattr(self, "offsets", False):
            return learned
        rebuilt = {c for o in self.offsets_ for c in (o.column, o.anchor, o.by) if c is not None}
        kinds = dict(self.kinds or {})
        self.null_groups_ = find_null_groups(table)
        grouped = {c for g in self.null_groups_ for c in g.columns}
        self.formulas_ = find_formulas(table, excluded=sorted(rebuilt), kinds=kinds)
        frame = context.frame()
        # A column that a dependency rule fixes exactly (a flight's day from its time key)
        # keeps the rule, not a smooth trend; an offset's gap may follow the time.
        ruled = (
            find_dependencies(learned, frame, rng=np.random.default_rng(0),
                              excluded=anchored(self.offsets_), family=context.family_columns,
                              min_count=self._min_count())
            if getattr(self, "dependencies", False)
            else []
        )  # fmt: skip
        skip = sorted({f.column for f in self.formulas_} | {d.column for d in ruled})
        # NULL rules and ties move values after sampling: never one that an offset, a
        # dependency rule (either side) or a formula rebuilds or reads
        fixed = sorted(rebuilt | grouped | {f.column for f in self.formulas_}
                       | {c for d in ruled for c in (d.column, *d.determinants)})  # fmt: skip
        self.null_rules_ = find_null_rules(table, excluded=fixed, kinds=kinds)
        given = sorted({r.given.column for r in self.null_rules_})
        self.ties_ = find_ties(table, excluded=fixed, kinds=kinds, keep=given)
        tied = {c for t in self.ties_ for c in (t.column, t.given.column)}
        self.point_rules_ = find_null_rules(
            table, excluded=sorted({*fixed, *tied, *given}), kinds=kinds, points=True
        )
        self.trends_ = find_trends(
            learned, frame, excluded=skip, min_count=self._min_count(), kinds=kinds
        )
        for f in self.formulas_:
            logger.info("%s: %s, computed after sampling", type(self).__name__, f.describe())
        lines = [t.describe() for t in self.trends_] + [t.describe() for t in self.ties_]
        lines += [g.describe() for g in self.null_groups_]
        lines += [r.describe() for r in (*self.null_rules_, *self.point_rules_)]
        for line in lines:
            logger.info("%s: %s", type(self).__name__, line)
        return apply_trends(learned, frame, self.trends_)

    # -- hooks ----------------------------------------------------------------------------

    def _check_data(self, table: pd.DataFrame) -> None:  # noqa: B027 - optional hook
        """Model-specific checks of ``table`` (after the parameters)."""

    @abc.abstractmethod
    def _fit_shape(
        self, table: pd.DataFrame, context: Context, lengths: np.ndarray | None
    ) -> np.ndarray | None:
        """Check the rows of ``table``, ``context`` and ``lengths``; the lengths to use."""

    @abc.abstractmethod
    def _sample_shape(
        self, context: Context, n_rows: int | None, lengths: np.ndarray | None
    ) -> tuple[int, np.ndarray | None]:
        """Check the sample request; the number of context rows and the lengths."""

    @abc.abstractmethod
    def _encode(
        self,
        table: pd.DataFrame,
        context: Context,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> Any:
        """Fit the encoders (table, then context); the encoded training data."""

    @abc.abstractmethod
    def _train(self, data: Any, rng: np.random.Generator, budget: TrainingBudget) -> None:
        """Build and train the networks on ``_encode``'s data; set ``steps_`` and
        ``training_seconds_``."""

    def _calibratable(self) -> bool:
        """Whether there is anything to calibrate."""
        return True

    @abc.abstractmethod
    def _fit_calibration(self, data: Any, rng: np.random.Generator) -> Any:
        """Fit the marginal calibration (:mod:`relsynth.models.calibration`)."""

    def _sample_context(
        self,
        context: Context,
        n: int,
        lengths: np.ndarray | None,
        rng: np.random.Generator,
    ) -> Any:
        """The encoded sample-time context (``n`` rows): a matrix, or any form that
        the model's :meth:`_generate` takes (the WGAN's compact rows)."""
        return self._encode_context(context.frame(), n, rng)

    @abc.abstractmethod
    def _generate(
        self, context: np.ndarray, lengths: np.ndarray | None, rng: np.random.Generator
    ) -> Any:
        """Generate (calibrated) encoded rows for the encoded context."""

    @abc.abstractmethod
    def _decode(
        self, generated: Any, lengths: np.ndarray | None, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Decode ``_generate``'s output into the table's columns."""

    @abc.abstractmethod
    def _get_state(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def _set_state(self, state: Mapping[str, Any]) -> None: ...

    # -- helpers for subclasses ---------------------------------------------------------

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with the "
                "table (and its context) before 'sample' or 'state_dict'."
            )

    def _check_table(self, table: pd.DataFrame, context: Any) -> None:
        if not isinstance(table, pd.DataFrame):
            raise ParameterError(
                f"The 'table' parameter of {type(self).__name__} must be a pandas DataFrame. "
                f"Got {type(table).__name__!r} instead."
            )
        if not isinstance(context, Context):
            as_frame(context, "context")
        if table.columns.duplicated().any():
            dup = table.columns[table.columns.duplicated()].tolist()
            raise ParameterError(f"The table has duplicated column names {dup}; rename them.")

    def _fit_context(
        self, context: pd.DataFrame | None, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Fit the context encoder (quantile transform, always) and encode ``context``."""
        if context is None or context.shape[1] == 0:
            self.context_encoder = None
            return np.zeros((n, 0), dtype=np.float32)
        ctx = context.reset_index(drop=True)
        # the context is encoded, never decoded: no discrete CDF (numerical.py)
        self.context_encoder = TableEncoder(
            method="quantile", min_count=self._min_count(), cdf=False
        )
        self.context_encoder.fit(ctx, rng)
        return self.context_encoder.transform(ctx, rng)

    def _encode_context(
        self,
        context: pd.DataFrame | None,
        n: int,
        rng: np.random.Generator,
        *,
        compact: bool = False,
    ) -> Any:
        """Encode a sample-time context with the fit-time encoder (DataError on mismatch):
        a dense matrix, or with ``compact`` a :class:`~relsynth.models._compact.CompactRows`
        (a context without columns stays an ``(n, 0)`` matrix)."""
        enc = self.context_encoder
        if enc is None:
            if context is not None and context.shape[1] > 0:
                raise self._context_mismatch(list(map(str, context.columns)))
            return np.zeros((n, 0), dtype=np.float32)
        if context is None:
            raise self._context_mismatch([])
        enc.check_columns(context, "context")
        frame = context.reset_index(drop=True)
        return enc.compact(frame, rng) if compact else enc.transform(frame, rng)

    def _context_mismatch(self, got: list[str]) -> Exception:
        want = [] if self.context_encoder is None else self.context_encoder.columns
        return DataError(
            f"The context columns differ from those seen in 'fit': expected {want}, got {got}. "
            "Pass the same context columns to 'sample' as to 'fit'."
        )

    def _encode_table(
        self,
        table: pd.DataFrame,
        rng: np.random.Generator,
        kinds: Mapping[str, str] | None = None,
    ) -> np.ndarray:
        """Fit the table encoder (``kinds`` overrides the constructor's) and encode."""
        kinds = self.kinds if kinds is None else kinds
        frame = table.reset_index(drop=True)
        self.encoder = TableEncoder(kinds, method=self.encoding, min_count=self._min_count())
        self.encoder.fit(frame, rng)
        return self.encoder.transform(frame, rng)


class RowTableModel(TableModel):
    """Protocol of the models that make one row per context row (or ``n_rows`` root rows).

    ``fit(table, context)`` takes one context row per table row and no ``lengths``;
    ``sample(context)`` makes one row per context row, in order, and
    ``sample(n_rows=n)`` makes ``n`` rows of a table without context.
    """

    sequential: ClassVar[bool] = False

    def _fit_shape(self, table: pd.DataFrame, context: Context, lengths: np.ndarray | None) -> None:
        name = type(self).__name__
        if lengths is not None:
            raise ParameterError(
                f"{name} makes one row per context row and takes no 'lengths'; a sequence "
                "model (model.sequential) does."
            )
        if not context.empty and len(context) != len(table):
            raise DataError(
                f"The context has {len(context)} rows but the table has {len(table)}; "
                f"{name} needs one context row per table row."
            )
        return None

    def _sample_shape(
        self, context: Context, n_rows: int | None, lengths: np.ndarray | None
    ) -> tuple[int, None]:
        name = type(self).__name__
        validate_params(
            f"{name}.sample",
            {"n_rows": n_rows},
            {"n_rows": OrNone(Interval(int, 0, None, closed="left"))},
        )
        if lengths is not None:
            raise ParameterError(
                f"{name}.sample makes one row per context row and takes no 'lengths'."
            )
        if context.empty:
            if n_rows is None:
                raise ParameterError(f"{name}.sample needs a 'context' or 'n_rows'.")
            return int(n_rows), None
        if n_rows is not None and n_rows != len(context):
            raise ParameterError(
                f"'n_rows' ({n_rows}) differs from the number of context rows "
                f"({len(context)}); pass one of them."
            )
        return len(context), None


class SequenceTableModel(TableModel):
    """Protocol of the models that make one ordered sequence per context row.

    ``fit(table, context, lengths=...)``: ``table`` sorted by sequence then order,
    ``lengths[i]`` rows for sequence ``i``, one context row per sequence;
    ``sample(context, lengths=...)`` makes ``lengths[i]`` rows for context row ``i``,
    sequence after sequence (``n_rows``, if given, must equal ``lengths.sum()``).
    """

    sequential: ClassVar[bool] = True

    def _fit_shape(
        self, table: pd.DataFrame, context: Context, lengths: np.ndarray | None
    ) -> np.ndarray:
        return self._check_lengths(
            lengths, len(table), None if context.empty else len(context), "fit"
        )

    def _sample_shape(
        self, context: Context, n_rows: int | None, lengths: np.ndarray | None
    ) -> tuple[int, np.ndarray]:
        arr = self._check_lengths(
            lengths, n_rows, None if context.empty else len(context), "sample"
        )
        return len(arr), arr

    def _check_lengths(
        self, lengths: Any, n_rows: int | None, n_ctx: int | None, where: str
    ) -> np.ndarray:
        name = type(self).__name__
        if lengths is None:
            raise ParameterError(f"{name}.{where} needs 'lengths' (rows per sequence).")
        arr = np.asarray(lengths)
        if (
            arr.ndim != 1
            or (len(arr) and not np.issubdtype(arr.dtype, np.integer))
            or (len(arr) and arr.min() < 0)
        ):
            raise ParameterError(
                f"The 'lengths' parameter of {name}.{where} must be a 1-D array of "
                "non-negative ints."
            )
        arr = arr.astype(np.int64)
        if n_rows is not None and int(arr.sum()) != n_rows:
            raise DataError(f"'lengths' sums to {int(arr.sum())} but the table has {n_rows} rows.")
        if n_ctx is not None and n_ctx != len(arr):
            raise DataError(
                f"The context has {n_ctx} rows but 'lengths' has {len(arr)} sequences; "
                f"{name} needs one context row per sequence."
            )
        return arr
