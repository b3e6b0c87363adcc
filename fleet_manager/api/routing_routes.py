"""``/api/v1/routing``: the routing and escalation policy, its versions and the preview.

    GET  /api/v1/routing           routing.view (anywhere)   the policy in force, its routes
    PUT  /api/v1/routing           routing.edit (fleet-wide) save a new version
    POST /api/v1/routing/validate  routing.view (anywhere)   would this text load?
    POST /api/v1/routing/preview   routing.view on the kiosk's or location's facility

The policy is one fleet-wide document, so anyone who may view routing somewhere (responders
hold ``routing.view`` for their region) reads all of it; only the preview names a place, and a
place outside the caller's regions and facilities answers 404, as an unknown one does.
A save names the version it was edited from: 409 if someone saved meanwhile, 422 (with the
loader's message: which route, which field) if it does not load; nothing is stored then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_manager.accounts.policy import Principal, QueryScope, Resource
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.routing import policy_store
from fleet_manager.routing.policy import Route, RoutingPolicy
from fleet_manager.routing.preview import Place, PreviewKind, describe_match, preview
from fleet_manager.store import registry
from fleet_manager.store.schema import devices, facilities, locations
from protocol.enrolment import Refusal
from protocol.identities import is_valid_segment
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PREFIX = "/api/v1/routing"
MAX_ID = 64
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # as protocol.identities: nothing else is an id
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal},
    401: {"model": Refusal},
    403: {"model": Refusal},
}
# A body over the app's limit (64 KiB) is refused before it reaches a route.
_WITH_BODY: dict[int | str, dict[str, Any]] = {**_REFUSALS, 413: {"model": Refusal}}


# -- models ---------------------------------------------------------------------------------


class RouteStepView(BaseModel):
    team: str
    wait_s: float


class RouteSummary(BaseModel):
    name: str
    condition: str  # the match in words
    catch_all: bool
    drill: bool | None
    kinds: list[str] | None
    regions: list[str] | None
    facilities: list[str] | None
    locations: list[str] | None
    steps: list[RouteStepView]
    repeat: int


class StoredPolicyView(BaseModel):
    version: int
    saved_by: str
    saved_at: float | None
    policy_yaml: str


class RoutingView(StoredPolicyView):
    problem: str | None  # the policy in force does not load (only possible for the file)
    routes: list[RouteSummary]


class PolicySave(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_yaml: str = Field(max_length=policy_store.MAX_POLICY_CHARS)
    base_version: int = Field(ge=0, le=2**31 - 1)


class PolicyText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_yaml: str = Field(max_length=policy_store.MAX_POLICY_CHARS)


class Validation(BaseModel):
    ok: bool
    problem: str | None


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str | None = Field(default=None, max_length=MAX_ID, pattern=ID_PATTERN)
    location_id: str | None = Field(default=None, max_length=MAX_ID, pattern=ID_PATTERN)
    kind: PreviewKind
    policy_yaml: str | None = Field(default=None, max_length=policy_store.MAX_POLICY_CHARS)

    @model_validator(mode="after")
    def one_place(self) -> PreviewRequest:
        if (self.device_id is None) == (self.location_id is None):
            raise ValueError("give exactly one of device_id and location_id")
        return self


class CallView(BaseModel):
    level: int
    round: int
    step: int
    team: str
    called_at_s: float
    wait_s: float


class PreviewView(BaseModel):
    device_id: str | None
    location_id: str
    facility_id: str
    region: str
    kind: str
    drill: bool
    draft: bool  # previewed a draft from the request, not the policy in force
    policy_version: int | None  # the version previewed (None for a draft)
    route: str
    route_index: int
    default_route: bool
    condition: str
    calls: list[CallView]
    repeat: int
    exhausted_at_s: float
    help_route: str
    drill_route: str
    drills_differ: bool


# -- shared with the pages ------------------------------------------------------------------


def summarize(route: Route) -> RouteSummary:
    m = route.match

    def listed(values: frozenset[str] | None) -> list[str] | None:
        return None if values is None else sorted(values)

    return RouteSummary(
        name=route.name,
        condition=describe_match(m),
        catch_all=m.is_catch_all,
        drill=m.drill,
        kinds=listed(m.kinds),
        regions=listed(m.regions),
        facilities=listed(m.facilities),
        locations=listed(m.locations),
        steps=[RouteStepView(team=s.team, wait_s=s.wait_s) for s in route.chain.steps],
        repeat=route.chain.repeat,
    )


def routing_view(stored: policy_store.StoredPolicy) -> RoutingView:
    problem: str | None = None
    routes: list[RouteSummary] = []
    try:
        routes = [summarize(r) for r in policy_store.parse(stored.policy_yaml).routes]
    except policy_store.PolicyInvalid as exc:
        problem = str(exc)
    return RoutingView(
        version=stored.version,
        saved_by=stored.saved_by,
        saved_at=stored.saved_at,
        policy_yaml=stored.policy_yaml,
        problem=problem,
        routes=routes,
    )


def stored_view(stored: policy_store.StoredPolicy) -> StoredPolicyView:
    return StoredPolicyView(
        version=stored.version,
        saved_by=stored.saved_by,
        saved_at=stored.saved_at,
        policy_yaml=stored.policy_yaml,
    )


def fallback_file(ctx: AppContext) -> Path | None:
    return ctx.config.routing_policy if ctx.config is not None else None


class Located(BaseModel):
    device_id: str | None
    location_id: str
    facility_id: str
    region: str

    @property
    def place(self) -> Place:
        return Place(region=self.region, facility=self.facility_id, location=self.location_id)

    @property
    def resource(self) -> Resource:
        return Resource.facility(self.facility_id, self.region)


def locate(conn: sa.Connection, device_id: str | None, location_id: str | None) -> Located | None:
    """Where a registered kiosk (or a location) is, or None if there is no such thing."""
    if not all(is_valid_segment(v) for v in (device_id, location_id) if v is not None):
        return None  # not an id at all (and never sent to the database)
    if device_id is not None:
        found = registry.placement(conn, device_id)
        if found is None:
            return None
        return Located(
            device_id=found.device_id,
            location_id=found.location_id,
            facility_id=found.facility_id,
            region=found.region,
        )
    if location_id is None:
        return None
    location = registry.get_location(conn, location_id)
    facility = None if location is None else registry.get_facility(conn, location.facility_id)
    if location is None or facility is None:
        return None
    return Located(
        device_id=None,
        location_id=location.location_id,
        facility_id=facility.facility_id,
        region=facility.region,
    )


class KioskChoice(BaseModel):
    device_id: str
    location_name: str
    facility_id: str


def visible_kiosks(conn: sa.Connection, scope: QueryScope, limit: int = 2000) -> list[KioskChoice]:
    """Registered kiosks whose facility the scope shows, for the preview's kiosk picker."""
    rows = conn.execute(
        sa.select(devices.c.device_id, locations.c.name, facilities.c.facility_id)
        .select_from(devices.join(locations).join(facilities))
        .where(
            devices.c.registered.is_(True),
            scope.where(facilities.c.facility_id, facilities.c.region),
        )
        .order_by(facilities.c.facility_id, devices.c.device_id)
        .limit(limit)
    )
    return [KioskChoice(device_id=r[0], location_name=r[1], facility_id=r[2]) for r in rows]


