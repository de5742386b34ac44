"""The `/lti/...` routes: our JWKS, the login initiation, the launch, and the launched user's
pages (the item, a submission, a report). Every page a launched user sees says who they are
signed in as and in which LMS course, so a session that is not theirs shows.

Every refusal is one line: JSON on `/lti/jwks` and `/lti/login` (the platform's or the admin's
side), a small page with the HTTP status on the routes a user sees in the iframe. The pages may
be framed by the platform's origins only (CSP `frame-ancestors`), never by anyone else.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, cast
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import ColumnElement, select

from grader.errors import BadInput
from grader.lti import claims as c
from grader.lti import deep_linking, keys, launch, oidc, page, sessions, submit
from grader.lti.errors import LaunchRefused
from grader.lti.frames import ANYONE, framed, origin, set_cookie
from grader.lti.platform_keys import PlatformKeys
from grader.lti.settings import LtiSettings
from grader.service import variants, views
from grader.service.db import LtiSession, Submission
from grader.service.errors import Refused
from grader.service.ratelimit import RateLimiter
from grader.service.responses import question_view
from grader.service.state import ServiceState

TAGS: list[str | Enum] = ["lti"]


class LtiRuntime:
    """What the routes share: the settings, the platforms' key cache, the login rate limit."""

    def __init__(self, settings: LtiSettings) -> None:
        self.settings = settings
        self.platform_keys = PlatformKeys(settings.jwks_ttl_s)
        self.logins = RateLimiter(settings.login_rate, settings.login_burst)

    def base_url(self, request: Request) -> str:
        return (self.settings.public_url or str(request.base_url)).rstrip("/")


def _service(request: Request) -> ServiceState:
    return cast(ServiceState, request.app.state.service)


def _runtime(request: Request) -> LtiRuntime:
    return cast(LtiRuntime, request.app.state.lti)


State = Annotated[ServiceState, Depends(_service)]
Runtime = Annotated[LtiRuntime, Depends(_runtime)]


def _refusal_page(exc: Refused | BadInput, origins: list[str] = ANYONE) -> HTMLResponse:
    status = exc.status if isinstance(exc, Refused) else 422
    return framed(page.message("Not possible", str(exc)), origins, status)


#: Not in /openapi.json: these routes speak LTI's protocol (form posts, redirects, HTML), which
#: docs/lti.md and docs/http-api.md describe; the JSON API's contract tests stay about JSON.
router = APIRouter(tags=TAGS, include_in_schema=False)


@router.get("/lti/jwks")
def jwks(state: State) -> JSONResponse:
    """Our public signing keys (the current and the previous), for the platforms."""
    with state.sessions() as session:
        return JSONResponse(keys.jwks(session))


@router.api_route("/lti/login", methods=["GET", "POST"])
async def login(request: Request, state: State, runtime: Runtime) -> Response:
    """OIDC third-party login initiation: 302 to the platform's authorisation endpoint; 429
    when the client's address started too many (each stores a row until it expires)."""
    wait = runtime.logins.retry_after(request.client.host if request.client else "")
    if wait is not None:
        raise LaunchRefused(429, "login: too many login initiations from this address", wait)
    params = dict(request.query_params)
    if request.method == "POST":
        params |= {k: str(v) for k, v in (await request.form()).items()}
    with state.sessions() as session:
        found = oidc.initiate(
            session, params, runtime.base_url(request), runtime.settings.login_ttl_s
        )
    response = RedirectResponse(found.redirect, status_code=302)
    ttl = runtime.settings.login_ttl_s
    set_cookie(response, sessions.STATE_COOKIE + found.state, found.state, ttl, oidc.LAUNCH_PATH)
    return response


@router.post("/lti/launch", response_class=HTMLResponse)
def launch_route(
    request: Request,
    state: State,
    runtime: Runtime,
    id_token: Annotated[str, Form()] = "",
    state_value: Annotated[str, Form(alias="state")] = "",
) -> HTMLResponse:
    """The platform's form post of the id_token: checked, then the item page."""
    cookie = request.cookies.get(sessions.STATE_COOKIE + state_value) if state_value else None
    posted = launch.Posted(id_token, state_value, cookie)
    settings = runtime.settings
    try:
        with state.sessions() as session:
            found = launch.validate(
                session,
                runtime.platform_keys,
                posted,
                time.time(),
                settings.clock_skew_s,
                settings.login_ttl_s,
            )
        response = _start(state, runtime, found, runtime.base_url(request))
        set_cookie(response, sessions.STATE_COOKIE + state_value, "", 0, oidc.LAUNCH_PATH)
        return response
    except (Refused, BadInput) as exc:
        return _refusal_page(exc)


