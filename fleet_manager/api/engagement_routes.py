"""``/api/v1/engagement``: help presses and QR scans per day, location and language.

    GET /api/v1/engagement?since=&until=&facility=       engagement.view   → rows and totals
    GET /api/v1/engagement.csv?since=&until=&facility=   engagement.export → text/csv (audited)

Days are UTC (YYYY-MM-DD), both ends included; by default the last 30 days, at most 366.
Scoped like every list: a facility admin sees the locations of their facilities only, and a
facility outside the caller's scope answers 404 exactly like an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from fleet_manager.accounts.policy import Action, Principal, QueryScope, Resource
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.csv_export import to_csv
from fleet_manager.store import audit_log, engagement
from fleet_manager.store.registry import get_facility
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PATH = "/api/v1/engagement"
CSV_HEADER = (
    "day",
    "facility_id",
    "facility_name",
    "region",
    "location_id",
    "location_name",
    "kind",
    "language",
    "count",
)

Day = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        json_schema_extra={"format": "date"},
        description="UTC day, YYYY-MM-DD",
    ),
]
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
FacilityId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID_PATTERN)]


class RowOut(BaseModel):
    day: str
    location_id: str
    location_name: str
    facility_id: str
    facility_name: str
    region: str
    kind: str
    language: str
    count: int


class DayOut(BaseModel):
    day: str
    help: int
    qr_scan: int


class LocationOut(BaseModel):
    location_id: str
    location_name: str
    facility_id: str
    facility_name: str
    region: str
    help: int
    qr_scan: int
    total: int


class LanguageOut(BaseModel):
    language: str
    help: int
    qr_scan: int
    total: int


class TotalsOut(BaseModel):
    help: int
    qr_scan: int


class EngagementReport(BaseModel):
    since: str
    until: str
    facility: str | None
    totals: TotalsOut
    per_day: list[DayOut]
    per_location: list[LocationOut]
    per_language: list[LanguageOut]
    rows: list[RowOut]


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal, "description": "a bad day or range"},
    401: {"model": Refusal},
    403: {"model": Refusal},
    404: {"model": Refusal, "description": "no such facility (or not yours)"},
}


@dataclass(frozen=True)
class EngagementQuery:
    """A checked request: the days, the facility (if any) and the caller's scope."""

    days: engagement.DayRange
    facility: str | None
    scope: QueryScope


def today(ctx: AppContext) -> date:
    return date.fromisoformat(engagement.day_of(ctx.now()))


def check(
    ctx: AppContext,
    who: Principal,
    action: Action,
    since: str | None,
    until: str | None,
    facility: str | None,
) -> EngagementQuery | JSONResponse:
    """The request's range and facility, or the 400/404 to answer (after the caller has been
    allowed ``action`` somewhere)."""
    try:
        days = engagement.resolve_range(since, until, today(ctx))
    except engagement.EngagementError as exc:
        ctx.counters.inc("api_bad_requests")
        log.warning("api_bad_request", path=PATH, problem=str(exc))
        return refusal(400, "bad_request", str(exc))
    if facility is not None:
        with ctx.engine.connect() as conn:
            found = get_facility(conn, facility)
        if found is None:
            return not_found("facility")
        refused = ctx.guard.refuse_in(
            who, action, Resource.facility(found.facility_id, found.region), "facility"
        )
        if refused is not None:
            return refused
    return EngagementQuery(days, facility, ctx.guard.scope(who, action))


def fetch(ctx: AppContext, q: EngagementQuery) -> list[engagement.EngagementRow]:
    with ctx.engine.connect() as conn:
        return engagement.rows(
            conn, q.days.since.isoformat(), q.days.until.isoformat(), q.scope, q.facility
        )


def report(q: EngagementQuery, found: list[engagement.EngagementRow]) -> EngagementReport:
    summary = engagement.summarize(found, q.days.days)
    return EngagementReport(
        since=q.days.since.isoformat(),
        until=q.days.until.isoformat(),
        facility=q.facility,
        totals=TotalsOut(help=summary.help, qr_scan=summary.qr_scan),
        per_day=[DayOut(day=d.day, help=d.help, qr_scan=d.qr_scan) for d in summary.per_day],
        per_location=[
            LocationOut(
                location_id=t.location_id,
                location_name=t.location_name,
                facility_id=t.facility_id,
                facility_name=t.facility_name,
                region=t.region,
                help=t.help,
                qr_scan=t.qr_scan,
                total=t.total,
            )
            for t in summary.per_location
        ],
        per_language=[
            LanguageOut(language=t.language, help=t.help, qr_scan=t.qr_scan, total=t.total)
            for t in summary.per_language
        ],
        rows=[RowOut(**r.__dict__) for r in found],
    )


def csv_text(found: list[engagement.EngagementRow]) -> str:
    return to_csv(
        CSV_HEADER,
        (
            (
                r.day,
                r.facility_id,
                r.facility_name,
                r.region,
                r.location_id,
                r.location_name,
                r.kind,
                r.language,
                r.count,
            )
            for r in found
        ),
    )


def export_csv(ctx: AppContext, who: Principal, q: EngagementQuery) -> Response:
    """The CSV download (API and console alike), audited with its range."""
    found = fetch(ctx, q)
    with ctx.engine.begin() as conn:
        audit_log.record(
            conn,
            at=ctx.now(),
            actor=who.label,
            action="engagement.exported",
            subject=q.facility or "all",
            outcome="ok",
            detail={
                "since": q.days.since.isoformat(),
                "until": q.days.until.isoformat(),
                "facility": q.facility,
                "rows": len(found),
            },
        )
    ctx.counters.inc("engagement_exports")
    log.info("engagement_exported", who=who.label, rows=len(found))
    name = f"engagement-{q.days.since.isoformat()}-{q.days.until.isoformat()}.csv"
    return Response(
        csv_text(found),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(tags=["engagement"])
    guard = ctx.guard

    @api.get(PATH, response_model=EngagementReport, responses=REFUSALS)
    def get_engagement(
        since: Day = None,
        until: Day = None,
        facility: FacilityId = None,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Help presses and QR scans per day and kind, per location and per language."""
        if (refused := guard.refuse_anywhere(who, "engagement.view")) is not None:
            return refused
        assert who is not None
        q = check(ctx, who, "engagement.view", since, until, facility)
        if isinstance(q, JSONResponse):
            return q
        return report(q, fetch(ctx, q))

    @api.get(
        PATH + ".csv",
        response_class=Response,
        responses={
            200: {
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": "one row per day, location, kind and language",
            },
            **REFUSALS,
        },
    )
    def get_engagement_csv(
        since: Day = None,
        until: Day = None,
        facility: FacilityId = None,
        who: Principal | None = guard.caller,
    ) -> Response:
        """The same counts as CSV (a header row, then one row per day, location, kind and
        language); the export is written to the audit log."""
        if (refused := guard.refuse_anywhere(who, "engagement.export")) is not None:
            return refused
        assert who is not None
        q = check(ctx, who, "engagement.export", since, until, facility)
        if isinstance(q, JSONResponse):
            return q
        return export_csv(ctx, who, q)

    return api
