"""Where the synthesizer meets :mod:`relsynth.rules`: one function per hook point.

Kept out of :mod:`relsynth.synthesis.synthesizer` so that module only calls them:

* fit: :func:`fit_rules` (discovered and/or declared rules, ``synth.rules_``);
  per table, :func:`context_columns` (the values its keys determine, which join
  its model's context: :func:`relsynth.synthesis._context.determined_features`);
* sample, per table: :func:`context_rules` (those values' rules, for the context)
  and :func:`context_keys` (the keys they are read from: not re-matched on values);
* sample, per table: :func:`match_paths` right after the key skeleton,
  :func:`path_keys` (the keys those fix) before the keys are matched on the values,
  :func:`derive_values` after the values and the fake text;
* sample, at the end: :func:`apply_aggregates` once every table is finished;
* save: :func:`metadata_with_rules` (the model file keeps the rules in its metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth._random import child_seed, stream
from relsynth.rules import DeterminedValue, Equality, Rule
from relsynth.rules import enforce as _enforce
from relsynth.rules import fit_rules as _fit_rules
from relsynth.synthesis._copied import is_copied
from relsynth.synthesis._dp_rules import public_rule
from relsynth.synthesis._finish import restore_dtypes

if TYPE_CHECKING:
    from relsynth.metadata.schema import ForeignKey, Metadata
    from relsynth.synthesis.synthesizer import Synthesizer

logger = logging.getLogger(__name__)


def fit_rules(synth: Synthesizer, source: Mapping[str, pd.DataFrame]) -> tuple[Rule, ...]:
    """Cross-table rules to enforce: discovered and/or the metadata's (validated)."""
    if synth.rules == "none":
        return ()
    copied = [n for n in synth.metadata.tables if is_copied(synth, n)]
    find = synth.rules == "discover"
    rules = _fit_rules(
        synth.metadata, source, find=find, copied=copied, min_count=synth.min_category_count
    )
    logger.info("rules: %d kept (%s)", len(rules), "; ".join(map(str, rules)) or "none")
    return rules


def fitted_rules(synth: Synthesizer) -> tuple[Rule, ...]:
    """The rules a sample enforces (a loaded model without ``rules_``: the metadata's)."""
    if synth.rules == "none":
        return ()
    rules = getattr(synth, "rules_", None)
    return tuple(r for r in synth.metadata.rules if r.enforce) if rules is None else rules


def context_columns(synth: Synthesizer, name: str, learned: Collection[str]) -> list[str]:
    """The columns of ``name`` (among its ``learned`` ones) that an enforced
    ``keys determine a value`` rule with stored values produces: their values join the
    table model's context (decided once, at fit time; under DP the rules keep no
    values, so none does)."""
    return sorted(
        {
            r.column.target[1][0]
            for r in fitted_rules(synth)
            if isinstance(r, DeterminedValue)
            and r.enforce
            and r.table == name
            and r.values
            and r.column.target[1][0] in learned
        }
    )


def context_rules(
    synth: Synthesizer, name: str, columns: Collection[str] | None
) -> list[tuple[str, DeterminedValue | None]]:
    """Each of ``columns`` (:func:`context_columns` at fit time) with the rule that
    gives its value (the last one, as :func:`derive_values` applies them in order),
    None where the model's rules no longer have one."""
    found: dict[str, DeterminedValue] = {}
    for r in fitted_rules(synth):
        if isinstance(r, DeterminedValue) and r.enforce and r.table == name and r.values:
            found[r.column.target[1][0]] = r
    return [(col, found.get(col)) for col in columns or ()]


def context_keys(synth: Synthesizer, name: str) -> frozenset[ForeignKey]:
    """The foreign keys of ``name`` whose columns a context value is read from
    (:func:`context_rules`): the values were drawn given the value their parents
    determine, so nothing may re-match them on the values."""
    fit = synth.tables_[name]
    used = [r for _, r in context_rules(synth, name, fit.rule_context) if r is not None]
    columns = {c for r in used for c in r.keys.target[1]}
    return frozenset(fk for fk in synth.metadata.parents(name) if set(fk.columns) <= columns)


