"""The QR landing page: ``GET /r/{token}``, the report form and additions (Starlette).

Privacy is the shape of this module: no cookies are ever set, nothing is loaded from anywhere
but this response (style and script are inline and pinned by hash in the CSP), no request's
address or user agent reaches a log line, and the only thing a page view leaves behind is one
more in an aggregate count per location, day and language. An unknown or retired token gets
the same page (with the hotlines every region shares), so the page never tells whether a token
existed; a report sent from it still reaches the default region's responders.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from content.bundle import ContentBundle
from fleet_manager.config import LandingSettings
from fleet_manager.landing.desk import Refused, ReportDesk
from fleet_manager.landing.language import choose_language
from fleet_manager.landing.page import State, page_view
from fleet_manager.landing.scan_tally import ScanTally
from fleet_manager.landing.texts import LandingTexts
from fleet_manager.metrics import Counters
from fleet_manager.reports.case_codes import normalize_code
from fleet_manager.reports.limits import (
    Action,
    ClientKeys,
    LimitRules,
    WindowCounts,
    client_address,
)
from fleet_manager.reports.submission import (
    SHORT_LIMIT,
    TEXT_LIMIT,
    AdditionRequest,
    FormProblem,
    ReportContent,
    addition_content,
    parse_addition,
    parse_report,
)
from fleet_manager.store import engagement, metric_snapshots, registry
from fleet_manager.store.registry import TokenPlace
from transport.log import get_logger

log = get_logger("fleet_manager.landing")
T = TypeVar("T")

HERE = Path(__file__).resolve().parent
# 4,000 characters of any script, percent-encoded, fit with room to spare.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 20
# What registry.new_location_token makes (URL-safe base64), with room for printed older ones.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN_CACHE_MAX = 10_000
# Requests hashing with Argon2 (64 MiB each) at once; the rest wait their turn.
SLOW_LANE = 4
# The field a problem names → the label the person saw.
FIELD_LABELS = {
    "what": "form.what",
    "contact_method": "form.contact_method",
    "contact_time": "form.contact_time",
    "text": "add.text",
    "code": "sent.code",
    "passphrase": "sent.passphrase",
}


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@dataclass(frozen=True)
class Visit:
    """Who a request is for: the token in its path, the language chosen, the place (if any)."""

    token: str
    lang: str
    place: TokenPlace | None


@dataclass(frozen=True)
class Assets:
    css: str
    js: str

    @property
    def csp(self) -> str:
        return (
            "default-src 'none'; "
            f"style-src {_sha256_source(self.css)}; script-src {_sha256_source(self.js)}; "
            "img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )


def load_assets() -> Assets:
    return Assets(
        (HERE / "templates" / "landing.css").read_text(),
        (HERE / "templates" / "exit.js").read_text(),
    )


class PrivacyHeaders:
    """ASGI middleware: the headers every response carries, whatever answered it, and a limit
    on request bodies (a POST must say its length)."""

    def __init__(self, app: ASGIApp, csp: str, counters: Counters) -> None:
        self.app = app
        self.counters = counters
        self.headers: list[tuple[bytes, bytes]] = [
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", csp.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
            (b"x-robots-tag", b"noindex, nofollow"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in self.names and k.lower() != b"set-cookie"
                ]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        if scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            problem = None
            if length is None:
                problem = (411, "a length is required")
            elif not length.isdigit() or int(length) > MAX_BODY_BYTES:
                problem = (413, "too large")
            if problem is not None:
                self.counters.inc(f"landing_refused_{problem[0]}")
                log.warning("landing_request_refused", status=problem[0], problem=problem[1])
                response = PlainTextResponse(problem[1], status_code=problem[0])
                await response(scope, receive, with_headers)
                return
        await self.app(scope, receive, with_headers)


class LandingApp:
    """Everything the landing page needs, built once at start."""

    def __init__(
        self,
        settings: LandingSettings,
        engine: sa.Engine,
        bundle: ContentBundle,
        texts: LandingTexts,
        default_region: str,
        instance: str = "landing",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.bundle = bundle
        self.texts = texts
        self.clock = clock
        self.instance = instance
        self.languages = tuple(code for code in bundle.languages if code in texts.languages)
        self.counters = Counters()
        self.tally = ScanTally()
        self.desk = ReportDesk(engine, self.counters, default_region, clock)
        self.limits = WindowCounts(LimitRules(**settings.limits.model_dump()))
        self.client_keys = ClientKeys(clock)
        self._limits_lock = threading.Lock()
        self.slow_lane = anyio.CapacityLimiter(SLOW_LANE)
        self.trusted_proxies = [
            ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
        ]
        self._tokens: dict[str, tuple[float, TokenPlace | None]] = {}
        self.assets = load_assets()
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            auto_reload=False,
        )
        self.template = env.get_template("page.html")
        every = tuple(bundle.hotlines)
        self.default_hotlines = settings.default_hotlines or every
        unknown = [
            h
            for h in (
                *self.default_hotlines,
                *(x for v in settings.region_hotlines.values() for x in v),
            )
            if h not in bundle.hotlines
        ]
        if unknown:
            raise ValueError(
                f"landing: hotline(s) {', '.join(sorted(set(unknown)))} are not in the bundle "
                f"{bundle.root} ({', '.join(every)})"
            )

    # -- lookups ----------------------------------------------------------------------------

    def _cached_place(self, token: str) -> tuple[bool, TokenPlace | None]:
        hit = self._tokens.get(token)
        if hit is not None and self.clock() < hit[0]:
            return True, hit[1]
        return False, None

    def _look_up(self, token: str) -> TokenPlace | None:
        if not TOKEN_SHAPE.fullmatch(token):
            return None  # cannot be a token; not worth a query
        with self.engine.connect() as conn:
            place = registry.place_of_token(conn, token, self.clock())
        if len(self._tokens) >= TOKEN_CACHE_MAX:
            self._tokens.clear()  # random tokens must not grow memory without end
        self._tokens[token] = (self.clock() + self.settings.token_cache_s, place)
        return place

    async def place(self, token: str) -> TokenPlace | None:
        cached, place = self._cached_place(token)
        if cached:
            return place
        return await run_in_threadpool(self._look_up, token)

    def hotlines_for(self, place: TokenPlace | None) -> tuple[str, ...]:
        if place is None:
            return self.default_hotlines
        return self.settings.region_hotlines.get(place.region) or self.default_hotlines

    def language(self, request: Request) -> str:
        asked = request.query_params.get("l")
        return choose_language(asked, request.headers.get("accept-language"), self.languages)

    async def visit(self, request: Request) -> Visit:
        token = request.path_params["token"]
        return Visit(token, self.language(request), await self.place(token))

    # -- limits -----------------------------------------------------------------------------

    def client_key(self, request: Request) -> str:
        peer = request.client.host if request.client is not None else "unknown"
        forwarded = request.headers.get("x-forwarded-for")
        return self.client_keys.key_for(client_address(peer, forwarded, self.trusted_proxies))

    def take(self, wanted: list[tuple[Action, str]]) -> bool:
        """Count these now, all or none, before the slow work starts: requests that arrive
        together must not all pass before the first is counted."""
        with self._limits_lock:
            return self.limits.take(wanted, self.clock())

    def give_back(self, *taken: tuple[Action, str]) -> None:
        with self._limits_lock:
            for action, key in taken:
                self.limits.give_back(action, key, self.clock())

    async def slow(self, fn: Callable[..., T], *args: Any) -> T:
        """Argon2 and the database, off the event loop, a few at a time: each Argon2 hash
        takes 64 MiB, so a burst must queue rather than take memory without bound."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.slow_lane)

    # -- rendering --------------------------------------------------------------------------

    def render(
        self, visit: Visit, status: int = 200, state: State = "form", **extra: Any
    ) -> HTMLResponse:
        token = visit.token
        view = page_view(
            bundle=self.bundle,
            texts=self.texts,
            lang=visit.lang,
            # Anything that cannot be a token (say "..") must not shape the form's URLs.
            token=token if TOKEN_SHAPE.fullmatch(token) else "unknown",
            hotline_ids=self.hotlines_for(visit.place),
            emergency_number=self.settings.emergency_number,
            exit_url=self.settings.exit_url,
            languages=self.languages,
            state=state,
            **extra,
        )
        html = self.template.render(
            v=view,
            css=self.assets.css,
            js=self.assets.js,
            limits={"text": TEXT_LIMIT, "short": SHORT_LIMIT},
        )
        return HTMLResponse(html, status_code=status)

    def refuse(self, visit: Visit, status: int, reason: str, msgid: str) -> HTMLResponse:
        """The page with the problem on top (in the visitor's language), a log line naming
        only the reason, and a counter."""
        return self.refuse_saying(visit, status, reason, self.texts.text(visit.lang, msgid))

    def refuse_saying(self, visit: Visit, status: int, reason: str, message: str) -> HTMLResponse:
        self.counters.inc(f"landing_refused_{reason}")
        log.warning("landing_form_refused", reason=reason, status=status)
        return self.render(visit, status, "refused", problem=message)

    def refuse_form(self, visit: Visit, problem: FormProblem | None) -> HTMLResponse:
        """A form that cannot be used (None: not a url-encoded UTF-8 form at all)."""
        if problem is None:
            return self.refuse(visit, 400, "bad_form", "error.bad_form")
        status = 413 if problem.reason == "too_long" else 400
        return self.refuse_saying(
            visit, status, problem.reason, self.problem_message(visit.lang, problem)
        )

    def problem_message(self, lang: str, problem: FormProblem) -> str:
        if problem.reason == "too_long":
            label = self.texts.text(lang, FIELD_LABELS.get(problem.field or "", "form.what"))
            return self.texts.text(lang, "error.too_long", field=label, limit=problem.limit)
        if problem.reason == "empty":
            return self.texts.text(lang, "error.empty")
        return self.texts.text(lang, "error.bad_form")

    # -- background -------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the scans counted so far and this process's counters (for /metrics)."""
        counts = self.tally.take()
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                for (day, location_id, lang), n in counts.items():
                    engagement.count(conn, day, location_id, "qr_scan", lang, n)
                metric_snapshots.save(conn, self.instance, now, self.counters.snapshot(), {})
        except Exception:  # the flusher must outlive a bad moment of the database
            self.tally.put_back(counts)
            self.counters.inc("landing_flush_errors")
            log.exception("landing_flush_failed")
        with self._limits_lock:
            self.limits.forget_older_than(now - 2 * 3600)


