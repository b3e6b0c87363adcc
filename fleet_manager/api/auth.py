"""Who is asking: an API token (``Authorization: Bearer bct_…``) or a console session cookie,
and the session API itself.

    POST   /api/v1/session   {username, password}  → 200 {username, roles, csrf_token} + cookie
                                                    401 bad credentials · 429 throttled
    GET    /api/v1/session                          → who am I (401 if nobody)
    DELETE /api/v1/session                          → log out (needs the CSRF token)

A request authenticated by the session cookie that changes anything must carry the session's
CSRF token in ``X-CSRF-Token`` (or the form field, for pages): the cookie alone is what a
forged cross-site request would have. Token requests need none: no browser sends them by
itself. Logins, failures and lockouts are audited by the accounts store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from fleet_manager.accounts import session_store
from fleet_manager.accounts.policy import Principal
from fleet_manager.accounts.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    SessionPolicy,
    cleared_cookie_attributes,
    cookie_attributes,
    csrf_ok,
    csrf_required,
)
from fleet_manager.accounts.store import LoginRefused, authenticate
from fleet_manager.accounts.token_store import verify_api_token
from fleet_manager.accounts.tokens import bearer_token
from fleet_manager.metrics import Counters
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

SESSION_PATH = "/api/v1/session"


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionStarted(BaseModel):
    username: str
    roles: list[str]
    csrf_token: str = Field(description="send it as X-CSRF-Token with every change")


class GrantView(BaseModel):
    role: str
    facility: str | None
    region: str | None


class WhoAmI(BaseModel):
    who: str  # user:NAME or token:ID, as the audit log names it
    via: str  # session or token
    grants: list[GrantView]


class LoggedOut(BaseModel):
    logged_out: bool


REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal, "description": "input that does not fit"},
    401: {"model": Refusal},
}


@dataclass(frozen=True)
class Caller:
    principal: Principal
    via: str  # "token" or "session"
    csrf_token: str | None = None  # the session's, for the forms of the pages it is shown


def refusal(status: int, error: str, message: str) -> JSONResponse:
    body = Refusal(error=error, message=message).model_dump()
    return JSONResponse(status_code=status, content=body)


class Authenticator:
    def __init__(
        self,
        engine: sa.Engine,
        counters: Counters,
        policy: SessionPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.counters = counters
        self.policy = policy or SessionPolicy()
        self.clock = clock

    def caller(
        self, request: Request, *, csrf: str | None = None, activity: bool = True
    ) -> Caller | None:
        """The principal behind ``request``, or None; a cookie request that changes something
        without the right CSRF token (header, or ``csrf`` from a form) counts as nobody.
        ``activity=False`` (the live feed) checks the session without extending it, so an
        unattended screen still logs off."""
        secret = bearer_token(request.headers.get("authorization"))
        if secret is not None:
            with self.engine.begin() as conn:
                principal = verify_api_token(conn, secret, now=self.clock())
            return None if principal is None else Caller(principal, "token")
        session_id = request.cookies.get(COOKIE_NAME)
        if not session_id:
            return None
        with self.engine.begin() as conn:
            found = session_store.resume_session(
                conn, session_id, now=self.clock(), policy=self.policy, activity=activity
            )
        if found is None:
            return None
        session, principal = found
        submitted = csrf if csrf is not None else request.headers.get(CSRF_HEADER)
        if csrf_required(request.method) and not csrf_ok(session, submitted):
            self.counters.inc("api_csrf_refused")
            log.warning("api_csrf_refused", who=principal.label, path=request.url.path)
            return None
        return Caller(principal, "session", session.csrf_token)


def session_router(auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix=SESSION_PATH, tags=["session"])

    @router.post(
        "",
        response_model=SessionStarted,
        responses={
            **REFUSED,
            429: {
                "model": Refusal,
                "description": "too many failed attempts (see Retry-After)",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            },
        },
    )
    def login(body: Login, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        now = auth.clock()
        with auth.engine.begin() as conn:
            outcome = authenticate(conn, body.username, body.password, client=client, now=now)
            if isinstance(outcome, LoginRefused):
                auth.counters.inc(f"api_login_refused.{outcome.reason}")
                if outcome.reason == "throttled":
                    response = refusal(429, "throttled", "too many attempts; wait and retry")
                    response.headers["Retry-After"] = str(max(1, int(outcome.retry_after_s)))
                    return response
                return refusal(401, "bad_credentials", "wrong username or password")
            session_id, session = session_store.start_session(
                conn, outcome.user.username, now=now, policy=auth.policy, client=client
            )
        started = SessionStarted(
            username=outcome.user.username,
            roles=sorted({g.role for g in outcome.user.principal.grants}),
            csrf_token=session.csrf_token,
        )
        response = JSONResponse(started.model_dump())
        response.set_cookie(**cookie_attributes(session_id, auth.policy))
        return response

    @router.get("", response_model=WhoAmI, responses=REFUSED)
    def whoami(request: Request) -> Response:
        caller = auth.caller(request)
        if caller is None:
            return refusal(401, "unauthenticated", "log in or give an API token")
        grants = [
            GrantView(role=g.role, facility=g.facility_id, region=g.region)
            for g in sorted(
                caller.principal.grants, key=lambda g: (g.role, g.facility_id or "", g.region or "")
            )
        ]
        me = WhoAmI(who=caller.principal.label, via=caller.via, grants=grants)
        return JSONResponse(me.model_dump())

    @router.delete("", response_model=LoggedOut, responses=REFUSED)
    def logout(request: Request) -> Response:
        caller = auth.caller(request)
        session_id = request.cookies.get(COOKIE_NAME)
        if caller is None or caller.via != "session" or not session_id:
            return refusal(401, "unauthenticated", "no session to end (or no CSRF token)")
        with auth.engine.begin() as conn:
            session_store.end_session(conn, session_id, now=auth.clock())
        response = JSONResponse(LoggedOut(logged_out=True).model_dump())
        response.delete_cookie(**cleared_cookie_attributes())
        return response

    return router
