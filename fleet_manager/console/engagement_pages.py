"""``/console/engagement``: help presses and QR scans as a chart per day and tables per location
and language, for a range of days and optionally one facility; a link to the CSV export.

Scoped like ``GET /api/v1/engagement`` (engagement.view): a facility admin sees their
facilities' locations only; another facility answers 404.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from fleet_manager.accounts.policy import Resource
from fleet_manager.api.context import AppContext
from fleet_manager.api.engagement_routes import ID_PATTERN
from fleet_manager.console.charts import Series, stacked_bars
from fleet_manager.console.web import PageRefused
from fleet_manager.store import engagement
from fleet_manager.store.registry import get_facility, list_facilities

Text = Annotated[str, Query(max_length=64)]
ID = re.compile(ID_PATTERN)


def daily_chart(summary: engagement.Summary, days: engagement.DayRange) -> Markup:
    """The per-day chart as inline SVG (charts escape every text they draw)."""
    labels = [d.day for d in summary.per_day]
    svg = stacked_bars(
        labels,
        [
            Series("help", "Help presses", tuple(d.help for d in summary.per_day)),
            Series("qr_scan", "QR scans", tuple(d.qr_scan for d in summary.per_day)),
        ],
        title=f"Per day (UTC), {days.since.isoformat()} to {days.until.isoformat()}",
        tick_labels=[d[5:] for d in labels],
    )
    return Markup(svg)  # built by charts.stacked_bars, which escapes every text


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix="/console", include_in_schema=False)
    console = ctx.console

    @pages.get("/engagement")
    def engagement_page(
        request: Request, since: Text = "", until: Text = "", facility: Text = ""
    ) -> Response:
        viewer = console.viewer(request)
        console.require_anywhere(viewer, "engagement.view")
        scope = ctx.guard.scope(viewer.principal, "engagement.view")
        with ctx.engine.connect() as conn:
            choices = [f for f in list_facilities(conn) if scope.includes(f.facility_id, f.region)]
            chosen = get_facility(conn, facility) if ID.fullmatch(facility) else None
        if facility:
            if chosen is None:
                raise PageRefused(404, "Not found.")
            console.require(
                viewer, "engagement.view", Resource.facility(chosen.facility_id, chosen.region)
            )
        context: dict[str, object] = {
            "since": since,
            "until": until,
            "facility": facility,
            "facilities": choices,
        }
        try:
            days = engagement.resolve_range(
                since or None, until or None, date.fromisoformat(engagement.day_of(ctx.now()))
            )
        except engagement.EngagementError as exc:
            ctx.counters.inc("console_bad_requests")
            return console.render(
                request, "engagement.html", viewer, {**context, "error": str(exc)}, status=400
            )
        with ctx.engine.connect() as conn:
            found = engagement.rows(
                conn, days.since.isoformat(), days.until.isoformat(), scope, facility or None
            )
        summary = engagement.summarize(found, days.days)
        params = {"since": days.since.isoformat(), "until": days.until.isoformat()}
        if facility:
            params["facility"] = facility
        csv_url = (
            "/api/v1/engagement.csv?" + urlencode(params)
            if console.may_somewhere(viewer, "engagement.export")
            else None
        )
        return console.render(
            request,
            "engagement.html",
            viewer,
            {
                **context,
                "since": days.since.isoformat(),
                "until": days.until.isoformat(),
                "summary": summary,
                "chart": daily_chart(summary, days),
                "csv_url": csv_url,
            },
        )

    return pages
