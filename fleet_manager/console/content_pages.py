"""``/console/content``: bundles, channels and rollouts with their progress by wave.

    GET  /console/content                                   content.view (anywhere)
    POST /console/content/rollouts                          rollout.start (fleet-wide)
    POST /console/content/rollouts/{id}/pause|resume|abort  rollout.<action> (fleet-wide)

Progress is drawn with ``<progress>`` and ``<meter>`` (no JavaScript). The buttons appear only
for those allowed, and only where the action applies; the same service functions as the API
and ``beacon content rollout`` run underneath, so every action is audited the same way.
"""

from __future__ import annotations

import re
from typing import Any, Literal, cast

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fleet_manager.accounts.policy import Action
from fleet_manager.api import content_routes as shared
from fleet_manager.api.context import AppContext
from fleet_manager.console.web import PageRefused, Viewer
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from fleet_manager.store.schema import devices
from protocol.content_delivery import RolloutScope, bundle_target, channel_target
from transport.log import get_logger

log = get_logger("fleet_manager.console")

PATH = "/console/content"
DEFAULT_WAVES = "1%,10%,50%,100%"
ROLLOUT_ID = re.compile(r"ro-[0-9a-f]{1,32}")
OperatorAction = Literal["pause", "resume", "abort"]
DONE = {
    "started": "Rollout {id} started.",
    "pause": "Rollout {id} paused.",
    "resume": "Rollout {id} resumed.",
    "abort": "Rollout {id} aborted.",
}
# Which operator actions apply in which rollout state (the machine refuses the others too).
APPLIES: dict[str, tuple[OperatorAction, ...]] = {
    "running": ("pause", "abort"),
    "paused": ("resume", "abort"),
}


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    console = ctx.console

    def flash(request: Request) -> str | None:
        done = request.query_params.get("done", "")
        rollout_id = request.query_params.get("rollout", "")
        if done in DONE and ROLLOUT_ID.fullmatch(rollout_id):
            return DONE[done].format(id=rollout_id)
        return None

    def channels_known(conn: sa.Connection, published: dict[str, str]) -> list[str]:
        used = conn.execute(sa.select(devices.c.channel).distinct()).scalars()
        return sorted({*published, *used, "stable"})

    def page(
        request: Request,
        viewer: Viewer,
        *,
        problem: str | None = None,
        form: dict[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        view = shared.content_view(ctx, viewer.principal)
        with ctx.engine.connect() as conn:
            channels = channels_known(conn, view.channels)
        allowed = {
            action: console.may(viewer, cast(Action, f"rollout.{action}"))
            for action in ("pause", "resume", "abort")
        }
        context: dict[str, Any] = {
            "content": view,
            "actions": {
                r.rollout_id: [a for a in APPLIES.get(r.state, ()) if allowed[a]]
                for r in view.rollouts
            },
            "can_start": console.may(viewer, "rollout.start") and ctx.repository is not None,
            "channel_names": channels,
            "form": {"channel": "stable", "version": "", "waves": DEFAULT_WAVES, **(form or {})},
            "problem": problem,
            "flash": flash(request),
        }
        return console.render(request, "content.html", viewer, context, status=status)

    @pages.get(PATH)
    def content_page(request: Request) -> Response:
        viewer = console.viewer(request)
        console.require_anywhere(viewer, "content.view")
        return page(request, viewer)

    @pages.post(PATH + "/rollouts")
    async def start_rollout(request: Request) -> Response:
        viewer, form = await console.form(request)
        console.require(viewer, "rollout.start")
        fields = {k: str(form.get(k) or "").strip()[:200] for k in ("channel", "version", "waves")}
        channel, version = fields["channel"], fields["version"]
        try:
            channel_target(channel)
            bundle_target(version)
            waves = plan.parse_waves(fields["waves"])
        except ValueError as exc:
            return page(request, viewer, problem=f"Not started: {exc}", form=fields, status=422)
        bundles, _channels, _problem = shared.repository_contents(ctx.repository)
        if version not in bundles:
            message = f"Not started: version {version} is not published."
            return page(request, viewer, problem=message, form=fields, status=422)
        try:
            row = rollouts.start(
                ctx.engine,
                channel=channel,
                version=version,
                baseline=None,
                scope=RolloutScope(),
                waves=waves,
                success_threshold=0.95,
                error_threshold=0.05,
                timeout_s=900.0,
                actor=viewer.label,
                now=ctx.now(),
            )
        except rollouts.RolloutError as exc:
            return page(request, viewer, problem=f"Not started: {exc}", form=fields, status=409)
        return RedirectResponse(f"{PATH}?done=started&rollout={row.rollout_id}", status_code=303)

    @pages.post(PATH + "/rollouts/{rollout_id}/{action}")
    async def operate(request: Request, rollout_id: str, action: str) -> Response:
        viewer, _form = await console.form(request)
        if action not in ("pause", "resume", "abort"):
            raise PageRefused(404, "Not found.")
        console.require(viewer, cast(Action, f"rollout.{action}"))
        if not ROLLOUT_ID.fullmatch(rollout_id):
            raise PageRefused(404, "No such rollout.")
        with ctx.engine.connect() as conn:
            if rollouts.get(conn, rollout_id) is None:
                raise PageRefused(404, "No such rollout.")
        try:
            rollouts.operate(
                ctx.engine, rollout_id, cast(OperatorAction, action), viewer.label, ctx.now()
            )
        except rollouts.RolloutError as exc:
            return page(request, viewer, problem=str(exc), status=409)
        return RedirectResponse(f"{PATH}?done={action}&rollout={rollout_id}", status_code=303)

    return pages
