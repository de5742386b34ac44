"""A platform's signing keys, from its JWKS URL: fetched with httpx, kept for `ttl_s`, and fetched
once more when a token names a key id the cached set lacks (the platform rotated its keys). A key
id still unknown after that refetch is refused; so is a JWKS that cannot be fetched or read.

Those refetches are at most one per `REFETCH_EVERY_S` per platform: anyone can start a login, so
a stream of launches naming made-up key ids must not turn into a stream of requests to the
platform. A real rotation is one refetch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from grader.lti.errors import LaunchRefused

#: Seconds between two refetches of one platform's JWKS for an unknown key id.
REFETCH_EVERY_S = 10.0
#: Seconds a failed fetch is remembered (and answered from memory) at first; doubled at each
#: failure in a row, up to `FAILURE_MAX_S`.
FAILURE_FIRST_S = 5.0
FAILURE_MAX_S = 300.0


@dataclass
class _Cached:
    fetched_at: float
    keys: dict[str, PyJWK] = field(default_factory=dict)
    refetched_at: float = float("-inf")
    #: Wall-clock time of the fetch, compared with a registration's `keys_flushed_at`.
    fetched_wall: float = field(default_factory=time.time)


@dataclass
class _Failed:
    why: str
    until: float
    wait_s: float


class PlatformKeys:
    """The JWKS cache of every platform, shared by the server's request threads. Each URL has
    its own lock, so a slow platform holds up only its own launches; a failed fetch is answered
    from memory until its backoff ends, so a down platform is not fetched on every launch."""

    def __init__(self, ttl_s: float, transport: httpx.BaseTransport | None = None) -> None:
        self.ttl_s = ttl_s
        self._client = httpx.Client(timeout=10.0, transport=transport, trust_env=False)
        self._cache: dict[str, _Cached] = {}
        self._failed: dict[str, _Failed] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key(self, jwks_url: str, kid: str | None, flushed_at: float | None = None) -> PyJWK:
        """The key `kid` of the platform at `jwks_url`; `LaunchRefused` (401) if it has none.
        `flushed_at`: a copy fetched before that wall-clock time is fetched again."""
        if not kid:
            raise LaunchRefused(401, "id_token: its header names no key id (kid)")
        with self._lock(jwks_url):
            cached = self._current(jwks_url, kid, flushed_at)
        found = cached.keys.get(kid)
        if found is None:
            raise LaunchRefused(401, f"id_token: key {kid!r} is not in the platform's JWKS")
        return found

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    def _current(self, url: str, kid: str, flushed_at: float | None) -> _Cached:
        cached, now = self._cache.get(url), time.monotonic()
        stale = cached is None or now - cached.fetched_at >= self.ttl_s
        if cached is not None and flushed_at is not None and cached.fetched_wall < flushed_at:
            stale = True
        if stale:
            self._cache[url] = _Cached(now, self._fetch(url))
        elif cached is not None and kid not in cached.keys:
            if now - cached.refetched_at >= REFETCH_EVERY_S:
                self._cache[url] = _Cached(now, self._fetch(url), now)
        return self._cache[url]

    def _fetch(self, url: str) -> dict[str, PyJWK]:
        failed = self._failed.get(url)
        if failed is not None and time.monotonic() < failed.until:
            raise LaunchRefused(401, failed.why)
        try:
            response = self._client.get(url)
            response.raise_for_status()
            body: Any = response.json()
            keyset = PyJWKSet.from_dict(body)
        except (httpx.HTTPError, ValueError, PyJWKError, PyJWKSetError) as exc:
            wait = min(FAILURE_MAX_S, failed.wait_s * 2) if failed else FAILURE_FIRST_S
            why = f"cannot read the platform's JWKS at {url}: {exc}"
            self._failed[url] = _Failed(why, time.monotonic() + wait, wait)
            raise LaunchRefused(401, why) from exc
        self._failed.pop(url, None)
        return {key.key_id: key for key in keyset.keys if key.key_id}

    def close(self) -> None:
        self._client.close()
