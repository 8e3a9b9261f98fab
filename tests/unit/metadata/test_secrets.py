"""Secrets and account names: detected by value shape and by name, overridable."""

from __future__ import annotations

import base64
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from relsynth import Metadata
from relsynth.metadata._secrets import detect_secret, secret_format, secret_shape
from relsynth.metadata.infer import infer
from relsynth.models.pii import TextColumnModel

WORDS = [f"user{i} secret value {i * 7919}" for i in range(30)]


def _hex(algorithm: str, upper: bool = False) -> list[str]:
    out = [hashlib.new(algorithm, w.encode()).hexdigest() for w in WORDS]
    return [v.upper() for v in out] if upper else out


def _b64(algorithm: str) -> list[str]:
    return [base64.b64encode(hashlib.new(algorithm, w.encode()).digest()).decode() for w in WORDS]


BCRYPT = [
    "$2b$12$" + "".join("./ABCDEFGHabcdefgh0123456789"[(i * 7 + j) % 28] for j in range(53))
    for i in range(10)
]
ARGON2 = [
    f"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ{i:04d}$"
    f"{base64.b64encode(hashlib.sha256(str(i).encode()).digest()).decode().rstrip('=')}"
    for i in range(10)
]
DJANGO = [
    f"pbkdf2_sha256$260000$salt{i:018d}$"
    f"{base64.b64encode(hashlib.sha256(str(i).encode()).digest()).decode()}"
    for i in range(10)
]
PASSLIB = [f"$pbkdf2-sha256$29000$N2bs{i:012d}${'ab./' * 10}{i:03d}" for i in range(10)]
CRYPT = {
    "1": [f"$1$salt{i:04d}${'aB3./x' * 3}abcd" for i in range(10)],
    "5": [f"$5$rounds=5000$saltsalt{i:04d}${'aB3./x' * 7}a" for i in range(10)],
    "6": [f"$6$saltsalt{i:08d}${'aB3./x' * 14}ab" for i in range(10)],
}


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [("md5", 32), ("sha1", 40), ("sha224", 56), ("sha256", 64), ("sha384", 96), ("sha512", 128)],
)
def test_hex_digests_of_every_length(algorithm: str, length: int) -> None:
    assert secret_format(_hex(algorithm)) == {"format": "hex", "length": length, "case": "lower"}
    assert secret_format(_hex(algorithm, upper=True))["case"] == "upper"
    assert detect_secret("anything", _hex(algorithm))[0] == "secret"


@pytest.mark.parametrize(("algorithm", "length"), [("md5", 24), ("sha1", 28), ("sha256", 44)])
def test_base64_digests(algorithm: str, length: int) -> None:
    fmt = secret_format(_b64(algorithm))
    assert fmt is not None and fmt["format"] == "base64" and fmt["length"] == length


def test_password_hash_formats() -> None:
    assert secret_format(BCRYPT) == {"format": "bcrypt", "prefix": "$2b$", "cost": 12}
    assert secret_format([v.replace("$2b$", "$2y$") for v in BCRYPT])["prefix"] == "$2y$"
    assert secret_format([v.replace("$2b$", "$2a$") for v in BCRYPT])["prefix"] == "$2a$"
    argon = secret_format(ARGON2)
    assert argon["format"] == "argon2" and argon["variant"] == "argon2id"
    assert argon["params"] == "v=19$m=65536,t=3,p=4"
    django = secret_format(DJANGO)
    assert django["format"] == "pbkdf2" and django["style"] == "django"
    assert django["algorithm"] == "pbkdf2_sha256" and django["iterations"] == 260000
    passlib = secret_format(PASSLIB)
    assert passlib["format"] == "pbkdf2" and passlib["style"] == "passlib"
    for ident, values in CRYPT.items():
        fmt = secret_format(values)
        assert fmt is not None and fmt["format"] == "crypt" and fmt["id"] == ident


def test_api_tokens_by_prefix_and_by_name() -> None:
    rng = np.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    bodies = ["".join(rng.choice(alphabet, 24)) for _ in range(20)]
    stripe = [f"sk_live_{b}" for b in bodies]
    fmt = secret_format(stripe)
    assert fmt["format"] == "token" and fmt["prefix"] == "sk_live_" and fmt["length"] == 24
    assert secret_format([f"ghp_{b}{b[:12]}" for b in bodies])["prefix"] == "ghp_"
    # high entropy alone is not enough without a secret name (could be an opaque code)
    assert secret_format(bodies) is None
    assert detect_secret("code", bodies) is None
    assert detect_secret("api_key", bodies) == ("secret", secret_format(bodies, name="api_key"))
    assert secret_format(bodies, name="session_token")["format"] == "token"


def test_names_alone_say_secret_but_not_for_labels() -> None:
    assert detect_secret("password", ["hunter2", "letmein123", "qwerty!"]) == ("secret", None)
    assert detect_secret("PasswordHash", []) == ("secret", None)
    assert detect_secret("password_policy", ["strict rules apply", "lax rules apply"]) is None


