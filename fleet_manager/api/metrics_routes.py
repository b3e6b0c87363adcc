"""``/metrics``: the fleet in Prometheus text format (not in the OpenAPI document).

Needs an API token (``Authorization: Bearer``) or a console session allowed ``fleet.view``
fleet-wide (ops): 401 without, 403 otherwise (a facility admin sees only their kiosks, so not
fleet totals). Incidents, kiosks, rollouts and console requests are counted in the store;
counters and the alert-latency histogram are the fleet manager instances' snapshots summed
(:mod:`fleet_manager.metrics_export`), plus this API process's own counters. Served as text
format 0.0.4, which every Prometheus version reads (all our names are plain ASCII).
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from fleet_manager.api.context import AppContext
from fleet_manager.metrics import Counters
from fleet_manager.metrics_export import (
    Exposition,
    FleetFigures,
    Snapshot,
    exposition_text,
    families,
)
from fleet_manager.store.schema import (
    console_requests,
    devices,
    incidents,
    metric_snapshots,
    rollouts,
)
from transport.log import get_logger

log = get_logger("fleet_manager.api")


def read_figures(conn: sa.Connection, counters: Counters, now: float) -> FleetFigures:
    """Everything /metrics reports, in a handful of GROUP BY queries."""
    n = sa.func.count()
    return FleetFigures(
        now=now,
        incidents=[
            (str(state), str(kind), int(count))
            for state, kind, count in conn.execute(
                sa.select(incidents.c.state, incidents.c.kind, n).group_by(
                    incidents.c.state, incidents.c.kind
                )
            )
        ],
        kiosks=[
            (bool(online), str(lifecycle), int(count))
            for online, lifecycle, count in conn.execute(
                sa.select(devices.c.online, devices.c.lifecycle, n)
                .where(devices.c.registered.is_(True))
                .group_by(devices.c.online, devices.c.lifecycle)
            )
        ],
        rollouts=[
            (str(state), int(count))
            for state, count in conn.execute(
                sa.select(rollouts.c.state, n).group_by(rollouts.c.state)
            )
        ],
        console_requests=[
            (str(state), int(count))
            for state, count in conn.execute(
                sa.select(console_requests.c.state, n).group_by(console_requests.c.state)
            )
        ],
        snapshots=[
            Snapshot(r.instance, r.updated_at, r.counters, r.histograms)
            for r in conn.execute(sa.select(metric_snapshots))
        ],
        api_counters=counters.snapshot(),
    )


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(include_in_schema=False)

    @api.get("/metrics")
    def metrics(request: Request) -> Response:
        caller = ctx.auth.caller(request)
        who = None if caller is None else caller.principal
        if (refused := ctx.guard.refuse(who, "fleet.view")) is not None:
            return refused
        with ctx.engine.connect() as conn:
            figures = read_figures(conn, ctx.counters, ctx.now())
        found: Exposition = families(figures)
        if found.skipped:
            ctx.counters.inc("metrics_histograms_skipped", len(found.skipped))
            log.warning("metrics_histograms_skipped", instances=found.skipped)
        return Response(exposition_text(found.families), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return api
