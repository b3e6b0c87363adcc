"""What every console page shares: who is looking, rendering, forms with CSRF, login/logout.

Pages are server-rendered Jinja2 and work without JavaScript; ``static/live.js`` adds the live
feed (Server-Sent Events) where a page asks for it. A page is scoped exactly like the JSON
route it mirrors: it asks :mod:`fleet_manager.accounts.policy` through the same
:class:`~fleet_manager.api.guard.Guard` rules (nobody → the login page; not allowed anywhere
→ 403; not allowed *here* → 404).

Forms post ``application/x-www-form-urlencoded`` with a hidden ``csrf_token`` field holding the
session's token; a post without it is refused (the cookie alone is what a forged cross-site
request would carry).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from fleet_manager.accounts import session_store
from fleet_manager.accounts.policy import (
    FLEET,
    Action,
    Deny,
    Principal,
    Resource,
    decide,
    query_scope,
    refusal_status,
)
from fleet_manager.accounts.sessions import (
    COOKIE_NAME,
    cleared_cookie_attributes,
    cookie_attributes,
)
from fleet_manager.accounts.store import LoginRefused, authenticate
from fleet_manager.api.auth import Authenticator, Caller
from fleet_manager.store.schema import staff_profiles
from transport.log import get_logger

log = get_logger("fleet_manager.console")

HERE = Path(__file__).parent
PREFIX = "/console"
CSRF_FIELD = "csrf_token"
MAX_FORM_FIELD = 4000

# (label, path, the action that makes the section visible), in menu order.
SECTIONS: tuple[tuple[str, str, Action], ...] = (
    ("Fleet", "/console/fleet", "fleet.view"),
    ("Incidents", "/console/incidents", "incident.view"),
    ("Routing", "/console/routing", "routing.view"),
    ("Content", "/console/content", "content.view"),
    ("Facilities", "/console/facilities", "registry.view"),
    ("Engagement", "/console/engagement", "engagement.view"),
    ("Audit log", "/console/audit", "audit.view"),
    ("Compliance", "/console/compliance", "training.view"),
    ("Training", "/console/training", "training.self"),
    ("API tokens", "/console/tokens", "tokens.manage"),
)


class PageRefused(Exception):
    """Raised by a page handler; turned into the login redirect or an error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page: their principal and the session's CSRF token for forms."""

    principal: Principal
    csrf_token: str

    @property
    def label(self) -> str:
        return self.principal.label

    @property
    def username(self) -> str:
        return self.principal.id