def test_usernames_by_name_and_identifier_values() -> None:
    handles = ["jdoe", "asmith", "mike_77", "@kate.w", "zed-9"]
    for name in ("username", "user_name", "UserName", "login", "handle", "nick", "nickname"):
        assert detect_secret(name, handles) == ("username", None), name
    assert detect_secret("user_name", ["John Smith", "Ann Lee", "Bo Li"]) is None
    assert detect_secret("city", ["Paris", "Lyon"]) is None
    assert detect_secret("username", []) == ("username", None)
    # account names in any script (Northwind's contacts as logins: frédériqueciteaux)
    accented = ["frédériqueciteaux", "martínsommer", "zoë.k", "李雷", "ana_trujillo"]
    assert detect_secret("username", accented) == ("username", None)
    assert detect_secret("login", ["_x", "-y", "a b"]) is None


def test_uuid_without_dashes_and_numbers_are_not_digests() -> None:
    import uuid

    uuids = [uuid.UUID(int=i * 2**90 + 7, version=4).hex for i in range(20)]
    assert secret_format(uuids) is None
    assert secret_format([str(10**31 + i) for i in range(20)]) is None


def _staff(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "staff_id": range(1, n + 1),
            "username": [f"user{i:02d}" for i in range(n)],
            "password": [hashlib.sha1(f"pw{i}".encode()).hexdigest() for i in range(n)],
            "token": [f"sk_live_{hashlib.md5(str(i).encode()).hexdigest()[:24]}" for i in range(n)],
            "role": ["clerk", "manager"] * (n // 2),
        }
    )


def test_infer_marks_secret_and_username_columns() -> None:
    meta = infer({"staff": _staff()})
    staff = meta["staff"]
    assert (staff.column("password").kind, staff.column("password").pii) == ("text", "secret")
    assert (staff.column("token").kind, staff.column("token").pii) == ("text", "secret")
    assert (staff.column("username").kind, staff.column("username").pii) == ("text", "username")
    assert staff.column("role").kind == "categorical"


def test_unique_hex_named_like_an_id_stays_an_id() -> None:
    frame = pd.DataFrame({"commit_id": _hex("sha1"), "x": range(30)})
    assert infer({"t": frame})["t"].column("commit_id").kind == "id"


def test_metadata_file_overrides_detection(tmp_path) -> None:
    meta = infer({"staff": _staff()})
    path = tmp_path / "meta.json"
    meta.save(path)
    data = json.loads(path.read_text())
    for col in data["tables"]["staff"]["columns"]:
        if col["name"] == "username":
            col["kind"], col["pii"] = "categorical", None
    path.write_text(json.dumps(data))
    loaded = Metadata.load(path)
    assert loaded["staff"].column("username").kind == "categorical"
    assert loaded["staff"].column("password").pii == "secret"


@pytest.mark.parametrize(
    "values",
    [
        _hex("sha1"),
        _hex("sha256", upper=True),
        _b64("sha1"),
        BCRYPT,
        ARGON2,
        DJANGO,
        PASSLIB,
        CRYPT["6"],
        CRYPT["5"],
        [f"sk_live_{v[:24]}" for v in _hex("md5")],
        ["hunter2", "letmein123", "qwerty!", "s3cr3t-pass"],
    ],
)
def test_generated_secrets_keep_the_shape_and_never_a_source_value(values) -> None:
    rng = np.random.default_rng(1)
    source = pd.Series(values, name="password")
    model = TextColumnModel("secret").fit(source, rng=rng)
    out = model.sample(200, rng=rng)
    assert not set(out) & set(values)
    shape = secret_shape(values, name="password")
    got = secret_shape(list(out), name="password")
    if shape["format"] == "opaque":  # plain passwords: lengths vary, letters and digits kept
        assert got["format"] == "opaque" and got["classes"] == shape["classes"]
    else:
        assert got == shape
    again = TextColumnModel.from_state_dict(json.loads(json.dumps(model.state_dict())))
    assert list(again.sample(20, rng=np.random.default_rng(5))) == list(
        model.sample(20, rng=np.random.default_rng(5))
    )
    assert not any(v in json.dumps(model.state_dict()) for v in values)


def test_generated_usernames_are_handles_and_unique_when_the_source_is() -> None:
    rng = np.random.default_rng(2)
    source = pd.Series([f"user{i:03d}" for i in range(300)], name="username")
    out = TextColumnModel("username").fit(source, rng=rng).sample(600, rng=rng)
    assert out.is_unique and not set(out) & set(source)
    assert detect_secret("username", list(out)) == ("username", None)
    repeated = pd.Series(["ann", "bob"] * 100, name="username")
    out = TextColumnModel("username").fit(repeated, rng=rng).sample(600, rng=rng)
    assert not set(out) & {"ann", "bob"}