def path_keys(synth: Synthesizer, name: str) -> frozenset[ForeignKey]:
    """The foreign keys of ``name`` that a kept path agreement starts with (the
    skeleton chose their parents to agree; nothing may re-match them)."""
    from relsynth.rules import PathAgreement

    meta = synth.metadata
    out = set()
    for rule in fitted_rules(synth):
        if not isinstance(rule, PathAgreement) or rule.table != name:
            continue
        for ref in (rule.left, rule.right):
            if ref.hops:
                table, columns = ref.steps[0]
                out.update(fk for fk in meta.parents(table) if fk.columns == tuple(columns))
    return frozenset(out)


def match_paths(
    synth: Synthesizer,
    name: str,
    keys: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Path agreements: the skeleton's secondary keys reach the driver's ancestor."""
    rules = fitted_rules(synth)
    if not any(r.kind == "path" and r.table == name for r in rules):
        return keys
    meta = synth.metadata
    table = meta.table(name)
    protected = {*table.primary_key, *(c for u in table.unique for c in u)}
    for fk in meta.parents(name):
        if fk.is_self_reference or synth.plan_.is_deferred(fk):
            protected.update(fk.columns)
    seed = stream(child_seed(rng), "rules", "paths")
    driver = synth.plan_.driver.get(name)
    return _enforce.match_paths(
        meta, rules, name, keys, done, seed, driver=driver, protected=protected
    )


def derive_values(
    synth: Synthesizer,
    name: str,
    frame: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Equality and order rules: columns produced from their ancestor's value; the
    columns the table model rebuilds from one of them (date offsets) move with it."""
    rules = fitted_rules(synth)
    layout = synth.tables_[name].layout
    columns = [*layout.learned, *layout.text]
    if not _enforce.value_rules(rules, name, columns):
        return frame
    followers: dict[str, list[str]] = {}
    for offset in getattr(synth.tables_[name].model, "offsets_", None) or ():
        if offset.form in ("datetime", "difference"):
            followers.setdefault(offset.anchor, []).append(offset.column)
    for col in list(followers):  # a chain moves as one
        todo, seen = list(followers[col]), set()
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo += followers.get(nxt, [])
        followers[col] = sorted(seen)
    seed = stream(child_seed(rng), "rules", "values")
    return _enforce.derive_values(
        synth.metadata, rules, name, frame, done, seed, followers=followers, columns=columns
    )


def apply_aggregates(
    synth: Synthesizer, tables: dict[str, pd.DataFrame], rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Aggregate rules: parents' columns computed from their synthetic children."""
    rules = [r for r in fitted_rules(synth) if r.kind == "aggregate"]
    if not rules:
        return tables
    meta, order = synth.metadata, synth.plan_.order
    out = _enforce.apply_aggregates(meta, rules, tables, rng, order=order)
    # a child's copy of an aggregated column is taken again (a line's price copied
    # from its product's, whose price is the highest of its lines': both hold)
    aggregated = {(r.parent, (r.column,)) for r in rules}  # type: ignore[union-attr]
    again = [
        r for r in fitted_rules(synth) if isinstance(r, Equality) and r.anchor.target in aggregated
    ]
    for name in order:
        mine = [r for r in again if r.table == name]
        if mine:
            out[name] = _enforce.derive_values(meta, mine, name, out[name], out, rng)
    return {n: restore_dtypes(f, synth.tables_[n].dtypes) for n, f in out.items()}


def metadata_with_rules(synth: Synthesizer) -> Metadata:
    """The metadata carrying the fitted rules, so that the model file keeps them (a
    loaded synthesizer enforces its metadata's rules); the declared rules that were
    not enforced follow with ``enforce=False`` (under DP without what was measured on
    the source: :func:`relsynth.synthesis._dp_rules.public_rule`)."""
    fitted = list(getattr(synth, "rules_", ()))
    texts = {str(r) for r in fitted}
    rest = [replace(r, enforce=False) for r in synth.metadata.rules if str(r) not in texts]
    if getattr(synth, "privacy", None) is not None:
        rest = [public_rule(r) for r in rest]
    return synth.metadata.with_rules(*fitted, *rest)
