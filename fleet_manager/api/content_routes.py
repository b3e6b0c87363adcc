"""``/api/v1/content``: what content the fleet has and where it is going, in one read.

    GET /api/v1/content    content.view (anywhere)

Published bundles and channels come from the signed content repository; rollouts with their
progress by wave from the fleet database. Content is fleet-wide (a bundle or a channel belongs
to no facility), so anyone who may view content somewhere reads these; a facility admin's
``content.view`` means "what the kiosks of my facility run", and ``running`` (kiosks per
channel and content version) counts only the kiosks the caller's scope shows. Starting,
pausing, resuming and aborting rollouts are the ``/api/v1/rollouts`` routes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel

from content_repo.status import repository_status
from fleet_manager.accounts.policy import Principal, QueryScope
from fleet_manager.api.context import AppContext
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from fleet_manager.store.schema import devices, facilities, locations
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PATH = "/api/v1/content"
MAX_ROLLOUTS = 50  # the newest; older ones are in /api/v1/rollouts


class StateCountsView(BaseModel):
    pending: int
    notified: int
    applied: int
    healthy: int
    failed: int
    timed_out: int


class WaveView(BaseModel):
    wave: int  # 0-based
    size: str  # as planned: "10%", "50", "all"
    devices: int
    opened: bool
    counts: StateCountsView


class PauseView(BaseModel):
    by: str  # threshold | operator
    actor: str
    at: float
    wave: int | None
    reason: str
    failed: int
    timed_out: int
    judged: int


class ScopeView(BaseModel):
    regions: list[str]
    facilities: list[str]
    devices: list[str]


class RolloutView(BaseModel):
    rollout_id: str
    channel: str
    version: str
    baseline: str | None
    state: str  # running | paused | completed | aborted
    current_wave: int | None
    waves: list[WaveView]
    counts: StateCountsView
    percent_healthy: float
    pause: PauseView | None
    scope: ScopeView
    created_by: str
    created_at: float
    updated_at: float


class RunningView(BaseModel):
    channel: str
    version: str | None  # None: the kiosk has not reported a content version yet
    kiosks: int


class ContentView(BaseModel):
    repository: bool  # whether this fleet has a content repository
    problem: str | None  # the repository could not be read
    bundles: list[str]  # published versions, oldest first
    channels: dict[str, str]  # channel -> the version it points at
    rollouts: list[RolloutView]  # the newest first
    running: list[RunningView]  # kiosks the caller may see, by channel and content version


def rollout_view(row: rollouts.RolloutRow) -> RolloutView:
    progress = plan.progress(row.rollout).to_dict()
    return RolloutView.model_validate(
        {
            **progress,
            "channel": row.channel,
            "baseline": row.baseline,
            "scope": row.scope.model_dump(mode="json"),
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def repository_contents(repository: Path | None) -> tuple[list[str], dict[str, str], str | None]:
    """(published versions, channels, problem) of the content repository."""
    if repository is None:
        return [], {}, None
    try:
        status = repository_status(repository)
    except (OSError, ValueError) as exc:  # a missing or damaged repository (ContentRepoError)
        log.warning("content_repository_unreadable", problem=str(exc)[:200])
        return [], {}, "the content repository cannot be read (see the fleet API's log)"
    return list(status.bundles), dict(status.channels), None


def running(conn: sa.Connection, scope: QueryScope) -> list[RunningView]:
    kiosks = sa.func.count(devices.c.device_id)
    rows = conn.execute(
        sa.select(devices.c.channel, devices.c.content_version, kiosks)
        .select_from(devices.join(locations).join(facilities))
        .where(
            devices.c.registered.is_(True),
            devices.c.lifecycle == "active",
            scope.where(facilities.c.facility_id, facilities.c.region),
        )
        .group_by(devices.c.channel, devices.c.content_version)
    )
    found = [RunningView(channel=r[0], version=r[1], kiosks=r[2]) for r in rows]
    # Not reported yet first, in every database (NULLs sort differently in each).
    return sorted(found, key=lambda r: (r.channel, r.version is not None, r.version or ""))


def content_view(ctx: AppContext, who: Principal) -> ContentView:
    bundles, channels, problem = repository_contents(ctx.repository)
    with ctx.engine.connect() as conn:
        rows = rollouts.list_rollouts(conn)[::-1][:MAX_ROLLOUTS]
        kiosks = running(conn, ctx.guard.scope(who, "content.view"))
    return ContentView(
        repository=ctx.repository is not None,
        problem=problem,
        bundles=bundles,
        channels=channels,
        rollouts=[rollout_view(r) for r in rows],
        running=kiosks,
    )


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(tags=["content"])
    guard = ctx.guard

    @api.get(
        PATH,
        response_model=ContentView,
        responses={401: {"model": Refusal}, 403: {"model": Refusal}},
    )
    def get_content(who: Principal | None = guard.caller) -> Any:
        """Published bundles, channels, the newest rollouts with progress by wave, and which
        content the caller's kiosks run."""
        if (refused := guard.refuse_anywhere(who, "content.view")) is not None:
            return refused
        assert who is not None
        return content_view(ctx, who)

    return api
