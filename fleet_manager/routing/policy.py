"""The routing policy: an ordered tree of matchers, each leading to an escalation chain.

Read from YAML by ops; validated here with errors that name the route and field, so a broken
policy is refused before it is used. The decision itself, :func:`route_incident`, is pure.
The last route must match everything: an alert that matches no rule must still reach someone.

Example::

    routes:
      - name: drills
        match: {drill: true}
        chain:
          steps: [{team: drill-coordinators, wait_s: 120}]
      - name: north-help
        match: {region: [north], kind: [help, tamper]}
        chain:
          steps:
            - {team: north-onsite, wait_s: 30}
            - {team: north-regional, wait_s: 60}
          repeat: 3
      - name: everything-else
        match: {}
        chain:
          steps: [{team: central-ops, wait_s: 60}]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from protocol.identities import is_valid_segment


class PolicyError(ValueError):
    """A routing policy that cannot be used; the message names the route and field."""


@dataclass(frozen=True)
class IncidentFacts:
    """What routing may look at: never anything personal."""

    kind: str
    region: str
    facility: str | None
    location: str
    drill: bool


@dataclass(frozen=True)
class Match:
    """Each field is either None (any value) or the set of accepted values."""

    kinds: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    facilities: frozenset[str] | None = None
    locations: frozenset[str] | None = None
    drill: bool | None = None

    def accepts(self, facts: IncidentFacts) -> bool:
        return (
            (self.kinds is None or facts.kind in self.kinds)
            and (self.regions is None or facts.region in self.regions)
            and (self.facilities is None or facts.facility in self.facilities)
            and (self.locations is None or facts.location in self.locations)
            and (self.drill is None or facts.drill == self.drill)
        )

    @property
    def is_catch_all(self) -> bool:
        return self == Match()


@dataclass(frozen=True)
class EscalationStep:
    team: str
    wait_s: float


@dataclass(frozen=True)
class EscalationChain:
    """Notify each step's team in order, waiting ``wait_s`` for an acknowledgement before the
    next; the whole chain runs ``repeat`` times before it is exhausted."""

    steps: tuple[EscalationStep, ...]
    repeat: int = 1

    @property
    def levels(self) -> int:
        return len(self.steps) * self.repeat

    def step_at(self, level: int) -> EscalationStep:
        return self.steps[level % len(self.steps)]


@dataclass(frozen=True)
class Route:
    name: str
    match: Match
    chain: EscalationChain


@dataclass(frozen=True)
class RoutingPolicy:
    routes: tuple[Route, ...]

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)


def route_incident(policy: RoutingPolicy, facts: IncidentFacts) -> Route:
    """The first route whose matcher accepts ``facts`` (validation guarantees there is one)."""
    for route in policy.routes:
        if route.match.accepts(facts):
            return route
    raise PolicyError("no route matched: the policy has no catch-all route")


_MATCH_KEYS = {
    "kind": "kinds",
    "region": "regions",
    "facility": "facilities",
    "location": "locations",
}


def _parse_match(raw: Any, where: str) -> Match:
    if raw is None:
        return Match()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}.match must be a mapping")
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "drill":
            if not isinstance(value, bool):
                raise PolicyError(f"{where}.match.drill must be true or false")
            fields["drill"] = value
        elif key in _MATCH_KEYS:
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not values:
                raise PolicyError(f"{where}.match.{key} must be a name or a non-empty list")
            if not all(isinstance(v, str) and v for v in values):
                raise PolicyError(f"{where}.match.{key} must contain only names")
            fields[_MATCH_KEYS[key]] = frozenset(values)
        else:
            allowed = ", ".join(["drill", *_MATCH_KEYS])
            raise PolicyError(f"{where}.match has unknown key {key!r} (allowed: {allowed})")
    return Match(**fields)


def _parse_chain(raw: Any, where: str) -> EscalationChain:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}.chain must be a mapping with 'steps'")
    unknown = set(raw) - {"steps", "repeat"}
    if unknown:
        raise PolicyError(f"{where}.chain has unknown key(s) {sorted(unknown)}")
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PolicyError(f"{where}.chain.steps must be a non-empty list")
    steps = []
    for i, step in enumerate(raw_steps):
        at = f"{where}.chain.steps[{i}]"
        if not isinstance(step, dict) or set(step) - {"team", "wait_s"}:
            raise PolicyError(f"{at} must be a mapping with only 'team' and 'wait_s'")
        team = step.get("team")
        if not isinstance(team, str) or not is_valid_segment(team):
            raise PolicyError(f"{at}.team must be a team name (lower-case letters, digits, '-')")
        wait = step.get("wait_s")
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 < wait <= 86400:
            raise PolicyError(f"{at}.wait_s must be a number of seconds between 0 and 86400")
        steps.append(EscalationStep(team=team, wait_s=float(wait)))
    repeat = raw.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 100:
        raise PolicyError(f"{where}.chain.repeat must be a whole number from 1 to 100")
    return EscalationChain(steps=tuple(steps), repeat=repeat)


def parse_policy(data: Any, source: str = "policy") -> RoutingPolicy:
    """Validate already-parsed YAML data into a :class:`RoutingPolicy`."""
    if not isinstance(data, dict) or not isinstance(data.get("routes"), list):
        raise PolicyError(f"{source}: must be a mapping with a 'routes' list")
    if set(data) - {"routes"}:
        raise PolicyError(f"{source}: unknown top-level key(s) {sorted(set(data) - {'routes'})}")
    routes: list[Route] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["routes"]):
        where = f"{source}: routes[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where} must be a mapping")
        unknown = set(raw) - {"name", "match", "chain"}
        if unknown:
            raise PolicyError(f"{where} has unknown key(s) {sorted(unknown)}")
        name = raw.get("name")
        if not isinstance(name, str) or not is_valid_segment(name):
            raise PolicyError(
                f"{where}.name must be a route name (lower-case letters, digits, '-')"
            )
        if name in seen:
            raise PolicyError(f"{where}: route name {name!r} is used twice")
        seen.add(name)
        where = f"{source}: route {name!r}"
        routes.append(
            Route(
                name, _parse_match(raw.get("match"), where), _parse_chain(raw.get("chain"), where)
            )
        )
    if not routes:
        raise PolicyError(f"{source}: has no routes")
    if not routes[-1].match.is_catch_all:
        raise PolicyError(
            f"{source}: the last route ({routes[-1].name!r}) must match everything (match: {{}}),"
            " so that no alert is left without a team"
        )
    return RoutingPolicy(tuple(routes))


def load_policy(text: str, source: str = "policy") -> RoutingPolicy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML ({exc})") from None
    return parse_policy(data, source)