@router.get("/lti/item", response_class=HTMLResponse)
def item(request: Request, state: State) -> HTMLResponse:
    """The launched item again (after a report, or in the new window)."""
    token = request.cookies.get(sessions.COOKIE)
    with state.sessions() as session:
        launched = sessions.find(session, token)
    if launched is None or token is None:
        return framed(page.message("No session", NO_COOKIE), ANYONE, 401)
    return framed(_item_page(state, launched, token), launched.frame_origins)


@router.post("/lti/submit", response_class=HTMLResponse)
def submit_route(
    request: Request,
    state: State,
    check: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    choice: Annotated[str | None, Form()] = None,
) -> Response:
    """The item's form: stored through the normal intake, then its report page (303)."""
    token = request.cookies.get(sessions.COOKIE)
    with state.sessions() as session:
        launched = sessions.find(session, token)
    if launched is None or token is None:
        return framed(page.message("No session", NO_COOKIE), ANYONE, 401)
    if check != sessions.form_check(token):
        return framed(page.message("Refused", "the form is not this session's"), ANYONE, 403)
    content, filename = _upload(state, file)
    try:
        row = submit.submit(state, launched, content, filename, choice or None)
    except (Refused, BadInput) as exc:
        return _refusal_page(exc, launched.frame_origins)
    return RedirectResponse(f"/lti/submissions/{row.id}", status_code=303)


@router.get("/lti/submissions/{submission_id}", response_class=HTMLResponse)
def report(request: Request, state: State, submission_id: str) -> HTMLResponse:
    """One of the session's student's submissions, as the reveal rule shows it now."""
    with state.sessions() as session:
        launched = sessions.find(session, request.cookies.get(sessions.COOKIE))
        if launched is None:
            return framed(page.message("No session", NO_COOKIE), ANYONE, 401)
        row = session.get(Submission, submission_id)
        if row is None or not _owned(launched, row):
            return framed(page.message("Unknown", "no such submission of yours"), ANYONE, 404)
        shown = views.shown(state, session, row)
    body = page.report_page(row.status, shown.report, shown.revealed, _who(launched))
    return framed(body, launched.frame_origins)


NO_COOKIE = (
    "your browser did not send this tool's cookie back; use the link 'Open in a new window', "
    "or launch again from the LMS"
)


def _owned(launched: LtiSession, row: Submission) -> bool:
    """A submission of the session's student to the launched item (and assignment): what the
    item page lists, and nothing else."""
    same_course = (row.course or None) == (launched.course or None)
    same_item = row.question == launched.question and row.assignment == launched.assignment
    return row.student == launched.student and same_course and same_item


def _who(launched: LtiSession) -> str:
    return page.signed_in(
        launched.user_name or launched.user_id, launched.context_title or launched.context_id
    )


def _upload(state: ServiceState, file: UploadFile | None) -> tuple[bytes | None, str | None]:
    if file is None or not file.filename:
        return None, None
    cap = state.settings.max_upload_bytes
    content = file.file.read(cap + 1)
    if len(content) > cap:
        raise LaunchRefused(413, f"file larger than {cap} bytes; submit only your code")
    return content, file.filename.replace("\\", "/").rsplit("/", 1)[-1]


def target(found: launch.Launch) -> tuple[str, str | None]:
    """(item, assignment) a resource link launches: its custom parameters `item` and
    `assignment` (Deep Linking sets them), else the same names in the target link URI's query."""
    custom = found.claim(c.CUSTOM)
    query = parse_qs(urlsplit(str(found.claims.get(c.TARGET_LINK_URI, ""))).query)
    item = custom.get("item") or next(iter(query.get("item", [])), None)
    assignment = custom.get("assignment") or next(iter(query.get("assignment", [])), None)
    if not item:
        raise LaunchRefused(400, "launch: the link names no item (custom parameter `item`)")
    return str(item), str(assignment) if assignment else None


