"""The order and monotone columns of :class:`~relsynth.models.sequential.SequenceModel`.

A sequence's order column (``stop_sequence``, a date) and monotone columns
(``arrival_time`` seconds) are learned as a *start value* per sequence plus
*non-negative increments* per step, and rebuilt by a cumulative sum, so the order
column always increases and monotone columns never go backwards. This mixin holds
that transform both ways: :meth:`SequenceIncrements._split` (table -> steps and
starts, at fit) and :meth:`SequenceIncrements._rebuild` /
:meth:`SequenceIncrements._finish_special` (generated increments -> values).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import ParameterError
from relsynth.models.encoding import NumericalEncoder
from relsynth.models.sequence_levels import LEVEL_QUANTILES, LevelCorrections

__all__ = ["SequenceIncrements"]

#: Prefix of the boolean step column that marks a NULL order/monotone value.
_NULL_PREFIX = "__null__"


class SequenceIncrements:
    """Mixin: the order/monotone columns as starts plus increments (fit and sample)."""

    order_column: str | None
    monotone_columns: Any
    kinds: Any
    encoder: Any
    start_encoder: Any

    def _check_data(self, table: pd.DataFrame) -> None:
        """The order and monotone columns are in the table, numeric or datetime."""
        special = self._special_names()
        missing = [c for c in special if c not in table.columns]
        if missing:
            raise ParameterError(
                f"SequenceModel order/monotone columns {missing} are not in the table "
                f"(columns: {list(map(str, table.columns))})."
            )
        for c in special:
            if not (
                pd.api.types.is_numeric_dtype(table[c].dtype)
                or pd.api.types.is_datetime64_any_dtype(table[c].dtype)
            ):
                raise ParameterError(
                    f"SequenceModel order/monotone column {c!r} must be numeric or datetime; "
                    f"got dtype {table[c].dtype}. Convert it (e.g. times to seconds) first."
                )

    def _special_names(self) -> list[str]:
        names = [self.order_column] if self.order_column is not None else []
        return names + [c for c in self.monotone_columns if c not in names]

    def _split(
        self, table: pd.DataFrame, lengths: np.ndarray, rng: np.random.Generator
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Step frame (special columns as increments) and start frame (one row/sequence)."""
        steps = table.reset_index(drop=True).copy()
        seq = np.repeat(np.arange(len(lengths)), lengths)
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])[lengths > 0]
        starts: dict[str, np.ndarray] = {}
        self.special_encoders_: dict[str, NumericalEncoder] = {}
        self._level_targets: dict[str, np.ndarray] = {}
        self._level_values: dict[str, np.ndarray] = {}
        self.levels_ = LevelCorrections()
        prev: tuple[np.ndarray, np.ndarray] | None = None
        for c in self._special_names():
            is_date = pd.api.types.is_datetime64_any_dtype(table[c].dtype)
            kind = "datetime" if is_date else "numerical"
            enc = NumericalEncoder(c, kind, "quantile").fit(table[c], rng)
            self.special_encoders_[c] = enc
            values = pd.Series(enc._values(table[c]))
            null = values.isna().to_numpy()
            if c != self.order_column and (~null).any():
                self._level_targets[c] = np.quantile(values[~null], LEVEL_QUANTILES)
                self._level_values[c] = np.where(null, np.nan, values.to_numpy(dtype=float))
            filled = values.groupby(seq).transform(lambda s: s.ffill().bfill())
            filled = filled.fillna(values.median() if (~null).any() else 0.0).to_numpy()
            inc = np.maximum(np.nan_to_num(np.diff(filled, prepend=np.nan)), 0.0)
            # The first step has no increment; a typical one keeps the encoder's observed
            # range (the decoding clip) that of real increments, so strictness survives.
            rest = np.delete(inc, first)
            inc[first] = np.median(rest) if len(rest) else 0.0
            start = filled[first]
            if prev is not None and c != self.order_column:
                # Chained monotone columns: model the difference to the previous one, so
                # that e.g. departure_time tracks arrival_time (decoded with a clamp at 0).
                steps[c], starts[c] = inc - prev[0], start - prev[1]
            else:
                steps[c], starts[c] = inc, start
            if c != self.order_column:
                prev = (inc, start)
            if null.any():
                steps[_NULL_PREFIX + c] = null
        return steps, pd.DataFrame(starts, index=pd.RangeIndex(len(first)))

    def _step_kinds(self, steps: pd.DataFrame) -> dict[str, str]:
        kinds = dict(self.kinds or {})
        for c in self._special_names():
            kinds[c] = "numerical"
            if _NULL_PREFIX + c in steps.columns:
                kinds[_NULL_PREFIX + c] = "boolean"
        return kinds

    def _chained_to(self) -> dict[str, str]:
        """Each chained monotone column's predecessor."""
        rest = [c for c in self._special_names() if c != self.order_column]
        return dict(zip(rest[1:], rest[:-1], strict=True))

    def _rebuild(
        self,
        generated: tuple[np.ndarray, np.ndarray],
        lengths: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """Decoded steps and the order/monotone columns' values rebuilt from their
        starts and increments (chained columns from their predecessor's)."""
        x, s = generated
        steps = self.encoder.inverse(x, rng)
        starts = self.start_encoder.inverse(s, rng)
        nonempty = lengths[lengths > 0]
        seq = np.repeat(np.arange(len(nonempty)), nonempty)
        first = np.concatenate([[0], np.cumsum(nonempty)[:-1]]).astype(int)[: len(nonempty)]
        prev: tuple[np.ndarray, np.ndarray] | None = None
        values: dict[str, np.ndarray] = {}
        for c in self.special_encoders_:
            inc = steps[c].to_numpy(dtype=float)
            start = starts[c].to_numpy(dtype=float)
            if prev is not None and c != self.order_column:
                inc, start = inc + prev[0], start + prev[1]
            inc = np.maximum(inc, 0.0)
            inc[first] = 0.0
            if c != self.order_column:
                prev = (inc.copy(), start)
            value = np.cumsum(inc)
            if len(first):
                value = value - value[first][seq] + start[seq]
            values[c] = value
        return steps, values

    def _finish_special(self, c: str, enc: NumericalEncoder, value: np.ndarray) -> np.ndarray:
        """Round like the source; clip monotone columns (not the order column) to the range."""
        if enc.is_int:
            value = np.round(value)
        elif enc.kind == "datetime" and enc.step > 0:
            value = np.round(value / enc.step) * enc.step
        elif enc.decimals is not None:
            value = np.round(value, enc.decimals)
        if c != self.order_column:
            value = np.clip(value, enc.min, enc.max)
        return value
