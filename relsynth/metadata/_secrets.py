"""Secrets and account identifiers: recognised by name and by value shape (pure).

A column that holds password hashes, digests, API tokens or account names must never
be copied into a synthetic database: the values identify a person or open an account.
:func:`detect_secret` decides, from a column's name and its distinct non-NULL string
values, whether it is such a column:

* ``("secret", format)`` for hex digests of a fixed length (MD5 32, SHA-1 40,
  SHA-224 56, SHA-256 64, SHA-384 96, SHA-512 128 characters), padded base64 digests
  (24, 28, 44, 64, 88 characters), bcrypt (``$2a$``/``$2b$``/``$2y$``), argon2
  (``$argon2id$v=19$...``), PBKDF2 (Django ``pbkdf2_sha256$...``, passlib
  ``$pbkdf2-sha256$...``), crypt (``$1$`` MD5, ``$5$`` SHA-256, ``$6$`` SHA-512),
  API tokens with a known prefix (``sk_live_``, ``ghp_``, ``xoxb-``, ``AKIA``...),
  and long high-entropy strings in a column whose name says secret (``password``,
  ``token``, ``api_key``, ``salt``...);
* ``("username", None)`` for account names: a name such as ``username``, ``login``,
  ``user_name``, ``handle``, ``nick`` with short identifier-like values.

:func:`secret_format` describes the shape of the values as a small JSON-able dict
(never a source value) from which :mod:`relsynth.models.pii` generates new values of
the same shape. UUIDs written without dashes (32 hex characters with the UUID version
and variant digits) are identifiers, not digests, and are left alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

__all__ = [
    "SECRET_NAME_TOKENS",
    "USERNAME_NAMES",
    "detect_secret",
    "secret_format",
    "secret_shape",
]

#: Share of the distinct values that must have one format.
_SHARE: Final = 0.9

#: Name tokens that say a column holds a secret.
SECRET_NAME_TOKENS: Final = frozenset(
    {"password", "passwd", "pwd", "pass", "passhash", "passwordhash", "secret", "token",
     "apikey", "api", "salt", "hash", "digest", "otp", "nonce", "credential", "credentials",
     "privatekey", "accesskey", "sessionkey", "auth"}
)  # fmt: skip
#: Column names (tokens joined) that say a column holds account names.
USERNAME_NAMES: Final = frozenset(
    {"username", "login", "loginname", "userlogin", "handle", "nick", "nickname", "screenname",
     "accountname", "uname", "userhandle", "loginid", "usernick", "displayhandle"}
)  # fmt: skip

_HEX_LENGTHS: Final = frozenset({32, 40, 56, 64, 96, 128})
_B64_LENGTHS: Final = frozenset({24, 28, 44, 64, 88})
_HEX_RE = re.compile(r"^(?:[0-9a-f]+|[0-9A-F]+)$")
_UUID32_RE = re.compile(r"^[0-9a-f]{12}[1-8][0-9a-f]{3}[89ab][0-9a-f]{15}$", re.I)
_B64_RE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_BCRYPT_RE = re.compile(r"^(\$2[abxy]?\$)(\d{2})\$[./A-Za-z0-9]{53}$")
_ARGON2_RE = re.compile(
    r"^\$(argon2(?:id|i|d))\$(v=\d+\$m=\d+,t=\d+,p=\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$"
)
_DJANGO_PBKDF2_RE = re.compile(r"^(pbkdf2_sha(?:1|256|512))\$(\d+)\$([^$]+)\$([A-Za-z0-9+/=]+)$")
_PASSLIB_PBKDF2_RE = re.compile(
    r"^\$(pbkdf2(?:-sha(?:1|256|512))?)\$(\d+)\$([./A-Za-z0-9]+)\$([./A-Za-z0-9]+)$"
)
_CRYPT_RE = re.compile(r"^\$([156])\$(rounds=\d+\$)?([./A-Za-z0-9]{1,16})\$([./A-Za-z0-9]{22,86})$")
_TOKEN_PREFIXES: Final = (
    "sk_live_", "sk_test_", "pk_live_", "pk_test_", "rk_live_", "rk_test_", "whsec_",
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-",
    "xoxa-", "xoxs-", "sk-", "AKIA", "ASIA", "AIza", "SG.", "shpat_", "npm_",
)  # fmt: skip
_TOKEN_BODY_RE = re.compile(r"^[A-Za-z0-9_\-.=+/]+$")
_HANDLE_RE = re.compile(r"^@?[^\W_][\w.-]{1,31}$")  # any script: frédérique.c


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return [t for t in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if t]


def _name_says_secret(name: str) -> bool:
    tokens = _tokens(name)
    joined = "".join(tokens)
    if set(tokens) & SECRET_NAME_TOKENS:
        return "api" not in tokens or bool({"key", "secret", "token"} & set(tokens))
    return any(joined.endswith(t) for t in ("password", "passwd", "apikey", "secret", "token"))


def _name_says_username(name: str) -> bool:
    tokens = _tokens(name)
    joined = "".join(tokens)
    return joined in USERNAME_NAMES or (
        len(tokens) >= 2 and "".join(tokens[-2:]) in {"username", "loginname", "nickname"}
    )


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _mostly(values: Sequence[str], test: Any) -> bool:
    return bool(values) and sum(1 for v in values if test(v)) >= _SHARE * len(values)


def _hex_format(values: Sequence[str]) -> dict[str, Any] | None:
    lengths = {len(v) for v in values}
    if len(lengths) != 1 or not lengths <= _HEX_LENGTHS:
        return None
    if not all(_HEX_RE.match(v) for v in values):
        return None
    if lengths == {32} and all(_UUID32_RE.match(v) for v in values):
        return None  # UUIDs without dashes: identifiers
    if sum(any(c.isalpha() for c in v) for v in values) < _SHARE * len(values):
        return None  # decimal numbers of that length
    upper = any(c.isupper() for v in values for c in v)
    return {"format": "hex", "length": lengths.pop(), "case": "upper" if upper else "lower"}


def _base64_format(values: Sequence[str]) -> dict[str, Any] | None:
    lengths = {len(v) for v in values}
    if len(lengths) != 1 or not lengths <= _B64_LENGTHS:
        return None
    if not all(_B64_RE.match(v) for v in values):
        return None
    pads = {len(v) - len(v.rstrip("=")) for v in values}
    mixed = sum(
        any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)
        for v in values
    )
    if len(pads) != 1 or (pads == {0} and lengths != {64}) or mixed < _SHARE * len(values):
        return None
    urlsafe = any(c in "-_" for v in values for c in v)
    return {"format": "base64", "length": lengths.pop(), "padding": pads.pop(), "urlsafe": urlsafe}


def _most_common(items: Sequence[Any]) -> Any:
    return Counter(items).most_common(1)[0][0]


def _hash_format(values: Sequence[str]) -> dict[str, Any] | None:  # noqa: PLR0911
    """Password-hash formats: bcrypt, argon2, PBKDF2, crypt."""
    matches = [m for m in map(_BCRYPT_RE.match, values) if m]
    if len(matches) >= _SHARE * len(values):
        return {
            "format": "bcrypt",
            "prefix": _most_common([m.group(1) for m in matches]),
            "cost": int(_most_common([m.group(2) for m in matches])),
        }
    matches = [m for m in map(_ARGON2_RE.match, values) if m]
    if len(matches) >= _SHARE * len(values):
        return {
            "format": "argon2",
            "variant": _most_common([m.group(1) for m in matches]),
            "params": _most_common([m.group(2) for m in matches]),
            "salt_length": _most_common([len(m.group(3)) for m in matches]),
            "hash_length": _most_common([len(m.group(4)) for m in matches]),
        }
    for style, pattern in (("django", _DJANGO_PBKDF2_RE), ("passlib", _PASSLIB_PBKDF2_RE)):
        matches = [m for m in map(pattern.match, values) if m]
        if len(matches) >= _SHARE * len(values):
            return {
                "format": "pbkdf2",
                "style": style,
                "algorithm": _most_common([m.group(1) for m in matches]),
                "iterations": int(_most_common([m.group(2) for m in matches])),
                "salt_length": _most_common([len(m.group(3)) for m in matches]),
                "hash_length": _most_common([len(m.group(4)) for m in matches]),
            }
    matches = [m for m in map(_CRYPT_RE.match, values) if m]
    if len(matches) >= _SHARE * len(values):
        return {
            "format": "crypt",
            "id": _most_common([m.group(1) for m in matches]),
            "rounds": _most_common([m.group(2) or "" for m in matches]),
            "salt_length": _most_common([len(m.group(3)) for m in matches]),
            "hash_length": _most_common([len(m.group(4)) for m in matches]),
        }
    return None


def _token_format(values: Sequence[str], *, named: bool) -> dict[str, Any] | None:
    """API tokens: a known prefix, or (in a column named like a secret) high entropy."""
    for prefix in _TOKEN_PREFIXES:
        if _mostly(values, lambda v, p=prefix: v.startswith(p) and len(v) >= len(p) + 12):
            bodies = [v[len(prefix) :] for v in values if v.startswith(prefix)]
            return {"format": "token", "prefix": prefix, **_alphabet(bodies)}
    if not named:
        return None
    if _mostly(
        values,
        lambda v: len(v) >= 16 and bool(_TOKEN_BODY_RE.match(v)) and _entropy(v) >= 3.5,
    ):
        return {"format": "token", "prefix": "", **_alphabet(values)}
    return None


def _alphabet(bodies: Sequence[str]) -> dict[str, Any]:
    """Lengths and character classes of token bodies (no characters are kept)."""
    chars = set("".join(bodies))
    classes = "".join(
        c
        for c, ok in (
            ("l", any(ch.islower() for ch in chars)),
            ("u", any(ch.isupper() for ch in chars)),
            ("d", any(ch.isdigit() for ch in chars)),
        )
        if ok
    )
    symbols = "".join(sorted(chars & set("_-.=+/")))
    lengths = sorted(len(b) for b in bodies)
    return {
        "length": lengths[len(lengths) // 2] if lengths else 32,
        "classes": classes or "ld",
        "symbols": symbols,
    }


def secret_format(values: Sequence[str], *, name: str = "") -> dict[str, Any] | None:
    """The shape of secret values (see the module docstring), or None if none fits.

    Examples
    --------
    >>> secret_format(["5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"])
    {'format': 'hex', 'length': 40, 'case': 'lower'}
    >>> secret_format(["$2b$12$" + "a" * 53])
    {'format': 'bcrypt', 'prefix': '$2b$', 'cost': 12}
    """
    values = [v for v in values if v]
    if not values:
        return None
    return (
        _hash_format(values)
        or _hex_format(values)
        or _base64_format(values)
        or _token_format(values, named=_name_says_secret(name))
    )


def detect_secret(name: str, distinct: Sequence[str]) -> tuple[str, dict[str, Any] | None] | None:
    """``("secret", format)``, ``("username", None)`` or None for a string column.

    ``distinct`` holds the column's distinct non-NULL values as strings (it may be
    empty: the name then decides alone).

    Examples
    --------
    >>> detect_secret("password", ["5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"])[0]
    'secret'
    >>> detect_secret("username", ["jdoe", "asmith", "mike_77"])
    ('username', None)
    >>> detect_secret("city", ["Paris", "Lyon"]) is None
    True
    """
    fmt = secret_format(distinct, name=name)
    if fmt is not None:
        return "secret", fmt
    if _name_says_secret(name) and not _looks_like_words(distinct):
        return "secret", None
    if _name_says_username(name) and (not distinct or _mostly(distinct, _is_handle)):
        return "username", None
    return None


def _is_handle(value: str) -> bool:
    return bool(_HANDLE_RE.match(value)) and any(c.isalpha() for c in value)


def _looks_like_words(values: Sequence[str]) -> bool:
    """Mostly values with spaces: a label or a sentence, not a secret."""
    spaced = sum(1 for v in values if " " in v.strip())
    return bool(values) and spaced >= 0.5 * len(values)


def secret_shape(values: Sequence[str], *, name: str = "") -> dict[str, Any]:
    """The shape to generate for a secret column: :func:`secret_format`, or an opaque
    string's lengths and character classes (``{"format": "opaque", ...}``)."""
    fmt = secret_format(values, name=name)
    if fmt is not None:
        return fmt
    return {"format": "opaque", "prefix": "", **_alphabet([v for v in values if v])}
