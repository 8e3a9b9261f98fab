"""Differentially private fitting: the privacy unit, the budget, what gets noise.

``Synthesizer(meta, privacy=DifferentialPrivacy(epsilon=1.0))`` fits every private
table so that the whole model file is ``(epsilon, delta)``-differentially private
with respect to one **entity**: a root row with all the rows linked to it, e.g. a
customer with their orders and order lines. Entities are the connected components
of the rows of the private tables joined by their foreign keys (a Berka account with
its clients, dispositions, cards, loans, orders and transactions). Tables the user
marks public (``reference: true`` in the metadata, or ``table_models={t: "copy"}``)
are copied as they are and are not part of any entity; the lookup tables relsynth
would otherwise detect are modelled like any private table.

The budget is spent by basic (sequential) composition over the mechanisms listed
in the :class:`Ledger` (it is reported per table and in total):

* ``STRUCTURE_SHARE`` of epsilon goes to the Laplace releases (a count release gets
  ``COUNT_WEIGHT`` parts, any other one part): the
  number of entities, root row counts, children-per-parent histograms, NULL rates
  of secondary keys and text columns, category vocabularies (partition selection,
  which also spends delta) and numeric bounds and quantiles
  (:mod:`relsynth.synthesis._dp_release`, :mod:`relsynth.synthesis._dp_skeleton`);
* the rest goes, in equal parts, to one DP-SGD run per learned table
  (:mod:`relsynth.models._dp`), each accounted for by opacus' RDP accountant at
  its share of delta.

Turned off under DP because they learn from the data outside a DP mechanism:
rule discovery (declared rules of the metadata are kept), lookup-table detection
and verbatim copies, sequence models and parent context (tables are modelled
unconditionally; the keys carry the structure), calibration, dependency and
offset discovery, rare-value withholding (superseded by the DP threshold), parallel
fitting. Text columns are faked with a noisy NULL rate and without the source's
lengths or digests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._columns import table_layout
from relsynth.errors import ParameterError
from relsynth.synthesis import _dp_release as rel
from relsynth.synthesis.dp import DifferentialPrivacy

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "Ledger",
    "entities",
    "fit_private",
    "fit_synthesizer",
]

#: The "table" of releases that concern every table (the number of entities).
SHARED = "(shared)"
#: Share of epsilon for the Laplace releases (counts, histograms, vocabularies, bounds).
STRUCTURE_SHARE = 0.3
#: ConditionalWGAN settings under DP (no packing; smaller networks suit DP-SGD's noise).
_DP_MODEL = {
    "calibrate": False,
    "dependencies": False,
    "offsets": False,
    "pac": 1,
    "critic_dims": (128, 128),
    "generator_dims": (128, 128),
}
#: The releases the key skeleton is drawn from (few, and they decide every row count)
#: get COUNT_WEIGHT times the share of a column's release.
COUNT_RELEASES = ("entity count", "row count", "children per")
COUNT_WEIGHT = 4.0
#: Training steps per table under DP unless ``steps`` is given.
DEFAULT_DP_STEPS = 300


class Ledger:
    """Every DP release of a fit, its epsilon and delta, per table.

    First run in counting mode (``eps_each is None``: ``take`` returns 1.0 and counts),
    then with the split fixed: each release gets ``eps_each`` (and ``delta_each``).
    """

    def __init__(self, eps_each: float | None = None, delta_each: float = 0.0) -> None:
        self.eps_each, self.delta_each = eps_each, delta_each
        self.releases: list[dict[str, Any]] = []
        self.training: dict[str, dict[str, float]] = {}

    def take(self, table: str, what: str) -> float:
        """Epsilon for one pure (Laplace) release (a count release weighs COUNT_WEIGHT)."""
        weight = COUNT_WEIGHT if what.startswith(COUNT_RELEASES) else 1.0
        eps = weight * (1.0 if self.eps_each is None else self.eps_each)
        self.releases.append({"table": table, "what": what, "epsilon": eps, "delta": 0.0})
        return eps

    def take_delta(self, table: str, what: str) -> tuple[float, float]:
        """Epsilon and delta for one approximate-DP release (partition selection)."""
        eps = self.take(table, what)
        delta = 1e-6 if self.eps_each is None else self.delta_each  # counting: any delta
        self.releases[-1]["delta"] = delta
        return eps, delta

    def summary(self, settings: DifferentialPrivacy) -> dict[str, Any]:
        """Spent per table and in total (basic composition), and the releases."""
        tables: dict[str, dict[str, float]] = {}
        for r in self.releases:
            t = tables.setdefault(r["table"], {"epsilon": 0.0, "delta": 0.0})
            t["epsilon"] += r["epsilon"]
            t["delta"] += r["delta"]
        for name, s in self.training.items():
            t = tables.setdefault(name, {"epsilon": 0.0, "delta": 0.0})
            t["epsilon"] += s["epsilon"]
            t["delta"] += s["delta"]
        return {
            "epsilon": sum(t["epsilon"] for t in tables.values()),
            "delta": sum(t["delta"] for t in tables.values()),
            "budget": settings.to_dict(),
            "unit": "entity",
            "tables": tables,
            "releases": self.releases,
            "training": self.training,
        }


def public_tables(synth: Synthesizer) -> set[str]:
    """Tables the user marked public: ``reference: true`` or a ``"copy"`` override."""
    unknown = sorted(set(synth.table_models or {}) - set(synth.metadata.tables))
    if unknown:  # under DP a misspelt public table would silently stay private
        raise ParameterError(
            f"No table named {', '.join(map(repr, unknown))} (table_models / --dp-public); "
            f"the tables are {', '.join(synth.metadata.tables)}."
        )
    out = set()
    for name in synth.metadata.tables:
        override = (synth.table_models or {}).get(name)
        if override == "copy" or (override is None and synth.metadata.table(name).reference):
            out.add(name)
    return out


def entities(
    meta: Any, source: Mapping[str, pd.DataFrame], private: list[str]
) -> dict[str, np.ndarray]:
    """Entity index of every row of the private tables (connected components)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from relsynth.synthesis._dp_skeleton import _parent_positions

    offset, start = {}, 0
    for name in private:
        offset[name] = start
        start += len(source[name])
    a, b = [np.arange(start)], [np.arange(start)]
    for fk in meta.foreign_keys:
        if fk.child not in offset or fk.parent not in offset:
            continue
        pos = _parent_positions(fk, source[fk.child], source[fk.parent])
        ok = pos >= 0
        a.append(offset[fk.child] + np.flatnonzero(ok))
        b.append(offset[fk.parent] + pos[ok])
    ai, bi = np.concatenate(a), np.concatenate(b)
    graph = coo_matrix((np.ones(len(ai)), (ai, bi)), shape=(start, start))
    _, labels = connected_components(graph, directed=False)
    return {n: labels[offset[n] : offset[n] + len(source[n])] for n in private}


