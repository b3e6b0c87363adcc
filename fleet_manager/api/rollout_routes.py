"""``/api/v1/rollouts``: staged content rollouts over HTTPS, for automation with an API token.

    GET  /api/v1/rollouts[?channel=C]              content.view (in any scope)
    GET  /api/v1/rollouts/{id}                     content.view (in any scope)
    POST /api/v1/rollouts                          rollout.start     (201, 409 if one is active)
    POST /api/v1/rollouts/{id}/pause|resume|abort  rollout.<action>  (409 if it does not apply)

Every route needs an API token (``Authorization: Bearer bct_…``) or a console session (with its
CSRF token on changes; see :mod:`fleet_manager.api.auth`): 401 without, and a grant that allows
the action fleet-wide (403 otherwise; rollouts move whole channels). The same service functions
as ``beacon content rollout`` run underneath, so both write the same audit entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from content_repo.status import repository_status
from fleet_manager.accounts.policy import (
    Action,
    Principal,
)
from fleet_manager.api.auth import Authenticator
from fleet_manager.api.content_routes import RolloutView, rollout_view
from fleet_manager.api.guard import Guard, refusal
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from protocol.content_delivery import RolloutScope, bundle_target
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PREFIX = "/api/v1/rollouts"


class RolloutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: str = Field(min_length=1, max_length=32)
    version: str = Field(min_length=1, max_length=32)
    baseline: str | None = Field(default=None, max_length=32)
    waves: str = Field(default="1%,10%,50%,100%", max_length=200)
    success_threshold: float = Field(default=0.95, gt=0, le=1)
    error_threshold: float = Field(default=0.05, ge=0, le=1)
    timeout_s: float = Field(default=900.0, gt=0, le=7 * 86400)
    regions: tuple[str, ...] = Field(default=(), max_length=100)
    facilities: tuple[str, ...] = Field(default=(), max_length=1000)
    devices: tuple[str, ...] = Field(default=(), max_length=1000)


def _view(row: rollouts.RolloutRow) -> dict[str, Any]:
    """A rollout as every route answers it (the shape :class:`RolloutView` documents, as in
    ``/api/v1/content``)."""
    return rollout_view(row).model_dump(mode="json")


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Refusals a route may answer: 400 (input that does not fit), 401, 403, and ``codes``."""
    return {code: {"model": Refusal} for code in (400, 401, 403, *codes)}


def rollout_router(auth: Authenticator, repository: Path | None = None) -> APIRouter:
    """The routes, bound to the fleet database (and the content repository, to refuse a
    rollout of a version that was never published)."""
    router = APIRouter(prefix=PREFIX, tags=["rollouts"])
    engine, clock = auth.engine, auth.clock

    guard = Guard(auth)
    caller = guard.caller

    @router.get("", response_model=list[RolloutView], responses=_responses())
    def list_rollouts(
        channel: Annotated[str | None, Query(max_length=32)] = None,
        who: Principal | None = caller,
    ) -> Any:
        """Every rollout (or one channel's), oldest first, with progress by wave."""
        if (refused := guard.refuse_anywhere(who, "content.view")) is not None:
            return refused
        with engine.connect() as conn:
            return [_view(r) for r in rollouts.list_rollouts(conn, channel)]

    @router.get("/{rollout_id}", response_model=RolloutView, responses=_responses(404))
    def get_rollout(rollout_id: str, who: Principal | None = caller) -> Any:
        if (refused := guard.refuse_anywhere(who, "content.view")) is not None:
            return refused
        with engine.connect() as conn:
            row = rollouts.get(conn, rollout_id[:64])
        if row is None:
            return refusal(404, "unknown_rollout", f"no rollout {rollout_id[:64]!r}")
        return _view(row)

    @router.post("", status_code=201, response_model=RolloutView, responses=_responses(409, 422))
    def start_rollout(body: RolloutRequest, who: Principal | None = caller) -> Any:
        """Start rolling a published version out to a channel, wave by wave."""
        if (refused := guard.refuse(who, "rollout.start")) is not None:
            return refused
        assert who is not None
        try:
            bundle_target(body.version)
            waves = plan.parse_waves(body.waves)
            scope = RolloutScope(
                regions=body.regions, facilities=body.facilities, devices=body.devices
            )
        except ValueError as exc:
            return refusal(422, "bad_request", str(exc))
        if repository is not None and body.version not in repository_status(repository).bundles:
            return refusal(422, "unpublished", f"version {body.version} is not published")
        try:
            row = rollouts.start(
                engine,
                channel=body.channel,
                version=body.version,
                baseline=body.baseline,
                scope=scope,
                waves=waves,
                success_threshold=body.success_threshold,
                error_threshold=body.error_threshold,
                timeout_s=body.timeout_s,
                actor=who.label,
                now=clock(),
            )
        except rollouts.RolloutError as exc:
            return refusal(409, "conflict", str(exc))
        return JSONResponse(status_code=201, content=_view(row))

    @router.post(
        "/{rollout_id}/{action}", response_model=RolloutView, responses=_responses(404, 409)
    )
    def act(
        rollout_id: str,
        action: Literal["pause", "resume", "abort"],
        who: Principal | None = caller,
    ) -> Any:
        """Pause, resume or abort a rollout."""
        permission: Action = (
            "rollout.pause"
            if action == "pause"
            else "rollout.resume"
            if action == "resume"
            else "rollout.abort"
        )
        if (refused := guard.refuse(who, permission)) is not None:
            return refused
        assert who is not None
        with engine.connect() as conn:
            if rollouts.get(conn, rollout_id[:64]) is None:
                return refusal(404, "unknown_rollout", f"no rollout {rollout_id[:64]!r}")
        try:
            row = rollouts.operate(engine, rollout_id[:64], action, who.label, clock())
        except rollouts.RolloutError as exc:
            return refusal(409, "refused", str(exc))
        return _view(row)

    return router
