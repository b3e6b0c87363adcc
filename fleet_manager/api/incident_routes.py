"""``/api/v1/incidents``: incidents for responders and ops, newest first, scoped by region.

    GET  /api/v1/incidents                    incident.view (rows of the caller's scope)
    GET  /api/v1/incidents/{id}               incident.view on it (404 outside); audited
    POST /api/v1/incidents/{id}/ack           incident.ack → 202 + queued request
    POST /api/v1/incidents/{id}/resolve       incident.ack → 202 (409 if already resolved)
    POST /api/v1/incidents/{id}/note          incident.ack → 202 (409 without text)

Every view of one incident writes ``incident.viewed`` to the audit log (who looked, which
incident): reports are sensitive, and who read them must be known afterwards. Actions are
queued for the fleet manager, which applies them as a responder's action so responders'
screens update (see :mod:`fleet_manager.api.action_requests`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fleet_manager.accounts.policy import Principal
from fleet_manager.api import action_requests
from fleet_manager.api.action_requests import (
    ID_PATTERN,
    MAX_NOTE,
    NOTE_PATTERN,
    REQUESTS_PATH,
    ActionAnswer,
    IncidentAction,
    Refuse,
    RequestView,
    Unchanged,
    incident_resource,
)
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.store import audit_log, incident_store, incident_views
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.incident_views import IncidentFilter
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PREFIX = "/api/v1/incidents"
IncidentId = Path(min_length=1, max_length=63, pattern=ID_PATTERN)
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal},
    401: {"model": Refusal},
    403: {"model": Refusal},
    404: {"model": Refusal},
}
StateName = Literal["opened", "escalated", "acknowledged", "resolved"]
KindName = Literal["help", "drill", "tamper", "supervision", "report"]


class IncidentSummary(BaseModel):
    incident_id: str
    version: int
    state: str
    kind: str
    drill: bool
    region: str
    facility_id: str | None
    location_id: str
    location_name: str | None
    device_id: str
    opened_at: float
    updated_at: float
    route: str
    escalation_level: int
    escalation_team: str
    exhausted: bool
    acknowledged_by: str | None
    resolved_by: str | None


class IncidentList(BaseModel):
    total: int
    total_capped: bool  # true: at least ``total`` match (counting stops there)
    limit: int
    offset: int
    items: list[IncidentSummary]


class IncidentView(IncidentSummary):
    alert_ts: float
    notified: list[str]
    next_escalation_at: float | None
    # Kind "report": entries of the sealed report (GET .../report; only responders can open it).
    report_entries: int = 0


class TimelineItem(BaseModel):
    at: float
    event: str
    actor: str
    detail: dict[str, Any]


class IncidentDetail(BaseModel):
    incident: IncidentView
    timeline: list[TimelineItem]  # oldest first: who did what and when


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    note: str | None = Field(default=None, max_length=MAX_NOTE, pattern=NOTE_PATTERN)


def incident_view(record: IncidentRecord) -> IncidentView:
    status = record.status
    esc = status.escalation
    return IncidentView(
        incident_id=record.incident_id,
        version=record.version,
        state=status.state,
        kind=record.kind,
        drill=record.drill,
        region=record.region,
        facility_id=record.facility_id,
        location_id=record.location_id,
        location_name=record.location_name,
        device_id=record.device_id,
        opened_at=record.opened_at,
        updated_at=record.updated_at,
        route=record.route,
        escalation_level=esc.level,
        escalation_team=esc.team,
        exhausted=esc.exhausted,
        acknowledged_by=status.acknowledged_by,
        resolved_by=status.resolved_by,
        alert_ts=record.alert_ts,
        notified=list(esc.notified),
        next_escalation_at=esc.next_at,
        report_entries=record.report_entries,
    )


def load_incident(ctx: AppContext, incident_id: str) -> IncidentRecord | None:
    with ctx.engine.connect() as conn:
        return incident_store.get_incident(conn, incident_id)


def view_incident(
    ctx: AppContext, who: Principal, record: IncidentRecord, via: str
) -> IncidentDetail:
    """The incident with its whole timeline; the view is written to the audit log."""
    with ctx.engine.begin() as conn:
        timeline = incident_store.timeline(conn, record.incident_id)
        audit_log.record(
            conn,
            at=ctx.now(),
            actor=who.label,
            action="incident.viewed",
            subject=record.incident_id,
            outcome="ok",
            detail={"via": via},
        )
    return IncidentDetail(
        incident=incident_view(record),
        timeline=[
            TimelineItem(at=e.at, event=e.event, actor=e.actor, detail=dict(e.detail))
            for e in timeline
        ],
    )


def act(
    ctx: AppContext,
    who: Principal,
    record: IncidentRecord,
    action: IncidentAction,
    note: str | None,
) -> RequestView | Unchanged | Refuse:
    """Queue ``action`` on the incident (authorisation already checked by the caller)."""
    with ctx.engine.begin() as conn:
        outcome = action_requests.request_incident_action(
            conn, who, record, action, note, ctx.now()
        )
    if isinstance(outcome, Refuse):
        ctx.counters.inc("api_incident_action_refused")
        log.info(
            "incident_action_refused", who=who.label, incident=record.incident_id, action=action
        )
        return outcome
    if isinstance(outcome, Unchanged):
        return outcome
    ctx.counters.inc(f"api_incident_{action}_requested")
    log.info("incident_action_requested", who=who.label, incident=record.incident_id, action=action)
    return RequestView.of(outcome)


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["incidents"])
    guard = ctx.guard

    @api.get("", response_model=IncidentList, responses=RESPONSES)
    def list_incidents(
        state: StateName | None = None,
        kind: KindName | None = None,
        drill: bool | None = None,
        region: str | None = Query(default=None, max_length=63, pattern=ID_PATTERN),
        facility: str | None = Query(default=None, max_length=63, pattern=ID_PATTERN),
        since: float | None = Query(default=None, ge=0, le=1e11),
        limit: int = Query(default=incident_views.DEFAULT_LIMIT, ge=1, le=incident_views.MAX_LIMIT),
        offset: int = Query(default=0, ge=0, le=incident_views.MAX_OFFSET),
        who: Principal | None = guard.caller,
    ) -> Any:
        """Incidents of the caller's regions (and facilities), newest first."""
        if (refused := guard.refuse_anywhere(who, "incident.view")) is not None:
            return refused
        assert who is not None
        wanted = IncidentFilter(state, kind, drill, region, facility, since, limit, offset)
        with ctx.engine.connect() as conn:
            total, capped, rows = incident_views.list_incidents(
                conn, guard.scope(who, "incident.view"), wanted
            )
        return IncidentList(
            total=total,
            total_capped=capped,
            limit=limit,
            offset=offset,
            items=[IncidentSummary(**r.to_dict()) for r in rows],
        )

    @api.get("/{incident_id}", response_model=IncidentDetail, responses=RESPONSES)
    def get_incident(incident_id: str = IncidentId, who: Principal | None = guard.caller) -> Any:
        """One incident and its full timeline. Every call is written to the audit log."""
        if (refused := guard.refuse_anywhere(who, "incident.view")) is not None:
            return refused
        assert who is not None
        record = load_incident(ctx, incident_id)
        if record is None:
            return not_found("incident")
        resource = incident_resource(record)
        if (refused := guard.refuse_in(who, "incident.view", resource, "incident")) is not None:
            return refused
        return view_incident(ctx, who, record, "api")

    def post(
        incident_id: str, action: IncidentAction, body: ActionBody | None, who: Principal | None
    ) -> Any:
        if (refused := guard.refuse_anywhere(who, "incident.ack")) is not None:
            return refused
        assert who is not None
        record = load_incident(ctx, incident_id)
        if record is None:
            return not_found("incident")
        resource = incident_resource(record)
        if (refused := guard.refuse_in(who, "incident.ack", resource, "incident")) is not None:
            return refused
        outcome = act(ctx, who, record, action, body.note if body is not None else None)
        if isinstance(outcome, Refuse):
            return refusal(409, "conflict", outcome.reason)
        if isinstance(outcome, Unchanged):
            return ActionAnswer(request=None, message=outcome.reason)
        answer = ActionAnswer(request=outcome, message=f"{action} queued")
        return JSONResponse(
            status_code=202,
            content=answer.model_dump(),
            headers={"Location": f"{REQUESTS_PATH}/{outcome.request_id}"},
        )

    action_responses: dict[int | str, dict[str, Any]] = {
        **RESPONSES,
        202: {"model": ActionAnswer, "description": "queued for the fleet manager"},
        409: {"model": Refusal},
    }

    @api.post("/{incident_id}/ack", response_model=ActionAnswer, responses=action_responses)
    def ack(
        body: ActionBody | None = None,
        incident_id: str = IncidentId,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Acknowledge: escalation stops. A repeated acknowledgement answers 200, queues nothing."""
        return post(incident_id, "ack", body, who)

    @api.post("/{incident_id}/resolve", response_model=ActionAnswer, responses=action_responses)
    def resolve(
        body: ActionBody | None = None,
        incident_id: str = IncidentId,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Resolve, optionally with a note. 409 if already resolved."""
        return post(incident_id, "resolve", body, who)

    @api.post("/{incident_id}/note", response_model=ActionAnswer, responses=action_responses)
    def note(
        body: ActionBody | None = None,
        incident_id: str = IncidentId,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Add a note to the timeline (also on a resolved incident). 409 without text."""
        return post(incident_id, "note", body, who)

    return api
