"""fleet_manager.routing.policy: which route an incident takes, and which policies are refused."""

from __future__ import annotations

import pytest

from fleet_manager.routing.policy import (
    EscalationChain,
    EscalationStep,
    IncidentFacts,
    Match,
    PolicyError,
    Route,
    RoutingPolicy,
    load_policy,
    parse_policy,
    route_incident,
)

POLICY_YAML = """
routes:
  - name: drills
    match: {drill: true}
    chain:
      steps: [{team: drill-coordinators, wait_s: 120}]
  - name: st-mary-bathrooms
    match: {facility: fac-st-mary, location: [loc-bath-1, loc-bath-2]}
    chain:
      steps: [{team: st-mary-security, wait_s: 15}]
  - name: north-help
    match: {region: [north], kind: [help, tamper]}
    chain:
      steps:
        - {team: north-onsite, wait_s: 30}
        - {team: north-regional, wait_s: 60.5}
      repeat: 3
  - name: south-any
    match: {region: south}
    chain:
      steps: [{team: south-ops, wait_s: 45}]
  - name: everything-else
    match: {}
    chain:
      steps: [{team: central-ops, wait_s: 60}]
"""

POLICY = load_policy(POLICY_YAML)


def test_loaded_policy_is_exactly_what_the_yaml_says() -> None:
    expected = RoutingPolicy(
        (
            Route(
                "drills",
                Match(drill=True),
                EscalationChain((EscalationStep("drill-coordinators", 120.0),)),
            ),
            Route(
                "st-mary-bathrooms",
                Match(
                    facilities=frozenset({"fac-st-mary"}),
                    locations=frozenset({"loc-bath-1", "loc-bath-2"}),
                ),
                EscalationChain((EscalationStep("st-mary-security", 15.0),)),
            ),
            Route(
                "north-help",
                Match(kinds=frozenset({"help", "tamper"}), regions=frozenset({"north"})),
                EscalationChain(
                    (
                        EscalationStep("north-onsite", 30.0),
                        EscalationStep("north-regional", 60.5),
                    ),
                    repeat=3,
                ),
            ),
            Route(
                "south-any",
                Match(regions=frozenset({"south"})),
                EscalationChain((EscalationStep("south-ops", 45.0),)),
            ),
            Route(
                "everything-else",
                Match(),
                EscalationChain((EscalationStep("central-ops", 60.0),)),
            ),
        )
    )
    assert load_policy(POLICY_YAML) == expected
    north = POLICY.route("north-help")
    assert north is not None
    assert north.chain.levels == 6
    assert [north.chain.step_at(n).team for n in range(6)] == [
        "north-onsite",
        "north-regional",
    ] * 3
    assert POLICY.route("no-such-route") is None


ROUTING = [
    # kind, region, facility, location, drill -> route
    pytest.param("drill", "north", "fac-st-mary", "loc-bath-1", True, "drills", id="drill-first"),
    pytest.param("help", "south", None, "loc-1", True, "drills", id="drill-flag-wins-over-south"),
    pytest.param(
        "help", "north", "fac-st-mary", "loc-bath-2", False, "st-mary-bathrooms", id="bathroom"
    ),
    pytest.param(
        "tamper", "east", "fac-st-mary", "loc-bath-1", False, "st-mary-bathrooms", id="tamper-bath"
    ),
    pytest.param(
        "help", "north", "fac-st-mary", "loc-waiting-1", False, "north-help", id="other-room"
    ),
    pytest.param(
        "help", "north", "fac-other", "loc-bath-1", False, "north-help", id="bath-other-facility"
    ),
    pytest.param("tamper", "north", "fac-x", "loc-1", False, "north-help", id="north-tamper"),
    pytest.param("help", "north", None, "loc-1", False, "north-help", id="north-no-facility"),
    pytest.param(
        "drill", "north", "fac-x", "loc-1", False, "everything-else", id="north-drill-kind"
    ),
    pytest.param("help", "south", "fac-y", "loc-1", False, "south-any", id="south-help"),
    pytest.param("tamper", "south", None, "loc-1", False, "south-any", id="south-tamper"),
    pytest.param("help", "west", "fac-z", "loc-1", False, "everything-else", id="catch-all"),
    pytest.param(
        "help", "North", "fac-z", "loc-1", False, "everything-else", id="region-case-sensitive"
    ),
    pytest.param(
        "help", "west", None, "loc-bath-1", False, "everything-else", id="bath-without-facility"
    ),
]