async def read_form(request: Request) -> dict[str, list[str]] | None:
    """A url-encoded form, or None if it is not one (wrong type, not UTF-8, too many fields)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    try:
        return parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        return None


def create_landing_app(landing: LandingApp) -> ASGIApp:
    async def page(request: Request) -> Response:
        visit = await landing.visit(request)
        if visit.place is not None:
            day = engagement.day_of(landing.clock())
            landing.tally.add(day, visit.place.location_id, visit.lang)
        landing.counters.inc("landing_pages")
        return landing.render(visit)

    async def report(request: Request) -> Response:
        visit = await landing.visit(request)
        form = await read_form(request)
        content = None if form is None else parse_report(form, visit.lang, landing.clock())
        if not isinstance(content, ReportContent):
            return landing.refuse_form(visit, content)
        taken: list[tuple[Action, str]] = [("report", landing.client_key(request))]
        taken.append(("all_reports", "*"))
        if not landing.take(taken):
            return landing.refuse(visit, 429, "busy", "error.busy")
        outcome = await landing.slow(landing.desk.submit, visit.place, content)
        if isinstance(outcome, Refused):
            landing.give_back(*taken)  # nothing was sent: it must not count against them
            return landing.refuse(visit, 503, outcome.reason, "error.unavailable")
        c = outcome.credentials
        return landing.render(visit, 200, "sent", code=c.code_shown, passphrase=c.passphrase_shown)

    async def add(request: Request) -> Response:
        visit = await landing.visit(request)
        form = await read_form(request)
        asked = None if form is None else parse_addition(form)
        if not isinstance(asked, AdditionRequest):
            return landing.refuse_form(visit, asked)
        client = landing.client_key(request)
        # Every attempt takes a wrong-guess count (per client, and per case against a spread-out
        # attack on one case) before the check; a right guess gives it back.
        case_key = "case:" + (normalize_code(asked.code) or asked.code.strip().upper())
        guesses: list[tuple[Action, str]] = [("wrong_code", client), ("wrong_code", case_key)]
        if not landing.take([("addition", client), *guesses]):
            return landing.refuse(visit, 429, "busy", "error.busy")
        found = await landing.slow(landing.desk.find, asked.code, asked.passphrase)
        if found is None:
            landing.give_back(("addition", client))
            return landing.refuse(visit, 403, "wrong_code", "error.wrong_code")
        landing.give_back(*guesses)
        entry = addition_content(asked.text, visit.lang, landing.clock())
        outcome = await landing.slow(landing.desk.add, found, entry)
        if isinstance(outcome, Refused):
            landing.give_back(("addition", client))
            status = 409 if outcome.reason == "full" else 503
            return landing.refuse(visit, status, outcome.reason, "error.unavailable")
        return landing.render(visit, 200, "added")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = threading.Event()

        def flusher() -> None:
            while not stop.wait(landing.settings.scan_flush_s):
                landing.flush()

        thread = threading.Thread(target=flusher, name="landing-flush", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)
            landing.flush()

    app = Starlette(
        routes=[
            Route("/r/{token}", page, methods=["GET"]),
            Route("/r/{token}/report", report, methods=["POST"]),
            Route("/r/{token}/add", add, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return PrivacyHeaders(app, landing.assets.csp, landing.counters)
