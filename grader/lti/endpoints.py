"""Where a platform-signed claim may send us with a platform's bearer token: the AGS line item
(scores) and NRPS pages (`Link: rel=next`). The id_token is signed by the platform, but a URL in
it is data: a bug or a hostile admin of one course must not make the server POST a bearer token
(or anything) to an internal service. So such a URL must be https to a host of the registration:
the host (and port) of its issuer, login, token or JWKS URL, or one the admin listed
(`grader lti add --service-host`). Plain http passes only to a loopback host, and only for a
registration flagged `--allow-http-loopback` (a local test LMS). Checked at launch and again
before each send.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from grader.service.db import LtiRegistration

DEFAULT_PORTS = {"https": 443, "http": 80}


def host_port(url: str) -> str | None:
    """`host:port` of an absolute http(s) URL (the default port written out), lower-case; None
    for anything else, a URL with user info or an unreadable port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{parts.hostname.lower()}:{port or DEFAULT_PORTS[parts.scheme]}"


def platform_hosts(registration: LtiRegistration) -> set[str]:
    """The hosts a registration's service URLs may name."""
    urls = [registration.issuer, registration.auth_login_url, registration.auth_token_url]
    found = {host_port(url) for url in [*urls, registration.jwks_url]}
    listed = {h.lower() if ":" in h else f"{h.lower()}:443" for h in registration.service_hosts}
    return {h for h in found if h} | listed


def _loopback(parts: SplitResult) -> bool:
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(registration: LtiRegistration, url: str) -> str | None:
    """Why the server must not send a token to `url` for `registration`; None when it may."""
    where = host_port(url)
    if where is None:
        return f"{url!r} is not an absolute http(s) URL"
    parts = urlsplit(url)
    if parts.scheme != "https" and not (registration.allow_http_loopback and _loopback(parts)):
        return f"{url!r} is not https"
    if where not in platform_hosts(registration):
        return (
            f"{where} is not a host of registration {registration.name!r} (its URLs' hosts, or "
            "`grader lti add --service-host`)"
        )
    return None
