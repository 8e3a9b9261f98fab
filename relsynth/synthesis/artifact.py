"""Model files: save and load a fitted :class:`~relsynth.Synthesizer` without pickle.

The synthesizer hands its state over with :meth:`~relsynth.Synthesizer.state_dict`
(one :class:`~relsynth.synthesis._state.TableFit` per table) and takes it back with
:meth:`~relsynth.Synthesizer.from_state_dict`; this module only turns that state
into members and back (:func:`write_state`, :func:`read_state`).

A model file is one zip archive (suffix ``.relsynth`` by convention)::

    manifest.json        format_version, relsynth/torch/python versions, parameters,
                         per-table model class, checksum of metadata.json
    metadata.json        the Metadata (same form as `relsynth reflect -o`)
    synthesizer.json     plan overrides, column layouts, dtypes, fit info (with each
                         column's privacy treatment and the rare values withheld)
    keys.json            the key generator's state (KDE points, formats, degrees)
    text/<i>.json        personal-text models (lengths, NULL rate, salted digests)
    copies/<i>.json      reference tables copied verbatim (only those marked so)
    models/<i>.pt        table model state_dicts: tensors and plain containers

Loading reads the manifest first and refuses an unknown or newer ``format_version``
before touching any tensor; tensors are read with ``torch.load(weights_only=True)``,
so loading a model file runs no code. Every member is checked: only the members
above may be present; the manifest and synthesizer.json follow
``schemas/model.schema.json``; metadata.json matches its checksum (a check against
damage, not a signature: whoever edits the file can recompute it) and
``schemas/metadata.schema.json``, its SQL expressions allow-listed; its tables and
columns must be the ones the models were trained on; a member that is missing,
not UTF-8 JSON, or not a tensor file is one ``ArtifactError`` naming the file
and the member. Models are rebuilt by registered class name.
No URL or password is ever stored: the metadata holds names and types only.
Files are written to a temporary name and renamed, so a failed save leaves no
half-written model file.
"""

from __future__ import annotations

import contextlib
import decimal
import hashlib
import io
import json
import os
import platform
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import numpy as np
import pandas as pd

from relsynth._version import __version__
from relsynth.errors import ArtifactError, MetadataError, RelsynthError
from relsynth.synthesis._state import (
    SAVED_PARAMETERS,
    FitInfo,
    StatePartError,
    TableFit,
    model_registry,
)

if TYPE_CHECKING:
    from relsynth.metadata.schema import Metadata

__all__ = [
    "FORMAT_VERSION",
    "read_dp",
    "read_manifest",
    "read_privacy",
    "read_state",
    "write_state",
]

FORMAT_VERSION = 1


