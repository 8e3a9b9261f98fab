"""Tampered or wrong model files: one clean ArtifactError naming the file and the member.

Each case used to end in a traceback from deep inside zipfile, json, torch or pandas.
Loading never unpickles: tensors are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import relsynth
from relsynth import ArtifactError, MetadataError, Synthesizer
from relsynth.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    path = folder / "source.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, age INTEGER, tier TEXT)")
        conn.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
            "customer_id INTEGER NOT NULL REFERENCES customers(id), amount REAL)"
        )
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(i, 20 + i % 50, "gold" if i % 3 else "basic") for i in range(1, 41)],
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(i, 1 + i % 40, float(i % 23)) for i in range(1, 121)],
        )
    url = f"sqlite:///{path}"
    meta = relsynth.reflect(url)
    synth = Synthesizer(meta, seed=0, steps=20, n_threads=1).fit(relsynth.read_tables(url, meta))
    out = folder / "shop.relsynth"
    synth.save(out)
    return out


def _members(model: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(model) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rewrite(model: Path, out: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    members = _members(model)
    change(members)
    with zipfile.ZipFile(out, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return out


def _reseal(members: dict[str, bytes], meta: dict) -> None:
    """Replace metadata.json and recompute its checksum (it is not a signature)."""
    raw = json.dumps(meta).encode("utf-8")
    manifest = json.loads(members["manifest.json"])
    manifest["metadata_sha256"] = hashlib.sha256(raw).hexdigest()
    members["metadata.json"] = raw
    members["manifest.json"] = json.dumps(manifest).encode("utf-8")


def _one_line_error(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    rc = main(["sample", str(path), "sqlite:///:memory:", "--seed", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_the_model_loads(model: Path) -> None:
    synth = Synthesizer.load(model, device="cpu")
    assert set(synth.sample(seed=1)) == {"customers", "orders"}


def test_garbage_tensor_member(model: Path, tmp_path: Path, capsys) -> None:
    def garbage(members: dict[str, bytes]) -> None:
        member = next(n for n in members if n.endswith(".pt"))
        members[member] = b"\x00not a tensor file" * 10

    bad = _rewrite(model, tmp_path / "bad.relsynth", garbage)
    with pytest.raises(ArtifactError, match=r"bad\.relsynth.*member models/\d\.pt"):
        Synthesizer.load(bad)
    assert "models/" in _one_line_error(bad, capsys)


def test_pickled_code_in_a_tensor_member_is_not_run(model: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):  # noqa: ANN204 - pickle protocol
            return (Path.touch, (marker,))

    def evil(members: dict[str, bytes]) -> None:
        member = next(n for n in members if n.endswith(".pt"))
        buffer = io.BytesIO()
        torch.save({"x": Payload()}, buffer, pickle_module=pickle)
        members[member] = buffer.getvalue()

    bad = _rewrite(model, tmp_path / "evil.relsynth", evil)
    with pytest.raises(ArtifactError, match="models/"):
        Synthesizer.load(bad)
    assert not marker.exists()


@pytest.mark.parametrize("member", ["synthesizer.json", "keys.json", "manifest.json"])
def test_non_utf8_json_member(model: Path, tmp_path: Path, member: str, capsys) -> None:
    def latin1(members: dict[str, bytes]) -> None:
        members[member] = members[member][:-1] + b'"\xe9\xff"}'

    bad = _rewrite(model, tmp_path / "bad.relsynth", latin1)
    with pytest.raises(ArtifactError, match=rf"bad\.relsynth.*member {member}.*UTF-8"):
        Synthesizer.load(bad)
    assert member in _one_line_error(bad, capsys)


@pytest.mark.parametrize("member", ["synthesizer.json", "keys.json", "metadata.json", "pt"])
def test_missing_member(model: Path, tmp_path: Path, member: str, capsys) -> None:
    def drop(members: dict[str, bytes]) -> None:
        name = next(n for n in members if n.endswith(".pt")) if member == "pt" else member
        del members[name]

    bad = _rewrite(model, tmp_path / "bad.relsynth", drop)
    with pytest.raises(ArtifactError, match=r"bad\.relsynth.*member .*missing"):
        Synthesizer.load(bad)
    _one_line_error(bad, capsys)


def test_unknown_member(model: Path, tmp_path: Path) -> None:
    def extra(members: dict[str, bytes]) -> None:
        members["models/evil.py"] = b"import os"

    bad = _rewrite(model, tmp_path / "bad.relsynth", extra)
    with pytest.raises(ArtifactError, match="models/evil.py"):
        Synthesizer.load(bad)


def test_synthesizer_json_off_schema(model: Path, tmp_path: Path) -> None:
    def off(members: dict[str, bytes]) -> None:
        state = json.loads(members["synthesizer.json"])
        state["dtypes"] = ["not", "a", "mapping"]
        members["synthesizer.json"] = json.dumps(state).encode()

    bad = _rewrite(model, tmp_path / "bad.relsynth", off)
    with pytest.raises(ArtifactError, match=r"member synthesizer\.json.*dtypes"):
        Synthesizer.load(bad)


def test_column_renamed_in_metadata(model: Path, tmp_path: Path, capsys) -> None:
    def rename(members: dict[str, bytes]) -> None:
        meta = json.loads(members["metadata.json"])
        for col in meta["tables"]["orders"]["columns"]:
            if col["name"] == "amount":
                col["name"] = "total"
        _reseal(members, meta)

    bad = _rewrite(model, tmp_path / "bad.relsynth", rename)
    with pytest.raises(ArtifactError, match=r"member metadata\.json.*'orders'.*total.*amount"):
        Synthesizer.load(bad)
    _one_line_error(bad, capsys)


def test_metadata_off_schema(model: Path, tmp_path: Path) -> None:
    def off(members: dict[str, bytes]) -> None:
        meta = json.loads(members["metadata.json"])
        meta["tables"]["orders"]["columns"][0]["kind"] = "spaceship"
        _reseal(members, meta)

    bad = _rewrite(model, tmp_path / "bad.relsynth", off)
    with pytest.raises(MetadataError, match=r"(?s)bad\.relsynth.*metadata\.json.*spaceship"):
        Synthesizer.load(bad)


def test_metadata_checksum_mismatch(model: Path, tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        members["metadata.json"] = members["metadata.json"].replace(b"orders", b"ORDERS")

    bad = _rewrite(model, tmp_path / "bad.relsynth", edit)
    with pytest.raises(ArtifactError, match="checksum"):
        Synthesizer.load(bad)


def test_folder_and_non_zip_paths(tmp_path: Path, capsys) -> None:
    with pytest.raises(ArtifactError, match="is a folder"):
        Synthesizer.load(tmp_path)
    assert "is a folder" in _one_line_error(tmp_path, capsys)
    text = tmp_path / "model.relsynth"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not a relsynth model file"):
        Synthesizer.load(text)
    _one_line_error(text, capsys)
    with pytest.raises(ArtifactError, match="does not exist"):
        Synthesizer.load(tmp_path / "missing.relsynth")
    empty_zip = tmp_path / "empty.relsynth"
    with zipfile.ZipFile(empty_zip, "w"):
        pass
    with pytest.raises(ArtifactError, match="no manifest.json"):
        Synthesizer.load(empty_zip)


def test_the_manifest_names_the_cpu_kernels_the_model_was_trained_with(model: Path) -> None:
    """Machines whose torch CPU kernels differ (AVX2, AVX512) round a fit's sums apart:
    the manifest says which ones a model file came from."""
    manifest = json.loads(_members(model)["manifest.json"])
    assert manifest["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert manifest["torch_version"] == torch.__version__
