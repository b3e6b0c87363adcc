"""The fleet manager's HTTPS API (FastAPI). For now: kiosk enrolment; the console comes later.

Thin: each route parses, calls :class:`~fleet_manager.enrolment.service.EnrolmentService`, and
turns its answer into a status code. A request that does not fit the contract (bad JSON, a
missing field, a body too large) gets a :class:`~protocol.enrolment.Refusal` with
``error="bad_request"``, a log line and a counter; never a traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_manager.accounts.sessions import SessionPolicy
from fleet_manager.api.auth import Authenticator, session_router
from fleet_manager.api.rollout_routes import rollout_router
from fleet_manager.config import FleetConfig
from fleet_manager.console.mount import mount_console
from fleet_manager.console.web import PageRefused
from fleet_manager.enrolment.service import EnrolmentService, Issued, Pending, Refused
from fleet_manager.metrics import Counters
from protocol.enrolment import (
    ENROL_PATH,
    EnrolRequest,
    IdentityBundle,
    PendingEnrolment,
    Refusal,
)
from transport.log import get_logger

log = get_logger("fleet_manager.api")

MAX_BODY_BYTES = 64 * 1024
# Every answer the kiosks' enrolment routes give (REFUSAL_STATUS and the app's own refusals).
ENROL_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": PendingEnrolment},
    **{status: {"model": Refusal} for status in (400, 403, 404, 410, 413, 422)},
}
# The error name of a refusal the framework itself gives (unknown path, wrong method, a body
# it cannot read), so that every refusal has the same {error, message} shape.
HTTP_ERRORS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
# A routing policy may be 64 K characters; as JSON or a form (escaped), it needs more room.
LARGER_BODIES: tuple[tuple[str, int], ...] = (
    ("/api/v1/routing", 512 * 1024),
    ("/console/routing", 512 * 1024),
)


def body_limit(path: str) -> int:
    return next((n for prefix, n in LARGER_BODIES if path.startswith(prefix)), MAX_BODY_BYTES)


def _json(status: int, model: IdentityBundle | PendingEnrolment | Refusal) -> JSONResponse:
    return JSONResponse(status_code=status, content=model.model_dump(mode="json"))


def _respond(answer: Issued | Pending | Refused, issued_status: int) -> JSONResponse:
    if isinstance(answer, Issued):
        return _json(issued_status, answer.bundle)
    if isinstance(answer, Pending):
        return _json(202, answer.pending)
    return _json(answer.status, answer.refusal)


class CountBytes:
    """ASGI middleware: response bytes (bodies) in ``counters["api_bytes_out"]``, so what the
    API served (TUF metadata and bundles above all) can be measured and, later, exported."""

    def __init__(self, app: ASGIApp, counters: Counters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.counters.inc("api_bytes_out", len(message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, counting)


class SecurityHeaders:
    """ASGI middleware: the headers every response carries. Console pages load only their own
    stylesheet and script (no inline code, no other origin), cannot be framed, and are not
    cached: a shared computer's back button must not show an incident after logging out."""

    HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (b"strict-transport-security", b"max-age=31536000"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(("/tuf/", "/console/static/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.HEADERS if k not in present]
                if not cacheable and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    service: EnrolmentService,
    repository: Path | None = None,
    session_policy: SessionPolicy | None = None,
    config: FleetConfig | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Beacon fleet API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the docs page would load its scripts from a CDN
        redoc_url=None,
    )
    counters = service.counters
    app.add_middleware(CountBytes, counters=counters)
    app.add_middleware(SecurityHeaders)
    auth = Authenticator(service.engine, counters, session_policy)
    app.include_router(session_router(auth))
    app.include_router(rollout_router(auth, repository))
    console = mount_console(app, auth, config, repository)

    def bad_request(path: str, message: str, status: int = 400) -> JSONResponse:
        counters.inc("api_bad_requests")
        log.warning("api_bad_request", path=path, problem=message)
        return _json(status, Refusal(error="bad_request", message=message))

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        limit = body_limit(request.url.path)
        if length is not None and (not length.isdigit() or int(length) > limit):
            return bad_request(request.url.path, "request body too large", 413)
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code >= 500:
            raise exc
        counters.inc(f"api_http_{exc.status_code}")
        if request.url.path.startswith("/console/") and exc.status_code == 404:
            return console.console.refused_page(request, PageRefused(404, "Not found."))
        message = exc.detail if isinstance(exc.detail, str) else "refused"
        error = HTTP_ERRORS.get(exc.status_code, "refused")
        response = _json(exc.status_code, Refusal(error=error, message=message))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        )
        return bad_request(request.url.path, problems)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process answers (for a supervisor that restarts it otherwise)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """It can do its work: the database answers and the content repository is there."""
        problems = []
        try:
            with service.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            problems.append("database unreachable")
        if repository is not None and not (repository / "metadata" / "timestamp.json").is_file():
            problems.append("content repository has no timestamp.json")
        if problems:
            log.warning("api_not_ready", problems=problems)
            return JSONResponse(
                status_code=503, content={"status": "not ready", "problems": problems}
            )
        return JSONResponse({"status": "ready"})

    @app.post(
        ENROL_PATH,
        status_code=201,
        response_model=IdentityBundle,
        responses=ENROL_RESPONSES,
    )
    def enrol(body: EnrolRequest, request: Request) -> JSONResponse:
        """A new kiosk presents its enrolment token and a CSR (empty subject)."""
        source = request.client.host if request.client else ""
        return _respond(service.enrol(body.token, body.csr, source), 201)

    @app.get(
        ENROL_PATH + "/{enrolment_id}",
        response_model=IdentityBundle,
        responses=ENROL_RESPONSES,
    )
    def poll(enrolment_id: str) -> JSONResponse:
        """A kiosk waiting for approval asks again."""
        if len(enrolment_id) > 64:
            return bad_request(ENROL_PATH, "enrolment id too long")
        return _respond(service.poll(enrolment_id), 200)

    return app
