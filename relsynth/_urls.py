"""Database URL helpers that never reveal a password (pure: no SQLAlchemy)."""

from __future__ import annotations

import os
import re

__all__ = ["redact_url"]

# scheme://user:password@host...  -> scheme://user:***@host...
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*):(?P<pw>[^@/]*)@")


def redact_url(url: object) -> str:
    """Return ``url`` as text with any password replaced by ``***``.

    Examples
    --------
    >>> redact_url("postgresql://bob:s3cret@db.example/shop")
    'postgresql://bob:***@db.example/shop'
    >>> redact_url("sqlite:///tmp/x.db")
    'sqlite:///tmp/x.db'
    """
    if isinstance(url, os.PathLike):
        return os.fspath(url)  # type: ignore[return-value]
    render = getattr(url, "render_as_string", None)  # a sqlalchemy URL object
    if callable(render):
        return str(render(hide_password=True))
    engine_url = getattr(url, "url", None)  # a sqlalchemy Engine
    if engine_url is not None and callable(getattr(engine_url, "render_as_string", None)):
        return str(engine_url.render_as_string(hide_password=True))
    return _PASSWORD.sub(lambda m: f"{m.group('head')}:***@", str(url))
