"""Contract checks for :class:`~relsynth.models.TableModel` implementations.

Third-party models can run the same checks as the built-in ones::

    import pytest
    from relsynth.testing import check_table_model

    @pytest.mark.parametrize("name, check", check_table_model(lambda: MyModel(epochs=1)))
    def test_contract(name, check):
        check()

Each check builds its own small table with every supported dtype: ``amount``
(float64 with NULLs), ``count`` (int64), ``qty`` (Int64 with NA), ``color`` (str with
NULLs), ``flag`` (bool), ``ok`` (boolean with NA), ``when`` (datetime64[ns]),
``step`` (int64, increasing within a sequence) and ``elapsed`` (float64,
non-decreasing within a sequence). Sequential models (``model.sequential``) get
one context row per sequence and ``lengths``; configure them with
``order_column="step", monotone_columns=["elapsed"]``. The context has
``parent.size`` (float) and ``parent.kind`` (str); a row model's context is a
:class:`~relsynth.models.Context` that adds each row's family size and position.

torch is imported only inside the checks that need it (state round trip, RNG).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import DataError, NotFittedError

__all__ = ["check_table_model", "toy_data"]

Check = Callable[[], None]
Factory = Callable[[], Any]


def toy_data(n_sequences: int = 12, seed: int = 0) -> dict[str, Any]:
    """A small table, its per-row and per-sequence contexts, and sequence lengths."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, size=n_sequences)
    lengths[min(2, n_sequences - 1)] = 0 if n_sequences > 3 else lengths[0]
    n = int(lengths.sum())
    seq = np.repeat(np.arange(n_sequences), lengths)
    step = np.concatenate([np.arange(1, k + 1) for k in lengths]).astype(np.int64)
    elapsed = np.concatenate([np.cumsum(rng.integers(0, 50, k)) for k in lengths]).astype(float)
    amount = rng.normal(100, 20, n).round(2)
    amount[rng.random(n) < 0.2] = np.nan
    qty = pd.array(rng.integers(0, 9, n), dtype="Int64")
    qty[rng.random(n) < 0.2] = pd.NA
    color = pd.Series(rng.choice(["red", "green", "blue"], n), dtype="str")
    color[rng.random(n) < 0.2] = np.nan
    ok = pd.array(rng.random(n) < 0.5, dtype="boolean")
    ok[rng.random(n) < 0.2] = pd.NA
    table = pd.DataFrame(
        {
            "amount": amount,
            "count": rng.integers(0, 1000, n).astype(np.int64),
            "qty": qty,
            "color": color,
            "flag": rng.random(n) < 0.3,
            "ok": ok,
            "when": pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "step": step,
            "elapsed": elapsed,
        }
    )
    table["when"] = table["when"].astype("datetime64[ns]")
    parents = pd.DataFrame(
        {
            "parent.size": rng.normal(0, 1, n_sequences).round(3),
            "parent.kind": pd.Series(rng.choice(["a", "b"], n_sequences), dtype="str"),
        }
    )
    rows = parents.iloc[seq].reset_index(drop=True)
    position = np.concatenate([np.arange(k) for k in lengths]).astype(np.int64)
    return {
        "table": table,
        "row_context": rows,
        "seq_context": parents,
        "lengths": lengths,
        "family_size": lengths[seq].astype(np.int64),
        "position": position,
    }


def _row_context(data: dict[str, Any]) -> Any:
    """The row context as a model gets it from the synthesizer: parent and family."""
    from relsynth.models.context import Context

    rows = data["row_context"]
    n = len(rows)
    return Context(parent=rows, family_size=data["family_size"][:n], position=data["position"][:n])


def _fit(model: Any, data: dict[str, Any], *, context: bool = True) -> Any:
    if model.sequential:
        ctx = data["seq_context"] if context else None
        return model.fit(data["table"], ctx, lengths=data["lengths"])
    return model.fit(data["table"], _row_context(data) if context else None)


def _sample(
    model: Any, data: dict[str, Any], seed: int = 0, *, context: bool = True
) -> pd.DataFrame:
    if model.sequential:
        ctx = data["seq_context"] if context else None
        return model.sample(ctx, lengths=data["lengths"], seed=seed)
    if context:
        return model.sample(_row_context(data), seed=seed)
    return model.sample(n_rows=len(data["table"]), seed=seed)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _expect_like(sampled: pd.DataFrame, table: pd.DataFrame, n_rows: int) -> None:
    _expect(len(sampled) == n_rows, f"expected {n_rows} rows, got {len(sampled)}")
    _expect(
        list(sampled.columns) == list(table.columns),
        f"columns {list(sampled.columns)} != {list(table.columns)}",
    )
    got, want = sampled.dtypes.astype(str).to_dict(), table.dtypes.astype(str).to_dict()
    _expect(got == want, f"dtypes {got} != {want}")


def check_fit_returns_self(factory: Factory) -> None:
    """``fit`` returns the model itself."""
    model = factory()
    _expect(_fit(model, toy_data()) is model, "fit did not return self")


