"""New secrets and account names in the source's shape (the ``secret``/``username`` pii).

The shape comes from :func:`relsynth.metadata._secrets.secret_shape`: a small dict that
holds a format and its parameters, never a source value. Generation draws from the
column's seeded ``Faker`` instance (its ``random.Random``), so a seed gives the same
values and no global random state is touched:

* ``hex``: the digest (MD5, SHA-1, SHA-2 by length) of 32 random bytes, in the source's case;
* ``base64``: a digest of random bytes, base64 (URL-safe when the source is), cut to length;
* ``bcrypt``/``argon2``/``pbkdf2``/``crypt``: the source's prefix, cost or parameters,
  with a random salt and hash of the source's lengths in that format's alphabet;
* ``token``/``opaque``: the source's prefix and a random body of its length and
  character classes;
* ``username``: ``Faker.user_name()``; unique columns get a numeric suffix on repeats.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
from collections.abc import Mapping
from typing import Any

__all__ = ["make_secret", "unique_handles"]

_HEX_ALGORITHMS = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_CRYPT_ALPHABET = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
_B64_ALPHABET = string.ascii_letters + string.digits + "+/"


def _chars(rnd: random.Random, alphabet: str, n: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(max(n, 1)))


def _digest(rnd: random.Random, length: int) -> bytes:
    algorithm = _HEX_ALGORITHMS.get(length, "sha512")
    return hashlib.new(algorithm, rnd.getrandbits(256).to_bytes(32, "little")).digest()


def make_secret(shape: Mapping[str, Any], rnd: random.Random, length: int = 32) -> str:  # noqa: PLR0911
    """One new value of ``shape`` (``length`` is used by shapes without their own)."""
    fmt = shape.get("format")
    if fmt == "hex":
        n = int(shape["length"])
        text = _digest(rnd, n).hex()
        while len(text) < n:
            text += _digest(rnd, n).hex()
        text = text[:n]
        return text.upper() if shape.get("case") == "upper" else text
    if fmt == "base64":
        n, pad = int(shape["length"]), int(shape.get("padding", 0))
        raw = _digest(rnd, 128) + _digest(rnd, 128)
        encode = base64.urlsafe_b64encode if shape.get("urlsafe") else base64.b64encode
        body = encode(raw).decode("ascii").rstrip("=")[: n - pad]
        return body + "=" * pad
    if fmt == "bcrypt":
        return f"{shape['prefix']}{int(shape['cost']):02d}${_chars(rnd, _CRYPT_ALPHABET, 53)}"
    if fmt == "argon2":
        salt = _chars(rnd, _B64_ALPHABET[:-2] + "+/", int(shape["salt_length"]))
        hashed = _chars(rnd, _B64_ALPHABET[:-2] + "+/", int(shape["hash_length"]))
        return f"${shape['variant']}${shape['params']}${salt}${hashed}"
    if fmt == "pbkdf2":
        head = f"{shape['algorithm']}${shape['iterations']}"
        alphabet = _B64_ALPHABET if shape.get("style") == "django" else _CRYPT_ALPHABET
        salt = _chars(rnd, string.ascii_letters + string.digits, int(shape["salt_length"]))
        hashed = _chars(rnd, alphabet, int(shape["hash_length"]))
        if shape.get("style") == "django":
            return f"{head}${salt}${hashed}"
        return f"${head}${salt}${hashed}"
    if fmt == "crypt":
        salt = _chars(rnd, _CRYPT_ALPHABET, int(shape["salt_length"]))
        hashed = _chars(rnd, _CRYPT_ALPHABET, int(shape["hash_length"]))
        return f"${shape['id']}${shape.get('rounds') or ''}{salt}${hashed}"
    return _token(shape, rnd, length)


def _token(shape: Mapping[str, Any], rnd: random.Random, length: int) -> str:
    classes = str(shape.get("classes") or "ld")
    alphabet = (
        (string.ascii_lowercase if "l" in classes else "")
        + (string.ascii_uppercase if "u" in classes else "")
        + (string.digits if "d" in classes else "")
    )
    symbols = str(shape.get("symbols") or "").replace("=", "")
    prefix = str(shape.get("prefix") or "")
    n = int(shape["length"]) if shape.get("format") == "token" else length - len(prefix)
    body = _chars(rnd, alphabet or string.ascii_letters + string.digits, n)
    if symbols and n > 8:  # a few of the source's separators, never first or last
        chars = list(body)
        for _ in range(max(1, n // 16)):
            chars[rnd.randrange(1, n - 1)] = rnd.choice(symbols)
        body = "".join(chars)
    return prefix + body


def unique_handles(values: list[str]) -> list[str]:
    """Make account names unique: a repeat gets the smallest free number appended."""
    taken: set[str] = set()
    out = []
    for value in values:
        v, k = value, 1
        while v in taken:
            k += 1
            v = f"{value}{k}"
        taken.add(v)
        out.append(v)
    return out