def frame_origins(found: launch.Launch) -> list[str]:
    """Where the platform shows us: its issuer's and login's origins, and the signed return
    URL's (the LMS's own pages). Never the request's `Origin` header: it is not signed, and
    whoever posts the launch chooses it."""
    presentation = found.claim(c.LAUNCH_PRESENTATION)
    return_url = presentation.get("return_url")
    candidates = [
        found.registration.issuer,
        found.registration.auth_login_url,
        return_url if isinstance(return_url, str) else None,
    ]
    return sorted({o for o in map(origin, candidates) if o})


def _start(
    state: ServiceState, runtime: LtiRuntime, found: launch.Launch, base_url: str
) -> HTMLResponse:
    if found.message_type == c.DEEP_LINKING_REQUEST:
        origins = frame_origins(found)
        return deep_linking.picker(state, found, origins, runtime.settings.login_ttl_s)
    question, assignment = target(found)
    state.bank.get(question)  # an unknown item: 404 before any session is made
    row = LtiSession(
        registration_id=found.registration.id,
        student=found.student,
        user_id=found.subject,
        user_name=_short(found.claims.get("name"), 200),
        context_id=found.context_id,
        context_title=_short(found.claim(c.CONTEXT).get("title"), 200),
        course=found.registration.course,
        question=question,
        assignment=assignment,
        lineitem=owed_lineitem(found, assignment),
        frame_origins=frame_origins(found),
        relaunch_url=_relaunch(base_url, found),
    )
    with state.sessions() as session:
        token = sessions.start(session, row, runtime.settings.session_ttl_s)
    response = framed(_item_page(state, row, token), row.frame_origins)
    set_cookie(response, sessions.COOKIE, token, runtime.settings.session_ttl_s, "/lti")
    return response


def owed_lineitem(found: launch.Launch, assignment: str | None) -> str | None:
    """The line item this launch's scores go to, or None: none for practice (no assignment:
    unlimited tries, so a graded column would end at full marks by guessing), and none unless
    the platform granted the score scope."""
    endpoint = found.claim(c.AGS_ENDPOINT)
    scopes = endpoint.get("scope")
    granted = isinstance(scopes, list) and c.SCOPE_SCORE in scopes
    lineitem = endpoint.get("lineitem")
    if assignment is None or not granted or not isinstance(lineitem, str):
        return None
    return lineitem


def _relaunch(base_url: str, found: launch.Launch) -> str | None:
    if found.login is None or not found.login.login_hint:
        return None
    return oidc.relaunch_url(base_url, found.registration, found.login)


def _short(value: object, chars: int) -> str | None:
    return str(value)[:chars] if isinstance(value, str) and value else None


def _item_page(state: ServiceState, launched: LtiSession, token: str) -> str:
    who = (launched.course, launched.student)
    with state.sessions() as session:
        seed = variants.next_seed(
            session,
            state.sessions,
            state.bank,
            state.catalog,
            who,
            launched.question,
            launched.assignment,
        )
        rows = session.scalars(
            select(Submission)
            .where(Submission.student == launched.student, Submission.question == launched.question)
            .where(_in_course(launched.course), _in_assignment(launched.assignment))
            .order_by(Submission.created_at.desc())
            .limit(20)
        ).all()
    view: dict[str, Any] = question_view(state.bank.variant(launched.question, seed)).model_dump(
        mode="json"
    )
    history = page.history_list((r.id, _when(r.created_at), r.verdict or r.status) for r in rows)
    parts = page.ItemParts(_who(launched), launched.relaunch_url, launched.lineitem is not None)
    return page.item_page(view, sessions.form_check(token), history, parts)


def _in_assignment(assignment: str | None) -> ColumnElement[bool]:
    if assignment:
        return Submission.assignment == assignment
    return Submission.assignment.is_(None)


def _in_course(course: str | None) -> ColumnElement[bool]:
    return Submission.course == course if course else Submission.course.is_(None)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@router.post("/lti/deep-link", response_class=HTMLResponse)
def deep_link(
    request: Request,
    state: State,
    runtime: Runtime,
    context: Annotated[str, Form()] = "",
    item: Annotated[str, Form()] = "",
    assignment: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The instructor's choice in the deep-linking picker: the signed response, auto-posted."""
    base = runtime.base_url(request)
    try:
        return deep_linking.respond(state, base, context, item, assignment or None)
    except (Refused, BadInput) as exc:
        return _refusal_page(exc)