def check_sample_before_fit(factory: Factory) -> None:
    """``sample`` on an unfitted model raises NotFittedError."""
    try:
        _sample(factory(), toy_data())
    except NotFittedError:
        return
    raise AssertionError("sample before fit did not raise NotFittedError")


def check_rows_columns_dtypes(factory: Factory) -> None:
    """Exactly one row per context row (or ``lengths.sum()``), same columns and dtypes."""
    data = toy_data()
    sampled = _sample(_fit(factory(), data), data)
    _expect_like(sampled, data["table"], len(data["table"]))
    _expect(isinstance(sampled.index, pd.RangeIndex), "index is not a RangeIndex")


def check_same_seed_same_frame(factory: Factory) -> None:
    """The same seed gives an identical frame; another seed a different one."""
    data = toy_data()
    model = _fit(factory(), data)
    pd.testing.assert_frame_equal(_sample(model, data, 7), _sample(model, data, 7))


def check_state_dict_roundtrip(factory: Factory) -> None:
    """``state_dict`` through ``torch.save``/``torch.load(weights_only=True)``: same sample."""
    import torch

    data = toy_data()
    model = _fit(factory(), data)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    loaded = type(model).from_state_dict(state)
    pd.testing.assert_frame_equal(_sample(model, data, 3), _sample(loaded, data, 3))


def check_inputs_not_mutated(factory: Factory) -> None:
    """``fit`` and ``sample`` leave the caller's frames and arrays unchanged."""
    data = toy_data()
    copies = {k: v.copy() for k, v in data.items()}
    model = _fit(factory(), data)
    _sample(model, data)
    for key, before in copies.items():
        if isinstance(before, pd.DataFrame):
            pd.testing.assert_frame_equal(data[key], before)
        else:
            np.testing.assert_array_equal(data[key], before)


def check_one_row_table(factory: Factory) -> None:
    """A table with a single row can be fitted and sampled."""
    data = toy_data(1)
    data = {
        **data,
        "table": data["table"].iloc[:1].reset_index(drop=True),
        "row_context": data["row_context"].iloc[:1].reset_index(drop=True),
        "lengths": np.array([1]),
    }
    sampled = _sample(_fit(factory(), data), data)
    _expect_like(sampled, data["table"], 1)


def check_all_null_column(factory: Factory) -> None:
    """An all-NULL column comes back all NULL, with its dtype."""
    data = toy_data()
    table = data["table"].copy()
    table["nothing"] = np.nan
    table["none_text"] = pd.Series([None] * len(table), dtype="str")
    data = {**data, "table": table}
    sampled = _sample(_fit(factory(), data), data)
    _expect_like(sampled, table, len(table))
    _expect(bool(sampled["nothing"].isna().all()), "all-NULL float column came back non-null")
    _expect(bool(sampled["none_text"].isna().all()), "all-NULL text column came back non-null")


def check_no_context(factory: Factory) -> None:
    """A root table (no context) is fitted and sampled."""
    data = toy_data()
    sampled = _sample(_fit(factory(), data, context=False), data, context=False)
    _expect_like(sampled, data["table"], len(data["table"]))


def check_context_mismatch(factory: Factory) -> None:
    """Context columns that differ from fit time raise DataError naming them."""
    data = toy_data()
    model = _fit(factory(), data)
    key = "seq_context" if model.sequential else "row_context"
    bad = data[key].rename(columns={"parent.size": "parent.weight"})
    try:
        _sample(model, {**data, key: bad})
    except DataError as exc:
        _expect(
            "parent.weight" in str(exc) and "parent.size" in str(exc),
            f"DataError does not name the columns: {exc}",
        )
        return
    raise AssertionError("mismatched context columns did not raise DataError")


def check_global_state_untouched(factory: Factory) -> None:
    """fit+sample leave numpy's and torch's global RNG states and thread count unchanged."""
    import torch

    data = toy_data()
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    threads = torch.get_num_threads()
    _sample(_fit(factory(), data), data)
    _expect(np.array_equal(np.random.get_state()[1], np_state), "numpy global RNG changed")
    _expect(torch.equal(torch.random.get_rng_state(), torch_state), "torch global RNG changed")
    _expect(torch.get_num_threads() == threads, "torch thread count changed")


_CHECKS: tuple[Callable[[Factory], None], ...] = (
    check_fit_returns_self,
    check_sample_before_fit,
    check_rows_columns_dtypes,
    check_same_seed_same_frame,
    check_state_dict_roundtrip,
    check_inputs_not_mutated,
    check_one_row_table,
    check_all_null_column,
    check_no_context,
    check_context_mismatch,
    check_global_state_untouched,
)


def check_table_model(factory: Factory) -> list[tuple[str, Check]]:
    """(name, check) pairs for ``pytest.mark.parametrize``; each check calls ``factory()``.

    Parameters
    ----------
    factory : callable
        Returns a new, unfitted model with a tiny training budget.

    Returns
    -------
    list of (str, callable)
        Check names (``"fit_returns_self"``...) and zero-argument callables that raise
        ``AssertionError`` on failure.
    """
    return [(c.__name__.removeprefix("check_"), partial(c, factory)) for c in _CHECKS]
