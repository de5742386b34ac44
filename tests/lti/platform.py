"""A fake LMS platform (LTI 1.3 Advantage), served for real on loopback: its own RSA keys and
JWKS, an OIDC authorisation endpoint answering the tool's login with a form_post id_token, a token
endpoint that verifies the tool's client assertion against the tool's JWKS, AGS line items and
scores (a gradebook that refuses a stale timestamp), NRPS with paging, key rotation, and
`Misbehave` switches for the failures a tool must refuse.

    platform = FakePlatform()          # then platform.start(); platform.url
    platform.next_launch = LaunchSpec(sub="u1", custom={"item": "..."})
    platform.misbehave = Misbehave(aud="someone-else")
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jwt.algorithms import RSAAlgorithm

from grader.lti import claims as c
from tests.lti.loopback import Served

CLIENT_ID = "tool-client-1"
DEPLOYMENT = "deployment-1"


@dataclass
class Misbehave:
    """What the next id_tokens get wrong on purpose (None: right)."""

    aud: str | list[str] | None = None
    azp: str | None = None
    exp_offset_s: float = 300.0
    iat_offset_s: float = 0.0
    kid: str | None = None
    nonce: str | None = None
    deployment: str | None = None
    message_type: str | None = None
    version: str | None = None
    #: Sign with a key the JWKS does not list (a forged token).
    foreign_key: bool = False
    #: The next N score posts answer 503.
    fail_scores: int = 0


@dataclass
class LaunchSpec:
    """Who launches what: the next id_token's user and link."""

    sub: str = "lms-user-1"
    roles: list[str] = field(
        default_factory=lambda: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    )
    custom: dict[str, str] = field(default_factory=dict)
    lineitem: str | None = None
    message_type: str = c.RESOURCE_LINK_REQUEST


@dataclass
class Key:
    kid: str
    private: rsa.RSAPrivateKey


def new_key() -> Key:
    return Key(secrets.token_hex(6), rsa.generate_private_key(public_exponent=65537, key_size=2048))


