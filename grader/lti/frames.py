"""How the tool's pages are answered inside an LMS's iframe: the cookies that come back there,
and the headers that let the platform, and only it, frame them (CSP `frame-ancestors`; never
`X-Frame-Options`, which cannot name an origin)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse, Response

#: Who may frame a page that only says why not: anyone (it has nothing to click), so the
#: reason shows inside the LMS's iframe even when we cannot tell which LMS that is.
ANYONE = ["*"]


def set_cookie(response: Response, name: str, value: str, max_age: int, path: str) -> None:
    """A cookie that comes back inside a cross-site iframe: `SameSite=None; Secure` (browsers
    send no other kind there) and `Partitioned` (CHIPS: kept per top-level site, so browsers that
    block third-party cookies still keep it). Written by hand: Python's cookie module knows
    `Partitioned` only from 3.14."""
    attributes = f"Max-Age={max_age}; Path={path}; Secure; HttpOnly; SameSite=None; Partitioned"
    response.headers.append("set-cookie", f"{name}={value}; {attributes}")


def framed(
    content: str,
    origins: list[str],
    status: int = 200,
    *,
    form_to: str | None = None,
    script_nonce: str | None = None,
) -> HTMLResponse:
    """A page the platform (and only it) may show in its iframe; nothing loads from elsewhere.
    `form_to`: one more origin its forms may post to (the deep-link return); `script_nonce`: the
    one inline script it may run (the return's auto-post)."""
    ancestors = " ".join(["'self'", *origins])
    actions = " ".join(["'self'", *([form_to] if form_to else [])])
    script = f"script-src 'nonce-{script_nonce}'; " if script_nonce else ""
    policy = (
        f"default-src 'none'; {script}style-src 'unsafe-inline'; img-src data:; "
        f"base-uri 'none'; form-action {actions}; frame-ancestors {ancestors}"
    )
    headers = {"content-security-policy": policy, "referrer-policy": "no-referrer"}
    return HTMLResponse(content, status_code=status, headers=headers)


#: A host name or IPv4 address as a CSP source may name it: nothing that could end a directive.
HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")


def origin(url: str | None) -> str | None:
    """The origin (`scheme://host[:port]`) of an http(s) URL, rebuilt from its parsed parts so
    no other text of the URL reaches a header; None for anything else."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not HOST.fullmatch(host) or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
