"""What a fitted synthesizer does with each column: its privacy treatment.

One line per column, shown by ``relsynth fit``/``clone``, stored in the model file
(``synthesizer.json``, in the fit info) and in ``evaluate``'s report when a model is
given:

``learned``
    modelled by the table's model (new values drawn from the learned distribution);
``learned, rare values withheld (n)``
    learned, with ``n`` categorical values held by fewer than ``min_category_count``
    source rows never emitted (:mod:`relsynth.models._rare`);
``keys generated``
    a primary- or foreign-key column, made by the key generator;
``faked (<pii>)``
    personal text from Faker, never a source value (:mod:`relsynth.models.pii`);
``secret regenerated (<format>)``
    a password hash, digest or token, new values in the source's format;
``account name faked``
    a username, login or handle from Faker (unique when the source's are);
``copied (reference table)``
    the table is a lookup table copied verbatim (``reference`` in the metadata, or
    ``table_models={name: "copy"}``);
``empty``
    a column the model leaves NULL (no values to learn: binary content, all NULL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["privacy_summary", "withheld_values"]


def withheld_values(synth: Synthesizer) -> dict[str, dict[str, int]]:
    """Number of rare categorical values withheld, per table and column (non-zero only)."""
    out: dict[str, dict[str, int]] = {}
    for name, fit in synth.tables_.items():
        encoder = getattr(fit.model, "encoder", None)
        counts = {
            str(enc.column): int(getattr(enc, "withheld", 0))
            for enc in getattr(encoder, "encoders", ())
            if getattr(enc, "withheld", 0)
        }
        if counts:
            out[name] = counts
    return out


def _text_treatment(model: Any) -> str:
    pii = getattr(model, "pii", None)
    if pii == "secret":
        shape = getattr(model, "shape_", None) or {}
        fmt = shape.get("format", "opaque")
        if fmt == "hex":
            fmt = f"hex {shape.get('length')}"
        elif fmt == "base64":
            fmt = f"base64 {shape.get('length')}"
        return f"secret regenerated ({fmt})"
    if pii == "username":
        return "account name faked"
    return f"faked ({pii})"


def privacy_summary(
    synth: Synthesizer, withheld: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, dict[str, str]]:
    """Each column's treatment (see the module docstring), per table in plan order."""
    withheld = withheld_values(synth) if withheld is None else withheld
    out: dict[str, dict[str, str]] = {}
    for name in synth.plan_.order:
        table = synth.metadata.table(name)
        fit = synth.tables_[name]
        if fit.copy is not None:
            out[name] = {c: "copied (reference table)" for c in table.column_names}
            continue
        layout = fit.layout
        text = fit.text_models or {}
        rows: dict[str, str] = {}
        for col in table.column_names:
            if col in text:
                rows[col] = _text_treatment(text[col])
            elif layout is not None and col in layout.keys:
                rows[col] = "keys generated"
            elif layout is not None and col in layout.empty:
                rows[col] = "empty"
            elif col in withheld.get(name, {}):
                rows[col] = f"learned, rare values withheld ({withheld[name][col]})"
            else:
                rows[col] = "learned"
        out[name] = rows
    return out
