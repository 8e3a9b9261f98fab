"""A fitted synthesizer's state, typed: one :class:`TableFit` per table, and :class:`FitInfo`.

:meth:`Synthesizer.state_dict <relsynth.Synthesizer.state_dict>` hands these
objects out and :meth:`~relsynth.Synthesizer.from_state_dict` takes them back;
the model file (:mod:`.artifact`) turns them into its members with
:meth:`TableFit.to_dict`/:meth:`TableFit.from_dict` and never reaches into the
synthesizer's attributes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from relsynth._columns import TableLayout

if TYPE_CHECKING:
    import pandas as pd

    from relsynth.models.base import TableModel
    from relsynth.models.pii import TextColumnModel

__all__ = ["SAVED_PARAMETERS", "FitInfo", "StatePartError", "TableFit", "model_registry"]

#: The Synthesizer parameters a model file keeps (the others are about fitting: where,
#: how parallel, which seed; or are kept elsewhere: metadata, drivers, table models).
SAVED_PARAMETERS = (
    "steps",
    "max_seconds",
    "time_budget",
    "epochs",
    "copy_reference_tables",
    "locale",
    "n_threads",
    "min_category_count",
    "early_stopping",
)


@dataclass(frozen=True)
class FitInfo:
    """What ``fit`` did: seconds per stage and table, rows, model per table."""

    seconds: Mapping[str, float] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    dropped_rows: Mapping[str, int] = field(default_factory=dict)
    nulled_keys: Mapping[str, int] = field(default_factory=dict)
    #: rare categorical values withheld, per table and column (see min_category_count)
    withheld: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: each column's privacy treatment, per table (see relsynth.synthesis._privacy)
    privacy: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: differential privacy spent (epsilon, delta per table and in total); empty without DP
    dp: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (``nulled_keys`` is not kept in model files)."""
        return {
            "seconds": dict(self.seconds),
            "rows": dict(self.rows),
            "models": dict(self.models),
            "dropped_rows": dict(self.dropped_rows),
            "withheld": {t: dict(c) for t, c in self.withheld.items()},
            "privacy": {t: dict(c) for t, c in self.privacy.items()},
            **({"dp": dict(self.dp)} if self.dp else {}),  # only a DP fit has it
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitInfo:
        return cls(**data)


def model_registry() -> dict[str, type[TableModel]]:
    """Table model classes a model file may name, by class name."""
    from relsynth.models.sequential import SequenceModel
    from relsynth.models.wgan import ConditionalWGAN

    return {"ConditionalWGAN": ConditionalWGAN, "SequenceModel": SequenceModel}


class StatePartError(Exception):
    """Rebuilding one part of a :class:`TableFit` failed: ``part`` names it
    (``"layout"``, ``"model"``, ``"text"``), ``error`` is what was raised."""

    def __init__(self, part: str, error: BaseException) -> None:
        super().__init__(f"{part}: {error}")
        self.part = part
        self.error = error


@contextlib.contextmanager
def _part(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise StatePartError(name, exc) from exc


@dataclass(frozen=True)
class TableFit:
    """Everything fitted for one table.

    ``layout`` and ``dtypes`` exist for every table (a copied table's columns feed
    its children's context). A copied reference table has ``copy`` and nothing else;
    a modelled one has ``text_models`` (possibly empty), ``model`` (None when there
    is nothing to learn), and either ``sequence`` (a sequential child: its order
    column and monotone columns) or ``context_keys`` (``[foreign key index, parent
    columns]`` of the secondary parents in its context) and ``rule_context`` (the
    columns whose value the row's keys determine, in its context as
    ``__rule.<column>``, :func:`relsynth.synthesis._context.determined_features`).
    """

    layout: TableLayout
    dtypes: dict[str, str]
    model: TableModel | None = None
    text_models: dict[str, TextColumnModel] | None = None
    copy: pd.DataFrame | None = None
    sequence: dict[str, Any] | None = None
    context_keys: list[list[Any]] | None = None
    rule_context: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain containers, the model's tensors (``model.state``) and, for a copied
        table, the frame (``copy``); the model file stores each in its member."""
        model = None
        if self.model is not None:
            model = {"class": type(self.model).__name__, "state": self.model.state_dict()}
        text = None
        if self.text_models is not None:
            text = {col: m.state_dict() for col, m in self.text_models.items()}
        return {
            "layout": self.layout.to_dict(),
            "dtypes": dict(self.dtypes),
            "sequence": self.sequence,
            "context_keys": self.context_keys,
            "rule_context": self.rule_context,
            "model": model,
            "text": text,
            "copy": self.copy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, device: str | None = None) -> TableFit:
        """The inverse of :meth:`to_dict`; a part that cannot be rebuilt raises
        :class:`StatePartError` naming it."""
        from relsynth.models.pii import TextColumnModel

        with _part("layout"):
            layout = TableLayout.from_dict(data["layout"])
            dtypes = {str(c): str(d) for c, d in data["dtypes"].items()}
        model = None
        if data.get("model") is not None:
            with _part("model"):
                cls_name = data["model"]["class"]
                registry = model_registry()
                if cls_name not in registry:
                    raise ValueError(f"relsynth provides no model class {cls_name!r}")
                model = registry[cls_name].from_state_dict(data["model"]["state"], device=device)
        text = None
        if data.get("text") is not None:
            with _part("text"):
                text = {c: TextColumnModel.from_state_dict(s) for c, s in data["text"].items()}
        return cls(
            layout=layout,
            dtypes=dtypes,
            model=model,
            text_models=text,
            copy=data.get("copy"),
            sequence=data.get("sequence"),
            context_keys=data.get("context_keys"),
            rule_context=data.get("rule_context"),
        )