class Console:
    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth
        self.engine = auth.engine
        self.counters = auth.counters
        self.clock = auth.clock
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.globals["sections"] = SECTIONS
        env.filters["when"] = _when
        env.filters["ago"] = lambda t: _ago(t, self.clock())

    # -- who is looking ----------------------------------------------------------------

    def viewer(self, request: Request, *, csrf: str | None = None) -> Viewer:
        """The viewer of a page, or :class:`PageRefused` (401 → login page)."""
        caller: Caller | None = self.auth.caller(request, csrf=csrf)
        if caller is None or caller.via != "session" or caller.csrf_token is None:
            raise PageRefused(401, "log in")
        return Viewer(caller.principal, caller.csrf_token)

    def require(self, viewer: Viewer, action: Action, resource: Resource | None = None) -> None:
        """Allowed, or :class:`PageRefused` 403 (no role allows it, or a fleet-wide action:
        ``resource`` None) / 404 (not here)."""
        status = refusal_status(viewer.principal, action, resource)
        if status is None:
            return
        self.counters.inc("console_forbidden")
        log.warning("console_forbidden", who=viewer.label, action=action, status=status)
        if status == 403:
            raise PageRefused(403, "Your roles do not allow this page.")
        raise PageRefused(404, "Not found.")

    def require_anywhere(self, viewer: Viewer, action: Action) -> None:
        if query_scope(viewer.principal, action).is_empty():
            self.counters.inc("console_forbidden")
            raise PageRefused(403, "Your roles do not allow this page.")

    def may(self, viewer: Viewer, action: Action, resource: Resource = FLEET) -> bool:
        return not isinstance(decide(viewer.principal, action, resource), Deny)

    def may_somewhere(self, viewer: Viewer, action: Action) -> bool:
        return not query_scope(viewer.principal, action).is_empty()

    def shows(self, viewer: Viewer, path: str, action: Action) -> bool:
        """Whether the menu offers a section: its action somewhere, and for one's own training
        a training profile too (others would find only "you have no profile")."""
        if not self.may_somewhere(viewer, action):
            return False
        if path != f"{PREFIX}/training":
            return True
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(staff_profiles.c.username).where(
                        staff_profiles.c.username == viewer.username
                    )
                ).first()
                is not None
            )

    async def form(
        self, request: Request, long_fields: Mapping[str, int] | None = None
    ) -> tuple[Viewer, FormData]:
        """A posted form and its viewer, CSRF checked; a field longer than its limit (the
        console's usual one, or that of ``long_fields``, e.g. a policy) is refused."""
        form = await request.form(max_files=0, max_fields=200)
        token = form.get(CSRF_FIELD)
        viewer = self.viewer(request, csrf=token if isinstance(token, str) else "")
        limits = long_fields or {}
        for name, value in form.multi_items():
            if isinstance(value, str) and len(value) > limits.get(name, MAX_FORM_FIELD):
                raise PageRefused(400, "A field is too long.")
        return viewer, form

    # -- rendering -----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        context: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        nav = [
            (label, path)
            for label, path, action in SECTIONS
            if viewer is not None and self.shows(viewer, path, action)
        ]
        return self.templates.TemplateResponse(
            request,
            template,
            {"viewer": viewer, "nav": nav, "csrf_field": CSRF_FIELD, **(context or {})},
            status_code=status,
        )

    def refused_page(self, request: Request, refused: PageRefused) -> Response:
        if refused.status == 401:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)
        viewer = None
        with contextlib.suppress(PageRefused):
            viewer = self.viewer(request)
        return self.render(
            request, "error.html", viewer, {"message": refused.message}, status=refused.status
        )


def _when(t: float | None) -> str:
    if t is None:
        return "—"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "never"
    s = max(0, int(now - t))
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a console path (no open redirect)."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return f"{PREFIX}/"


def base_router(console: Console) -> APIRouter:
    """Login, logout and the landing redirect."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    auth = console.auth

    @router.get("")
    @router.get("/")
    def home(request: Request) -> Response:
        try:
            viewer = console.viewer(request)
        except PageRefused as refused:
            return console.refused_page(request, refused)
        for _label, path, action in SECTIONS:
            if console.shows(viewer, path, action):
                return RedirectResponse(path, status_code=303)
        return console.render(request, "error.html", viewer, {"message": "No sections for you."})

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        return console.render(request, "login.html", None, {"next": safe_next(next)})

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")[:1024]
        target = safe_next(str(form.get("next") or ""))
        client = request.client.host if request.client else "unknown"
        now = auth.clock()
        with auth.engine.begin() as conn:
            outcome = authenticate(conn, username, password, client=client, now=now)
            if isinstance(outcome, LoginRefused):
                auth.counters.inc(f"console_login_refused.{outcome.reason}")
                message = (
                    "Too many attempts. Wait a few minutes and try again."
                    if outcome.reason == "throttled"
                    else "Wrong username or password."
                )
                status = 429 if outcome.reason == "throttled" else 401
                return console.render(
                    request,
                    "login.html",
                    None,
                    {"next": target, "error": message, "username": username},
                    status=status,
                )
            session_id, _session = session_store.start_session(
                conn, outcome.user.username, now=now, policy=auth.policy, client=client
            )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(**cookie_attributes(session_id, auth.policy))
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            await console.form(request)
        except PageRefused:
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        session_id = request.cookies.get(COOKIE_NAME)
        if session_id:
            with auth.engine.begin() as conn:
                session_store.end_session(conn, session_id, now=auth.clock())
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(**cleared_cookie_attributes())
        return response

    return router