class FakePlatform:
    """The platform's state and its FastAPI app; `start()` serves it on 127.0.0.1."""

    def __init__(self) -> None:
        self.keys = [new_key()]
        self.misbehave = Misbehave()
        self.next_launch = LaunchSpec()
        self.tool_jwks_url = ""
        self.scores: list[dict[str, Any]] = []  # every score accepted, in order
        self.refused_scores: list[tuple[int, str]] = []
        self.gradebook: dict[tuple[str, str], dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.members: list[dict[str, Any]] = []
        self.deep_link_returns: list[dict[str, Any]] = []
        self.last_id_token = ""
        #: The origin of the LMS's own pages (its course page frames the tool), when it is not
        #: the issuer's, as Canvas's is not: the launch's return URL names it.
        self.web_url: str | None = None
        self._lock = threading.Lock()
        self.app = self._build()
        self.served: Served | None = None

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> FakePlatform:
        self.served = Served(self.app)
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()

    @property
    def url(self) -> str:
        assert self.served is not None
        return self.served.url

    @property
    def issuer(self) -> str:
        return self.url

    def lineitem_url(self, number: int = 1, query: str = "type=quiz") -> str:
        return f"{self.url}/courses/7/lineitems/{number}" + (f"?{query}" if query else "")

    def rotate(self) -> Key:
        """A new signing key, published with the old one."""
        fresh = new_key()
        self.keys.insert(0, fresh)
        return fresh

    # -- the id_token ----------------------------------------------------------------------

    def id_token(self, nonce: str, redirect_uri: str) -> str:
        spec, bad, now = self.next_launch, self.misbehave, time.time()
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID if bad.aud is None else bad.aud,
            "sub": spec.sub,
            "exp": int(now + bad.exp_offset_s),
            "iat": int(now + bad.iat_offset_s),
            "nonce": bad.nonce or nonce,
            c.DEPLOYMENT_ID: bad.deployment or DEPLOYMENT,
            c.MESSAGE_TYPE: bad.message_type or spec.message_type,
            c.VERSION: bad.version or c.LTI_VERSION,
            c.TARGET_LINK_URI: redirect_uri.replace("/lti/launch", "/lti/item"),
            c.RESOURCE_LINK: {"id": "link-1"},
            c.ROLES: spec.roles,
            c.CUSTOM: spec.custom,
            c.LAUNCH_PRESENTATION: {"return_url": f"{self.web_url or self.url}/courses/7"},
            c.CONTEXT: {"id": "course-7", "title": "Transfer learning"},
        }
        if bad.azp is not None:
            body["azp"] = bad.azp
        if spec.lineitem is not None:
            body[c.AGS_ENDPOINT] = {
                "scope": [c.SCOPE_SCORE, c.SCOPE_LINEITEM],
                "lineitems": f"{self.url}/courses/7/lineitems",
                "lineitem": spec.lineitem,
            }
        if spec.message_type == c.DEEP_LINKING_REQUEST:
            body[c.DEEP_LINKING_SETTINGS] = {
                "deep_link_return_url": f"{self.url}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "data": "opaque-data-1",
            }
        key = new_key() if bad.foreign_key else self.keys[0]
        token = jwt.encode(
            body, key.private, algorithm="RS256", headers={"kid": bad.kid or key.kid}
        )
        self.last_id_token = token
        return token

    # -- the app ---------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()
        app.get("/jwks")(self._jwks)
        app.get("/auth")(self._auth)
        app.post("/token")(self._token)
        app.post("/courses/7/lineitems/{number}/scores")(self._score)
        app.get("/courses/7/memberships")(self._memberships)
        app.post("/deep-link-return")(self._deep_link_return)
        app.get("/courses/7/page")(self._course_page)
        return app

    def _course_page(self, tool: str) -> HTMLResponse:
        """The LMS's course page: the tool's login initiation in an iframe, as an LMS embeds
        a tool's link."""
        query = urlencode(
            {
                "iss": self.issuer,
                "login_hint": "hint-1",
                "target_link_uri": f"{tool}/lti/item",
                "client_id": CLIENT_ID,
                "lti_message_hint": "message-1",
            }
        )
        src = escape(f"{tool}/lti/login?{query}")
        frame = f'<iframe id="tool" src="{src}" width="800" height="600"></iframe>'
        return HTMLResponse(f"<html><body><h1>Course 7</h1>{frame}</body></html>")

    def _jwks(self) -> dict[str, Any]:
        published = []
        for key in self.keys:
            jwk = RSAAlgorithm.to_jwk(key.private.public_key(), as_dict=True)
            published.append({**jwk, "kid": key.kid, "alg": "RS256", "use": "sig"})
        return {"keys": published}

    def _auth(self, request: Request) -> HTMLResponse:
        """The OIDC authorisation endpoint: checks the tool's request as a platform must, then
        answers with a self-posting form carrying the id_token."""
        q = request.query_params
        wanted = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post"}
        for name, value in wanted.items():
            if q.get(name) != value:
                raise HTTPException(400, f"{name} must be {value}")
        if q.get("client_id") != CLIENT_ID or q.get("prompt") != "none":
            raise HTTPException(400, "client_id or prompt")
        if not q.get("nonce") or not q.get("state") or not q.get("login_hint"):
            raise HTTPException(400, "nonce, state and login_hint are required")
        redirect = q["redirect_uri"]
        token = self.id_token(q["nonce"], redirect)
        return HTMLResponse(autopost(redirect, {"id_token": token, "state": q["state"]}))

    def _token(
        self,
        grant_type: str = Form(),
        client_assertion_type: str = Form(),
        client_assertion: str = Form(),
        scope: str = Form(""),
    ) -> JSONResponse:
        """The token endpoint: a client-credentials grant whose assertion the tool's own JWKS
        verifies (iss = sub = client id, aud = this endpoint)."""
        self.token_requests += 1
        if grant_type != "client_credentials":
            raise HTTPException(400, "grant_type")
        if client_assertion_type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise HTTPException(400, "client_assertion_type")
        try:
            header = jwt.get_unverified_header(client_assertion)
            keyset = jwt.PyJWKSet.from_dict(httpx.get(self.tool_jwks_url).json())
            key = next(k for k in keyset.keys if k.key_id == header.get("kid"))
            found = jwt.decode(
                client_assertion, key, algorithms=["RS256"], audience=f"{self.url}/token"
            )
        except (StopIteration, ValueError, httpx.HTTPError, jwt.PyJWTError) as exc:
            return JSONResponse({"error": "invalid_client", "why": str(exc)}, status_code=401)
        if found.get("iss") != CLIENT_ID or found.get("sub") != CLIENT_ID:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        )

    async def _score(self, number: int, request: Request) -> Response:
        """AGS score publish: the bearer token, the media type, the fields, the kept query
        string, and a timestamp newer than the gradebook's for that user."""
        refusal = self._score_refusal(request)
        body = await request.json() if refusal is None else {}
        refusal = refusal or _bad_score(body)
        with self._lock:
            if refusal is None and self.misbehave.fail_scores > 0:
                self.misbehave.fail_scores -= 1
                refusal = (503, "down for maintenance")
            key = (str(number), str(body.get("userId")))
            held = self.gradebook.get(key)
            if refusal is None and held is not None and _at(body) <= _at(held):
                refusal = (400, "stale timestamp: not after the gradebook's")
            if refusal is not None:
                self.refused_scores.append(refusal)
                return JSONResponse({"error": refusal[1]}, status_code=refusal[0])
            self.gradebook[key] = body
            self.scores.append(body)
        return Response(status_code=204)

    def _score_refusal(self, request: Request) -> tuple[int, str] | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return 401, "no valid bearer token"
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return 415, "wrong media type"
        if request.query_params.get("type") != "quiz":
            return 400, "the line item's query string was lost"
        return None

    def _memberships(self, request: Request) -> JSONResponse:
        """NRPS: `limit` members a page, the next page in a `Link: <...>; rel="next"` header."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return JSONResponse({"error": "no token"}, status_code=401)
        start = int(request.query_params.get("from", "0"))
        limit = int(request.query_params.get("limit", "2"))
        page = self.members[start : start + limit]
        headers = {}
        if start + limit < len(self.members):
            nxt = f"{self.url}/courses/7/memberships?{urlencode({'from': start + limit})}"
            headers["link"] = f'<{nxt}&limit={limit}>; rel="next"'
        body = {
            "id": f"{self.url}/courses/7/memberships",
            "members": page,
            "context": {"id": "course-7"},
        }
        return JSONResponse(body, headers=headers)

    async def _deep_link_return(self, request: Request) -> HTMLResponse:
        """The deep-link return: the tool's signed response, verified with the tool's JWKS."""
        form = await request.form()
        token = str(form.get("JWT", ""))
        keyset = jwt.PyJWKSet.from_dict(httpx.get(self.tool_jwks_url).json())
        kid = jwt.get_unverified_header(token).get("kid")
        key = next(k for k in keyset.keys if k.key_id == kid)
        found = jwt.decode(token, key, algorithms=["RS256"], audience=self.issuer)
        self.deep_link_returns.append(found)
        return HTMLResponse("<p>content item received</p>")


def autopost(action: str, fields: dict[str, str]) -> str:
    """The form_post response mode: a form that posts itself (a browser) or is parsed (a test)."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    return (
        f'<html><body><form id="f" method="post" action="{escape(action)}">{inputs}'
        "<noscript><button>Continue</button></noscript></form>"
        "<script>document.getElementById('f').submit()</script></body></html>"
    )


def _bad_score(body: dict[str, Any]) -> tuple[int, str] | None:
    needed = ("userId", "activityProgress", "gradingProgress", "timestamp")
    missing = [name for name in needed if name not in body]
    if missing:
        return 400, f"missing {missing}"
    return None


def _at(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(body["timestamp"]).replace("Z", "+00:00"))
