"""``/console/audit``: the audit log with filters and paging, a "Verify chain" button, and a link
to the CSV export. Fleet-wide only (ops, auditor), like ``/api/v1/audit``.

The verification result is shown from the ``audit.verified`` entry the check itself wrote (the
redirect after the POST names its seq), so a crafted link cannot show a made-up result.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from fleet_manager.api.context import AppContext
from fleet_manager.store import audit_queries
from fleet_manager.store.audit_queries import AuditFilter
from transport.log import get_logger

log = get_logger("fleet_manager.console")

PAGE_SIZE = 100
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
Text = Annotated[str, Query(max_length=128)]


def day_start(text: str) -> float | None:
    """Midnight UTC at the start of a YYYY-MM-DD day; None if empty; ValueError if not a day."""
    if not text:
        return None
    day = date.fromisoformat(text)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix="/console", include_in_schema=False)
    console = ctx.console

    @pages.get("/audit")
    def audit_page(
        request: Request,
        action: Text = "",
        actor: Text = "",
        subject: Text = "",
        since: Text = "",
        until: Text = "",
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        verified: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        viewer = console.viewer(request)
        console.require(viewer, "audit.view")
        shown = {"action": action, "actor": actor, "subject": subject}
        shown |= {"since": since, "until": until}
        context: dict[str, Any] = {
            "filters": shown,
            "may_verify": console.may(viewer, "audit.verify"),
            "offset": offset,
            "page_size": PAGE_SIZE,
        }
        try:
            if any(CONTROL.search(v) for v in shown.values()):
                raise ValueError("Filters must not contain control characters.")
            start = day_start(since)
            end = day_start(until)
        except ValueError as exc:
            ctx.counters.inc("console_bad_requests")
            message = str(exc) if "control" in str(exc) else "Give days as YYYY-MM-DD."
            return console.render(
                request,
                "audit.html",
                viewer,
                {**context, "error": message, "entries": [], "total": 0},
                status=400,
            )
        where = AuditFilter(
            action or None,
            actor or None,
            subject or None,
            start,
            None if end is None else end + timedelta(days=1).total_seconds(),
        )
        with ctx.engine.connect() as conn:
            entries, total = audit_queries.page(conn, where, PAGE_SIZE, offset)
            check = audit_queries.get(conn, verified) if verified is not None else None
        if check is not None and check.action != audit_queries.VERIFIED:
            check = None
        query = {k: v for k, v in shown.items() if v}
        context |= {
            "entries": entries,
            "total": total,
            "check": check,
            "newer": (
                "?" + urlencode({**query, "offset": max(0, offset - PAGE_SIZE)})
                if offset > 0
                else None
            ),
            "older": (
                "?" + urlencode({**query, "offset": offset + PAGE_SIZE})
                if offset + PAGE_SIZE < total
                else None
            ),
            "csv_url": (
                "/api/v1/audit.csv?"
                + urlencode(
                    {
                        k: v
                        for k, v in {
                            "action": where.action,
                            "actor": where.actor,
                            "subject": where.subject,
                            "since": where.since,
                            "until": where.until,
                        }.items()
                        if v is not None
                    }
                )
                if console.may(viewer, "audit.export")
                else None
            ),
        }
        return console.render(request, "audit.html", viewer, context)

    @pages.post("/audit/verify")
    async def verify(request: Request) -> Response:
        viewer, _form = await console.form(request)
        console.require(viewer, "audit.verify")
        with ctx.engine.begin() as conn:
            check = audit_queries.verify_and_record(conn, actor=viewer.label, now=ctx.now())
        if not check.ok:
            ctx.counters.inc("audit_chain_broken")
            log.error("audit_chain_broken", who=viewer.label, first_bad_seq=check.first_bad_seq)
        return RedirectResponse(f"/console/audit?verified={check.recorded_seq}", status_code=303)

    return pages
