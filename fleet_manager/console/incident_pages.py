"""The incident pages: a live feed of incidents and one incident with its whole timeline.

    GET  /console/incidents                    incident.view (filters, live table)
    GET  /console/incidents/live               incident.view (SSE: new and changed incidents)
    GET  /console/incidents/{id}               incident.view on it (404 outside); audited
    POST /console/incidents/{id}/ack|resolve|note   incident.ack (form with CSRF) → 303 back

The same queries, audit entries and request path as ``/api/v1/incidents``
(:mod:`fleet_manager.api.incident_routes`). Drills are marked on every row and on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fleet_manager.accounts.policy import Principal, QueryScope
from fleet_manager.api.action_requests import (
    MAX_NOTE,
    IncidentAction,
    Refuse,
    Unchanged,
    incident_resource,
    is_id,
    is_text,
)
from fleet_manager.api.context import AppContext
from fleet_manager.api.incident_routes import act, load_incident, view_incident
from fleet_manager.console import live_feed
from fleet_manager.console.web import PREFIX, PageRefused, Viewer
from fleet_manager.store import incident_views
from fleet_manager.store.incident_views import IncidentFilter, IncidentRow

PAGE_SIZE = 100
STATES = ("opened", "escalated", "acknowledged", "resolved")
KINDS = ("help", "drill", "tamper", "supervision", "report")
MAX_TEXT = 64

DONE = {
    "ack": "Acknowledgement sent: escalation stops once the fleet manager applies it.",
    "resolve": "Resolution sent to the fleet manager.",
    "note": "Note sent to the fleet manager.",
    "unchanged": "Already acknowledged: nothing to do.",
}


def _text(params: Mapping[str, str], name: str) -> str | None:
    """Free text (the search box): trimmed, shortened, without control characters."""
    value = params.get(name, "").strip()[:MAX_TEXT]
    return value if value and is_text(value) else None


def _id(params: Mapping[str, str], name: str) -> str | None:
    """An id (region, facility, lifecycle): anything that is not one is ignored."""
    value = params.get(name, "").strip()
    return value if is_id(value) else None


def incident_filter(params: Mapping[str, str]) -> IncidentFilter:
    """The page's filter from its query (pure); unknown or malformed values are ignored."""
    state = params.get("state")
    kind = params.get("kind")
    drill = params.get("drill")
    offset = params.get("offset", "")
    return IncidentFilter(
        state=state if state in STATES else None,
        kind=kind if kind in KINDS else None,
        drill=True if drill == "yes" else False if drill == "no" else None,
        region=_id(params, "region"),
        facility=_id(params, "facility"),
        limit=PAGE_SIZE,
        offset=min(int(offset), incident_views.MAX_OFFSET) if offset.isdigit() else 0,
    )


def filter_query(f: IncidentFilter, **changes: Any) -> str:
    values: dict[str, Any] = {
        "state": f.state,
        "kind": f.kind,
        "drill": None if f.drill is None else "yes" if f.drill else "no",
        "region": f.region,
        "facility": f.facility,
        "offset": f.offset or None,
        **changes,
    }
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, include_in_schema=False)
    console = ctx.console
    row_template = console.templates.get_template("incident_row.html")

    def render_row(row: IncidentRow, _who: Principal) -> str:
        return row_template.render(i=row)

    def change(row: IncidentRow) -> live_feed.Change:
        return live_feed.Change(f"incident-{row.incident_id}", row.version, row.updated_at)

    @pages.get("/incidents")
    def incidents(request: Request) -> Response:
        viewer = console.viewer(request)
        console.require_anywhere(viewer, "incident.view")
        wanted = incident_filter(request.query_params)
        scope = ctx.guard.scope(viewer.principal, "incident.view")
        now = ctx.now()
        with ctx.engine.connect() as conn:
            total, capped, rows = incident_views.list_incidents(conn, scope, wanted)
        offset = wanted.offset
        previous = max(0, offset - PAGE_SIZE) if offset > 0 else None
        more = capped or offset + PAGE_SIZE < total
        following = offset + PAGE_SIZE if more and len(rows) == PAGE_SIZE else None
        return console.render(
            request,
            "incidents.html",
            viewer,
            {
                "f": wanted,
                "rows": rows,
                "total": total,
                "capped": capped,
                "states": STATES,
                "kinds": KINDS,
                "previous": None if previous is None else filter_query(wanted, offset=previous),
                "following": None if following is None else filter_query(wanted, offset=following),
                # Only the first page is live: new incidents arrive at its top.
                "live_url": None
                if offset
                else f"{PREFIX}/incidents/live?"
                + filter_query(wanted, state=None, since=repr(now)),
            },
        )

    # Registered before /incidents/{incident_id}, which would otherwise take "live" as an id.
    @pages.get("/incidents/live")
    def incidents_live(request: Request) -> Response:
        params = request.query_params
        wanted = incident_filter(params)

        def fetch(conn: sa.Connection, scope: QueryScope, since: float) -> list[IncidentRow]:
            return incident_views.changed_since(conn, scope, wanted, since)

        feed = live_feed.Feed("incidents", "incident.view", fetch, change, render_row)
        return live_feed.page_stream(ctx, request, feed, params.get("since"))

    def incident_page(
        request: Request,
        viewer: Viewer,
        incident_id: str,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        console.require_anywhere(viewer, "incident.view")
        record = load_incident(ctx, incident_id) if is_id(incident_id) else None
        if record is None:
            raise PageRefused(404, "Not found.")
        resource = incident_resource(record)
        console.require(viewer, "incident.view", resource)
        detail = view_incident(ctx, viewer.principal, record, "console")
        done = request.query_params.get("done", "")
        return console.render(
            request,
            "incident.html",
            viewer,
            {
                "i": detail.incident,
                "timeline": detail.timeline,
                "may_act": console.may(viewer, "incident.ack", resource),
                "max_note": MAX_NOTE,
                "flash": DONE.get(done) if error is None else None,
                "error": error,
            },
            status=status,
        )

    @pages.get("/incidents/{incident_id}")
    def incident(request: Request, incident_id: str) -> Response:
        return incident_page(request, console.viewer(request), incident_id)

    async def post(request: Request, incident_id: str, action: IncidentAction) -> Response:
        viewer, form = await console.form(request)
        record = load_incident(ctx, incident_id) if is_id(incident_id) else None
        if record is None:
            raise PageRefused(404, "Not found.")
        console.require(viewer, "incident.ack", incident_resource(record))
        note = form.get("note")
        outcome = act(
            ctx, viewer.principal, record, action, note if isinstance(note, str) else None
        )
        if isinstance(outcome, Refuse):
            return incident_page(request, viewer, incident_id, error=outcome.reason, status=409)
        done = "unchanged" if isinstance(outcome, Unchanged) else action
        return RedirectResponse(
            f"{PREFIX}/incidents/{quote(record.incident_id)}?done={done}", status_code=303
        )

    @pages.post("/incidents/{incident_id}/ack")
    async def ack(request: Request, incident_id: str) -> Response:
        return await post(request, incident_id, "ack")

    @pages.post("/incidents/{incident_id}/resolve")
    async def resolve(request: Request, incident_id: str) -> Response:
        return await post(request, incident_id, "resolve")

    @pages.post("/incidents/{incident_id}/note")
    async def note(request: Request, incident_id: str) -> Response:
        return await post(request, incident_id, "note")

    return pages
