"""Who may do what, where: roles, scopes and the one decision every route asks.

Why a single pure function: the console and the API grow route by route, and each route must
be scoped (a facility admin of clinic A sees nothing of clinic B, not even by guessing ids).
If every route asks :func:`decide` with the resource it is about to touch, the whole access
design is this module and one table test (every action × role × own/other scope), instead of
a check scattered in each handler.

Model:

- A :class:`Grant` is a role with its scope: ``ops`` and ``auditor`` are fleet-wide,
  ``facility_admin`` names one facility, ``responder`` names one region. A principal (a user
  or an API token) holds any number of grants; an action is allowed if *one* grant allows it.
- A :class:`Resource` is what the action touches: nothing in particular (fleet-wide, e.g.
  starting a rollout), a facility (with its region, since responders are scoped by region)
  or a region alone. A facility-scoped grant covers only resources naming that facility; a
  region-scoped grant covers only resources naming that region. A fleet-wide resource is
  covered only by a fleet-wide grant: a route that forgets to say which facility it touches
  fails closed.
- Lists are not filtered by asking :func:`decide` for a fleet-wide resource (that is denied to
  scoped roles); they use :func:`query_scope` or :func:`visible_facilities` instead.
- API tokens never manage users or tokens: a leaked automation token must not be able to mint
  itself a longer life.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import sqlalchemy as sa

Role = Literal["ops", "facility_admin", "responder", "auditor", "staff"]
ROLES: tuple[Role, ...] = get_args(Role)

Action = Literal[
    "fleet.view",
    "kiosk.identify",
    "kiosk.drill",
    "incident.view",
    "incident.ack",
    "routing.view",
    "routing.edit",
    "content.view",
    "rollout.start",
    "rollout.pause",
    "rollout.resume",
    "rollout.abort",
    "registry.view",
    "registry.edit",
    "enrolment.token",
    "enrolment.approve",
    "device.revoke",
    "engagement.view",
    "engagement.export",
    "audit.view",
    "audit.export",
    "audit.verify",
    "users.manage",
    "tokens.manage",
    "report.read",
    "report.disclose",
    "training.self",
    "training.view",
    "training.export",
    "training.invite",
]
ACTIONS: tuple[Action, ...] = get_args(Action)

PrincipalKind = Literal["user", "token"]

# What each role may do (within its scope). ops may do everything.
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    "ops": frozenset(ACTIONS),
    "facility_admin": frozenset(
        {
            "fleet.view",
            "kiosk.identify",
            "kiosk.drill",
            "content.view",
            "registry.view",
            "registry.edit",
            "enrolment.token",
            "enrolment.approve",
            "device.revoke",
            "engagement.view",
            "engagement.export",
            "training.self",
            "training.view",
            "training.export",
            "training.invite",
        }
    ),
    "responder": frozenset(
        {
            "incident.view",
            "incident.ack",
            "routing.view",
            "report.read",
            "report.disclose",
            "training.self",
        }
    ),
    "auditor": frozenset(
        {
            "audit.view",
            "audit.export",
            "audit.verify",
            "engagement.view",
            "engagement.export",
            "training.view",
            "training.export",
        }
    ),
    # Clinicians and other staff: their own training, nothing else.
    "staff": frozenset({"training.self"}),
}

# Actions an API token may never take, whatever its grants.
USER_ONLY_ACTIONS: frozenset[Action] = frozenset(
    {"users.manage", "tokens.manage", "training.self"}  # a token has no training of its own
)

# The scope each role's grant must carry: fleet-wide, one facility, or one region.
ROLE_SCOPE: dict[Role, Literal["fleet", "facility", "region"]] = {
    "ops": "fleet",
    "auditor": "fleet",
    "facility_admin": "facility",
    "responder": "region",
    "staff": "facility",
}


class GrantError(ValueError):
    """A role with the wrong kind of scope; the message says what the role needs."""


@dataclass(frozen=True)
class Grant:
    """One role, with the facility or region it is limited to (None: fleet-wide)."""

    role: Role
    facility_id: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        problem = grant_problem(self.role, self.facility_id, self.region)
        if problem is not None:
            raise GrantError(problem)

    def describe(self) -> str:
        if self.facility_id is not None:
            return f"{self.role}@facility:{self.facility_id}"
        if self.region is not None:
            return f"{self.role}@region:{self.region}"
        return self.role


def grant_sort_key(grant: Grant) -> tuple[str, str, str]:
    return (grant.role, grant.facility_id or "", grant.region or "")


def grant_problem(role: str, facility_id: str | None, region: str | None) -> str | None:
    """Why (role, facility, region) is not a valid grant, or None."""
    if role not in ROLES:
        return f"unknown role {role!r}: use one of {', '.join(ROLES)}"
    scope = ROLE_SCOPE[role]
    if scope == "fleet" and (facility_id is not None or region is not None):
        return f"the {role} role is fleet-wide: give no --facility or --region"
    if scope == "facility" and (facility_id is None or region is not None):
        return f"the {role} role needs exactly one facility (--facility F) and no region"
    if scope == "region" and (region is None or facility_id is not None):
        return f"the {role} role needs exactly one region (--region R) and no facility"
    return None


@dataclass(frozen=True)
class Principal:
    """Whoever is asking: a user (``id`` = username) or an API token (``id`` = token id)."""

    kind: PrincipalKind
    id: str
    grants: frozenset[Grant] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """How the principal appears as the audit log's actor."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Resource:
    """What an action touches. Build with :data:`FLEET`, :meth:`facility` or :meth:`region_of`.

    A facility resource carries its region too (an incident at clinic A in region north is
    both), so that region-scoped roles can be decided without another lookup.
    """

    facility_id: str | None = None
    region: str | None = None

    @staticmethod
    def facility(facility_id: str, region: str) -> Resource:
        return Resource(facility_id=facility_id, region=region)

    @staticmethod
    def region_of(region: str) -> Resource:
        return Resource(region=region)


