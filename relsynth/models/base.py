"""The :class:`TableModel` interface shared by every column-value model (stage 3 of 5).

A table model learns the non-key columns of one table given its parents' *context*
and samples new rows for new contexts. The synthesizer owns keys and lengths; the
models own values. This module holds the template (validation, encoders, state,
budget and progress reporting); subclasses implement the torch parts.
"""

from __future__ import annotations

import abc
import inspect
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from relsynth._random import as_generator
from relsynth._typing import SeedLike
from relsynth.errors import (
    ConvergenceWarning,
    DataError,
    NotFittedError,
    ParameterError,
    TrainingError,
)
from relsynth.metadata.schema import COLUMN_KINDS
from relsynth.models.encoding import MODEL_KINDS, TableEncoder, as_frame

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ProgressCallback", "TableModel", "TrainingBudget"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, dict[str, float]], None]

#: Loss magnitude (critic's Wasserstein estimate) above which training is called diverged.
DIVERGENCE_LOSS = 1e3


class TrainingBudget:
    """Steps to run, an optional wall-clock cap; reports progress and checks losses.

    Training length is a number of steps, decided from the data before training starts
    (each model's :meth:`TableModel.default_steps`, or the ``steps``/``epochs`` the
    caller gives), so the same data and seed give the same model on any machine.
    ``max_seconds`` is an explicit extra cap, counted from ``start`` (the beginning of
    the model's ``fit``: encoders, rule discovery and calibration count against it);
    a model that stops on it depends on the machine's speed.
    """

    #: Share of ``max_seconds`` that training may use; the rest is kept for the work
    #: after it (calibration), so that the whole ``fit`` ends within the cap.
    TRAINING_SHARE = 0.8

    def __init__(
        self,
        owner: str,
        total: int,
        max_seconds: float | None,
        callback: ProgressCallback | None,
        *,
        start: float | None = None,
    ) -> None:
        self.owner = owner
        self.total = max(1, int(total))
        self.max_seconds = max_seconds
        self.callback = callback
        self.start = time.perf_counter() if start is None else start
        self.history: list[float] = []
        self._next_info = 1

    @staticmethod
    def steps(
        n_rows: int, batch_size: int, epochs: int | None, per_sqrt_row: float, low: int, high: int
    ) -> int:
        """Number of optimisation steps for ``n_rows`` rows."""
        if epochs is not None:
            return epochs * max(1, math.ceil(n_rows / batch_size))
        return int(np.clip(per_sqrt_row * math.sqrt(max(n_rows, 1)), low, high))

    def elapsed(self) -> float:
        """Seconds since ``start``."""
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds left of ``max_seconds`` (infinite without a cap)."""
        if self.max_seconds is None:
            return math.inf
        return self.max_seconds - self.elapsed()

    def out_of_time(self) -> bool:
        """True once training has used its share of ``max_seconds``."""
        return (
            self.max_seconds is not None and self.elapsed() > self.TRAINING_SHARE * self.max_seconds
        )

    def report(self, step: int, losses: dict[str, float]) -> None:
        """Check losses are finite, log (INFO every 10%, DEBUG every step), call back."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            raise TrainingError(
                f"{self.owner} training produced a non-finite {', '.join(bad)} loss at step "
                f"{step}/{self.total}. Lower 'learning_rate' or check the input for extreme "
                "values."
            )
        self.history.append(losses.get("critic", 0.0))
        text = ", ".join(f"{k}={v:.4f}" for k, v in losses.items())
        logger.debug("%s step %d/%d: %s", self.owner, step, self.total, text)
        if step * 10 >= self._next_info * self.total or step == self.total:
            self._next_info = step * 10 // self.total + 1
            logger.info(
                "%s: %d%% (step %d/%d, %.1fs) %s",
                self.owner,
                100 * step // self.total,
                step,
                self.total,
                time.perf_counter() - self.start,
                text,
            )
        if self.callback is not None:
            self.callback(step, self.total, dict(losses))

    def finish(self) -> float:
        """Warn on divergence; return the elapsed seconds."""
        elapsed = time.perf_counter() - self.start
        tail = self.history[-max(1, len(self.history) // 10) :]
        if tail and abs(float(np.mean(tail))) > DIVERGENCE_LOSS:
            warnings.warn(
                f"{self.owner} training diverged: the critic loss averaged "
                f"{np.mean(tail):.3g} over the last 10% of steps. Lower 'learning_rate' or "
                "use loss='wgan-gp'.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return elapsed


class TableModel(abc.ABC):
    """Learns the non-key columns of one table given its parents' context.

    Subclasses implement ``fit``/``sample`` on top of the helpers here and the
    ``_get_state``/``_set_state`` hooks; constructor arguments are recorded by name
    (as scikit-learn's ``get_params``) so ``state_dict`` can rebuild the model.
    """

    #: True for models whose ``sample`` takes ``lengths`` (one sequence per context row).
    sequential: ClassVar[bool] = False

    kinds: dict[str, str]
    encoder: TableEncoder
    context_encoder: TableEncoder | None

    # -- public interface ---------------------------------------------------------------

    @abc.abstractmethod
    def fit(
        self,
        table: pd.DataFrame,
        context: pd.DataFrame | None = None,
        *,
        lengths: np.ndarray | None = None,
    ) -> Self:
        """Learn ``table`` (non-key columns) given ``context`` (parent features)."""

    @abc.abstractmethod
    def sample(
        self,
        context: pd.DataFrame | None = None,
        *,
        n_rows: int | None = None,
        lengths: np.ndarray | None = None,
        seed: SeedLike = None,
    ) -> pd.DataFrame:
        """Generate rows for ``context`` (or ``n_rows`` rows of a root table)."""

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

    # -- hooks ----------------------------------------------------------------------------

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

    def _param_error(self, name: str, expected: str, value: Any) -> ParameterError:
        return ParameterError(
            f"The '{name}' parameter of {type(self).__name__} must be {expected}. "
            f"Got {value!r} instead."
        )

    def _check_int(self, name: str, low: int, *, optional: bool = False) -> None:
        value = getattr(self, name)
        if optional and value is None:
            return
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
        if not ok:
            raise self._param_error(name, f"an int in the range [{low}, inf)", value)

    def _check_float(
        self,
        name: str,
        low: float,
        high: float = math.inf,
        *,
        optional: bool = False,
        closed_low: bool = False,
    ) -> None:
        value = getattr(self, name)
        if optional and value is None:
            return
        ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        ok = ok and (value >= low if closed_low else value > low) and value <= high
        if not ok:
            bracket = "[" if closed_low else "("
            raise self._param_error(name, f"a float in the range {bracket}{low}, {high}]", value)

    def _check_bool(self, name: str) -> None:
        value = getattr(self, name)
        if not isinstance(value, bool | np.bool_):
            raise self._param_error(name, "a bool", value)

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            raise self._param_error(name, f"one of {options}", value)

    def _check_common(self) -> None:
        if hasattr(self, "steps"):
            self._check_int("steps", 1, optional=True)
        self._check_int("epochs", 1, optional=True)
        self._check_float("max_seconds", 0.0, optional=True)
        self._check_int("batch_size", 1)
        self._check_float("learning_rate", 0.0)
        self._check_int("n_threads", 1, optional=True)
        self._check_choice("encoding", ("quantile", "gmm"))
        if self.callback is not None and not callable(self.callback):
            raise self._param_error("callback", "a callable or None", self.callback)
        if self.kinds is not None:
            bad = {c: k for c, k in dict(self.kinds).items() if k not in COLUMN_KINDS}
            if bad:
                raise self._param_error("kinds", f"a mapping to {', '.join(MODEL_KINDS)}", bad)

    def _check_table(self, table: pd.DataFrame, context: pd.DataFrame | None) -> None:
        if not isinstance(table, pd.DataFrame):
            raise self._param_error("table", "a pandas DataFrame", type(table).__name__)
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
        self.context_encoder = TableEncoder(method="quantile").fit(ctx, rng)
        return self.context_encoder.transform(ctx, rng)

    def _encode_context(
        self, context: pd.DataFrame | None, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Encode a sample-time context with the fit-time encoder (DataError on mismatch)."""
        enc = self.context_encoder
        if enc is None:
            if context is not None and context.shape[1] > 0:
                raise self._context_mismatch(list(map(str, context.columns)))
            return np.zeros((n, 0), dtype=np.float32)
        if context is None:
            raise self._context_mismatch([])
        enc.check_columns(context, "context")
        return enc.transform(context.reset_index(drop=True), rng)

    def _context_mismatch(self, got: list[str]) -> Exception:
        want = [] if self.context_encoder is None else self.context_encoder.columns
        return DataError(
            f"The context columns differ from those seen in 'fit': expected {want}, got {got}. "
            "Pass the same context columns to 'sample' as to 'fit'."
        )

    @staticmethod
    def _rng(seed: SeedLike) -> np.random.Generator:
        return as_generator(seed)

    @staticmethod
    def _frame_seed(rng: np.random.Generator) -> int:
        return int(rng.integers(0, 2**63 - 1))

    def _encode_table(
        self,
        table: pd.DataFrame,
        rng: np.random.Generator,
        kinds: Mapping[str, str] | None = None,
    ) -> np.ndarray:
        """Fit the table encoder (``kinds`` overrides the constructor's) and encode."""
        self.columns_ = [str(c) for c in table.columns]
        self.dtypes_ = {str(c): str(t) for c, t in table.dtypes.items()}
        kinds = self.kinds if kinds is None else kinds
        self.encoder = TableEncoder(kinds, method=self.encoding).fit(
            table.reset_index(drop=True), rng
        )
        return self.encoder.transform(table.reset_index(drop=True), rng)


def empty_frame(columns: list[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A zero-row frame with the given columns and dtypes."""
    return pd.DataFrame(
        {c: pd.Series([], dtype=pd.api.types.pandas_dtype(dtypes[c])) for c in columns}
    )
