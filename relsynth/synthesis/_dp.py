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

Every mechanism is a Gaussian mechanism (the releases) or a subsampled Gaussian
mechanism (DP-SGD), each bounding what one entity changes; the whole fit is
accounted for by **RDP composition** over all of them with opacus' accountant (see
docs/privacy.md for why sequential composition, not parallel, is the right one: an
entity has rows in every table, so the tables do not partition the entities):

* ``STRUCTURE_SHARE`` of epsilon (the epsilon the releases alone compose to) goes
  to the releases (a count release gets ``COUNT_WEIGHT`` parts of their RDP, any
  other one part): the number of entities, root row counts, children-per-parent
  histograms, NULL rates of secondary keys and text columns, category vocabularies
  (partition selection, which also spends delta) and numeric bounds and quantiles
  (:mod:`relsynth.synthesis._dp_release`, :mod:`relsynth.synthesis._dp_skeleton`);
  a table's column releases are weighted by its DP size (:func:`_table_weights`:
  small tables get less noise, the total and so the accounting are unchanged);
* the context correlations of the child tables (one release each,
  :mod:`relsynth.synthesis._dp_context`) are composed on top of these;
* the DP-SGD runs (one per learned table, the same noise multiplier) get the rest:
  their noise is the smallest with which everything together composes to epsilon
  at half of delta (the other half goes to the partition selections).

A child table's model is conditioned on its driver parent's values (and, under a
private parent, the family counters): the real contexts are the entity's own rows,
so they enter only the critic's per-entity clipped gradients; the generator and the
context encoder get synthetic contexts made from the skeleton and the parent's
releases (:class:`DPContext`, docs/privacy.md).

Turned off under DP because they learn from the data outside a DP mechanism:
rule discovery (declared rules of the metadata are kept), lookup-table detection
and verbatim copies, sequence models, secondary parents and date keys as context,
dependency and offset discovery, rare-value withholding (superseded by the DP
threshold). The marginal calibration
is fitted against rows drawn from the releases (post-processing). Text columns are
faked with a noisy NULL rate and without the source's lengths or digests.

A DP fit is the normal fit with a DP mode: :func:`prepare` makes the releases, the
noise of the DP-SGD runs and the key generator (from the DP key skeleton), then the
usual table tasks run (:mod:`._schedule`, ``_TableFitter.fit_private``), with
``n_jobs``, ``executor`` and ``time_budget`` as any fit; :func:`fit_info` joins the
DP-SGD runs to the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.errors import ParameterError
from relsynth.synthesis import _dp_release as rel
from relsynth.synthesis._dp_context import (
    CONTEXT_RELEASE,
    CONTEXT_WEIGHT,
    DPContext,
    context_release,
    correlation_columns,
    dp_context,
)
from relsynth.synthesis._dp_rules import public_metadata, public_rules
from relsynth.synthesis.dp import DifferentialPrivacy

if TYPE_CHECKING:
    from relsynth._columns import TableLayout
    from relsynth.synthesis._fit_table import FittedTable
    from relsynth.synthesis._state import FitInfo
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "DP_MODEL",
    "DPFit",
    "Ledger",
    "TableDP",
    "entities",
    "fit_info",
    "prepare",
    "text_null_rates",
]

