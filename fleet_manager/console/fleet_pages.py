"""The fleet pages: every kiosk of the viewer's scope, live, and one kiosk's detail.

    GET  /console/fleet                      fleet.view   (filters, counts, live table)
    GET  /console/fleet/live                 fleet.view   (SSE: kiosks whose status changed)
    GET  /console/kiosks/{id}                fleet.view on its facility (404 outside)
    POST /console/kiosks/{id}/identify       kiosk.identify (form with CSRF) → 303 back
    POST /console/kiosks/{id}/drill          kiosk.drill    (form with CSRF) → 303 back

Same queries and the same request path as ``/api/v1/kiosks`` (:mod:`fleet_routes`).
Query parameters typed by hand are read leniently (:func:`kiosk_filter`): a page never
answers a 400 for a stale bookmark, it ignores what it does not understand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fleet_manager.accounts.policy import Action, Principal, QueryScope
from fleet_manager.api import action_requests
from fleet_manager.api.action_requests import KioskCommand, Refuse, is_id, is_text, kiosk_resource
from fleet_manager.api.context import AppContext
from fleet_manager.api.fleet_routes import kiosk_detail, load_kiosk
from fleet_manager.console import live_feed
from fleet_manager.console.web import PREFIX, PageRefused, Viewer
from fleet_manager.store import fleet_views
from fleet_manager.store.fleet_views import KioskFilter, KioskRow

PAGE_SIZE = 100
MAX_OFFSET = 1_000_000
MAX_TEXT = 64

DONE = {
    "identify": "Identify sent: the kiosk shows its id and location for a while.",
    "drill": "Drill requested: the kiosk raises a drill alert, routed and marked as a drill.",
}


def _text(params: Mapping[str, str], name: str) -> str | None:
    """Free text (the search box): trimmed, shortened, without control characters."""
    value = params.get(name, "").strip()[:MAX_TEXT]
    return value if value and is_text(value) else None


def _id(params: Mapping[str, str], name: str) -> str | None:
    """An id (region, facility, lifecycle): anything that is not one is ignored."""
    value = params.get(name, "").strip()
    return value if is_id(value) else None


def _offset(params: Mapping[str, str]) -> int:
    raw = params.get("offset", "")
    return min(int(raw), MAX_OFFSET) if raw.isdigit() else 0


def kiosk_filter(params: Mapping[str, str]) -> KioskFilter:
    """The page's filter from its query (pure); unknown or malformed values are ignored."""
    status = params.get("status")
    return KioskFilter(
        region=_id(params, "region"),
        facility=_id(params, "facility"),
        status="online" if status == "online" else "offline" if status == "offline" else None,
        lifecycle=_id(params, "lifecycle"),
        q=_text(params, "q"),
        limit=PAGE_SIZE,
        offset=_offset(params),
    )


def filter_query(f: KioskFilter, **changes: Any) -> str:
    """The query string of ``f`` with ``changes`` (for pagination and the live feed)."""
    values: dict[str, Any] = {
        "region": f.region,
        "facility": f.facility,
        "status": f.status,
        "lifecycle": f.lifecycle,
        "q": f.q,
        "offset": f.offset or None,
        **changes,
    }
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, include_in_schema=False)
    console = ctx.console
    row_template = console.templates.get_template("kiosk_row.html")

    def render_row(row: KioskRow, _who: Principal) -> str:
        return row_template.render(k=row)

    def change(row: KioskRow) -> live_feed.Change:
        return live_feed.Change(
            f"kiosk-{row.device_id}", (row.online, row.status_at), row.status_at or 0.0
        )

    @pages.get("/fleet")
    def fleet(request: Request) -> Response:
        viewer = console.viewer(request)
        console.require_anywhere(viewer, "fleet.view")
        wanted = kiosk_filter(request.query_params)
        scope = ctx.guard.scope(viewer.principal, "fleet.view")
        now = ctx.now()
        with ctx.engine.connect() as conn:
            total, rows = fleet_views.list_kiosks(conn, scope, wanted)
            counts = fleet_views.count_kiosks(conn, scope, wanted)
            choices = fleet_views.filter_choices(conn, scope)
        offset = wanted.offset
        previous = max(0, offset - PAGE_SIZE) if offset > 0 else None
        following = offset + PAGE_SIZE if offset + PAGE_SIZE < total else None
        return console.render(
            request,
            "fleet.html",
            viewer,
            {
                "f": wanted,
                "rows": rows,
                "total": total,
                "counts": counts,
                "facilities": choices,
                "regions": sorted({region for _f, _n, region in choices}),
                "previous": None if previous is None else filter_query(wanted, offset=previous),
                "following": None if following is None else filter_query(wanted, offset=following),
                "live_url": f"{PREFIX}/fleet/live?"
                + filter_query(wanted, offset=None, status=None, since=repr(now)),
            },
        )

    @pages.get("/fleet/live")
    def fleet_live(request: Request) -> Response:
        params = request.query_params
        wanted = kiosk_filter(params)

        def fetch(conn: sa.Connection, scope: QueryScope, since: float) -> list[KioskRow]:
            return fleet_views.kiosks_changed(conn, scope, wanted, since)

        feed = live_feed.Feed("fleet", "fleet.view", fetch, change, render_row)
        return live_feed.page_stream(ctx, request, feed, params.get("since"))

    def kiosk_page(
        request: Request,
        viewer: Viewer,
        device_id: str,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        console.require_anywhere(viewer, "fleet.view")
        row = load_kiosk(ctx, device_id) if is_id(device_id) else None
        if row is None:
            raise PageRefused(404, "Not found.")
        resource = kiosk_resource(row)
        console.require(viewer, "fleet.view", resource)
        detail = kiosk_detail(ctx, viewer.principal, row)
        done = request.query_params.get("done", "")
        return console.render(
            request,
            "kiosk.html",
            viewer,
            {
                "k": row,
                "timeline": detail.timeline,
                "incidents": detail.incidents,
                "may_identify": console.may(viewer, "kiosk.identify", resource),
                "may_drill": console.may(viewer, "kiosk.drill", resource),
                "may_see_incidents": console.may_somewhere(viewer, "incident.view"),
                "flash": DONE.get(done) if error is None else None,
                "error": error,
            },
            status=status,
        )

    @pages.get("/kiosks/{device_id}")
    def kiosk(request: Request, device_id: str) -> Response:
        return kiosk_page(request, console.viewer(request), device_id)

    async def command(request: Request, device_id: str, kind: KioskCommand) -> Response:
        viewer, _form = await console.form(request)
        row = load_kiosk(ctx, device_id) if is_id(device_id) else None
        if row is None:
            raise PageRefused(404, "Not found.")
        action: Action = "kiosk.identify" if kind == "identify" else "kiosk.drill"
        console.require(viewer, action, kiosk_resource(row))
        with ctx.engine.begin() as conn:
            outcome = action_requests.request_kiosk_command(
                conn, viewer.principal, row, kind, ctx.now()
            )
        if isinstance(outcome, Refuse):
            return kiosk_page(request, viewer, device_id, error=outcome.reason, status=409)
        ctx.counters.inc(f"console_kiosk_{kind}_requested")
        return RedirectResponse(f"{PREFIX}/kiosks/{quote(row.device_id)}?done={kind}", 303)

    @pages.post("/kiosks/{device_id}/identify")
    async def identify(request: Request, device_id: str) -> Response:
        return await command(request, device_id, "identify")

    @pages.post("/kiosks/{device_id}/drill")
    async def drill(request: Request, device_id: str) -> Response:
        return await command(request, device_id, "drill")

    return pages
