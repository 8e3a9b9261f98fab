"""Key value formats: synthetic key values that look like the source's.

Stage 2 of the pipeline (keys). A :class:`KeyFormat` is learned from the values of
one key column that is not a foreign key (a surrogate or natural primary key, or a
unique column that foreign keys reference). It then makes any number of distinct
values **by construction** (never by retry):

* ``integer``: a sequence ``start, start + 1, ...`` when the source is dense
  (at least half of ``[min, max]`` used), starting at the source's minimum;
  otherwise distinct integers drawn through an affine bijection
  ``i -> (a*i + b) mod M`` of a range as wide as the source's, sorted. Integer
  sequences necessarily overlap the source's values.
* ``uuid``: version-4 UUIDs from the generator: 64 random bits fixed per sample,
  and an affine bijection of the row index for the rest (distinct by construction).
* ``prefix_number``: ``prefix + number`` (``CNS2014-CNS_MUL-Weekday-00-4165878``,
  ``750337``, zero-padded ``01581``): prefixes drawn with their source frequency,
  numbers distinct across the table, drawn from the number range **minus the
  source's numbers** (so no source key is reproduced), keeping the zero padding.
* ``template``: a character-class template per *shape*: each value maps to the
  sequence of its character classes (digit, upper, lower, or the literal
  punctuation); shapes are kept with their source frequency (``ALFKI`` is
  ``UUUUU``, ``N102UW`` is ``UDDDUU``). Positions that hold the same character in
  every value of a shape (five values at least) stay literal (``N`` of tail
  numbers). Values are the images of a random affine bijection of the template's
  index space minus the indices of the source's values. Two shapes never make the
  same string, so values are distinct across shapes too. When the space is too
  small the template grows by one position.
* ``datetime``/``date_text``: ``start + step * i`` from the source's minimum and
  median step; text dates keep their format (``20140609``, ``1996-07-04``). Inside
  groups (``weather.time_hour`` per airport) a group's rows are spread over a source
  group's span (:meth:`KeyFormat._spread`).

"Where the format space allows", synthetic codes avoid the source's values; when
the space minus the source's values is too small, source values may reappear
(a three-letter code space holds only 17,576 values).

:meth:`KeyFormat.at` gives the values of *positions* inside a group (the
``date`` of ``calendar_dates(service_id, date)``): unique within the group.

The bijections and mixed-radix codes behind "distinct by construction" are in
:mod:`relsynth.keys._codes`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from relsynth.keys import _codes

__all__ = ["KeyFormat", "learn_format"]

_DIGITS = string.digits
_UPPER = string.ascii_uppercase
_LOWER = string.ascii_lowercase
_PREFIX_NUMBER = re.compile(r"^(.*?)(\d+)$", re.DOTALL)
_MAX_SHAPES = 50
_INT64_MAX = 2**63 - 1
#: Share of a group's gaps that must be whole multiples of its most frequent gap (the grid).
_GRID_SHARE = 0.95
#: Share of its grid's slots (span / grid + 1) a group's values must fill for the grid to
#: be its step: a series sampled with holes fills many (half of a year's hours), a few
#: events on a calendar few (9 exception dates in a year fill 2 % of its days: every
#: gap is a whole number of days, yet their step is not one day).
_GRID_FILL = 0.2
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y%m%d",
)


class KeyFormat:
    """A learned format of key values; see the module docstring for the kinds.

    Build one with :func:`learn_format`; save it with :meth:`to_dict`.
    """

    def __init__(self, kind: str, params: Mapping[str, Any]) -> None:
        self.kind = kind
        self.params = dict(params)

    def __repr__(self) -> str:
        return f"KeyFormat({self.kind!r})"

    # -- persistence ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"kind": self.kind, "params": _jsonable(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyFormat:
        """Rebuild a format saved with :meth:`to_dict`."""
        return cls(str(data["kind"]), data["params"])

    # -- generation -------------------------------------------------------------------

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return ``n`` distinct values."""
        n = int(n)
        fn = getattr(self, f"_generate_{self.kind}")
        out: np.ndarray = fn(n, rng)
        return out

    def at(
        self, positions: np.ndarray, rng: np.random.Generator, groups: np.ndarray | None = None
    ) -> np.ndarray:
        """Values for ``positions`` (0, 1, ...) inside groups: distinct within a group.

        Numeric and date kinds use ``start + step * position`` with a start and a
        step resampled per group from the source's groups (``params['starts']``,
        ``params['steps']`` when learned with ``groups``); text kinds enumerate
        their template in order.
        """
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        spans = self.params.get("spans") or []
        if (
            self.kind in ("datetime", "date_text")
            and n
            and len(spans) == len(self.params["starts"])
        ):
            return self._from_numbers(self._spread(positions, rng, groups))
        if self.kind in ("integer", "float", "datetime", "date_text"):
            gid = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
            n_groups = int(gid.max()) + 1 if n else 0
            starts = np.asarray(self.params.get("starts") or [self.params["lo"]], dtype=float)
            steps = np.asarray(self.params.get("steps") or [self.params["step"]], dtype=float)
            g_start = starts[rng.integers(0, len(starts), n_groups)] if n_groups else starts[:0]
            g_step = steps[rng.integers(0, len(steps), n_groups)] if n_groups else steps[:0]
            values = g_start[gid] + g_step[gid] * positions if n else np.zeros(0)
            return self._from_numbers(values)
        if self.kind == "prefix_number":
            best = int(np.argmax(self.params["weights"]))
            prefix = self.params["prefixes"][best]
            widths = self.params.get("widths") or [0] * len(self.params["prefixes"])
            numbers = int(self.params["lo"]) + positions
            pad = max(int(widths[best]), int(self.params["width"]))
            return _render_prefix_number(
                np.full(n, prefix, dtype=object), numbers, np.full(n, pad, dtype=np.int64)
            )
        if self.kind == "uuid":
            return self._render_uuid(np.zeros(n, dtype=np.uint64), positions.astype(np.uint64))
        # template: enumerate the index space of the most frequent shape in order
        shape = self.params["shapes"][0]
        alphabets = _codes.grow(shape["alphabets"], int(positions.max()) + 1 if n else 0)
        return _codes.decode(positions, alphabets)

    # -- kinds ---------------------------------------------------------------------------

    def _spread(
        self, positions: np.ndarray, rng: np.random.Generator, groups: np.ndarray | None
    ) -> np.ndarray:
        """Date/time values inside groups spread over a source group's time span.

        Each synthetic group takes the start and span of one source group (weather
        hours of one airport) and the step of one. When it has fewer rows than the
        span has steps, its rows take distinct steps at random, in order (the k-th row
        at ``floor(u_(k) * (free + 1)) + k`` for the sorted uniforms ``u_(k)``), so a
        sample of a year of hours stays spread over the year instead of filling its
        first months hour by hour.
        """
        n = len(positions)
        gid = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, np.int64)
        n_groups = int(gid.max()) + 1
        starts = np.asarray(self.params["starts"], dtype=float)
        spans = np.asarray(self.params["spans"], dtype=float)
        steps = np.asarray(self.params.get("steps") or [self.params["step"]], dtype=float)
        pick = rng.integers(0, len(starts), n_groups)
        g_step = steps[rng.integers(0, len(steps), n_groups)]
        slots = np.floor(spans[pick] / g_step).astype(np.int64) + 1
        free = np.maximum(slots - np.bincount(gid, minlength=n_groups), 0)
        u = rng.random(n)
        ranked = np.empty(n)
        ranked[np.lexsort((positions, gid))] = u[np.lexsort((u, gid))]
        slot = np.floor(ranked * (free[gid] + 1)).astype(np.int64) + positions
        out: np.ndarray = starts[pick][gid] + g_step[gid] * slot
        return out

    def _generate_integer(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = int(self.params["lo"]), int(self.params["hi"])
        if hi > _INT64_MAX and lo >= 0:  # BIGINT UNSIGNED near 2**64: uint64, exact
            lo = min(lo, 2**64 - max(n, 1))
            space = min(max(hi - lo + 1, 2 * n), 2**64 - lo, _INT64_MAX)
            if self.params["dense"] or n == 0:
                return np.uint64(lo) + np.arange(n, dtype=np.uint64)
            return np.sort(np.uint64(lo) + _codes.bijection(n, space, rng).astype(np.uint64))
        if self.params["dense"] or n == 0:
            return lo + np.arange(n, dtype=np.int64)
        space = max(hi - lo + 1, 2 * n)
        return np.sort(lo + _codes.bijection(n, space, rng))

    def _generate_float(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lo, step = float(self.params["lo"]), float(self.params["step"])
        return lo + step * np.arange(n, dtype=float)

    def _generate_datetime(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._from_numbers(
            float(self.params["lo"]) + float(self.params["step"]) * np.arange(n, dtype=float)
        )

    _generate_date_text = _generate_datetime

    def _from_numbers(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "integer":
            return np.round(values).astype(np.int64)
        if self.kind == "float":
            return values.astype(float)
        # second resolution on every pandas (2.x made unit="s" nanoseconds: 2262 overflows)
        stamps = pd.DatetimeIndex(np.round(values).astype(np.int64).astype("datetime64[s]"))
        if self.kind == "datetime":
            if self.params.get("tz"):  # zoned: the same zone as the source column
                return np.asarray(stamps.tz_localize("UTC").tz_convert(self.params["tz"]))
            return np.asarray(stamps.to_numpy())
        text = pd.Series(stamps.strftime(self.params["format"]), dtype=object)
        cut = int(self.params.get("trim", 0))
        if cut:
            text = text.str.slice(0, -cut)
        return text.to_numpy(dtype=object)

    def _generate_uuid(self, n: int, rng: np.random.Generator) -> np.ndarray:
        high = np.full(n, rng.integers(0, 2**63 - 1, dtype=np.int64), dtype=np.uint64)
        keys = rng.integers(0, 2**62, size=3, dtype=np.int64).astype(np.uint64)
        return self._render_uuid(high, _codes.mix62(np.arange(n, dtype=np.uint64), keys))

    def _render_uuid(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        n = len(high)
        raw = np.empty((n, 16), dtype=np.uint8)
        raw[:, :8] = high.astype(">u8").view(np.uint8).reshape(n, 8)
        raw[:, 8:] = low.astype(">u8").view(np.uint8).reshape(n, 8)
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        hexchars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
        nib = np.empty((n, 32), dtype=np.uint8)
        nib[:, 0::2] = hexchars[raw >> 4]
        nib[:, 1::2] = hexchars[raw & 0x0F]
        dash = np.full((n, 1), ord("-"), dtype=np.uint8)
        parts = [
            nib[:, :8],
            dash,
            nib[:, 8:12],
            dash,
            nib[:, 12:16],
            dash,
            nib[:, 16:20],
            dash,
            nib[:, 20:],
        ]
        chars = np.ascontiguousarray(np.concatenate(parts, axis=1))
        text = chars.view("S36").ravel().astype(str)
        if self.params.get("upper"):
            text = np.char.upper(text)
        if not self.params.get("hyphens", True):
            text = np.char.replace(text, "-", "")
        return text.astype(object)

    def _generate_prefix_number(self, n: int, rng: np.random.Generator) -> np.ndarray:
        prefixes = list(self.params["prefixes"])
        weights = np.asarray(self.params["weights"], dtype=float)
        widths = np.asarray(self.params.get("widths") or [0] * len(prefixes), dtype=np.int64)
        width = int(self.params["width"])
        lo, hi = int(self.params["lo"]), int(self.params["hi"])
        source = np.asarray(self.params["source"], dtype=np.int64)
        if width:
            lo, hi = 0, 10**width - 1
            while hi - lo + 1 - len(source) < n:  # grow the padding when the space is short
                width += 1
                hi = 10**width - 1
        else:
            hi = max(hi, lo + 2 * n + len(source))
        numbers = _codes.complement_sample(n, lo, hi, source, rng)
        counts = _codes.allocate(weights, n, rng)
        chosen = np.repeat(np.arange(len(prefixes)), counts)
        rng.shuffle(chosen)
        pad = np.maximum(widths[chosen], width) if n else widths[:0]
        return _render_prefix_number(
            np.asarray(prefixes, dtype=object)[chosen], np.sort(numbers), pad
        )

    def _generate_template(self, n: int, rng: np.random.Generator) -> np.ndarray:
        shapes = self.params["shapes"]
        weights = np.asarray([s["weight"] for s in shapes], dtype=float)
        counts = _codes.allocate(weights, n, rng)
        out = np.empty(n, dtype=object)
        order = rng.permutation(n)
        start = 0
        for shape, m in zip(shapes, counts, strict=False):
            m = int(m)
            if m == 0:
                continue
            alphabets = list(shape["alphabets"])
            source = np.asarray(shape["source"], dtype=np.int64)
            space = _codes.space(alphabets)
            if space - len(source) < m:
                source = source[:0]  # the space is too small to avoid the source's values
                alphabets = _codes.grow(alphabets, m)
                space = _codes.space(alphabets)
            idx = _codes.complement_sample(m, 0, space - 1, source, rng)
            values = _codes.decode(np.sort(idx), alphabets)
            heads = shape.get("head")
            if heads:  # leading positions beyond the index space: random characters
                head = _codes.random_chars(heads, m, rng)
                values = np.asarray(
                    [h + v for h, v in zip(head, values, strict=True)], dtype=object
                )
            out[order[start : start + m]] = values
            start += m
        return out


# -- learning ---------------------------------------------------------------------------


def learn_format(values: pd.Series, groups: np.ndarray | None = None) -> KeyFormat:
    """Learn the format of a key column from its (non-null) values.

    Parameters
    ----------
    values : Series
        The column's values.
    groups : ndarray of int, optional
        A group id per value when the column is a position inside a parent
        (``stop_sequence`` of a trip): starts and steps are learned per group.
    """
    mask = values.notna().to_numpy()
    vals = values[mask]
    gid = None if groups is None else np.asarray(groups)[mask]
    if pd.api.types.is_bool_dtype(vals.dtype):
        vals = vals.astype(np.int64)
    if pd.api.types.is_datetime64_any_dtype(vals.dtype):
        tz = getattr(vals.dt, "tz", None)
        if tz is not None:  # zoned keys ('2013-01-01T11:00:00Z'): learned in UTC
            vals = vals.dt.tz_convert("UTC").dt.tz_localize(None)
        secs = (vals.astype("datetime64[ns]").astype(np.int64) // 10**9).to_numpy()
        params = _sequence_params(secs.astype(float), gid)
        if tz is not None:
            params["tz"] = str(tz)
        return KeyFormat("datetime", params)
    if pd.api.types.is_numeric_dtype(vals.dtype):
        arr = vals.to_numpy(dtype=float)
        if len(arr) == 0 or np.all(arr == np.round(arr)):
            params = _sequence_params(arr, gid)
            lo = int(arr.min()) if len(arr) else 1
            hi = int(arr.max()) if len(arr) else 1
            params.update(lo=lo, hi=hi, dense=bool(len(arr) >= 0.5 * (hi - lo + 1)))
            return KeyFormat("integer", params)
        return KeyFormat("float", _sequence_params(arr, gid))
    text = vals.astype(str).to_numpy(dtype=object)
    if len(text) == 0:
        return KeyFormat("integer", {"lo": 1, "hi": 1, "dense": True, "step": 1})
    fmt = _date_format(text)
    if fmt is not None:
        stamps = pd.to_datetime(pd.Series(text), format=fmt)
        secs = (stamps.astype("datetime64[ns]").astype(np.int64) // 10**9).to_numpy()
        params = _sequence_params(secs.astype(float), gid)
        params["format"] = fmt
        if fmt.endswith("%f"):
            frac = str(text[0]).rsplit(".", 1)[-1]
            params["trim"] = max(0, 6 - len(frac))
        return KeyFormat("date_text", params)
    if all(_is_uuid(t) for t in text[:100]) and all(_is_uuid(t) for t in text):
        return KeyFormat(
            "uuid", {"upper": bool(str(text[0]).isupper()), "hyphens": "-" in str(text[0])}
        )
    pn = _prefix_number_params(text)
    if pn is not None:
        return KeyFormat("prefix_number", pn)
    return KeyFormat("template", _template_params(text))


def _sequence_params(arr: np.ndarray, groups: np.ndarray | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if len(arr) == 0:
        return {"lo": 0.0, "step": 1.0, "starts": [], "steps": []}
    uniq = np.unique(arr)
    diffs = np.diff(uniq)
    step = float(np.median(diffs)) if len(diffs) else 1.0
    params["lo"] = float(uniq[0])
    params["step"] = step if step > 0 else 1.0
    if groups is not None and len(arr):
        frame = pd.DataFrame({"g": groups, "v": arr}).sort_values(["g", "v"])
        bounds = frame.groupby("g", sort=True)["v"].agg(["min", "max"])
        starts = bounds["min"].to_numpy()
        params["spans"] = [float(x) for x in bounds["max"] - bounds["min"]]
        d = frame.groupby("g", sort=True)["v"].diff().to_numpy()
        g_steps = _grid_steps(frame["g"].to_numpy(), d)
        g_steps = g_steps[g_steps > 0]
        params["starts"] = [float(x) for x in starts]
        params["steps"] = [float(x) for x in g_steps] or [params["step"]]
    return params


def _grid_steps(groups: np.ndarray, diffs: np.ndarray) -> np.ndarray:
    """Each group's step: the grid its values lie on, else its median gap.

    A sample of an hourly series (half of the hours, after a holdout split) has gaps of
    1, 2, 3... hours, and its median gap can be 2 hours: a synthetic group stepping by 2
    hours then holds only even (or only odd) hours. A group's most frequent positive gap
    is its grid when it is at least a quarter of the gaps, at least
    :data:`_GRID_SHARE` of the gaps are whole multiples of it, and the group's values
    fill at least :data:`_GRID_FILL` of the grid's slots over their span.
    """
    ok = ~np.isnan(diffs) & (diffs > 0)
    if not ok.any():
        return np.zeros(0)
    gaps = pd.DataFrame({"g": groups[ok], "d": diffs[ok]})
    median = gaps.groupby("g", sort=True)["d"].median()
    counts = gaps.groupby(["g", "d"], sort=True).size().reset_index(name="n")
    mode = counts.sort_values(["g", "n", "d"], ascending=[True, False, True]).groupby("g").first()
    grid = gaps["g"].map(mode["d"]).to_numpy()
    ratio = gaps["d"].to_numpy() / grid
    share = pd.Series(np.abs(ratio - np.round(ratio)) <= 1e-6).groupby(gaps["g"].to_numpy()).mean()
    n_gaps = gaps.groupby("g", sort=True).size()
    common = mode["n"] / n_gaps
    span = gaps.groupby("g", sort=True)["d"].sum()
    fill = (n_gaps + 1) / (span / mode["d"] + 1)
    on_grid = (
        (share.reindex(median.index) >= _GRID_SHARE)
        & (common.reindex(median.index) >= 0.25)
        & (fill.reindex(median.index) >= _GRID_FILL)
    )
    out = np.where(on_grid.to_numpy(),
                   mode["d"].reindex(median.index).to_numpy(), median.to_numpy())  # fmt: skip
    return np.asarray(out, dtype=float)


def _date_format(text: np.ndarray) -> str | None:
    sample = [str(t) for t in text[:200]]
    for fmt in _DATE_FORMATS:
        if fmt == "%Y%m%d" and not all(len(s) == 8 and s.isdigit() for s in sample):
            continue
        parsed = pd.to_datetime(pd.Series(sample), format=fmt, errors="coerce")
        if parsed.notna().all():
            full = pd.to_datetime(pd.Series(text), format=fmt, errors="coerce")
            if full.notna().all() and (fmt != "%Y%m%d" or full.dt.year.between(1800, 2200).all()):
                return fmt
    return None


_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$"
)


def _is_uuid(value: Any) -> bool:
    return bool(_UUID.match(str(value)))


def _prefix_number_params(text: np.ndarray) -> dict[str, Any] | None:
    series = pd.Series(text, dtype=object)
    parts = series.str.extract(_PREFIX_NUMBER)
    if parts[1].isna().any():
        return None
    prefixes = parts[0].astype(str)
    digits = parts[1].astype(str)
    counts = prefixes.value_counts()
    if len(counts) > max(20, len(text) // 20) or int(digits.str.len().max()) > 17:
        return None
    frame = pd.DataFrame(
        {
            "prefix": prefixes,
            "len": digits.str.len(),
            "padded": digits.str.startswith("0") & (digits.str.len() > 1),
        }
    )
    widths = []
    for prefix in counts.index:
        sub = frame[frame["prefix"] == prefix]
        padded = sub[sub["padded"]]
        widths.append(int(padded["len"].mode().iloc[0]) if len(padded) else 0)
    numbers = digits.astype(np.int64).to_numpy()
    fixed = widths[0] if len(set(widths)) == 1 and widths[0] and frame["len"].nunique() == 1 else 0
    return {
        "prefixes": [str(p) for p in counts.index],
        "weights": [int(c) for c in counts.to_numpy()],
        "widths": widths,
        "width": fixed,
        "lo": int(numbers.min()),
        "hi": int(numbers.max()),
        "source": [int(x) for x in np.unique(numbers)],
    }


def _char_class(ch: str) -> str:
    if ch.isdigit() and ch.isascii():
        return "D"
    if ch.isascii() and ch.isupper():
        return "U"
    if ch.isascii() and ch.islower():
        return "L"
    return ch


_CLASS_ALPHABET = {"D": _DIGITS, "U": _UPPER, "L": _LOWER}


def _template_params(text: np.ndarray) -> dict[str, Any]:
    shapes: dict[tuple[str, ...], list[str]] = {}
    for value in text:  # one pass to group by shape; learning runs once per column
        key = tuple(_char_class(c) for c in str(value))
        shapes.setdefault(key, []).append(str(value))
    ranked = sorted(shapes.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:_MAX_SHAPES]
    out = []
    for key, members in ranked:
        alphabets: list[str] = []
        for pos, cls in enumerate(key):
            seen = {m[pos] for m in members}
            if cls not in _CLASS_ALPHABET:
                alphabets.append(cls)
            elif len(seen) == 1 and len(members) >= 5:
                alphabets.append(next(iter(seen)))
            else:
                alphabets.append(_CLASS_ALPHABET[cls])
        head: list[str] = []
        while _codes.space(alphabets) > _codes.MAX_SPACE and len(alphabets) > 1:
            head.append(alphabets.pop(0))
        source = _codes.encode([m[len(head) :] for m in members], alphabets)
        out.append(
            {
                "weight": len(members),
                "alphabets": alphabets,
                "head": head,
                "source": [int(x) for x in np.unique(source)],
            }
        )
    if not out:
        out.append({"weight": 1, "alphabets": [_UPPER] * 5, "head": [], "source": []})
    return {"shapes": out}


# -- helpers ------------------------------------------------------------------------------


def _render_prefix_number(
    prefixes: np.ndarray, numbers: np.ndarray, widths: np.ndarray
) -> np.ndarray:
    nums = pd.Series(numbers, dtype=np.int64).astype(str).astype(object)
    widths = np.asarray(widths, dtype=np.int64)
    for w in np.unique(widths[widths > 0]):  # one pass per distinct width
        sel = widths == w
        nums[sel] = nums[sel].str.zfill(int(w))
    return (pd.Series(prefixes, dtype=object).astype(str).astype(object) + nums).to_numpy(
        dtype=object
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
