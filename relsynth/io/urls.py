"""The one redaction of database URLs and passwords (pure: imports no SQLAlchemy).

Every message, log line, header, summary and error that relsynth shows passes a
URL (or text that may hold one) through :func:`redact`. It works on the text, not
on a parsed URL, because the URLs that leak are exactly those that do not parse
the way their writer meant:

* ``scheme://user:pa/ss@host/db`` (a ``/`` in the password),
* ``scheme://user:p@ss@host/db`` (an unencoded ``@``: everything up to the *last*
  ``@`` of the word is the user part),
* ``user:secret@host/db`` (no scheme),
* ``...?password=secret`` and ``password=secret`` in a driver's connection string.

On top of the rules, :func:`redact` masks every literal ``secret`` it is given;
the CLI registers the password candidates of the URLs on its command line
(:func:`url_secrets`) and passes its whole output through the same function.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote

__all__ = ["MASK", "folder_writable", "redact", "url_secrets"]

MASK = "***"

# scheme://<userinfo>@...   userinfo runs to the LAST "@" of the word (no whitespace/quotes)
_SCHEME_URL = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/@'\"]*):(?P<pw>[^\s'\"]*)@"
)
# user:password@host without a scheme (not "scheme://", not "C:\")
_BARE_USERINFO = re.compile(
    r"(?<![\w/.:@])(?P<user>[\w.\-~%!$&+,;=]+):(?!//)(?P<pw>[^\s'\"]+)@(?=[\w\[])"
)
# password=... in a query string or a libpq-style connection string
_PASSWORD_ARG = re.compile(r"(?i)(?P<key>\bpass(?:word|wd)?\s*=\s*)(?P<pw>'[^']*'|[^\s&;'\"]+)")
# the minimum length of a literal secret masked wherever it appears (shorter ones
# would mask ordinary text; the structural rules above still catch them in URLs)
_MIN_LITERAL = 4


def redact(value: object, secrets: Iterable[str] = ()) -> str:
    """``value`` as text with every password hidden as ``***``.

    ``value`` may be a string (a URL or any message holding URLs), a SQLAlchemy
    ``URL`` or ``Engine``, or a path. ``secrets`` are literal strings masked
    wherever they appear (at least 4 characters long).

    Examples
    --------
    >>> redact("postgresql://bob:s3cret@db.example/shop")
    'postgresql://bob:***@db.example/shop'
    >>> redact("postgresql://bob:pa/ss@w@rd@db/shop")
    'postgresql://bob:***@db/shop'
    >>> redact("could not parse bob:s3cret@db/shop")
    'could not parse bob:***@db/shop'
    >>> redact("mysql+pymysql://bob@db/shop?password=s3cret&charset=utf8mb4")
    'mysql+pymysql://bob@db/shop?password=***&charset=utf8mb4'
    >>> redact("sqlite:///tmp/x.db")
    'sqlite:///tmp/x.db'
    """
    text = _as_text(value)
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_LITERAL}, key=len)[::-1]:
        text = text.replace(secret, MASK)
    text = _SCHEME_URL.sub(lambda m: f"{m.group('head')}{m.group('user')}:{MASK}@", text)
    text = _BARE_USERINFO.sub(lambda m: f"{m.group('user')}:{MASK}@", text)
    return _PASSWORD_ARG.sub(lambda m: f"{m.group('key')}{MASK}", text)


def _as_text(value: object) -> str:
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # type: ignore[return-value]
    url = getattr(value, "url", None)  # a SQLAlchemy Engine
    if url is not None and callable(getattr(url, "render_as_string", None)):
        value = url
    render = getattr(value, "render_as_string", None)  # a SQLAlchemy URL
    if callable(render):
        return str(render(hide_password=True))
    return str(value)


def url_secrets(text: str) -> list[str]:
    """The password candidates of a URL written as ``text`` (raw and percent-decoded).

    Used to mask a password wherever it may be echoed (a driver's message, a
    library's repr), including passwords that the structural rules cannot find.

    >>> url_secrets("postgresql://bob:pa/ss@w@rd@db/shop")
    ['pa/ss@w@rd', 'w', 'rd', 'pa/ss']
    >>> url_secrets("sqlite:///x.db")
    []
    """
    found: list[str] = []
    rest = text.split("://", 1)[1] if "://" in text else text
    if "@" in rest:
        userinfo = rest.rsplit("@", 1)[0]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            found.append(password)
            # an unencoded "@": a parser taking the first "@" shows the rest as the host
            found.extend(part for part in password.split("@")[1:] if part)
            first_at = rest.split("@", 1)[0]  # what a parser taking the first "@" sees
            if ":" in first_at:
                found.append(first_at.split(":", 1)[1])
    found.extend(m.group("pw").strip("'") for m in _PASSWORD_ARG.finditer(text))
    out: list[str] = []
    for secret in found:
        for form in (secret, unquote(secret)):
            if form and form not in out:
                out.append(form)
    return out


def folder_writable(folder: os.PathLike[str] | str) -> bool:
    """Whether a file can be created in ``folder`` (tried: ``os.access`` says yes to root
    on read-only mounts)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".relsynth-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True
