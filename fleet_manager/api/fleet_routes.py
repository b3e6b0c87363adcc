"""``/api/v1/kiosks`` and ``/api/v1/requests``: the fleet as the console shows it.

    GET  /api/v1/kiosks                       fleet.view (rows of the caller's scope)
    GET  /api/v1/kiosks/{device_id}           fleet.view on its facility (404 outside)
    POST /api/v1/kiosks/{device_id}/identify  kiosk.identify → 202 + queued request
    POST /api/v1/kiosks/{device_id}/drill     kiosk.drill    → 202 + queued request
    GET  /api/v1/requests/{request_id}        its own actor, or ops (404 otherwise)

A kiosk's scope is its location's facility (and that facility's region); a kiosk with no
location is visible to fleet-wide grants only. Commands are not sent from here: the request is
queued and a fleet manager instance sends the signed command (see :mod:`action_requests`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fleet_manager.accounts.policy import Principal
from fleet_manager.api import action_requests
from fleet_manager.api.action_requests import (
    ID_PATTERN,
    REQUEST_ID_PATTERN,
    REQUESTS_PATH,
    TEXT_PATTERN,
    ActionAnswer,
    KioskCommand,
    Refuse,
    RequestView,
    kiosk_resource,
)
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.api.incident_routes import IncidentSummary
from fleet_manager.store import console_requests, device_events, fleet_views, incident_views
from fleet_manager.store.fleet_views import KioskFilter, KioskRow
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PREFIX = "/api/v1/kiosks"
TIMELINE_LIMIT = 200
DeviceId = Path(min_length=1, max_length=63, pattern=ID_PATTERN)
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal},
    401: {"model": Refusal},
    403: {"model": Refusal},
    404: {"model": Refusal},
}


class KioskView(BaseModel):
    device_id: str
    online: bool
    last_heartbeat_at: float | None
    status_at: float | None
    content_version: str | None
    app_version: str | None
    channel: str
    lifecycle: str
    location_id: str | None
    location_name: str | None
    facility_id: str | None
    facility_name: str | None
    region: str | None


class KioskList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[KioskView]


class DeviceEventView(BaseModel):
    at: float
    event: str
    actor: str
    detail: dict[str, Any]


class KioskDetail(BaseModel):
    kiosk: KioskView
    timeline: list[DeviceEventView]  # newest first
    incidents: list[IncidentSummary]  # the recent ones the caller may see, newest first


def kiosk_view(row: KioskRow) -> KioskView:
    return KioskView(**row.to_dict())


def kiosk_detail(ctx: AppContext, who: Principal, row: KioskRow) -> KioskDetail:
    """The kiosk, its timeline and its recent incidents (those ``who`` may view)."""
    scope = ctx.guard.scope(who, "incident.view")
    with ctx.engine.connect() as conn:
        events = device_events.timeline(conn, row.device_id, TIMELINE_LIMIT)
        incidents = incident_views.kiosk_incidents(conn, scope, row.device_id)
    return KioskDetail(
        kiosk=kiosk_view(row),
        timeline=[DeviceEventView(**e.to_dict()) for e in events],
        incidents=[IncidentSummary(**i.to_dict()) for i in incidents],
    )


def load_kiosk(ctx: AppContext, device_id: str) -> KioskRow | None:
    with ctx.engine.connect() as conn:
        return fleet_views.get_kiosk(conn, device_id)


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(tags=["fleet"])
    guard = ctx.guard

    @api.get(PREFIX, response_model=KioskList, responses=RESPONSES)
    def list_kiosks(
        region: str | None = Query(default=None, max_length=63, pattern=ID_PATTERN),
        facility: str | None = Query(default=None, max_length=63, pattern=ID_PATTERN),
        status: Literal["online", "offline"] | None = None,
        lifecycle: Literal["active", "revoked", "decommissioned"] | None = None,
        q: str | None = Query(default=None, max_length=64, pattern=TEXT_PATTERN),
        limit: int = Query(default=fleet_views.DEFAULT_LIMIT, ge=1, le=fleet_views.MAX_LIMIT),
        offset: int = Query(default=0, ge=0, le=1_000_000),
        who: Principal | None = guard.caller,
    ) -> Any:
        """Kiosks of the caller's facilities and regions, by device id."""
        if (refused := guard.refuse_anywhere(who, "fleet.view")) is not None:
            return refused
        assert who is not None
        wanted = KioskFilter(region, facility, status, lifecycle, q, limit, offset)
        with ctx.engine.connect() as conn:
            total, rows = fleet_views.list_kiosks(conn, guard.scope(who, "fleet.view"), wanted)
        return KioskList(
            total=total, limit=limit, offset=offset, items=[kiosk_view(r) for r in rows]
        )

    @api.get(PREFIX + "/{device_id}", response_model=KioskDetail, responses=RESPONSES)
    def get_kiosk(device_id: str = DeviceId, who: Principal | None = guard.caller) -> Any:
        """One kiosk with its timeline (newest first) and recent incidents."""
        if (refused := guard.refuse_anywhere(who, "fleet.view")) is not None:
            return refused
        assert who is not None
        row = load_kiosk(ctx, device_id)
        if row is None:
            return not_found("kiosk")
        if (
            refused := guard.refuse_in(who, "fleet.view", kiosk_resource(row), "kiosk")
        ) is not None:
            return refused
        return kiosk_detail(ctx, who, row)

    def command(device_id: str, kind: KioskCommand, who: Principal | None) -> Any:
        action: Literal["kiosk.identify", "kiosk.drill"] = (
            "kiosk.identify" if kind == "identify" else "kiosk.drill"
        )
        if (refused := guard.refuse_anywhere(who, action)) is not None:
            return refused
        assert who is not None
        row = load_kiosk(ctx, device_id)
        if row is None:
            return not_found("kiosk")
        if (refused := guard.refuse_in(who, action, kiosk_resource(row), "kiosk")) is not None:
            return refused
        with ctx.engine.begin() as conn:
            outcome = action_requests.request_kiosk_command(conn, who, row, kind, ctx.now())
        if isinstance(outcome, Refuse):
            ctx.counters.inc("api_kiosk_command_refused")
            log.info("kiosk_command_refused", who=who.label, device=device_id, command=kind)
            return refusal(409, "conflict", outcome.reason)
        ctx.counters.inc(f"api_kiosk_{kind}_requested")
        log.info("kiosk_command_requested", who=who.label, device=device_id, command=kind)
        answer = ActionAnswer(request=RequestView.of(outcome), message=f"{kind} queued")
        return JSONResponse(
            status_code=202,
            content=answer.model_dump(),
            headers={"Location": f"{REQUESTS_PATH}/{outcome.request_id}"},
        )

    command_responses = {**RESPONSES, 409: {"model": Refusal}}

    @api.post(
        PREFIX + "/{device_id}/identify",
        status_code=202,
        response_model=ActionAnswer,
        responses=command_responses,
    )
    def identify(device_id: str = DeviceId, who: Principal | None = guard.caller) -> Any:
        """Ask the kiosk to show who it is (its id and location on screen) for a while."""
        return command(device_id, "identify", who)

    @api.post(
        PREFIX + "/{device_id}/drill",
        status_code=202,
        response_model=ActionAnswer,
        responses=command_responses,
    )
    def drill(device_id: str = DeviceId, who: Principal | None = guard.caller) -> Any:
        """Ask the kiosk to raise a drill alert (routed and marked as a drill)."""
        return command(device_id, "drill", who)

    @api.get(
        REQUESTS_PATH + "/{request_id}",
        response_model=RequestView,
        responses=RESPONSES,
        tags=["requests"],
    )
    def get_request(
        request_id: str = Path(min_length=32, max_length=32, pattern=REQUEST_ID_PATTERN),
        who: Principal | None = guard.caller,
    ) -> Any:
        """A queued action: its state (queued, claimed, done, refused) and outcome."""
        if who is None:
            return guard.unauthenticated()
        with ctx.engine.connect() as conn:
            found = console_requests.get(conn, request_id)
        if found is None or not action_requests.may_see_request(who, found):
            return not_found("request")
        return RequestView.of(found)

    return api