@pytest.mark.parametrize(("kind", "region", "facility", "location", "drill", "expected"), ROUTING)
def test_route_incident(
    kind: str, region: str, facility: str | None, location: str, drill: bool, expected: str
) -> None:
    facts = IncidentFacts(
        kind=kind, region=region, facility=facility, location=location, drill=drill
    )
    assert route_incident(POLICY, facts).name == expected


def test_route_incident_without_catch_all_raises() -> None:
    policy = RoutingPolicy((POLICY.routes[0],))  # built directly, bypassing validation
    facts = IncidentFacts(kind="help", region="x", facility=None, location="l", drill=False)
    with pytest.raises(PolicyError, match="no route matched"):
        route_incident(policy, facts)


def test_missing_match_and_repeat_mean_catch_all_and_once() -> None:
    policy = load_policy("routes: [{name: all, chain: {steps: [{team: ops, wait_s: 5}]}}]")
    assert policy.routes == (
        Route("all", Match(), EscalationChain((EscalationStep("ops", 5.0),), repeat=1)),
    )


def test_parse_policy_accepts_data() -> None:
    data = {
        "routes": [{"name": "all", "match": {}, "chain": {"steps": [{"team": "ops", "wait_s": 1}]}}]
    }
    assert parse_policy(data).routes[0].chain.steps == (EscalationStep("ops", 1.0),)


CATCH_ALL = "  - {name: rest, match: {}, chain: {steps: [{team: ops, wait_s: 60}]}}\n"


def _routes(*lines: str) -> str:
    return "routes:\n" + "".join(f"  - {line}\n" for line in lines) + CATCH_ALL


