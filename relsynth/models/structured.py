"""Structured column values: JSON documents, arrays, bytes and network addresses.

These columns are neither learned by the table models (their values are not numbers
or categories) nor personal text: a JSON column filled with lorem text is refused by
PostgreSQL and is invalid JSON elsewhere. :class:`StructuredColumnModel` learns the
*shape* of the source values and generates new values of that shape, never copying
a source value:

``json`` / ``array``
    A structure template (:class:`_Node`): per path (``$``, ``$.address.city``,
    ``$.tags[]``...) the share of each value kind (object, array, string, number,
    boolean, null), the share of rows in which each object key is present (key order
    kept), array lengths (quantiles), and for scalars a simple marginal: quantiles
    for numbers (integer-ness kept), the share of ``true`` for booleans, for ISO
    date/time strings their range (quantiles) and text form, and for other
    strings either a few common values (each seen at least ``_MIN_CATEGORY_COUNT``
    times and in at least 5% of the rows at that path, like a categorical column) or
    fake words of the source's lengths.
``binary``
    Random bytes with the source's length distribution.
``inet`` / ``cidr``
    Random addresses of the source's families (the IPv4/IPv6 shares) and prefix
    lengths; ``cidr`` values are networks (host bits zero).
``macaddr``
    Random MAC addresses (locally administered, unicast), in the source's notation.

The NULL rate is kept for every format. State is plain JSON (``state_dict``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from relsynth.metadata._textformats import looks_like_json

__all__ = ["FORMATS", "StructuredColumnModel", "looks_like_json"]

FORMATS = ("json", "array", "binary", "inet", "cidr", "macaddr")
_LEVELS = np.linspace(0.0, 1.0, 21)
_MAX_DEPTH = 12
_MAX_KEYS = 200
_MIN_CATEGORY_COUNT = 5
_MIN_CATEGORY_SHARE = 0.05
_MAX_CATEGORIES = 20
_KINDS = ("object", "array", "string", "number", "boolean", "null")


def _quantiles(values: list[float]) -> list[float]:
    return np.quantile(np.asarray(values, dtype=float), _LEVELS).tolist() if values else [0.0]


def _draw(quantiles: list[float], rng: np.random.Generator, n: int | None = None) -> Any:
    q = np.asarray(quantiles, dtype=float)
    if len(q) == 1:
        return q[0] if n is None else np.full(n, q[0])
    return np.interp(rng.random(n), np.linspace(0.0, 1.0, len(q)), q)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


def _learn(values: list[Any], depth: int = 0) -> dict[str, Any]:  # noqa: C901
    """The template node of the values found at one path."""
    kinds = Counter(_kind(v) for v in values)
    node: dict[str, Any] = {"kinds": {k: c / len(values) for k, c in kinds.items()}}
    if depth >= _MAX_DEPTH:  # deeper structure is cut to strings
        node["kinds"] = {"string": 1.0}
        node["string"] = {"lengths": [8.0], "categories": []}
        return node
    objects = [v for v in values if isinstance(v, dict)]
    if objects:
        order: dict[str, int] = {}
        for obj in objects:
            for key in obj:
                order[key] = order.get(key, 0) + 1
        keys = sorted(order, key=lambda k: -order[k])[:_MAX_KEYS]
        first_seen = {k: i for i, k in enumerate(dict.fromkeys(k for o in objects for k in o))}
        keys.sort(key=first_seen.__getitem__)
        node["object"] = [
            [k, order[k] / len(objects), _learn([o[k] for o in objects if k in o], depth + 1)]
            for k in keys
        ]
    arrays = [v for v in values if isinstance(v, list)]
    if arrays:
        items = [item for a in arrays for item in a]
        node["array"] = {
            "lengths": _quantiles([len(a) for a in arrays]),
            "item": _learn(items, depth + 1) if items else None,
        }
    numbers = [float(v) for v in values if _kind(v) == "number"]
    if numbers:
        ints = all(isinstance(v, int) for v in values if _kind(v) == "number")
        node["number"] = {"quantiles": _quantiles(numbers), "integer": ints}
    strings = [v if isinstance(v, str) else str(v) for v in values if _kind(v) == "string"]
    if strings:
        node["string"] = _learn_strings(strings)
    booleans = [v for v in values if isinstance(v, bool)]
    if booleans:
        node["boolean"] = sum(booleans) / len(booleans)
    return node


_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _learn_dates(strings: list[str]) -> dict[str, Any] | None:
    """ISO dates/times (array elements of a ``timestamp[]``, ``"created": "2020-..."``):
    their range as epoch-second quantiles and their text form."""
    if not strings or not all(_ISO_DATE.match(s) for s in strings):
        return None
    stamps = pd.to_datetime(pd.Series(strings), format="ISO8601", errors="coerce", utc=True)
    if bool(stamps.isna().any()):
        return None
    seconds = (stamps.dt.tz_localize(None) - pd.Timestamp(0)).dt.total_seconds()
    first = strings[0]
    suffix = next((z for z in ("Z", "+00:00", "+0000") if first.endswith(z)), "")
    return {
        "quantiles": _quantiles(seconds.tolist()),
        "date_only": all(len(s) == 10 for s in strings),
        "sep": "T" if "T" in first else " ",
        "suffix": suffix,
    }


def _format_date(spec: Mapping[str, Any], seconds: float) -> str:
    stamp = pd.Timestamp(round(seconds), unit="s")
    if spec["date_only"]:
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime(f"%Y-%m-%d{spec['sep']}%H:%M:%S") + spec["suffix"]


def _learn_strings(strings: list[str]) -> dict[str, Any]:
    dates = _learn_dates(strings)
    if dates is not None:
        return {"lengths": _quantiles([len(s) for s in strings]), "categories": [], "dates": dates}
    counts = Counter(strings)
    common = [
        [value, count / len(strings)]
        for value, count in counts.most_common(_MAX_CATEGORIES)
        if count >= _MIN_CATEGORY_COUNT and count >= _MIN_CATEGORY_SHARE * len(strings)
    ]
    return {"lengths": _quantiles([len(s) for s in strings]), "categories": common}


class StructuredColumnModel:
    """Values of one structured column (see the module docstring for the formats).

    Parameters
    ----------
    value_format : {"json", "array", "binary", "inet", "cidr", "macaddr"}
        What the column holds.
    """

    def __init__(self, value_format: str) -> None:
        if value_format not in FORMATS:
            raise ValueError(f"unknown value format {value_format!r}; use one of {FORMATS}")
        self.value_format = value_format

    # -- fit ----------------------------------------------------------------------------

    def fit(self, values: pd.Series) -> StructuredColumnModel:
        """Learn the NULL rate and the shape of ``values``."""
        present = values.dropna()
        self.null_rate_ = float(values.isna().mean()) if len(values) else 0.0
        fmt = self.value_format
        if fmt in ("json", "array"):
            docs = [json.loads(v) if isinstance(v, str) else v for v in present]
            self.template_ = _learn(docs) if docs else {"kinds": {"null": 1.0}}
        elif fmt == "binary":
            self.template_ = {"lengths": _quantiles([len(bytes(v)) for v in present])}
        elif fmt in ("inet", "cidr"):
            self.template_ = _learn_addresses(present.astype(str).tolist())
        else:
            texts = present.astype(str).tolist()
            self.template_ = {"separator": _mac_separator(texts), "upper": _mac_upper(texts)}
        return self

    # -- sample -------------------------------------------------------------------------

    def sample(self, n: int, *, rng: np.random.Generator, fake: Any) -> pd.Series:
        """Generate ``n`` values (NULLs at the source's rate); ``fake`` is a seeded Faker."""
        fmt = self.value_format
        if fmt in ("json", "array"):
            values: list[Any] = [
                json.dumps(_generate(self.template_, rng, fake), ensure_ascii=False)
                for _ in range(n)
            ]
        elif fmt == "binary":
            lengths = np.round(_draw(self.template_["lengths"], rng, n)).astype(int).clip(0)
            values = [rng.integers(0, 256, int(k), dtype=np.uint8).tobytes() for k in lengths]
        elif fmt in ("inet", "cidr"):
            values = [_address(self.template_, rng, network=fmt == "cidr") for _ in range(n)]
        else:
            values = [_mac(self.template_, rng) for _ in range(n)]
        out = pd.Series(values, dtype=object)
        if self.null_rate_ > 0:
            out[rng.random(n) < self.null_rate_] = None
        return out

    # -- state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-able fitted state."""
        return {
            "value_format": self.value_format,
            "null_rate": self.null_rate_,
            "template": self.template_,
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> StructuredColumnModel:
        """Rebuild from :meth:`state_dict`."""
        model = cls(str(state["value_format"]))
        model.null_rate_ = float(state["null_rate"])
        model.template_ = state["template"]
        return model


# -- JSON generation ---------------------------------------------------------------------


def _generate(node: Mapping[str, Any], rng: np.random.Generator, fake: Any) -> Any:
    kinds = list(node["kinds"])
    p = np.asarray([node["kinds"][k] for k in kinds], dtype=float)
    kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
    if kind == "null":
        return None
    if kind == "object":
        return {
            key: _generate(child, rng, fake)
            for key, share, child in node["object"]
            if share >= 1.0 or rng.random() < share
        }
    if kind == "array":
        spec = node["array"]
        length = max(0, int(round(float(_draw(spec["lengths"], rng)))))
        if spec["item"] is None:
            return []
        return [_generate(spec["item"], rng, fake) for _ in range(length)]
    if kind == "number":
        spec = node["number"]
        value = float(_draw(spec["quantiles"], rng))
        return int(round(value)) if spec["integer"] else round(value, 6)
    if kind == "boolean":
        return bool(rng.random() < node["boolean"])
    return _string(node["string"], rng, fake)


def _string(spec: Mapping[str, Any], rng: np.random.Generator, fake: Any) -> str:
    if spec.get("dates"):
        return _format_date(spec["dates"], float(_draw(spec["dates"]["quantiles"], rng)))
    common = spec["categories"]
    if common:
        u = rng.random()
        for value, share in common:
            if u < share:
                return str(value)
            u -= share
    length = max(1, int(round(float(_draw(spec["lengths"], rng)))))
    if length < 5:
        return str(fake.lexify("?" * length))
    return str(fake.text(max_nb_chars=length)).replace("\n", " ").rstrip(".")


# -- addresses ---------------------------------------------------------------------------


def _learn_addresses(texts: list[str]) -> dict[str, Any]:
    v4_prefixes: list[int] = []
    v6_prefixes: list[int] = []
    prefixed = 0
    for text in texts:
        try:
            iface = ipaddress.ip_interface(text.strip())
        except ValueError:
            continue
        prefixed += "/" in text
        (v4_prefixes if iface.version == 4 else v6_prefixes).append(iface.network.prefixlen)
    total = len(v4_prefixes) + len(v6_prefixes)
    return {
        "v4_share": len(v4_prefixes) / total if total else 1.0,
        "v4_prefixes": _prefix_shares(v4_prefixes, 32),
        "v6_prefixes": _prefix_shares(v6_prefixes, 128),
        "prefixed_share": prefixed / total if total else 0.0,
    }


def _prefix_shares(prefixes: list[int], full: int) -> list[list[float]]:
    counts = Counter(prefixes or [full])
    total = sum(counts.values())
    return [[float(k), c / total] for k, c in sorted(counts.items())]


def _address(template: Mapping[str, Any], rng: np.random.Generator, *, network: bool) -> str:
    v4 = rng.random() < template["v4_share"]
    bits = 32 if v4 else 128
    pairs = template["v4_prefixes" if v4 else "v6_prefixes"]
    p = np.asarray([s for _, s in pairs], dtype=float)
    prefix = int(pairs[int(rng.choice(len(pairs), p=p / p.sum()))][0])
    raw = int.from_bytes(rng.integers(0, 256, bits // 8, dtype=np.uint8).tobytes(), "big")
    if v4:  # keep clear of 0.x, multicast and reserved ranges: first octet 1-223 but 127
        first = int(rng.integers(1, 223))
        first += first >= 127
        raw = (raw & 0x00FFFFFF) | (first << 24)
    else:  # a global unicast address (2000::/3)
        raw = (raw & ((1 << 125) - 1)) | (1 << 125)
    if network:
        mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
        net = ipaddress.ip_network((raw & mask, prefix)) if v4 else None
        if net is None:
            net = ipaddress.IPv6Network((raw & mask, prefix))
        return str(net)
    address = ipaddress.IPv4Address(raw) if v4 else ipaddress.IPv6Address(raw)
    if prefix != bits or rng.random() < template["prefixed_share"]:
        return f"{address}/{prefix}"
    return str(address)


def _mac_separator(texts: list[str]) -> str:
    for sep in (":", "-", "."):
        if texts and sum(sep in t for t in texts) >= 0.5 * len(texts):
            return sep
    return ":"


def _mac_upper(texts: list[str]) -> bool:
    letters = "".join(ch for t in texts for ch in t if ch.isalpha())
    return bool(letters) and letters.isupper()


def _mac(template: Mapping[str, Any], rng: np.random.Generator) -> str:
    octets = rng.integers(0, 256, 6, dtype=np.uint8)
    octets[0] = (int(octets[0]) | 0x02) & 0xFE  # locally administered, unicast
    hexed = [f"{int(o):02x}" for o in octets]
    sep = template["separator"]
    text = "".join(a + b + "." for a, b in zip(hexed[::2], hexed[1::2], strict=True)).rstrip(".")
    if sep != ".":
        text = sep.join(hexed)
    return text.upper() if template["upper"] else text
