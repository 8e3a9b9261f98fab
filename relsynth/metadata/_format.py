"""The metadata file format: the dict form of :class:`~relsynth.metadata.schema.Metadata`
and its JSON (or hand-written YAML) text.

Every file is validated against ``schemas/metadata.schema.json`` (shipped inside the
package as ``relsynth/_schemas/metadata.schema.json``), then every SQL expression
in it (CHECK constraints, column defaults, generated columns) is parsed and
allow-listed (:mod:`relsynth.metadata.expressions`: one expression over the
table's own columns, nothing else), then :meth:`Metadata.validate` runs; every
problem found is reported at once, naming the file, the table and the column. The form carries
``format_version``; a file from a newer relsynth is refused with a clear message.

This module builds metadata with the class it is given (``Metadata.from_dict`` and
``Metadata.load`` pass theirs), so it never imports :mod:`relsynth.metadata.schema`:
the schema's persistence methods call it, and :mod:`relsynth.metadata.serialize`
offers the same as functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jsonschema
import yaml

from relsynth.errors import MetadataError
from relsynth.metadata._rule_parse import rule_from_dict, rule_to_dict
from relsynth.metadata.table import CheckConstraint, Column, ForeignKey, Table

if TYPE_CHECKING:
    from relsynth.metadata._rule import Rule
    from relsynth.metadata.schema import Metadata

__all__ = [
    "FORMAT_VERSION",
    "load_metadata",
    "metadata_from_dict",
    "metadata_to_dict",
    "save_metadata",
]

M = TypeVar("M", bound="Metadata")

FORMAT_VERSION = 1

_COLUMN_DEFAULTS: dict[str, Any] = {
    "sql_type": None,
    "nullable": True,
    "default": None,
    "autoincrement": False,
    "enum_values": None,
    "pii": None,
    "format": None,
    "generated": None,
    "generated_stored": False,
}


@cache
def _json_schema() -> dict[str, Any]:
    text = (resources.files("relsynth") / "_schemas" / "metadata.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def metadata_to_dict(meta: Metadata) -> dict[str, Any]:
    """Return the JSON-able dict form of ``meta`` (defaults omitted for readability)."""
    tables: dict[str, Any] = {}
    for name, table in meta.tables.items():
        columns = []
        for col in table.columns:
            entry: dict[str, Any] = {"name": col.name, "kind": col.kind}
            for key, default in _COLUMN_DEFAULTS.items():
                value = getattr(col, key)
                if value != default:
                    entry[key] = list(value) if isinstance(value, tuple) else value
            columns.append(entry)
        tdict: dict[str, Any] = {"columns": columns, "primary_key": list(table.primary_key)}
        if table.unique:
            tdict["unique"] = [list(u) for u in table.unique]
        if table.checks:
            tdict["checks"] = [{"sqltext": c.sqltext, "name": c.name} for c in table.checks]
        if table.sequence_index is not None:
            tdict["sequence_index"] = table.sequence_index
        if table.reference is not None:
            tdict["reference"] = table.reference
        if table.comment is not None:
            tdict["comment"] = table.comment
        if table.schema is not None:
            tdict["schema"] = table.schema
        if table.sql_name is not None:
            tdict["sql_name"] = table.sql_name
        tables[name] = tdict
    out: dict[str, Any] = {"format_version": FORMAT_VERSION}
    if meta.schema is not None:
        out["schema"] = meta.schema
    out["tables"] = tables
    out["foreign_keys"] = [_foreign_key_dict(fk) for fk in meta.foreign_keys]
    if meta.rules:
        out["rules"] = [rule_to_dict(rule) for rule in meta.rules]
    return out


def _foreign_key_dict(fk: ForeignKey) -> dict[str, Any]:
    out: dict[str, Any] = {
        "child": fk.child,
        "columns": list(fk.columns),
        "parent": fk.parent,
        "parent_columns": list(fk.parent_columns),
        "nullable": fk.nullable,
        "name": fk.name,
    }
    if fk.deferrable:
        out["deferrable"] = True
    if fk.initially_deferred:
        out["initially_deferred"] = True
    return out


def metadata_from_dict(data: Mapping[str, Any], cls: type[M]) -> M:
    """Build and validate a ``cls`` (:class:`Metadata`) from its dict form.

    Raises
    ------
    MetadataError
        If the dict does not follow the JSON schema or the metadata is inconsistent;
        the error lists every problem.
    """
    _check_form(data)
    tables = {name: _table_from_dict(name, tdict) for name, tdict in data["tables"].items()}
    fks = tuple(_foreign_key_from_dict(f, tables) for f in data.get("foreign_keys", ()))
    meta = cls(tables=tables, foreign_keys=fks, schema=data.get("schema"))
    if data.get("rules"):
        meta.validate()  # rules are checked against a consistent schema
        meta = meta.with_rules(*_rules_from_dict(data["rules"], meta))
    meta.validate()
    return meta


def _check_form(data: Any) -> None:
    """A mapping, of a format_version this relsynth reads, that follows the JSON schema."""
    if not isinstance(data, Mapping):
        raise MetadataError(
            f"Metadata must be a JSON object (a mapping); got {type(data).__name__}."
        )
    version = data.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise MetadataError(
            f"This metadata has format_version {version}, newer than this relsynth "
            f"understands ({FORMAT_VERSION}). Upgrade relsynth."
        )
    validator = jsonschema.Draft202012Validator(_json_schema())
    errors = sorted(validator.iter_errors(dict(data)), key=lambda e: list(e.absolute_path))
    if errors:
        problems = [f"at {_json_path(e.absolute_path)}: {e.message}" for e in errors]
        raise MetadataError("The metadata does not follow schemas/metadata.schema.json:", problems)


def _column_from_dict(c: Mapping[str, Any]) -> Column:
    return Column(
        name=c["name"],
        kind=c["kind"],
        sql_type=c.get("sql_type"),
        nullable=c.get("nullable", True),
        default=c.get("default"),
        autoincrement=c.get("autoincrement", False),
        enum_values=tuple(c["enum_values"]) if c.get("enum_values") is not None else None,
        pii=c.get("pii"),
        format=c.get("format"),
        generated=c.get("generated"),
        generated_stored=c.get("generated_stored", False),
    )


def _table_from_dict(name: str, tdict: Mapping[str, Any]) -> Table:
    return Table(
        name=name,
        columns=tuple(_column_from_dict(c) for c in tdict["columns"]),
        primary_key=tuple(tdict.get("primary_key", ())),
        unique=tuple(tuple(u) for u in tdict.get("unique", ())),
        checks=tuple(
            CheckConstraint(sqltext=c["sqltext"], name=c.get("name"))
            for c in tdict.get("checks", ())
        ),
        sequence_index=tdict.get("sequence_index"),
        reference=tdict.get("reference"),
        comment=tdict.get("comment"),
        schema=tdict.get("schema"),
        sql_name=tdict.get("sql_name"),
    )


def _foreign_key_from_dict(f: Mapping[str, Any], tables: Mapping[str, Table]) -> ForeignKey:
    columns = tuple(f["columns"])
    child = tables.get(f["child"])
    if "nullable" in f:
        nullable = f["nullable"]
    else:  # hand-written FK: derive from the child columns
        nullable = child is not None and all(
            child.has_column(c) and child.column(c).nullable for c in columns
        )
    return ForeignKey(
        child=f["child"],
        columns=columns,
        parent=f["parent"],
        parent_columns=tuple(f["parent_columns"]),
        nullable=nullable,
        name=f.get("name"),
        deferrable=f.get("deferrable", False),
        initially_deferred=f.get("initially_deferred", False),
    )


def _rules_from_dict(entries: Any, meta: Metadata) -> list[Rule]:
    """The file's rules, parsed against ``meta``; every bad rule is reported at once."""
    rules, problems = [], []
    for entry in entries:
        try:
            rules.append(rule_from_dict(entry, meta))
        except MetadataError as exc:
            problems.append(exc.summary)
    if problems:
        raise MetadataError("The metadata has rules that do not fit the schema:", problems)
    return rules