ERRORS = [
    pytest.param("routes: [unclosed", "ops.yaml: not valid YAML", id="bad-yaml"),
    pytest.param("routes:\n\t- x", "ops.yaml: not valid YAML", id="tab-indent"),
    pytest.param("", "ops.yaml: must be a mapping with a 'routes' list", id="empty-file"),
    pytest.param("- a\n- b", "ops.yaml: must be a mapping with a 'routes' list", id="top-list"),
    pytest.param("routes: {}", "ops.yaml: must be a mapping with a 'routes' list", id="routes-map"),
    pytest.param("routes: []", "ops.yaml: has no routes", id="no-routes"),
    pytest.param(
        "routes: []\nteams: []",
        "ops.yaml: unknown top-level key\\(s\\) \\['teams'\\]",
        id="unknown-top-key",
    ),
    pytest.param(
        "routes:\n  - {name: north, match: {region: north}, "
        "chain: {steps: [{team: ops, wait_s: 60}]}}",
        "ops.yaml: the last route \\('north'\\) must match everything",
        id="last-not-catch-all",
    ),
    pytest.param(
        "routes:\n  - {name: drills, match: {drill: false}, "
        "chain: {steps: [{team: ops, wait_s: 60}]}}",
        "ops.yaml: the last route \\('drills'\\) must match everything",
        id="last-matches-non-drills",
    ),
    pytest.param(
        _routes("{name: rest, match: {region: a}, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: routes\\[1\\]: route name 'rest' is used twice",
        id="duplicate-name",
    ),
    pytest.param(
        _routes("not-a-mapping"),
        "ops.yaml: routes\\[0\\] must be a mapping",
        id="route-not-mapping",
    ),
    pytest.param(
        _routes("{name: a, match: {}, chain: {steps: [{team: a, wait_s: 1}]}, priority: 1}"),
        "ops.yaml: routes\\[0\\] has unknown key\\(s\\) \\['priority'\\]",
        id="route-unknown-key",
    ),
    pytest.param(
        _routes("{match: {}, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: routes\\[0\\].name must be a route name",
        id="missing-name",
    ),
    pytest.param(
        _routes("{name: North Help, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: routes\\[0\\].name must be a route name",
        id="bad-name",
    ),
    pytest.param(
        _routes("{name: a, match: [drill], chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: route 'a'.match must be a mapping",
        id="match-list",
    ),
    pytest.param(
        _routes("{name: a, match: {colour: red}, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: route 'a'.match has unknown key 'colour' "
        "\\(allowed: drill, kind, region, facility, location\\)",
        id="match-unknown-key",
    ),
    pytest.param(
        _routes("{name: a, match: {drill: yes-please}, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: route 'a'.match.drill must be true or false",
        id="match-drill-not-bool",
    ),
    pytest.param(
        _routes("{name: a, match: {region: []}, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: route 'a'.match.region must be a name or a non-empty list",
        id="match-empty-list",
    ),
    pytest.param(
        _routes("{name: a, match: {kind: [help, 3]}, chain: {steps: [{team: a, wait_s: 1}]}}"),
        "ops.yaml: route 'a'.match.kind must contain only names",
        id="match-non-name",
    ),
    pytest.param(
        _routes("{name: a, match: {}}"),
        "ops.yaml: route 'a'.chain must be a mapping with 'steps'",
        id="missing-chain",
    ),
    pytest.param(
        _routes("{name: a, chain: {steps: [{team: a, wait_s: 1}], timeout: 5}}"),
        "ops.yaml: route 'a'.chain has unknown key\\(s\\) \\['timeout'\\]",
        id="chain-unknown-key",
    ),
    pytest.param(
        _routes("{name: a, chain: {steps: []}}"),
        "ops.yaml: route 'a'.chain.steps must be a non-empty list",
        id="no-steps",
    ),
    pytest.param(
        _routes("{name: a, chain: {steps: [{team: a, wait_s: 1, sms: true}]}}"),
        "ops.yaml: route 'a'.chain.steps\\[0\\] must be a mapping with only 'team' and 'wait_s'",
        id="step-unknown-key",
    ),
    pytest.param(
        _routes("{name: a, chain: {steps: [{team: a, wait_s: 1}, {team: B-Team, wait_s: 1}]}}"),
        "ops.yaml: route 'a'.chain.steps\\[1\\].team must be a team name",
        id="bad-team-name",
    ),
    pytest.param(
        _routes("{name: a, chain: {steps: [{wait_s: 1}]}}"),
        "ops.yaml: route 'a'.chain.steps\\[0\\].team must be a team name",
        id="missing-team",
    ),
    *[
        pytest.param(
            _routes(f"{{name: a, chain: {{steps: [{{team: a, wait_s: {wait}}}]}}}}"),
            "ops.yaml: route 'a'.chain.steps\\[0\\].wait_s must be a number of seconds "
            "between 0 and 86400",
            id=f"wait_s-{label}",
        )
        for label, wait in [
            ("zero", "0"),
            ("negative", "-5"),
            ("over-a-day", "86401"),
            ("string", "'30'"),
            ("bool", "true"),
            ("null", "null"),
        ]
    ],
    *[
        pytest.param(
            _routes(f"{{name: a, chain: {{steps: [{{team: a, wait_s: 1}}], repeat: {rep}}}}}"),
            "ops.yaml: route 'a'.chain.repeat must be a whole number from 1 to 100",
            id=f"repeat-{label}",
        )
        for label, rep in [
            ("zero", "0"),
            ("over-100", "101"),
            ("fraction", "1.5"),
            ("bool", "true"),
            ("string", "'2'"),
        ]
    ],
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_load_policy_refuses(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=f"^{message}"):
        load_policy(text, source="ops.yaml")


@pytest.mark.parametrize(
    ("wait", "repeat"),
    [
        pytest.param("0.5", "1", id="half-second"),
        pytest.param("86400", "100", id="upper-limits"),
    ],
)
def test_limits_that_are_accepted(wait: str, repeat: str) -> None:
    text = (
        f"routes: [{{name: a, chain: {{steps: [{{team: a, wait_s: {wait}}}], repeat: {repeat}}}}}]"
    )
    chain = load_policy(text).routes[0].chain
    assert chain == EscalationChain((EscalationStep("a", float(wait)),), repeat=int(repeat))