def write_state(
    state: Mapping[str, Any], path: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Write a fitted synthesizer's state (:meth:`Synthesizer.state_dict
    <relsynth.Synthesizer.state_dict>`) to ``path`` (one zip file)."""
    import torch

    target = Path(path)
    if target.exists() and not overwrite:
        raise ArtifactError(f"{target} already exists. Pass overwrite=True or choose another path.")
    meta_json = json.dumps(state["metadata"].to_dict(), indent=2, ensure_ascii=False)
    tables = {name: fit.to_dict() for name, fit in state["tables"].items()}
    models: dict[str, str | None] = {}
    tmp = target.with_name(target.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", meta_json)
            zf.writestr("keys.json", json.dumps(state["key_generator"].to_dict()))
            for i, (name, table) in enumerate(tables.items()):
                model = table["model"]
                models[name] = None if model is None else model["class"]
                if model is not None:
                    buf = io.BytesIO()
                    torch.save(model["state"], buf)
                    zf.writestr(f"models/{i}.pt", buf.getvalue())
            for i, table in enumerate(tables.values()):
                if table["text"] is not None:
                    zf.writestr(f"text/{i}.json", json.dumps(table["text"]))
            for i, table in enumerate(tables.values()):
                if table["copy"] is not None:
                    zf.writestr(f"copies/{i}.json", _frame_to_json(table["copy"]))
            zf.writestr("synthesizer.json", json.dumps(_synth_state(state, tables)))
            manifest = _manifest(state, meta_json, models)
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtifactError(f"Could not write model file {target}: {exc.strerror}.") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the manifest of a model file (no tensors are loaded)."""
    with _Archive(path) as archive:
        return archive.manifest()


def read_state(path: str | os.PathLike[str], *, device: str | None = "auto") -> dict[str, Any]:
    """The state written by :func:`write_state`, for :meth:`Synthesizer.from_state_dict
    <relsynth.Synthesizer.from_state_dict>` (models rebuilt on ``device``).

    Every member is checked before it is used: the manifest and synthesizer.json
    against ``schemas/model.schema.json``, metadata.json against its checksum and
    ``schemas/metadata.schema.json`` (its SQL expressions allow-listed), the other
    members as they are rebuilt. Any problem is one :class:`ArtifactError` (or a
    :class:`~relsynth.errors.MetadataError` for refused metadata) naming the file
    and the member.
    """
    with _Archive(path) as archive:
        return _read(archive, device)


def _read(archive: _Archive, device: str | None) -> dict[str, Any]:
    from relsynth.keys import KeyGenerator
    from relsynth.metadata.graph import plan

    manifest = archive.manifest()
    archive.check_members(manifest)
    meta = archive.metadata(manifest)
    state = archive.json("synthesizer.json", schema="synthesizer")
    with archive.member("manifest.json"):
        params = dict(manifest["parameters"])
        unknown = sorted(set(params) - set(SAVED_PARAMETERS))
        if unknown:
            raise ValueError(f"unknown parameters {', '.join(unknown)}")
    with archive.member("synthesizer.json"):
        fks = meta.foreign_keys
        drivers = {t: (fks[i] if i is not None else None) for t, i in state["drivers"].items()}
        fitted_plan = plan(meta, drivers)
    order = list(fitted_plan.order)
    if sorted(order) != sorted(manifest["tables"]):
        raise archive.error("manifest.json", "its tables do not match metadata.json")
    keys = archive.json("keys.json")
    with archive.member("keys.json"):
        key_generator = KeyGenerator.from_dict(keys)
    _check_columns(archive, meta, state)
    tables = {
        name: _read_table(archive, i, name, state, manifest, device) for i, name in enumerate(order)
    }
    with archive.member("synthesizer.json"):
        fit_info = FitInfo.from_dict(state["fit_info"])
        # files saved before the source's identity was kept have none
        digests = [str(d) for d in state.get("source_digests", [])]
    return {
        "metadata": meta,
        "parameters": params,
        "plan": fitted_plan,
        "key_generator": key_generator,
        "tables": tables,
        "source_digests": digests,
        "fit_info": fit_info,
    }


def _check_columns(archive: _Archive, meta: Metadata, state: Mapping[str, Any]) -> None:
    """The metadata's columns are the ones the models were trained on."""
    from relsynth._columns import TableLayout

    with archive.member("synthesizer.json"):
        layouts = {t: TableLayout.from_dict(d) for t, d in state["layouts"].items()}
        dtypes = state["dtypes"]
    for name, table in meta.tables.items():
        columns = set(table.column_names)
        saved = set(dtypes.get(name, {}))
        layout = layouts.get(name)
        if layout is not None:
            saved |= {*layout.keys, *layout.learned, *layout.text, *layout.empty}
        if saved != columns:
            unknown = sorted(columns - saved)
            missing = sorted(saved - columns)
            raise archive.error(
                "metadata.json",
                f"table {name!r} does not match the trained model (columns the model does "
                f"not know: {', '.join(unknown) or 'none'}; columns it was trained on that "
                f"are missing: {', '.join(missing) or 'none'})",
            )


def _read_table(
    archive: _Archive,
    i: int,
    name: str,
    state: Mapping[str, Any],
    manifest: Mapping[str, Any],
    device: str | None,
) -> TableFit:
    """Table ``name``'s TableFit from its members (``i``: its place in plan order)."""
    with archive.member("synthesizer.json"):
        data: dict[str, Any] = {
            "layout": state["layouts"][name],
            "dtypes": state["dtypes"][name],
            "sequence": state["sequence"].get(name),
            # files saved before secondary parents joined the context have none
            "context_keys": state.get("context_keys", {}).get(name),
            # files saved before determined values joined the context have none
            "rule_context": state.get("rule_context", {}).get(name),
        }
    cls_name = manifest["models"].get(name)
    if cls_name is not None and cls_name not in model_registry():
        raise archive.error(
            "manifest.json",
            f"it uses model class {cls_name!r} for table {name!r}, which this "
            "relsynth does not provide",
        )
    members = {"layout": "synthesizer.json", "model": f"models/{i}.pt", "text": f"text/{i}.json"}
    if cls_name is not None:
        data["model"] = {"class": cls_name, "state": archive.tensors(members["model"])}
    if archive.has(members["text"]):
        data["text"] = archive.json(members["text"])
    member = f"copies/{i}.json"
    if archive.has(member):
        raw = archive.read(member)
        with archive.member(member):
            data["copy"] = _frame_from_json(raw, data["dtypes"])
    try:
        return TableFit.from_dict(data, device=device)
    except StatePartError as exc:
        with archive.member(members[exc.part]):
            raise exc.error from None


#: Exceptions that mean "this member's content is not what relsynth wrote".
_BAD_CONTENT = (
    KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError, EOFError,
    OverflowError, AssertionError,
)  # fmt: skip


class _Archive:
    """A model file opened for reading; every error names the file and the member."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.source = Path(path)
        if self.source.is_dir():
            raise ArtifactError(
                f"{self.source} is a folder, not a model file; give the path of the file "
                "written by `relsynth fit --output` or Synthesizer.save."
            )
        try:
            self.zf = zipfile.ZipFile(self.source)
        except FileNotFoundError as exc:
            raise ArtifactError(f"Model file {self.source} does not exist.") from exc
        except OSError as exc:
            raise ArtifactError(f"Cannot read model file {self.source}: {exc.strerror}.") from exc
        except (zipfile.BadZipFile, ValueError) as exc:
            raise ArtifactError(
                f"{self.source} is not a relsynth model file (expected a zip archive with "
                "manifest.json; create one with `relsynth fit` or Synthesizer.save)."
            ) from exc
        self.names = set(self.zf.namelist())

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zf.close()

    def error(self, member: str, problem: str) -> ArtifactError:
        return ArtifactError(
            f"Model file {self.source} is damaged: member {member}: {problem}. "
            "Fit a new model (`relsynth fit`)."
        )

    @contextlib.contextmanager
    def member(self, member: str) -> Iterator[None]:
        """Turn any content error raised while rebuilding ``member`` into an ArtifactError."""
        try:
            yield
        except ArtifactError:
            raise
        except RelsynthError as exc:
            raise self.error(member, " ".join(str(exc).split())) from exc
        except _BAD_CONTENT as exc:
            raise self.error(member, f"unexpected content ({type(exc).__name__}: {exc})") from exc

    def has(self, member: str) -> bool:
        return member in self.names

    def read(self, member: str) -> bytes:
        if member not in self.names:
            raise self.error(member, "it is missing")
        try:
            return self.zf.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise self.error(member, f"it cannot be decompressed ({exc})") from exc

    def json(self, member: str, *, schema: str | None = None) -> Any:
        raw = self.read(member)
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problem = f"it is not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise self.error(member, problem) from exc
        except ValueError as exc:
            raise self.error(member, f"it is not valid JSON ({exc})") from exc
        if schema is not None:
            validator = jsonschema.Draft202012Validator(_model_schema(schema))
            error = jsonschema.exceptions.best_match(validator.iter_errors(data))
            if error is not None:
                where = "".join(f"[{p!r}]" for p in error.absolute_path) or "top level"
                raise self.error(member, f"at {where}: {error.message}")
        return data

    def tensors(self, member: str) -> Any:
        import pickle

        import torch

        raw = self.read(member)
        try:  # weights_only: tensors and plain containers; never runs code from the file
            return torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
        except (pickle.UnpicklingError, *_BAD_CONTENT, zipfile.BadZipFile) as exc:
            problem = " ".join(str(exc).split())[:200]
            raise self.error(member, f"it is not a tensor file relsynth wrote ({problem})") from exc

    def manifest(self) -> dict[str, Any]:
        if "manifest.json" not in self.names:
            raise ArtifactError(
                f"{self.source} is not a relsynth model file (the archive has no "
                "manifest.json; create one with `relsynth fit` or Synthesizer.save)."
            )
        manifest = self.json("manifest.json")
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            written = manifest.get("relsynth_version", "?") if isinstance(manifest, dict) else "?"
            raise ArtifactError(
                f"Model file {self.source} has format_version {version!r}; this relsynth "
                f"({__version__}) reads format_version {FORMAT_VERSION}. "
                f"It was written by relsynth {written}: upgrade relsynth to load it."
            )
        self.json("manifest.json", schema="manifest")
        result: dict[str, Any] = manifest
        return result

    def check_members(self, manifest: Mapping[str, Any]) -> None:
        """Every member is one relsynth writes, and every required one is there."""
        n = len(manifest["tables"])
        expected = {"manifest.json", "metadata.json", "synthesizer.json", "keys.json"}
        for i in range(n):
            expected |= {f"models/{i}.pt", f"text/{i}.json", f"copies/{i}.json"}
        unknown = sorted(self.names - expected)
        if unknown:
            raise self.error(unknown[0], "relsynth does not write such a member")
        for member in ("metadata.json", "synthesizer.json", "keys.json"):
            if member not in self.names:
                raise self.error(member, "it is missing")

    def metadata(self, manifest: Mapping[str, Any]) -> Metadata:
        from relsynth.metadata.serialize import metadata_from_dict

        raw = self.read("metadata.json")
        if hashlib.sha256(raw).hexdigest() != manifest["metadata_sha256"]:
            raise self.error("metadata.json", "its checksum does not match manifest.json")
        data = self.json("metadata.json")
        try:
            return metadata_from_dict(data)
        except MetadataError as exc:
            raise MetadataError(
                f"Model file {self.source}, member metadata.json: {exc.summary}", exc.problems
            ) from exc


@cache
def _model_schema(name: str) -> dict[str, Any]:
    text = (resources.files("relsynth") / "_schemas" / "model.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return {"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]}


def read_privacy(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Each column's privacy treatment stored in a model file (no tensors are loaded);
    empty for files saved before treatments were recorded."""
    privacy = _fit_info(path).get("privacy", {})
    return {str(t): {str(c): str(v) for c, v in cols.items()} for t, cols in privacy.items()}


def read_dp(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The differential privacy spent by a model file's fit (epsilon and delta, in total
    and per table; no tensors are loaded); empty for a model fitted without DP."""
    dp = _fit_info(path).get("dp") or {}
    return {k: dp[k] for k in ("epsilon", "delta", "unit", "tables", "budget") if k in dp}


def _fit_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A model file's ``fit_info`` (its manifest checked first; no tensors are loaded)."""
    source = Path(path)
    read_manifest(source)
    with zipfile.ZipFile(source) as zf:
        state = json.loads(zf.read("synthesizer.json"))
    return dict(state.get("fit_info", {}))


def _manifest(
    state: Mapping[str, Any], meta_json: str, models: Mapping[str, str | None]
) -> dict[str, Any]:
    import torch

    return {
        "format_version": FORMAT_VERSION,
        "relsynth_version": __version__,
        "torch_version": torch.__version__,
        # the CPU kernels torch trained with (AVX2, AVX512...): two machines whose kernels
        # differ round differently, and an early-stopping check can then fall on another step
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python_version": platform.python_version(),
        "parameters": dict(state["parameters"]),
        "metadata_sha256": hashlib.sha256(meta_json.encode("utf-8")).hexdigest(),
        "tables": list(state["plan"].order),
        "models": dict(models),
    }


def _synth_state(
    state: Mapping[str, Any], tables: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    fks = list(state["metadata"].foreign_keys)
    drivers = {
        t: (fks.index(fk) if fk is not None else None) for t, fk in state["plan"].driver.items()
    }
    out = {
        "drivers": drivers,
        "layouts": {t: table["layout"] for t, table in tables.items()},
        "sequence": {t: s["sequence"] for t, s in tables.items() if s["sequence"] is not None},
        "context_keys": {
            t: s["context_keys"] for t, s in tables.items() if s["context_keys"] is not None
        },
        "source_digests": list(state["source_digests"]),
        "dtypes": {t: table["dtypes"] for t, table in tables.items()},
        "fit_info": state["fit_info"].to_dict(),
    }
    # only where a table has one: other files stay as older versions wrote them
    rules = {t: s["rule_context"] for t, s in tables.items() if s.get("rule_context")}
    if rules:
        out["rule_context"] = rules
    return out


def _frame_to_json(frame: pd.DataFrame) -> str:
    data = frame.astype(object).where(frame.notna(), None)
    records = []
    for row in data.itertuples(index=False):
        records.append([_plain(v) for v in row])
    return json.dumps({"columns": list(frame.columns), "data": records})


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, pd.Timedelta):
        return value.isoformat()  # ISO 8601 duration, read back by pd.to_timedelta
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact; the writer binds it as the column's numeric type
    if hasattr(value, "isoformat"):  # Timestamp, date, time
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
                elif dtype.startswith("timedelta"):
                    frame[col] = pd.to_timedelta(frame[col])
                elif dtype.startswith("int") and frame[col].isna().any():
                    frame[col] = frame[col].astype(dtype.replace("int", "Int"))
                else:
                    frame[col] = frame[col].astype(dtype)
            except (TypeError, ValueError):
                pass
    return frame
