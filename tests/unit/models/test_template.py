"""The TableModel template: final fit/sample, two protocols, typed Context, explicit threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from relsynth.errors import DataError, ParameterError  # noqa: E402
from relsynth.models import ConditionalWGAN, Context, SequenceModel, TableModel  # noqa: E402
from relsynth.models.base import RowTableModel, SequenceTableModel  # noqa: E402


def test_fit_and_sample_are_the_templates_of_every_model() -> None:
    for cls in (ConditionalWGAN, SequenceModel):
        assert cls.fit is TableModel.fit and cls.sample is TableModel.sample
        assert "fit" not in vars(cls) and "sample" not in vars(cls)
    assert issubclass(ConditionalWGAN, RowTableModel) and not ConditionalWGAN.sequential
    assert issubclass(SequenceModel, SequenceTableModel) and SequenceModel.sequential


def test_context_frame_keeps_the_part_order_and_names_the_family() -> None:
    parent = pd.DataFrame({"p.x": [1.0, 2.0, 3.0]})
    extra = pd.DataFrame({"__key.t": [5.0, 6.0, 7.0]})
    ctx = Context(parent=parent, family_size=[3, 3, 3], position=[0, 1, 2], extra=extra)
    frame = ctx.frame()
    assert list(frame.columns) == ["p.x", "__n_siblings", "__position", "__key.t"]
    assert frame["__position"].dtype == "float64" and len(ctx) == 3
    assert ctx.family_columns == ["__n_siblings", "__position"]
    assert Context().empty and Context().frame() is None
    assert Context(extra=extra).family_columns == []


def test_context_parts_must_agree_and_be_frames() -> None:
    with pytest.raises(DataError, match="different row counts"):
        Context(parent=pd.DataFrame({"a": [1.0, 2.0]}), family_size=[1, 1, 1])
    with pytest.raises(ParameterError, match="Context.parent"):
        Context(parent=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'context' parameter"):
        ConditionalWGAN(steps=1).fit(pd.DataFrame({"x": [1.0, 2.0]}), context=[1, 2])  # type: ignore[arg-type]


def test_a_row_model_takes_no_lengths() -> None:
    table = pd.DataFrame({"x": np.arange(6, dtype=float)})
    with pytest.raises(ParameterError, match="takes no 'lengths'"):
        ConditionalWGAN(steps=1).fit(table, lengths=np.ones(6, dtype=int))
    model = ConditionalWGAN(steps=1, seed=0).fit(table)
    with pytest.raises(ParameterError, match="takes no 'lengths'"):
        model.sample(n_rows=2, lengths=np.array([2]))
    with pytest.raises(ParameterError, match="'n_rows' parameter of ConditionalWGAN.sample"):
        model.sample(n_rows=-1)


def test_family_counters_never_determine_a_value() -> None:
    # each family is one complete series: the position fixes "day" on the data only
    n = 24 * 30
    table = pd.DataFrame({"day": np.tile(np.arange(n) // 24 % 30 + 1, 2)})
    position = np.tile(np.arange(n), 2)
    plain = pd.DataFrame({"hour_index": position.astype(float)})
    as_feature = ConditionalWGAN(steps=1, seed=0, calibrate=False).fit(table, plain)
    assert [d.determinants for d in as_feature.dependencies_] == [("hour_index",)]
    typed = Context(family_size=np.full(2 * n, n), position=position)
    model = ConditionalWGAN(steps=1, seed=0, calibrate=False).fit(table, typed)
    assert model.dependencies_ == []
    assert model.context_encoder is not None
    assert model.context_encoder.columns == ["__n_siblings", "__position"]
    assert len(model.sample(typed, seed=1)) == 2 * n


def test_min_category_count_is_a_model_parameter() -> None:
    table = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 30 + ["solo"]})
    kept = ConditionalWGAN(steps=1, seed=0).fit(table)
    assert kept.encoder.encoders[0].withheld == 0  # None: nothing withheld on its own
    withheld = ConditionalWGAN(steps=1, seed=0, min_category_count=2).fit(table)
    assert withheld.encoder.encoders[0].withheld == 1
    assert "solo" not in set(withheld.sample(n_rows=500, seed=0)["c"])
    again = ConditionalWGAN.from_state_dict(withheld.state_dict())
    assert again.min_category_count == 2
    with pytest.raises(ParameterError, match="'min_category_count' parameter"):
        ConditionalWGAN(min_category_count=0).fit(table)
    with pytest.raises(ParameterError, match="'min_category_count' parameter"):
        SequenceModel(min_category_count=1.5).fit(table, lengths=np.array([71]))  # type: ignore[arg-type]
