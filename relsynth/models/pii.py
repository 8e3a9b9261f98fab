"""Personal and free-text columns: realistic values from Faker, never the source's.

Stage 3 of the pipeline, beside the learned models. A column whose kind is ``text``
(names, emails, phones, addresses, companies, URLs, free text) is not learned: its
values would be memorised. :class:`TextColumnModel` keeps only

* the NULL rate and the length distribution (quantiles) of the source values,
* whether the values are unique,
* salted 64-bit BLAKE2b digests of the source values, so generated values that
  happen to equal a source value can be replaced without storing that value.

Generation uses a private ``Faker`` instance per column seeded from the caller's
stream (``seed_instance``), so no global random state is touched and a seed gives
the same values. Uniqueness holds by construction: collisions get a numeric suffix.
Emails derive from the name generated in the same row when the table has one
(``email_from``), so a row reads consistently. Secrets (password hashes, digests,
tokens) are regenerated in the source's format and account names come from
``Faker.user_name`` (unique when the source's are), see
:mod:`relsynth.models._secret_gen`; the format is kept in ``state_dict()["shape"]``.

Structured columns (JSON, arrays, bytes, network addresses: ``pii`` is one of
:data:`relsynth.models.structured.FORMATS`) are handed to
:class:`~relsynth.models.structured.StructuredColumnModel`, which generates values of
the source's shape instead of fake words.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from relsynth._random import child_seed
from relsynth.errors import NotFittedError
from relsynth.metadata._secrets import secret_shape
from relsynth.models._secret_gen import make_secret, unique_handles
from relsynth.models.structured import FORMATS, StructuredColumnModel

__all__ = ["TextColumnModel", "detect_pii"]

_NAME_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("email", "e_mail", "mail")),
    ("phone", ("phone", "fax", "mobile", "tel")),
    ("url", ("url", "homepage", "website", "web")),
    ("first_name", ("firstname", "first_name", "given_name", "forename")),
    ("last_name", ("lastname", "last_name", "surname", "family_name")),
    ("company", ("company", "companyname", "organisation", "organization", "employer")),
    ("name", ("contactname", "fullname", "full_name", "name")),
    ("street", ("address", "street", "addr")),
    ("city", ("city", "town")),
    ("postcode", ("postalcode", "postcode", "zip", "postal_code")),
    ("country", ("country",)),
)


def detect_pii(column: str) -> str | None:
    """Guess the personal-data type of a text column from its name (``None`` if no hint)."""
    key = column.lower().replace(" ", "_")
    flat = key.replace("_", "")
    for pii, hints in _NAME_HINTS:
        if any(h == key or h.replace("_", "") == flat for h in hints):
            return pii
    for pii, hints in _NAME_HINTS:
        if any(len(h) > 3 and h.replace("_", "") in flat for h in hints):
            return pii
    return None


def _digest(values: Sequence[str], salt: bytes) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        h = hashlib.blake2b(value.encode("utf-8"), digest_size=8, key=salt).digest()
        out[i] = int.from_bytes(h, "little", signed=True)
    return out


class TextColumnModel:
    """Fake values for one personal or free-text column.

    Parameters
    ----------
    pii : str
        The kind of value (one of ``relsynth.metadata.schema.PII_TYPES``).
    unique : bool
        Whether generated values must be unique.
    locale : str
        Faker locale, e.g. ``"en_US"``, ``"de_DE"``.
    max_length : int, optional
        Upper bound on the length (e.g. from ``VARCHAR(40)``).
    """

    def __init__(
        self,
        pii: str,
        *,
        unique: bool = False,
        locale: str = "en_US",
        max_length: int | None = None,
    ) -> None:
        self.pii = pii
        self.unique = unique
        self.locale = locale
        self.max_length = max_length

    def fit(self, values: pd.Series, *, rng: np.random.Generator) -> TextColumnModel:
        """Learn the NULL rate, lengths and digests of ``values`` (``rng`` draws the salt)."""
        if self.pii in FORMATS:
            self.structured_ = StructuredColumnModel(self.pii).fit(values)
            self.null_rate_ = self.structured_.null_rate_
            self.length_quantiles_, self.salt_ = [0.0], ""
            self.digests_ = np.zeros(0, dtype=np.int64)
            self.shape_ = None
            return self
        present = values.dropna().astype(str)
        self.null_rate_ = float(values.isna().mean()) if len(values) else 0.0
        lengths = present.str.len().to_numpy() if len(present) else np.array([10])
        self.length_quantiles_ = np.quantile(lengths, np.linspace(0, 1, 21)).tolist()
        self.salt_ = bytes(rng.integers(0, 256, 16, dtype=np.uint8)).hex()
        self.digests_ = np.unique(_digest(list(present.unique()), bytes.fromhex(self.salt_)))
        self.shape_ = _shape(self.pii, present, str(values.name or ""))
        return self

    def sample(
        self,
        n: int,
        *,
        rng: np.random.Generator,
        names: pd.Series | None = None,
    ) -> pd.Series:
        """Generate ``n`` values (with NULLs at the source's rate)."""
        if not hasattr(self, "digests_"):
            raise NotFittedError(
                "This TextColumnModel instance is not fitted yet. Call 'fit' before 'sample'."
            )
        from faker import Faker

        fake = Faker(self.locale)
        fake.seed_instance(child_seed(rng))
        structured = getattr(self, "structured_", None)
        if structured is not None:
            return structured.sample(n, rng=rng, fake=fake)
        lengths = np.interp(rng.random(n), np.linspace(0, 1, 21), self.length_quantiles_)
        if self.pii == "email" and names is not None and len(names) == n:
            values = [_email_from(name, fake) for name in names.fillna("").astype(str)]
        else:
            make = self._maker(fake)
            values = [make(int(length)) for length in lengths]
        values = self._avoid_source(values, fake)
        if self.pii == "username" and (self.unique or (self.shape_ or {}).get("unique")):
            values = unique_handles(values)
        if self.unique:
            values = _uniquify(values)
        if self.max_length is not None:
            values = [v[: self.max_length] for v in values]
        out = pd.Series(values, dtype=object)
        if self.null_rate_ > 0 and not self.unique:
            out[rng.random(n) < self.null_rate_] = None
        return out

    def _avoid_source(self, values: list[str], fake: Any) -> list[str]:
        salt = bytes.fromhex(self.salt_)
        for _ in range(3):
            clash = np.isin(_digest(values, salt), self.digests_)
            if not clash.any():
                return values
            make = self._maker(fake)
            for i in np.flatnonzero(clash):
                values[i] = make(len(values[i]))
        clash = np.isin(_digest(values, salt), self.digests_)
        sep = "" if self.pii == "username" else " "
        for i in np.flatnonzero(clash):  # a common word that is also a source value
            values[i] = f"{values[i]}{sep}{i}"
        return values

    def _maker(self, fake: Any) -> Any:
        """``make(length) -> str`` for this column's kind of value."""
        if self.pii == "secret":
            shape = self.shape_ or {"format": "opaque"}
            return lambda length: make_secret(shape, fake.random, length)
        if self.pii == "username":
            return lambda length: str(fake.user_name())
        return _maker(self.pii, fake)

    def state_dict(self) -> dict[str, Any]:
        """JSON-able parameters and fitted state (digests only, never source values)."""
        structured = getattr(self, "structured_", None)
        extra = {} if structured is None else {"structured": structured.state_dict()}
        return {
            **extra,
            "pii": self.pii,
            "unique": self.unique,
            "locale": self.locale,
            "max_length": self.max_length,
            "null_rate": self.null_rate_,
            "length_quantiles": list(self.length_quantiles_),
            "salt": self.salt_,
            "digests": [int(d) for d in self.digests_],
            "shape": self.shape_,
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> TextColumnModel:
        """Rebuild a fitted model from :meth:`state_dict`."""
        model = cls(
            state["pii"],
            unique=state["unique"],
            locale=state["locale"],
            max_length=state["max_length"],
        )
        model.null_rate_ = float(state["null_rate"])
        model.length_quantiles_ = [float(q) for q in state["length_quantiles"]]
        model.salt_ = str(state["salt"])
        model.digests_ = np.asarray(state["digests"], dtype=np.int64)
        model.shape_ = state.get("shape")  # files saved before secrets were recognised: None
        if "structured" in state:
            model.structured_ = StructuredColumnModel.from_state_dict(state["structured"])
        return model


def _shape(pii: str, present: pd.Series, name: str) -> dict[str, Any] | None:
    """The generated shape of a ``secret`` (its format) or ``username`` column (unique or
    not); None for other kinds. Holds no source value."""
    if pii == "secret":
        return secret_shape(list(present.unique()), name=name)
    if pii == "username":
        return {"format": "username", "unique": bool(len(present) > 1 and present.is_unique)}
    return None


def _maker(pii: str, fake: Any) -> Any:
    simple = {
        "name": fake.name,
        "first_name": fake.first_name,
        "last_name": fake.last_name,
        "email": fake.email,
        "phone": fake.phone_number,
        "address": lambda: fake.address().replace("\n", ", "),
        "street": fake.street_address,
        "city": fake.city,
        "postcode": fake.postcode,
        "country": fake.country,
        "company": fake.company,
        "url": fake.url,
    }
    if pii in simple:
        fn = simple[pii]
        return lambda length: fn()

    def text(length: int) -> str:
        if length < 5:
            return fake.lexify("?" * max(length, 1))
        return str(fake.text(max_nb_chars=max(length, 5))).replace("\n", " ")

    return text


def _email_from(name: str, fake: Any) -> str:
    parts = [p for p in "".join(c if c.isalnum() else " " for c in name.lower()).split() if p]
    if not parts:
        return str(fake.email())
    local = ".".join(parts[:2]) if len(parts) > 1 else parts[0]
    return f"{local}@{fake.free_email_domain()}"


def _uniquify(values: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for value in values:
        count = seen.get(value, 0)
        seen[value] = count + 1
        out.append(value if count == 0 else f"{value} {count + 1}")
    taken = set()
    final = []
    for value in out:  # a suffixed value may collide with an original: bump again
        v, k = value, 1
        while v in taken:
            k += 1
            v = f"{value}-{k}"
        taken.add(v)
        final.append(v)
    return final
