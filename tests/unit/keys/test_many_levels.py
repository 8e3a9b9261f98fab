"""A parent's category of many levels, read by the choice and by the secondary ranking.

A plane's model (93 to 127 levels on nyc20k, about 10 planes per level) says which
airline it flies for and how many flights it gets better than any other column, but
the preference's and the count feature's limit of 48 levels (names and codes point
nowhere) left it out. Here each of 60 models belongs to one airline and sets how busy
its planes are; the seats say nothing. The choice (keys/choice.py) and the ranking of
the planes' in-degrees (keys/ranking.py, features.CountFeature) read the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.keys import KeyGenerator
from relsynth.keys.choice import fit_choice
from relsynth.keys.features import CountFeature
from relsynth.rules import measure, parse_rule

ORIGIN = ForeignKey("flights", ("origin_id",), "airports", ("id",))
PLANE = ForeignKey("flights", ("plane_id",), "planes", ("id",), nullable=True)
AIRLINE = ForeignKey("flights", ("airline_id",), "airlines", ("id",))
RULE = "flights.plane_id determines flights.airline_id"
COPIED = ("airports", "airlines")
N_MODELS, N_AIRLINES = 60, 6


def _metadata() -> Metadata:
    def ids(*names: str) -> tuple[Column, ...]:
        return tuple(Column(n, "id", "INTEGER", n != "plane_id") for n in names)

    return Metadata(
        tables={
            "airports": Table("airports", ids("id"), primary_key=("id",)),
            "airlines": Table("airlines", ids("id"), primary_key=("id",)),
            "planes": Table(
                "planes",
                (
                    *ids("id"),
                    Column("model", "categorical", "TEXT"),
                    Column("seats", "numerical", "INTEGER"),
                ),
                primary_key=("id",),
            ),
            "flights": Table(
                "flights",
                (*ids("id", "origin_id", "plane_id", "airline_id"),),
                primary_key=("id",),
            ),
        },
        foreign_keys=(ORIGIN, PLANE, AIRLINE),
    )


def _planes(rng: np.random.Generator, n: int, start: int = 1) -> pd.DataFrame:
    model = rng.integers(0, N_MODELS, n)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + n),
            "model": [f"M{m:03d}" for m in model],
            "seats": rng.integers(50, 300, n),
        }
    )


def _owner(planes: pd.DataFrame) -> np.ndarray:
    """Each model's airline (1 to 6)."""
    return planes["model"].str[1:].astype(int).to_numpy() % N_AIRLINES + 1


def _busy(planes: pd.DataFrame) -> np.ndarray:
    """Each model's mean flights per plane (0.5 to 12)."""
    m = planes["model"].str[1:].astype(int).to_numpy()
    return np.where(m % 3 == 0, 12.0, np.where(m % 3 == 1, 4.0, 0.5))


def _tables(seed: int = 0, n_planes: int = 900) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    planes = _planes(rng, n_planes)
    counts = rng.poisson(_busy(planes))
    plane = np.repeat(np.arange(n_planes), counts)
    n = len(plane)
    return {
        "airports": pd.DataFrame({"id": [1, 2, 3]}),
        "airlines": pd.DataFrame({"id": np.arange(1, N_AIRLINES + 1)}),
        "planes": planes,
        "flights": pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "origin_id": rng.integers(1, 4, n),
                "plane_id": pd.array(planes["id"].to_numpy()[plane], dtype="Int64"),
                "airline_id": _owner(planes)[plane],
            }
        ),
    }


@pytest.fixture(scope="module")
def fleet() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    return _metadata(), _tables()


def test_the_choice_reads_a_category_of_many_levels(fleet):
    meta, tables = fleet
    choice = fit_choice(meta, AIRLINE, tables, frozenset(COPIED))
    assert choice is not None
    assert choice.preference.columns[0] == "model"  # 60 levels, 15 planes each
    new = _planes(np.random.default_rng(7), 300, start=5000)
    picked = choice.choose(new, tables["airlines"], ("id",), np.random.default_rng(1))
    airline = tables["airlines"]["id"].to_numpy()[picked]
    assert (airline == _owner(new)).mean() > 0.9


def test_the_count_feature_reads_many_levels_adjusted():
    rng = np.random.default_rng(3)
    planes = _planes(rng, 1200)
    counts = rng.poisson(_busy(planes)).astype(float)
    noise = pd.DataFrame({"code": rng.integers(0, 110, 1200).astype(str)})
    frame = pd.concat([planes, noise], axis=1)
    assert CountFeature().fit(frame, ["model", "seats", "code"], counts).column is None
    wide = CountFeature().fit(frame, ["model", "seats", "code"], counts, max_levels=500)
    assert wide.column == "model" and wide.eta2 > 0.6
    # 110 levels of noise, 11 rows each: its raw eta squared is about 0.09, adjusted 0
    alone = CountFeature().fit(frame, ["code"], counts, max_levels=500)
    assert alone.column is None


def test_the_count_feature_does_not_name_a_level_one_parent_holds():
    rng = np.random.default_rng(4)
    planes = _planes(rng, 1200)
    counts = rng.poisson(_busy(planes)).astype(float)
    planes.loc[0, "model"] = "M999"  # one plane of its model, with many flights
    counts[0] = 500.0
    feature = CountFeature().fit(planes, ["model"], counts, max_levels=500)
    assert feature.column == "model"
    assert "M999" not in feature.to_dict()["means"]
    assert feature.transform(planes.iloc[:1])[0, 0] == 0.0  # read as the mean
    shared = planes["model"].value_counts()
    assert set(feature.means) == set(shared[shared >= 2].index)


def test_busy_models_get_the_flights_and_their_airline(fleet):
    meta, tables = fleet
    plan = relsynth.plan(meta, {"flights": ORIGIN})
    gen = KeyGenerator().fit(meta, tables, plan=plan, copied=COPIED)
    ranking = next(s for s in gen.states_["flights"].secondary if s.fk == 1).ranking
    assert ranking is not None and ranking.count_feature is not None
    assert ranking.count_feature.column == "model"
    new = _planes(np.random.default_rng(11), 900, start=5000)
    done = {"airports": tables["airports"], "airlines": tables["airlines"], "planes": new}
    rules = [parse_rule(RULE, meta)]
    flights = gen.sample_table(
        "flights", done, rng=np.random.default_rng(2), rules=rules, copied=COPIED
    )
    assert measure(meta, done | {"flights": flights}, rules[0])[0] == 1.0
    per_plane = flights["plane_id"].value_counts().reindex(new["id"], fill_value=0).to_numpy()
    busy = _busy(new)
    # the busy models' planes take the flights (source: 12 vs 0.5 per plane)
    assert per_plane[busy == 12].mean() > 4 * per_plane[busy == 0.5].mean()
    linked = flights.dropna(subset=["plane_id"]).groupby("plane_id")["airline_id"].first()
    owner = pd.Series(_owner(new), index=new["id"]).loc[linked.index.astype(int)].to_numpy()
    assert (linked.to_numpy() == owner).mean() > 0.8