def preview_view(
    policy: RoutingPolicy, where: Located, kind: str, version: int | None
) -> PreviewView:
    result = preview(policy, where.place, kind)
    return PreviewView(
        device_id=where.device_id,
        location_id=where.location_id,
        facility_id=where.facility_id,
        region=where.region,
        kind=result.kind,
        drill=result.drill,
        draft=version is None,
        policy_version=version,
        route=result.route,
        route_index=result.route_index,
        default_route=result.default_route,
        condition=result.match,
        calls=[
            CallView(
                level=c.level,
                round=c.round,
                step=c.step,
                team=c.team,
                called_at_s=c.called_at_s,
                wait_s=c.wait_s,
            )
            for c in result.calls
        ],
        repeat=result.repeat,
        exhausted_at_s=result.exhausted_at_s,
        help_route=result.help_route,
        drill_route=result.drill_route,
        drills_differ=result.drills_differ,
    )


# -- routes ---------------------------------------------------------------------------------


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["routing"])
    guard = ctx.guard

    def invalid(problem: str, who: Principal) -> JSONResponse:
        ctx.counters.inc("routing_policy_refused.invalid")
        log.info("routing_policy_invalid", who=who.label)
        return refusal(422, "invalid_policy", problem)

    @api.get("", response_model=RoutingView, responses=_REFUSALS)
    def get_policy(who: Principal | None = guard.caller) -> Any:
        """The routing policy in force: version, who saved it and when, its text and routes."""
        if (refused := guard.refuse_anywhere(who, "routing.view")) is not None:
            return refused
        with ctx.engine.connect() as conn:
            stored = policy_store.current(conn, fallback_file(ctx))
        return routing_view(stored)

    @api.put(
        "",
        response_model=StoredPolicyView,
        responses={**_WITH_BODY, 409: {"model": Refusal}, 422: {"model": Refusal}},
    )
    def save_policy(body: PolicySave, who: Principal | None = guard.caller) -> Any:
        """Save a new version, edited from ``base_version`` (validated first; nothing is
        stored if it does not load or if someone saved meanwhile)."""
        if (refused := guard.refuse(who, "routing.edit")) is not None:
            return refused
        assert who is not None
        try:
            with ctx.engine.begin() as conn:
                stored = policy_store.save(
                    conn, body.policy_yaml, body.base_version, who.label, ctx.now()
                )
        except policy_store.PolicyInvalid as exc:
            return invalid(str(exc), who)
        except policy_store.PolicyConflict as exc:
            ctx.counters.inc("routing_policy_refused.conflict")
            log.info("routing_policy_conflict", who=who.label, base=exc.base_version)
            return refusal(409, "conflict", str(exc))
        return stored_view(stored)

    @api.post("/validate", response_model=Validation, responses=_WITH_BODY)
    def validate(body: PolicyText, who: Principal | None = guard.caller) -> Any:
        """Whether the text is a usable policy, and if not what is wrong where."""
        if (refused := guard.refuse_anywhere(who, "routing.view")) is not None:
            return refused
        problem = policy_store.problem(body.policy_yaml)
        return Validation(ok=problem is None, problem=problem)

    @api.post(
        "/preview",
        response_model=PreviewView,
        responses={**_WITH_BODY, 404: {"model": Refusal}, 422: {"model": Refusal}},
    )
    def preview_alert(body: PreviewRequest, who: Principal | None = guard.caller) -> Any:
        """What an alert of ``kind`` from this kiosk or location would do: the route and the
        escalation timeline, under the policy in force or the draft given."""
        if (refused := guard.refuse_anywhere(who, "routing.view")) is not None:
            return refused
        assert who is not None
        with ctx.engine.connect() as conn:
            where = locate(conn, body.device_id, body.location_id)
            if where is None:
                return not_found("kiosk or location")
            refused = guard.refuse_in(who, "routing.view", where.resource, "kiosk or location")
            if refused is not None:
                return refused
            stored = policy_store.current(conn, fallback_file(ctx))
        try:
            if body.policy_yaml is not None:
                policy, version = policy_store.parse(body.policy_yaml, "draft"), None
            else:
                policy, version = policy_store.parse(stored.policy_yaml), stored.version
        except policy_store.PolicyInvalid as exc:
            return invalid(str(exc), who)
        return preview_view(policy, where, body.kind, version)

    return api
