"""The "what would happen" preview (pure): for a kiosk and an alert kind, the route and who
is called when.

The console shows this next to the policy editor so that an edit can be checked before it is
saved: pick a kiosk and a kind, see which route catches it (or that nothing specific did and the
last, catch-all route applies), the escalation timeline with the time after the alert at which
each team would be called if nobody acknowledges, and whether a drill from the same place goes
somewhere else than a real help press.

The timing follows :mod:`fleet_manager.incidents.escalation`: level 0 is called at once; level
``n`` when level ``n - 1``'s wait has run out; after the last level of the last round the chain
is exhausted (nobody new is paged, the incident stays open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from fleet_manager.routing.policy import (
    IncidentFacts,
    Match,
    Route,
    RoutingPolicy,
    route_incident,
)

PreviewKind = Literal["help", "drill", "tamper", "supervision", "report"]
PREVIEW_KINDS: tuple[PreviewKind, ...] = get_args(PreviewKind)


@dataclass(frozen=True)
class Place:
    """Where the alert would come from (the registry's placement of a kiosk or a location)."""

    region: str
    facility: str | None
    location: str


@dataclass(frozen=True)
class PlannedCall:
    level: int  # 0-based, as stored on incidents
    round: int  # 1-based pass through the chain (of ``repeat``)
    step: int  # 1-based step within the chain
    team: str
    called_at_s: float  # seconds after the alert, if nobody acknowledged before
    wait_s: float  # how long this team has to acknowledge before the next call


@dataclass(frozen=True)
class Preview:
    kind: str
    drill: bool
    route: str
    route_index: int  # 0-based position in the policy
    default_route: bool  # no specific route matched: the last, catch-all one applies
    match: str  # the matched route's condition, for people
    calls: tuple[PlannedCall, ...]
    repeat: int
    exhausted_at_s: float  # when the last wait runs out with nobody acknowledging
    help_route: str  # where a real help press from the same place goes
    drill_route: str  # where a drill from the same place goes

    @property
    def drills_differ(self) -> bool:
        return self.help_route != self.drill_route


def facts_for(place: Place, kind: str, drill: bool) -> IncidentFacts:
    return IncidentFacts(
        kind=kind,
        region=place.region,
        facility=place.facility,
        location=place.location,
        drill=drill,
    )


def timeline(route: Route) -> tuple[tuple[PlannedCall, ...], float]:
    """Every call the route's chain would make, and when it is exhausted."""
    chain = route.chain
    calls: list[PlannedCall] = []
    at = 0.0
    for level in range(chain.levels):
        step = chain.step_at(level)
        calls.append(
            PlannedCall(
                level=level,
                round=level // len(chain.steps) + 1,
                step=level % len(chain.steps) + 1,
                team=step.team,
                called_at_s=at,
                wait_s=step.wait_s,
            )
        )
        at += step.wait_s
    return tuple(calls), at


def preview(policy: RoutingPolicy, place: Place, kind: str, drill: bool | None = None) -> Preview:
    """What an alert of ``kind`` from ``place`` would do under ``policy``.

    ``drill`` defaults to ``kind == "drill"`` (how kiosks mark drills)."""
    is_drill = kind == "drill" if drill is None else drill
    route = route_incident(policy, facts_for(place, kind, is_drill))
    index = policy.routes.index(route)
    calls, exhausted_at = timeline(route)
    return Preview(
        kind=kind,
        drill=is_drill,
        route=route.name,
        route_index=index,
        default_route=index == len(policy.routes) - 1 and route.match.is_catch_all,
        match=describe_match(route.match),
        calls=calls,
        repeat=route.chain.repeat,
        exhausted_at_s=exhausted_at,
        help_route=route_incident(policy, facts_for(place, "help", False)).name,
        drill_route=route_incident(policy, facts_for(place, "drill", True)).name,
    )


def _names(values: frozenset[str]) -> str:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def describe_match(match: Match) -> str:
    """A route's condition in words: "drills; region east; kind help or tamper"."""
    if match.is_catch_all:
        return "everything (catch-all)"
    parts: list[str] = []
    if match.drill is not None:
        parts.append("drills" if match.drill else "not drills")
    for label, values in (
        ("region", match.regions),
        ("facility", match.facilities),
        ("location", match.locations),
        ("kind", match.kinds),
    ):
        if values is not None:
            parts.append(f"{label} {_names(values)}")
    return "; ".join(parts)


def duration(seconds: float) -> str:
    """``90`` → ``"1 min 30 s"``; for the timeline."""
    whole = round(seconds)
    if abs(seconds - whole) > 1e-9:
        return f"{seconds:g} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs or not (hours or minutes) else "")
    return " ".join(p for p in parts if p)
