"""One redaction of URLs and passwords (relsynth.io.urls), for every leak class."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from relsynth.io.urls import redact, url_secrets

SECRET = "Kx7/Vq9@Wm4-secret"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("postgresql+psycopg://bob:s3cret-pw@db/shop", "s3cret-pw"),  # ordinary
        ("postgresql+psycopg://bob:pa/ss-word@db/shop", "pa/ss-word"),  # "/" in the password
        ("mysql+pymysql://bob:pa@ss-word@db/shop", "ss-word"),  # unencoded "@"
        ("bob:s3cret-pw@db.example/shop", "s3cret-pw"),  # no scheme
        ("mysql+pymysql://bob@db/shop?password=s3cret-pw&charset=utf8", "s3cret-pw"),
        ("host=db user=bob password=s3cret-pw dbname=shop", "s3cret-pw"),  # libpq string
        ("could not reach 'postgresql://bob:s3cret-pw@db/shop' (timeout)", "s3cret-pw"),
    ],
)
def test_every_leak_class_is_hidden(text: str, hidden: str) -> None:
    shown = redact(text)
    assert hidden not in shown
    assert "***" in shown


def test_text_without_passwords_is_unchanged() -> None:
    for text in (
        "sqlite:///tmp/x.db",
        "postgresql+psycopg://bob@db/shop",
        "orders(customer_id) -> customers(id) has 3 row(s) with no parent: 12:30, 13:00",
        "mail alice@example.org",
    ):
        assert redact(text) == text


def test_url_objects_and_engines_are_rendered_without_password() -> None:
    url = sa.make_url("postgresql+psycopg://bob:s3cret-pw@db/shop")
    assert "s3cret-pw" not in redact(url)
    engine = sa.create_engine("sqlite://")
    assert redact(engine) == "sqlite://"
    engine.dispose()


def test_literal_secrets_are_masked_anywhere() -> None:
    message = f"driver said: authentication with {SECRET} failed"
    assert SECRET not in redact(message, [SECRET])
    # shorter than 4 characters: not masked as a literal (it would mask ordinary text)
    assert redact("a b c", ["b"]) == "a b c"


def test_url_secrets_cover_what_a_parser_might_echo() -> None:
    found = url_secrets(f"postgresql://bob:{SECRET}@db/shop")
    assert SECRET in found
    assert "Wm4-secret" in found  # shown as part of the host by a first-"@" parser
    assert url_secrets("postgresql://bob@db/shop?password=abc%2Fdef") == ["abc%2Fdef", "abc/def"]
    assert url_secrets("sqlite:///x.db") == []


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/x",  # "/" and an unencoded "@"
        "postgresql+psycopg://bob:Kx7/Vq9-secret@127.0.0.1:1/x",  # "/"
        "mysql+pymysql://bob@127.0.0.1:1/x?password=Kx7-Vq9-secret",  # query argument
        "bob:Kx7-Vq9-secret@127.0.0.1:1/x",  # no scheme
    ],
)
@pytest.mark.parametrize("call", ["reflect", "read_tables", "write_tables", "check"])
def test_exceptions_and_log_records_hold_no_password(url: str, call: str, caplog) -> None:
    import relsynth

    meta = relsynth.Metadata({}, ())
    calls = {
        "reflect": lambda: relsynth.reflect(url),
        "read_tables": lambda: relsynth.read_tables(url, meta),
        "write_tables": lambda: relsynth.write_tables(url, meta, {}),
        "check": lambda: relsynth.check_database(url),
    }
    with caplog.at_level(logging.DEBUG), pytest.raises(relsynth.RelsynthError) as info:
        calls[call]()
    shown = f"{info.value} {info.value!r} {info.value.__cause__ or ''} {caplog.text}"
    for piece in ("Kx7", "Vq9", "Wm4-secret"):
        assert piece not in shown
    assert "\n" not in str(info.value)