FLEET = Resource()


@dataclass(frozen=True)
class Allow:
    grant: Grant  # the grant that allowed it (for the audit log)


@dataclass(frozen=True)
class Deny:
    reason: str


Decision = Allow | Deny


def covers(grant: Grant, resource: Resource) -> bool:
    """Whether the grant's scope includes the resource (ignoring which actions it allows)."""
    if grant.facility_id is not None:
        return resource.facility_id == grant.facility_id
    if grant.region is not None:
        return resource.region == grant.region
    return True


def decide(principal: Principal, action: Action, resource: Resource) -> Decision:
    """Allow if one of the principal's grants permits ``action`` on ``resource``; else Deny.

    The reason of a Deny is for logs and tests, not for the person asking: a route answers
    404 for a resource outside the principal's scope, so ids cannot be probed.
    """
    if action not in ACTIONS:
        return Deny(f"unknown action {action!r}")
    if principal.kind == "token" and action in USER_ONLY_ACTIONS:
        return Deny(f"API tokens may not {action}")
    permitting = [g for g in principal.grants if action in ROLE_ACTIONS[g.role]]
    if not permitting:
        return Deny(f"no role of {principal.label} permits {action}")
    for grant in sorted(permitting, key=grant_sort_key):
        if covers(grant, resource):
            return Allow(grant)
    return Deny(f"{action} by {principal.label} is outside its facilities and regions")


def refusal_status(principal: Principal, action: Action, resource: Resource | None) -> int | None:
    """How a route answers: None (allowed), 403 or 404. ``resource`` None is a fleet-wide
    action on no object in particular (add a facility, edit the policy).

    403 when no role of the principal allows the action anywhere, or for a fleet-wide action
    (there is no id to hide); 404 when the action is allowed elsewhere but not on this
    resource, so an id outside the caller's scope (a kiosk of another clinic, or one placed
    nowhere) answers exactly like one that does not exist."""
    if not isinstance(decide(principal, action, FLEET if resource is None else resource), Deny):
        return None
    if resource is None or query_scope(principal, action).is_empty():
        return 403
    return 404


@dataclass(frozen=True)
class QueryScope:
    """Which rows a list may show for an action: everything, or these facilities/regions.

    A row is visible if ``everything``, or its facility is in ``facilities``, or its region
    is in ``regions``. Empty sets and not ``everything``: show nothing.
    """

    everything: bool
    facilities: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return not (self.everything or self.facilities or self.regions)

    def where(self, facility_column: Any, region_column: Any) -> Any:
        """The SQL condition (SQLAlchemy) selecting the rows this scope shows. An empty list is
        left out rather than written as ``IN ()``: SQLite would then plan a multi-index OR
        instead of one index range (a responder's incident list was five times slower)."""
        if self.everything:
            return sa.true()
        parts = []
        if self.facilities:
            parts.append(facility_column.in_(sorted(self.facilities)))
        if self.regions:
            parts.append(region_column.in_(sorted(self.regions)))
        if not parts:
            return sa.false()
        return parts[0] if len(parts) == 1 else sa.or_(*parts)

    def includes(self, facility_id: str | None, region: str | None) -> bool:
        return (
            self.everything
            or (facility_id is not None and facility_id in self.facilities)
            or (region is not None and region in self.regions)
        )


def query_scope(principal: Principal, action: Action) -> QueryScope:
    """The filter a list query for ``action`` must apply (same rules as :func:`decide`)."""
    if action not in ACTIONS or (principal.kind == "token" and action in USER_ONLY_ACTIONS):
        return QueryScope(everything=False)
    permitting = [g for g in principal.grants if action in ROLE_ACTIONS[g.role]]
    return QueryScope(
        everything=any(g.facility_id is None and g.region is None for g in permitting),
        facilities=frozenset(g.facility_id for g in permitting if g.facility_id is not None),
        regions=frozenset(g.region for g in permitting if g.region is not None),
    )


def visible_facilities(
    principal: Principal, action: Action, facilities: Iterable[tuple[str, str]]
) -> list[str]:
    """The ids among ``(facility_id, region)`` pairs on which ``action`` is allowed, in order."""
    scope = query_scope(principal, action)
    return [f for f, region in facilities if scope.includes(f, region)]


def grant_within(requested: Grant, held: Iterable[Grant]) -> bool:
    """Whether ``requested`` gives no more than one of ``held`` (fleet-wide ops gives all)."""
    return any(
        (h.role == "ops" and h.facility_id is None and h.region is None) or h == requested
        for h in held
    )