def save_metadata(meta: Metadata, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write ``meta`` to ``path`` as JSON, or YAML when the suffix is ``.yaml``/``.yml``."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise MetadataError(
            f"{target} already exists. Pass overwrite=True (or choose another path)."
        )
    data = metadata_to_dict(meta)
    if target.suffix.lower() in {".yaml", ".yml"}:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def load_metadata(path: str | os.PathLike[str], cls: type[M]) -> M:
    """Read a ``cls`` (:class:`Metadata`) from a JSON or YAML file; raise
    ``MetadataError`` on any problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise MetadataError(f"Cannot read metadata file {source}: {exc.strerror}.") from exc
    except UnicodeDecodeError as exc:
        raise MetadataError(
            f"Metadata file {source} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8."
        ) from exc
    try:
        if source.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except RecursionError as exc:
        raise MetadataError(f"Metadata file {source} is nested too deeply.") from exc
    except ValueError as exc:  # json.JSONDecodeError
        raise MetadataError(f"Metadata file {source} is not valid JSON: {exc}") from exc
    except yaml.YAMLError as exc:
        raise MetadataError(f"Metadata file {source} is not valid YAML: {exc}") from exc
    try:
        return metadata_from_dict(data, cls)
    except MetadataError as exc:
        raise MetadataError(f"{source}: {exc.summary}", exc.problems) from exc


def _json_path(path: Any) -> str:
    parts = ["$"]
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return "".join(parts)