def _column_release(
    synth: Synthesizer, name: str, col: str, kind: str, frame: pd.DataFrame,
    ent: np.ndarray, ledger: Ledger, rng: np.random.Generator,
) -> dict[str, Any]:  # fmt: skip
    """The DP release the encoder of one learned column is built from."""
    column = synth.metadata.table(name).column(col)
    out: dict[str, Any] = {"kind": kind, "nullable": bool(column.nullable)}
    values = frame[col]
    if kind in ("numerical", "datetime"):
        from relsynth.models.encoding import NumericalEncoder

        x = NumericalEncoder(col, kind)._values(values)
        bounds = synth.privacy.bounds.get(f"{name}.{col}")  # type: ignore[union-attr]
        eps = ledger.take(name, f"bounds and quantiles of {col}")
        s = rel.numeric_summary(x, ent, eps, rng, datetime=kind == "datetime", bounds=bounds)
        out.update(low=s.low, high=s.high, quantiles=s.quantiles)
        return out
    eps, delta = ledger.take_delta(name, f"vocabulary of {col}")
    if kind == "boolean":  # the domain is public: no threshold
        w = rel.entity_weights(ent)
        vals = [False, True]
        counts = [float(w[(values == v).to_numpy()].sum()) for v in vals]
        counts = [c + rng.laplace(0, 1 / eps) for c in counts]
    else:
        vals, counts = rel.vocabulary(values, ent, eps, delta, rng)
    w = rel.entity_weights(ent)
    null = float(w[values.isna().to_numpy()].sum()) + rng.laplace(0, 1 / eps)
    numeric = pd.api.types.is_numeric_dtype(values.dtype)
    out.update(
        values=vals, counts=counts, null_count=max(null, 0.0),
        threshold=rel.threshold(eps, delta), placeholder=0 if numeric else "(suppressed)",
    )  # fmt: skip
    return out


