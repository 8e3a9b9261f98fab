"""What the key generator learned about one table: :class:`TableKeys` (typed, frozen).

One field per idea of the keys layer, each a frozen dataclass of its module:
the driver key (:class:`~relsynth.keys.drivers.DriverFit`), the secondary keys
(:class:`~relsynth.keys.secondary.ImpliedKey` / :class:`~relsynth.keys.secondary.DegreeKey`),
the key columns no foreign key sets (:mod:`relsynth.keys.columns`), the keys to
copied parents drawn together (:class:`~relsynth.keys.joint.JointKeys`), the
self-references (:class:`~relsynth.keys.forest.ForestFit`) and the deferred keys.

Foreign keys are referred to by their index in ``metadata.foreign_keys``.
:meth:`TableKeys.to_dict` writes the JSON of the ``relsynth.keys/1`` state (the
``tables`` entries of ``keys.json`` in a model file) and :meth:`TableKeys.from_dict`
reads it, files written before this module included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relsynth.keys.cardinality import DegreeModel
from relsynth.keys.columns import KeyValues, key_values_from_dict
from relsynth.keys.drivers import DriverFit
from relsynth.keys.forest import ForestFit
from relsynth.keys.joint import JointKeys
from relsynth.keys.secondary import SecondaryFit, secondary_from_dict

__all__ = ["TableKeys"]


@dataclass(frozen=True)
class TableKeys:
    """The fitted key models of one table.

    Attributes
    ----------
    n_rows : int
        Source rows.
    driver : DriverFit or None
        The driver key (None for a root table).
    secondary : tuple
        The secondary keys, in assignment order (implied first, then the most
        specific first).
    cap_one : tuple of int
        Keys with at most one child per parent (one-to-one).
    unique_within : dict of int to tuple of str
        Junction keys: per key, the columns within whose groups parents differ.
    values : dict of str to KeyValues
        The key columns no foreign key sets, and how their values are made.
    forests : tuple of ForestFit
        The self-references.
    deferred : dict of int to DegreeModel
        The deferred keys (cycle breakers) held by this table.
    joint : JointKeys or None
        The source's combinations of the keys to copied parents (None: dealt one by one).
    """

    n_rows: int
    driver: DriverFit | None = None
    secondary: tuple[SecondaryFit, ...] = ()
    cap_one: tuple[int, ...] = ()
    unique_within: dict[int, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, KeyValues] = field(default_factory=dict)
    forests: tuple[ForestFit, ...] = ()
    deferred: dict[int, DegreeModel] = field(default_factory=dict)
    joint: JointKeys | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (the on-disk names: ``formats``, ``self_refs``...)."""
        out: dict[str, Any] = {
            "n_rows": self.n_rows,
            "driver": None if self.driver is None else self.driver.fk,
            "cap_one": list(self.cap_one),
            "unique_within": {str(k): list(v) for k, v in self.unique_within.items()},
            "secondary": [s.to_dict() for s in self.secondary],
            "formats": {c: v.to_dict() for c, v in self.values.items()},
            "self_refs": [f.to_dict() for f in self.forests],
            "deferred": {str(k): v.to_dict() for k, v in self.deferred.items()},
        }
        if self.driver is not None:
            out.update(self.driver.to_dict())
        if self.joint is not None:
            out["joint"] = self.joint.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableKeys:
        """Rebuild from :meth:`to_dict`'s output."""
        return cls(
            n_rows=int(data["n_rows"]),
            driver=None if data["driver"] is None else DriverFit.from_dict(data),
            secondary=tuple(secondary_from_dict(s) for s in data["secondary"]),
            cap_one=tuple(int(x) for x in data["cap_one"]),
            unique_within={int(k): tuple(v) for k, v in data["unique_within"].items()},
            values={c: key_values_from_dict(v) for c, v in data["formats"].items()},
            forests=tuple(ForestFit.from_dict(r) for r in data["self_refs"]),
            deferred={int(k): DegreeModel.from_dict(v) for k, v in data["deferred"].items()},
            joint=JointKeys.from_dict(data["joint"]) if data.get("joint") else None,
        )
