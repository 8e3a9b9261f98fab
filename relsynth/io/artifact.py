"""Model files: save and load a fitted :class:`~relsynth.Synthesizer` without pickle.

A model file is one zip archive (suffix ``.relsynth`` by convention)::

    manifest.json        format_version, relsynth/torch/python versions, parameters,
                         per-table model class, checksum of metadata.json
    metadata.json        the Metadata (same form as `relsynth reflect -o`)
    synthesizer.json     plan overrides, column layouts, dtypes, fit info
    keys.json            the key generator's state (KDE points, formats, degrees)
    text/<i>.json        personal-text models (lengths, NULL rate, salted digests)
    copies/<i>.json      reference tables copied verbatim (only those marked so)
    models/<i>.pt        table model state_dicts: tensors and plain containers

Loading reads the manifest first and refuses an unknown or newer ``format_version``
before touching any tensor; tensors are read with ``torch.load(weights_only=True)``,
so loading a model file runs no code. Models are rebuilt by registered class name.
No URL or password is ever stored: the metadata holds names and types only.
Files are written to a temporary name and renamed, so a failed save leaves no
half-written model file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._version import __version__
from relsynth.errors import ArtifactError

if TYPE_CHECKING:
    from relsynth.synthesizer import Synthesizer

__all__ = ["FORMAT_VERSION", "load_synthesizer", "read_manifest", "save_synthesizer"]

FORMAT_VERSION = 1


def _model_registry() -> dict[str, type]:
    from relsynth.models.sequential import SequenceModel
    from relsynth.models.wgan import ConditionalWGAN

    return {"ConditionalWGAN": ConditionalWGAN, "SequenceModel": SequenceModel}


def save_synthesizer(
    synth: Synthesizer, path: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Write a fitted synthesizer to ``path`` (one zip file)."""
    import torch

    target = Path(path)
    if target.exists() and not overwrite:
        raise ArtifactError(f"{target} already exists. Pass overwrite=True or choose another path.")
    meta_json = json.dumps(synth.metadata.to_dict(), indent=2, ensure_ascii=False)
    order = list(synth.plan_.order)
    index = {name: i for i, name in enumerate(order)}
    models: dict[str, str | None] = {}
    tmp = target.with_name(target.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", meta_json)
            zf.writestr("keys.json", json.dumps(synth.key_generator_.to_dict()))
            for name, model in synth.models_.items():
                if model is None:
                    models[name] = None
                    continue
                models[name] = type(model).__name__
                buf = io.BytesIO()
                torch.save(model.state_dict(), buf)
                zf.writestr(f"models/{index[name]}.pt", buf.getvalue())
            for name, text_models in synth.text_models_.items():
                state = {col: m.state_dict() for col, m in text_models.items()}
                zf.writestr(f"text/{index[name]}.json", json.dumps(state))
            for name, frame in synth.copies_.items():
                zf.writestr(f"copies/{index[name]}.json", _frame_to_json(frame))
            zf.writestr("synthesizer.json", json.dumps(_synth_state(synth)))
            zf.writestr("manifest.json", json.dumps(_manifest(synth, meta_json, models), indent=2))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtifactError(f"Could not write model file {target}: {exc.strerror}.") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the manifest of a model file (no tensors are loaded)."""
    source = Path(path)
    try:
        with zipfile.ZipFile(source) as zf:
            manifest: dict[str, Any] = json.loads(zf.read("manifest.json"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"Model file {source} does not exist.") from exc
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(
            f"{source} is not a relsynth model file (expected a zip with manifest.json; "
            "create one with `relsynth fit` or Synthesizer.save)."
        ) from exc
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ArtifactError(
            f"Model file {source} has format_version {version!r}; this relsynth "
            f"({__version__}) reads format_version {FORMAT_VERSION}. "
            f"It was written by relsynth {manifest.get('relsynth_version', '?')}: "
            "upgrade relsynth to load it."
        )
    return manifest


def load_synthesizer(path: str | os.PathLike[str], *, device: str | None = "auto") -> Synthesizer:
    """Load a synthesizer written by :func:`save_synthesizer`."""
    import torch

    from relsynth._columns import TableLayout
    from relsynth.keys import KeyGenerator
    from relsynth.metadata.graph import plan
    from relsynth.metadata.serialize import metadata_from_dict
    from relsynth.models.pii import TextColumnModel
    from relsynth.synthesizer import FitInfo, Synthesizer

    source = Path(path)
    manifest = read_manifest(source)
    registry = _model_registry()
    with zipfile.ZipFile(source) as zf:
        meta_bytes = zf.read("metadata.json")
        if hashlib.sha256(meta_bytes).hexdigest() != manifest["metadata_sha256"]:
            raise ArtifactError(f"Model file {source} is corrupt: metadata checksum mismatch.")
        meta = metadata_from_dict(json.loads(meta_bytes))
        state = json.loads(zf.read("synthesizer.json"))
        params = dict(manifest["parameters"])
        params["device"] = device
        synth = Synthesizer(meta, **params)
        drivers = {
            t: (meta.foreign_keys[i] if i is not None else None)
            for t, i in state["drivers"].items()
        }
        synth.drivers = drivers or None
        synth.plan_ = plan(meta, drivers)
        synth.key_generator_ = KeyGenerator.from_dict(json.loads(zf.read("keys.json")))
        order = list(synth.plan_.order)
        names = set(zf.namelist())
        synth.layouts_ = {t: TableLayout.from_dict(d) for t, d in state["layouts"].items()}
        synth.sequence_ = state["sequence"]
        # files saved before secondary parents joined the context have none
        synth.context_keys_ = state.get("context_keys", {})
        synth.dtypes_ = state["dtypes"]
        synth.models_, synth.text_models_, synth.copies_ = {}, {}, {}
        for i, name in enumerate(order):
            cls_name = manifest["models"].get(name)
            if cls_name is not None:
                if cls_name not in registry:
                    raise ArtifactError(
                        f"Model file {source} uses model class {cls_name!r} for table "
                        f"{name!r}, which this relsynth does not provide."
                    )
                tensors = torch.load(
                    io.BytesIO(zf.read(f"models/{i}.pt")), weights_only=True, map_location="cpu"
                )
                synth.models_[name] = registry[cls_name].from_state_dict(tensors, device=device)
            else:
                synth.models_[name] = None
            if f"text/{i}.json" in names:
                text_state = json.loads(zf.read(f"text/{i}.json"))
                synth.text_models_[name] = {
                    c: TextColumnModel.from_state_dict(s) for c, s in text_state.items()
                }
            if f"copies/{i}.json" in names:
                synth.copies_[name] = _frame_from_json(
                    zf.read(f"copies/{i}.json"), synth.dtypes_[name]
                )
    synth.fit_info_ = FitInfo(**state["fit_info"])
    synth._rng = np.random.default_rng()
    return synth


def _manifest(
    synth: Synthesizer, meta_json: str, models: Mapping[str, str | None]
) -> dict[str, Any]:
    import torch

    return {
        "format_version": FORMAT_VERSION,
        "relsynth_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "parameters": {
            "steps": synth.steps,
            "max_seconds": synth.max_seconds,
            "time_budget": synth.time_budget,
            "epochs": synth.epochs,
            "copy_reference_tables": synth.copy_reference_tables,
            "locale": synth.locale,
            "n_threads": synth.n_threads,
        },
        "metadata_sha256": hashlib.sha256(meta_json.encode("utf-8")).hexdigest(),
        "tables": list(synth.plan_.order),
        "models": dict(models),
    }


def _synth_state(synth: Synthesizer) -> dict[str, Any]:
    fks = list(synth.metadata.foreign_keys)
    drivers = {
        t: (fks.index(fk) if fk is not None else None) for t, fk in synth.plan_.driver.items()
    }
    info = synth.fit_info_
    return {
        "drivers": drivers,
        "layouts": {t: layout.to_dict() for t, layout in synth.layouts_.items()},
        "sequence": synth.sequence_,
        "context_keys": synth.context_keys_,
        "dtypes": synth.dtypes_,
        "fit_info": {
            "seconds": dict(info.seconds),
            "rows": dict(info.rows),
            "models": dict(info.models),
            "dropped_rows": dict(info.dropped_rows),
        },
    }


def _frame_to_json(frame: pd.DataFrame) -> str:
    data = frame.astype(object).where(frame.notna(), None)
    records = []
    for row in data.itertuples(index=False):
        records.append([_plain(v) for v in row])
    return json.dumps({"columns": list(frame.columns), "data": records})


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bytes):
        return None  # binary content is never copied
    return value


def _frame_from_json(raw: bytes, dtypes: Mapping[str, str]) -> pd.DataFrame:
    data = json.loads(raw)
    frame = pd.DataFrame(data["data"], columns=data["columns"])
    for col, dtype in dtypes.items():
        if col in frame.columns:
            try:
                if dtype.startswith("datetime"):
                    frame[col] = pd.to_datetime(frame[col])
                elif dtype.startswith("int") and frame[col].isna().any():
                    frame[col] = frame[col].astype(dtype.replace("int", "Int"))
                else:
                    frame[col] = frame[col].astype(dtype)
            except (TypeError, ValueError):
                pass
    return frame