def _entity_count(ent: Mapping[str, np.ndarray], ledger: Ledger, rng: np.random.Generator) -> int:
    """The noisy number of entities (each adds 1)."""
    n = int(max([int(e.max()) + 1 for e in ent.values() if len(e)] or [1]))
    return rel.noisy_count(np.ones(n), 1, ledger.take(SHARED, "entity count"), rng)


def _releases(synth, source, ent, ledger, rng, n_noisy) -> dict[str, Any]:  # noqa: ANN001
    """Skeleton, column releases and text NULL rates of every private table."""
    from relsynth.synthesis._dp_skeleton import build_skeleton

    skeleton = build_skeleton(synth.metadata, synth.plan_, source, ent, ledger, rng)
    columns: dict[str, dict[str, Any]] = {}
    text_nulls: dict[str, dict[str, float]] = {}
    for name, e in ent.items():
        layout = synth.layouts_[name]
        frame = source[name]
        if len(frame) == 0:
            continue
        columns[name] = {
            c: _column_release(synth, name, c, layout.kinds.get(c, "categorical"), frame, e,
                               ledger, rng)
            for c in layout.learned
        }  # fmt: skip
        w = rel.entity_weights(e)
        for col in layout.text:
            eps = ledger.take(name, f"NULL rate of {col}")
            null = w[frame[col].isna().to_numpy()].sum() + rng.laplace(0, 1 / eps)
            text_nulls.setdefault(name, {})[col] = float(np.clip(null / n_noisy, 0, 1))
    return {"n": n_noisy, "skeleton": skeleton, "columns": columns, "text_nulls": text_nulls}


def fit_private(synth: Synthesizer, source: Mapping[str, pd.DataFrame], seed: int) -> dict:
    """Fit keys and models of ``synth`` under its ``privacy``; return the DP summary."""
    from relsynth._random import stream
    from relsynth.keys import KeyGenerator

    settings = synth.privacy
    assert settings is not None
    public = public_tables(synth)
    private = [n for n in synth.plan_.order if n not in public]
    ent = entities(synth.metadata, source, private)
    trained = [n for n in private if synth.layouts_[n].learned and len(source[n])]
    count = Ledger()
    dry = stream(seed, "dp-count")
    _releases(synth, source, ent, count, dry, _entity_count(ent, count, dry))
    n_struct = sum(r["epsilon"] for r in count.releases)  # weighted: counting gives 1 each
    share = STRUCTURE_SHARE if trained else 1.0
    ledger = Ledger(eps_each=settings.epsilon * share / max(n_struct, 1))
    rng = stream(seed, "dp-releases")
    n_noisy = _entity_count(ent, ledger, rng)
    delta = settings.resolve_delta(n_noisy)
    n_vocab = sum(1 for r in count.releases if r["what"].startswith("vocabulary"))
    ledger.delta_each = delta / max(n_vocab + len(trained), 1)
    releases = _releases(synth, source, ent, ledger, rng, n_noisy)
    t0 = time.perf_counter()
    synth.key_generator_ = KeyGenerator().fit(
        synth.metadata, releases["skeleton"], plan=synth.plan_
    )
    synth.fit_seconds_dp_ = {"keys": time.perf_counter() - t0}
    eps_sgd = settings.epsilon * (1.0 - share) / max(len(trained), 1)
    for name in synth.plan_.order:
        _fit_table(synth, name, source, ent, releases, ledger, eps_sgd, stream(seed, "fit", name))
    return ledger.summary(settings) | {"unconditional": trained}