#: The "table" of releases that concern every table (the number of entities).
SHARED = "(shared)"
#: Share of epsilon the Gaussian releases (counts, histograms, vocabularies, bounds) compose to.
#: Measured on Berka at epsilon 4 (30 steps): 0.2 / 0.3 / 0.5 / 0.7 gave column shapes
#: 0.811 / 0.819 / 0.856 / 0.886 and C2ST 0.868 / 0.872 / 0.755 / 0.759; 0.5 takes most of
#: the gain and keeps half of the budget for DP-SGD, which the joint (C2ST) does not
#: ask more of at 30 steps and longer training uses.
STRUCTURE_SHARE = 0.5
#: ConditionalWGAN settings under DP (no packing; smaller networks suit DP-SGD's noise).
DP_MODEL = {
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
#: The column releases of a table with ``m`` entities (noisy) get weight ``m ** -POWER``
#: (normalised: the releases' total is unchanged), so that a small table's releases
#: stand out of their noise more nearly as a large one's do (0.5: signal-to-noise grows as
#: m ** 0.75 instead of m; 1 starved the large tables: Berka shapes 0.912 against 0.926 at
#: epsilon 16).
SMALL_TABLE_POWER = 0.5


class Ledger:
    """Every DP release of a fit and its noise, per table, and the DP-SGD runs.

    First run in counting mode (``sigma_unit is None``: ``take`` returns a unit noise
    and counts), then with the noise fixed: a release of weight ``w`` gets noise
    ``sigma_unit / sqrt(w)`` (``w`` parts of the releases' RDP).
    """

    def __init__(self, sigma_unit: float | None = None, delta_each: float = 0.0) -> None:
        self.sigma_unit, self.delta_each = sigma_unit, delta_each
        self.releases: list[dict[str, Any]] = []
        self.training: dict[str, dict[str, float]] = {}
        #: weight of each table's column releases (1 unless set: :func:`_table_weights`)
        self.table_weight: dict[str, float] = {}

    def take(self, table: str, what: str) -> float:
        """The noise (standard deviation per unit of L2 sensitivity) of one release."""
        if what.startswith(COUNT_RELEASES):
            weight = COUNT_WEIGHT
        else:
            weight = self.table_weight.get(table, 1.0)
            if what.startswith(CONTEXT_RELEASE):
                weight *= CONTEXT_WEIGHT
        sigma = (1.0 if self.sigma_unit is None else self.sigma_unit) / np.sqrt(weight)
        self.releases.append(
            {"table": table, "what": what, "weight": weight, "noise": float(sigma), "delta": 0.0}
        )
        return float(sigma)

    def take_delta(self, table: str, what: str) -> tuple[float, float]:
        """Noise and delta of one release that also spends delta (partition selection)."""
        sigma = self.take(table, what)
        delta = 1e-6 if self.sigma_unit is None else self.delta_each  # counting: any delta
        self.releases[-1]["delta"] = delta
        return sigma, delta

    @property
    def weight(self) -> float:
        """The total weight (RDP in units of one release's) of the releases that share
        ``STRUCTURE_SHARE`` of epsilon: all but the context correlations (whose part
        comes out of the DP-SGD runs', :mod:`relsynth.synthesis._dp_context`)."""
        return float(
            sum(r["weight"] for r in self.releases if not r["what"].startswith(CONTEXT_RELEASE))
        )

    def history(self, table: str | None = None) -> list[tuple[float, float, int]]:
        """``(noise, sample rate, steps)`` of every mechanism (of ``table``), for the
        RDP accountant: a release is one step at rate 1."""
        out = [(r["noise"], 1.0, 1) for r in self.releases if table in (None, r["table"])]
        out += [
            (t["noise_multiplier"], t["sample_rate"], int(t["steps"]))
            for name, t in self.training.items()
            if table in (None, name)
        ]
        return out

    def summary(self, settings: DifferentialPrivacy, delta_rdp: float) -> dict[str, Any]:
        """Spent in total and per table (RDP composition, at ``delta_rdp`` plus the
        partition selections' delta), and every release and DP-SGD run."""
        from relsynth.models._dp import composed_epsilon

        names = dict.fromkeys([r["table"] for r in self.releases] + list(self.training))
        tables = {
            n: {
                "epsilon": composed_epsilon(self.history(n), delta_rdp),
                "delta": delta_rdp + sum(r["delta"] for r in self.releases if r["table"] == n),
            }
            for n in names
        }
        return {
            "epsilon": composed_epsilon(self.history(), delta_rdp),
            "delta": delta_rdp + sum(r["delta"] for r in self.releases),
            "delta_rdp": delta_rdp,
            "composition": "rdp",
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
    ent: np.ndarray, ledger: Ledger, rng: np.random.Generator, mass: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The DP release the encoder of one learned column is built from (``mass``: the
    table's entities as the DP outputs tell them, None in counting mode)."""
    column = synth.metadata.table(name).column(col)
    out: dict[str, Any] = {"kind": kind, "nullable": bool(column.nullable)}
    values = frame[col]
    if kind in ("numerical", "datetime"):
        from relsynth.models.encoding import NumericalEncoder

        x = NumericalEncoder(col, kind)._values(values)
        bounds = synth.privacy.bounds.get(f"{name}.{col}")  # type: ignore[union-attr]
        sigma = ledger.take(name, f"bounds and quantiles of {col}")
        s = rel.numeric_summary(
            x, ent, sigma, rng, datetime=kind == "datetime", bounds=bounds, mass=mass
        )
        out.update(low=s.low, high=s.high, quantiles=s.quantiles, null_share=s.null_share)
        return out
    sigma, delta = ledger.take_delta(name, f"vocabulary of {col}")
    given = synth.privacy.domains.get(f"{name}.{col}")  # type: ignore[union-attr]
    domain = rel.public_domain(column, kind, values, given)  # public: no threshold
    vals, counts, null = rel.vocabulary(values, ent, sigma, delta, rng, domain=domain)
    numeric = pd.api.types.is_numeric_dtype(values.dtype)
    out.update(
        values=vals, counts=counts, null_count=null,
        threshold=rel.threshold(sigma, delta), placeholder=0 if numeric else "(suppressed)",
    )  # fmt: skip
    return out


def _entity_count(ent: Mapping[str, np.ndarray], ledger: Ledger, rng: np.random.Generator) -> int:
    """The noisy number of entities (each adds 1)."""
    n = int(max([int(e.max()) + 1 for e in ent.values() if len(e)] or [1]))
    return rel.noisy_count(np.ones(n), 1, ledger.take(SHARED, "entity count"), rng)


def _plan_budget(
    settings: DifferentialPrivacy, weight: float, n_vocab: int, trained: bool, n: int | None
) -> tuple[float, float, float]:
    """``(sigma_unit, delta_rdp, delta per selection)`` for releases of total ``weight``
    composing to ``STRUCTURE_SHARE`` of epsilon (all of it when nothing is trained) at
    ``delta_rdp``; ``n`` the noisy number of entities (None: before it is known)."""
    from relsynth.models._dp import solve_noise

    delta = settings.resolve_delta(n) if n is not None else settings.delta or 1e-5
    delta_rdp = delta / 2 if n_vocab else delta
    target = settings.epsilon * (STRUCTURE_SHARE if trained else 1.0)
    # releases of weight w at noise s / sqrt(w) compose like one at s / sqrt(weight)
    sigma_eff = solve_noise([], lambda s: [(s, 1.0, 1)], target, delta_rdp)
    return (
        sigma_eff * float(np.sqrt(max(weight, 1.0))),
        delta_rdp,
        (delta - delta_rdp) / max(n_vocab, 1),
    )


def _releases(synth, source, ent, ledger, rng, n_noisy) -> dict[str, Any]:  # noqa: ANN001
    """Skeleton, column releases and text NULL rates of every private table."""
    from relsynth.synthesis._dp_skeleton import build_skeleton

    skeleton = build_skeleton(synth.metadata, synth.plan_, source, ent, ledger, rng)
    mass = _masses(synth, source, ent, skeleton, n_noisy)
    if ledger.sigma_unit is not None:  # counting mode: every column release weighs 1
        ledger.table_weight = _table_weights(synth, mass)
    columns: dict[str, dict[str, Any]] = {}
    text_nulls: dict[str, dict[str, float]] = {}
    for name, e in ent.items():
        layout = synth.layouts_[name]
        frame = source[name]
        if len(frame) == 0:
            continue
        columns[name] = {
            c: _column_release(synth, name, c, layout.kinds.get(c, "categorical"), frame, e,
                               ledger, rng, mass.get(name))
            for c in layout.learned
        }  # fmt: skip
        for col in layout.text:
            sigma = ledger.take(name, f"NULL rate of {col}")
            share = rel.null_share(frame[col].isna().to_numpy(), e, sigma, rng)
            text_nulls.setdefault(name, {})[col] = share
    return {"n": n_noisy, "skeleton": skeleton, "columns": columns, "text_nulls": text_nulls}


def _masses(
    synth: Synthesizer, source: Mapping[str, pd.DataFrame], ent: Mapping[str, np.ndarray],
    skeleton: Mapping[str, pd.DataFrame], n_noisy: int,
) -> dict[str, float]:  # fmt: skip
    """Per table with column releases, its entities as the DP outputs so far tell them:
    its rows in the key skeleton, at most the noisy number of entities."""
    return {
        n: float(max(min(len(skeleton[n]), n_noisy), 1))
        for n in ent
        if len(source[n])  # the tables _releases makes column releases for
    }


def _table_weights(synth: Synthesizer, mass: Mapping[str, float]) -> dict[str, float]:
    """Weights of each table's column releases: ``m ** -SMALL_TABLE_POWER`` with ``m``
    the table's DP size (:func:`_masses`), scaled so that the releases weigh what they
    weigh at 1 each.

    Exact accounting: a Gaussian release of weight ``w`` has the Renyi-DP curve
    ``alpha w / (2 sigma_unit^2)``, so releases whose weights sum to the same total
    compose to the same curve, whatever the split: the budget solved for weights of 1
    holds. The split reads only DP outputs (the skeleton), never a true count.
    """
    n_columns = {n: len(synth.layouts_[n].learned) + len(synth.layouts_[n].text) for n in mass}
    raw = {n: mass[n] ** -SMALL_TABLE_POWER for n in n_columns}
    scale = sum(n_columns.values()) / max(sum(c * raw[n] for n, c in n_columns.items()), 1e-300)
    return {n: raw[n] * scale for n in n_columns}


@dataclass
class TableDP:
    """What one private table's fit needs under DP (sent to the worker that fits it):
    its rows' entities, its column releases and text NULL rates, the DP-SGD settings,
    its parent context (None: unconditional)."""

    entity: np.ndarray
    columns: dict[str, dict[str, Any]]
    text_nulls: dict[str, float]
    n_entities: int
    noise: float
    delta: float
    steps: int
    clip: float
    context: DPContext | None = None


@dataclass
class DPFit:
    """The DP part of a fit, before the tables: the ledger, the per-table inputs."""

    ledger: Ledger
    delta_rdp: float
    tables: dict[str, TableDP]
    trained: list[str]
    seconds: float
    #: rows per private table in the DP key skeleton (noisy): what the model file keeps
    #: as the table's size, never the source's exact count
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def contexts(self) -> dict[str, dict[str, Any]]:
        """Per table conditioned on its parent: the parent and whether the family
        counters join (what sampling needs to build the same context), and the released
        context correlations that stood out of their noise."""
        return {
            n: {
                "parent": t.context.parent,
                "family": t.context.family,
                "correlations": t.context.correlations,
            }
            for n, t in self.tables.items()
            if t.context is not None and n in self.trained
        }


def prepare(
    synth: Synthesizer,
    source: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
    seed: int,
) -> DPFit:
    """Everything before the table fits under DP: the releases, the budget of the DP-SGD
    runs and the key generator (fitted on the DP key skeleton)."""
    from relsynth.keys import KeyGenerator
    from relsynth.models._dp import sample_rate_for, solve_noise
    from relsynth.synthesis._dp_skeleton import pinned_public
    from relsynth.synthesis._state import TableFit
    from relsynth.synthesis.dp import check_privacy

    check_privacy(synth.privacy)
    settings = synth.privacy
    assert settings is not None
    t0 = time.perf_counter()
    meta = synth.metadata
    synth.rules_ = public_rules(meta) if synth.rules != "none" else ()
    synth.lookups_ = {}
    synth.lookup_reasons_ = {}
    # layouts_ for the releases; the table fits replace these states
    synth.tables_ = {n: TableFit(layouts[n], {}) for n in synth.plan_.order}
    public = public_tables(synth)
    private = [n for n in synth.plan_.order if n not in public]
    rel.check_columns(meta, settings, private)
    ent = entities(meta, source, private)
    trained = [n for n in private if layouts[n].learned and len(source[n])]
    ledger, delta_rdp, rng, n_noisy, total = _release_ledger(
        synth, source, ent, bool(trained), seed
    )
    releases = _releases(synth, source, ent, ledger, rng, n_noisy)
    contexts = _contexts(synth, source, ent, ledger, releases, seed)
    # the split over tables keeps the releases' total weight, hence their RDP curve
    assert abs(ledger.weight - total) <= 1e-9 * total, (ledger.weight, total)
    # the key generator keeps its metadata: its rules without what was measured
    synth.key_generator_ = KeyGenerator().fit(
        public_metadata(meta), releases["skeleton"], plan=synth.plan_,
        copied=pinned_public(synth.plan_, public, private, source),
    )  # fmt: skip
    steps = synth.steps or DEFAULT_DP_STEPS
    rate = sample_rate_for(n_noisy)
    noise = (
        solve_noise(
            ledger.history(), lambda s: [(s, rate, steps)] * len(trained), settings.epsilon,
            delta_rdp,
        )
        if trained
        else 0.0
    )  # fmt: skip
    tables = {
        n: TableDP(
            entity=ent[n],
            columns=releases["columns"].get(n, {}),
            text_nulls=releases["text_nulls"].get(n, {}),
            n_entities=n_noisy,
            noise=noise,
            delta=delta_rdp,
            steps=steps,
            clip=float(settings.max_grad_norm),
            context=contexts.get(n),
        )  # fmt: skip
        for n in private
    }
    sizes = {n: len(releases["skeleton"][n]) for n in private if n in releases["skeleton"]}
    return DPFit(ledger, delta_rdp, tables, trained, time.perf_counter() - t0, sizes)


def _release_ledger(
    synth: Synthesizer, source: Mapping[str, pd.DataFrame], ent: Mapping[str, np.ndarray],
    trained: bool, seed: int,
) -> tuple[Ledger, float, np.random.Generator, int, float]:  # fmt: skip
    """The releases' ledger with its noise set, ``delta_rdp``, the releases' random
    stream, the noisy number of entities (released on the ledger already) and the
    releases' total weight.

    The releases are first counted (a dry run on its own stream, nothing kept), then the
    entity count is released (the default delta depends on it), then the noise is solved
    that makes all the releases together compose to their share of epsilon.
    """
    from relsynth._random import stream
    from relsynth.models._dp import solve_noise

    settings = synth.privacy
    assert settings is not None
    count = Ledger()
    dry = stream(seed, "dp-count")
    counted = _releases(synth, source, ent, count, dry, _entity_count(ent, count, dry))
    _contexts(synth, source, ent, count, counted, seed)  # counting mode: no data read
    n_vocab = sum(1 for r in count.releases if r["delta"] > 0)
    sigma, _, _ = _plan_budget(settings, count.weight, n_vocab, trained, None)
    ledger = Ledger(sigma_unit=sigma)
    rng = stream(seed, "dp-releases")
    n_noisy = _entity_count(ent, ledger, rng)
    _, delta_rdp, ledger.delta_each = _plan_budget(
        settings, count.weight, n_vocab, trained, n_noisy
    )
    first, rest = ledger.history(), count.weight - ledger.weight
    share = STRUCTURE_SHARE if trained else 1.0
    ledger.sigma_unit = (
        solve_noise(
            first, lambda s: [(s / np.sqrt(rest), 1.0, 1)], settings.epsilon * share, delta_rdp
        )
        if rest > 0
        else sigma
    )
    return ledger, delta_rdp, rng, n_noisy, count.weight


def _contexts(
    synth: Synthesizer, source: Mapping[str, pd.DataFrame], ent: Mapping[str, np.ndarray],
    ledger: Ledger, releases: Mapping[str, Any], seed: int,
) -> dict[str, DPContext | None]:  # fmt: skip
    """The parent context of every trained private table (None: unconditional) with its
    released context correlations (:mod:`relsynth.synthesis._dp_context`); in the
    ledger's counting mode only the releases are counted (and nothing returned)."""
    from relsynth._random import stream

    public, private = public_tables(synth), list(ent)
    trained = [n for n in private if synth.layouts_[n].learned and len(source[n])]
    columns = correlation_columns(synth, public, trained)
    counting = ledger.sigma_unit is None
    out: dict[str, DPContext | None] = {}
    if not counting:
        out = {
            n: dp_context(
                synth, n, public, trained, source, releases, stream(seed, "dp-context", n)
            )
            for n in trained
        }
    for name, cols in columns.items():
        ctx = out.get(name)
        corr = context_release(
            synth, name, cols, ctx, source, ent[name], releases, ledger,
            stream(seed, "dp-context-release", name),
        )  # fmt: skip
        if ctx is not None:
            ctx.correlations = corr
    return out


def _dp_treatments(summary: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """The privacy summary, with learned columns marked as learned under DP."""
    return {
        t: {c: "learned (DP-SGD, DP encoder)" if v == "learned" else v for c, v in cols.items()}
        for t, cols in summary.items()
    }


def fit_info(
    synth: Synthesizer, dp: DPFit, fitted: Mapping[str, FittedTable], info: FitInfo
) -> FitInfo:
    """The fit info of a DP fit: the DP-SGD runs of the tables joined to the ledger, the
    epsilon and delta spent (RDP composition of everything)."""
    settings = synth.privacy
    assert settings is not None
    for name in synth.plan_.order:  # plan order: the same summary with any n_jobs
        run = fitted[name].dp
        if run is not None:
            dp.ledger.training[name] = run
    contexts = dp.contexts
    summary = dp.ledger.summary(settings, dp.delta_rdp) | {
        "unconditional": [n for n in dp.trained if n not in contexts],
        "context": contexts,
    }
    # exact source counts (rows, repairs) would leave the model file un-noised: the
    # private tables' sizes are the DP skeleton's, the repair counts are not kept
    rows = {n: dp.sizes.get(n, r) for n, r in info.rows.items()}
    return replace(
        info, rows=rows, dropped_rows={}, withheld={}, privacy=_dp_treatments(info.privacy),
        dp=summary,
    )  # fmt: skip


def text_null_rates(text: Mapping[str, Any], nulls: Mapping[str, float]) -> None:
    """Text models fitted on NULLs only (no source value, length or digest enters the
    model) get the noisy NULL rate."""
    for col, model in text.items():
        model.null_rate_ = nulls.get(col, 0.0)
        if getattr(model, "structured_", None) is not None:
            model.structured_.null_rate_ = model.null_rate_
