"""Everything the console adds to the app: its pages, their JSON twins under ``/api/v1``,
static files, and the handler that turns a refused page into the login redirect or an error
page. Each area has a ``*_routes`` module (JSON) and a ``*_pages`` module (HTML)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from fleet_manager.api import (
    audit_routes,
    content_routes,
    engagement_routes,
    fleet_routes,
    incident_routes,
    metrics_routes,
    registry_routes,
    report_routes,
    routing_routes,
    token_routes,
    training_routes,
)
from fleet_manager.api.auth import Authenticator
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import Guard
from fleet_manager.config import FleetConfig
from fleet_manager.console import (
    audit_pages,
    content_pages,
    engagement_pages,
    fleet_pages,
    incident_pages,
    registry_pages,
    routing_pages,
    token_pages,
    training_pages,
)
from fleet_manager.console.web import HERE, Console, PageRefused, base_router

AREAS = (
    fleet_routes,
    incident_routes,
    report_routes,
    routing_routes,
    content_routes,
    registry_routes,
    engagement_routes,
    audit_routes,
    token_routes,
    metrics_routes,
    training_routes,
    fleet_pages,
    incident_pages,
    routing_pages,
    content_pages,
    registry_pages,
    engagement_pages,
    audit_pages,
    token_pages,
    training_pages,
)


def mount_console(
    app: FastAPI, auth: Authenticator, config: FleetConfig | None, repository: Path | None
) -> AppContext:
    console = Console(auth)
    ctx = AppContext(auth, Guard(auth), console, config, repository)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, exc: PageRefused) -> Response:
        return console.refused_page(request, exc)

    app.include_router(base_router(console))
    for area in AREAS:
        app.include_router(area.router(ctx))
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    return ctx