def _dp_treatments(summary: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """The privacy summary, with learned columns marked as learned under DP."""
    return {
        t: {c: "learned (DP-SGD, DP encoder)" if v == "learned" else v for c, v in cols.items()}
        for t, cols in summary.items()
    }


def fit_synthesizer(
    synth: Synthesizer, source: Mapping[str, pd.DataFrame], repair: Any,
    seconds: dict[str, float], started: float, seed: int,
) -> Synthesizer:  # fmt: skip
    """The rest of ``Synthesizer.fit`` under DP, once the source is checked."""
    from relsynth.synthesis._privacy import privacy_summary
    from relsynth.synthesis._state import FitInfo, TableFit
    from relsynth.synthesis.dp import check_privacy

    check_privacy(synth.privacy)

    meta = synth.metadata
    order = synth.plan_.order
    synth.rules_ = tuple(r for r in meta.rules if r.enforce) if synth.rules != "none" else ()
    synth.lookups_ = {}
    # each table's state starts as its layout; _fit_table replaces it with the fitted one
    synth.tables_ = {n: TableFit(table_layout(meta, n, source[n]), {}) for n in order}
    dp = fit_private(synth, source, seed)
    seconds.update(synth.fit_seconds_dp_)
    synth._base_seed = seed
    seconds["total"] = time.perf_counter() - started
    models = {
        n: "copy" if n in synth.copies_ else type(synth.models_[n]).__name__
        if synth.models_.get(n) is not None else "keys" for n in order
    }  # fmt: skip
    synth.fit_info_ = FitInfo(
        seconds=seconds, rows={n: len(source[n]) for n in order}, models=models,
        dropped_rows=dict(repair.dropped), nulled_keys=dict(repair.nulled),
        withheld={}, privacy=_dp_treatments(privacy_summary(synth)), dp=dp,
    )  # fmt: skip
    return synth


def _fit_table(synth, name, source, ent, releases, ledger, eps_sgd, rng) -> None:  # noqa: ANN001
    """One table under DP: a copy (public), a DP-SGD model, DP text models."""
    from relsynth.models._dp import DPTraining, fit_dp_wgan
    from relsynth.synthesis._fit_table import _TableFitter, fit_threads
    from relsynth.synthesis._state import TableFit

    t0 = time.perf_counter()
    frame = source[name]
    dtypes = {c: str(frame[c].dtype) for c in frame.columns}
    layout = synth.layouts_[name]
    if name not in ent:
        synth.tables_[name] = TableFit(layout, dtypes, copy=frame.reset_index(drop=True).copy())
        synth.fit_seconds_dp_[f"fit:{name}"] = time.perf_counter() - t0
        return
    fitter = _TableFitter(synth, name, source, synth.layouts_, rng, None)
    text = _text_models(fitter, name, layout, releases)
    model = None
    if layout.learned and len(frame):
        model = fitter._default_wgan(layout)
        for key, value in _DP_MODEL.items():
            setattr(model, key, value)
        steps = synth.steps or DEFAULT_DP_STEPS
        dp = DPTraining(eps_sgd, ledger.delta_each, releases["n"], steps,
                        clip=synth.privacy.max_grad_norm)  # fmt: skip
        learned = frame[list(layout.learned)].reset_index(drop=True)
        pin = model.n_threads is None
        if pin:
            model.n_threads = fit_threads(synth.n_threads)
        fit_dp_wgan(model, learned, ent[name], releases["columns"][name], dp)
        if pin:
            model.n_threads = None
        ledger.training[name] = dp.summary()
    synth.tables_[name] = TableFit(layout, dtypes, model, text)
    synth.fit_seconds_dp_[f"fit:{name}"] = time.perf_counter() - t0


def _text_models(fitter, name, layout, releases) -> dict[str, Any]:  # noqa: ANN001
    """Text models fitted on NULLs only (no source value, length or digest enters the
    model), with the noisy NULL rate."""
    blank = pd.DataFrame({c: pd.Series([None] * 4, dtype=object) for c in layout.text})
    out = fitter._fit_text(blank, layout)
    nulls = releases["text_nulls"].get(name, {})
    for col, model in out.items():
        model.null_rate_ = nulls.get(col, 0.0)
        if getattr(model, "structured_", None) is not None:
            model.structured_.null_rate_ = model.null_rate_
    return out
