"""Structured column values (JSON, arrays, bytes, addresses) and special numeric values."""

from __future__ import annotations

import ipaddress
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from faker import Faker

from relsynth.models.encoding import NumericalEncoder, TableEncoder
from relsynth.models.pii import TextColumnModel
from relsynth.models.structured import StructuredColumnModel, looks_like_json


def _fake() -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(0)
    return fake


def _roundtrip(model: StructuredColumnModel) -> StructuredColumnModel:
    state = json.loads(json.dumps(model.state_dict()))  # plain JSON
    return StructuredColumnModel.from_state_dict(state)


def test_json_keeps_structure_not_values():
    rng = np.random.default_rng(0)
    docs = [
        json.dumps(
            {
                "id": f"secret-{i}",
                "n": int(rng.integers(0, 100)),
                "x": float(rng.random()),
                "tags": ["red", "blue"][: i % 3],
                "nested": {"flag": bool(i % 2), "maybe": None if i % 4 else "set"},
            }
        )
        for i in range(300)
    ]
    values = pd.Series(docs + [None] * 100, dtype=object)
    model = _roundtrip(StructuredColumnModel("json").fit(values))
    out = model.sample(2000, rng=np.random.default_rng(1), fake=_fake())
    assert 0.2 < out.isna().mean() < 0.3
    parsed = [json.loads(v) for v in out.dropna()]
    assert all(list(d)[:3] == ["id", "n", "x"] for d in parsed)  # key order kept
    assert all(isinstance(d["n"], int) and 0 <= d["n"] <= 99 for d in parsed)
    assert all(isinstance(d["x"], float) and 0 <= d["x"] <= 1 for d in parsed)
    assert {len(d["tags"]) for d in parsed} <= {0, 1, 2}
    assert all(t in {"red", "blue"} for d in parsed for t in d["tags"])
    assert 0.4 < np.mean([d["nested"]["flag"] for d in parsed]) < 0.6
    assert 0.15 < np.mean([d["nested"]["maybe"] == "set" for d in parsed]) < 0.35
    assert not {d["id"] for d in parsed} & {f"secret-{i}" for i in range(300)}


def test_arrays_bytes_and_addresses():
    rng = np.random.default_rng(2)
    arrays = pd.Series([json.dumps(list(range(i % 4))) for i in range(100)])
    out = StructuredColumnModel("array").fit(arrays).sample(500, rng=rng, fake=_fake())
    assert all(isinstance(json.loads(v), list) and len(json.loads(v)) <= 3 for v in out)
    blobs = pd.Series([bytes(10 + i % 5) if i % 2 else None for i in range(100)], dtype=object)
    out = _roundtrip(StructuredColumnModel("binary").fit(blobs)).sample(500, rng=rng, fake=None)
    assert 0.4 < out.isna().mean() < 0.6
    assert all(10 <= len(b) <= 14 for b in out.dropna())
    inet = pd.Series(["10.0.0.1", "10.0.0.2", "2001:db8::1", "10.1.0.0/16"])
    out = StructuredColumnModel("inet").fit(inet).sample(400, rng=rng, fake=None)
    versions = [ipaddress.ip_interface(a).version for a in out]
    assert 0.6 < versions.count(4) / 400 < 0.9
    cidr = pd.Series(["192.168.1.0/24", "10.0.0.0/8"])
    out = StructuredColumnModel("cidr").fit(cidr).sample(100, rng=rng, fake=None)
    assert {ipaddress.ip_network(n).prefixlen for n in out} <= {24, 8}
    macs = pd.Series(["08-00-2B-01-02-03"])
    out = StructuredColumnModel("macaddr").fit(macs).sample(50, rng=rng, fake=None)
    assert all(re.fullmatch(r"([0-9A-F]{2}-){5}[0-9A-F]{2}", m) for m in out)


def test_text_model_dispatches_and_saves_structured_state():
    values = pd.Series(['{"a": 1}', '{"a": 2}', None])
    model = TextColumnModel("json").fit(values, rng=np.random.default_rng(0))
    again = TextColumnModel.from_state_dict(json.loads(json.dumps(model.state_dict())))
    out = again.sample(20, rng=np.random.default_rng(1))
    assert all(set(json.loads(v)) == {"a"} for v in out.dropna())


def test_looks_like_json():
    assert looks_like_json(pd.Series(['{"a": 1}', "[1, 2]", None]))
    assert not looks_like_json(pd.Series(['{"a": 1}', "plain"]))
    assert not looks_like_json(pd.Series(["1", "2"]))  # scalars are not documents


def test_infinity_is_a_special_value_kept_at_its_share():
    x = np.r_[np.linspace(0, 1, 800), [np.inf] * 100, [-np.inf] * 50, [np.nan] * 50]
    series = pd.Series(x)
    enc = NumericalEncoder("x").fit(series, np.random.default_rng(0))
    block = enc.transform(series, np.random.default_rng(0))
    assert np.isfinite(block).all()
    back = enc.inverse(block, np.random.default_rng(1)).to_numpy()
    assert (back == np.inf).sum() == pytest.approx(100, abs=30)
    assert (back == -np.inf).sum() == pytest.approx(50, abs=25)
    assert np.isnan(back).sum() == pytest.approx(50, abs=25)


def test_interval_and_decimal_state_loads_weights_only(tmp_path):
    import decimal

    frame = pd.DataFrame(
        {
            "span": pd.to_timedelta(np.arange(30) * 90, unit="s"),
            "price": [decimal.Decimal(f"{i}.25") for i in range(30)],
            "day": [pd.Timestamp(2024, 1, 1 + i % 3).date() for i in range(30)],
        }
    )
    enc = TableEncoder().fit(frame, np.random.default_rng(0))
    path = tmp_path / "state.pt"
    torch.save(enc.state(), path)
    state = torch.load(path, weights_only=True)
    back = TableEncoder.from_state(state).inverse(
        enc.transform(frame, np.random.default_rng(0)), np.random.default_rng(0)
    )
    assert pd.api.types.is_timedelta64_dtype(back["span"].dtype)
    assert back["span"].max() <= pd.Timedelta(seconds=29 * 90)
    assert pd.to_numeric(back["price"]).between(0, 30).all()
