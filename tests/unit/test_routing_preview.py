"""The "what would happen" preview (pure): which route, who is called when, and drills."""

from __future__ import annotations

import pytest

from fleet_manager.routing.policy import load_policy
from fleet_manager.routing.preview import Place, describe_match, duration, preview, timeline

POLICY = load_policy(
    """\
routes:
  - name: drills
    match: {drill: true}
    chain:
      steps: [{team: drill-team, wait_s: 60}]
  - name: east-help
    match: {region: east, kind: [help, tamper]}
    chain:
      steps:
        - {team: east-first, wait_s: 30}
        - {team: east-second, wait_s: 90}
      repeat: 2
  - name: lobby
    match: {facility: clinic-b, location: [b-lobby]}
    chain:
      steps: [{team: b-front-desk, wait_s: 45.5}]
  - name: catch-all
    match: {}
    chain:
      steps: [{team: central-ops, wait_s: 120}]
"""
)

EAST = Place(region="east", facility="clinic-a", location="a-waiting")
WEST = Place(region="west", facility="clinic-b", location="b-exam")
LOBBY = Place(region="west", facility="clinic-b", location="b-lobby")
UNREGISTERED = Place(region="east", facility=None, location="somewhere")


@pytest.mark.parametrize(
    ("place", "kind", "route", "default", "drills_differ"),
    [
        (EAST, "help", "east-help", False, True),
        (EAST, "tamper", "east-help", False, True),
        (EAST, "drill", "drills", False, True),
        (EAST, "supervision", "catch-all", True, True),
        (EAST, "report", "catch-all", True, True),
        (WEST, "help", "catch-all", True, True),
        (WEST, "drill", "drills", False, True),
        (LOBBY, "help", "lobby", False, True),
        (UNREGISTERED, "help", "east-help", False, True),
    ],
)
def test_which_route_catches_the_alert(
    place: Place, kind: str, route: str, default: bool, drills_differ: bool
) -> None:
    result = preview(POLICY, place, kind)
    assert result.route == route
    assert result.default_route is default
    assert result.drill is (kind == "drill")
    assert result.drills_differ is drills_differ
    assert result.drill_route == "drills"


@pytest.mark.parametrize(
    ("route", "expected_calls", "exhausted_at"),
    [
        ("drills", [(0, 1, 1, "drill-team", 0.0)], 60.0),
        (
            "east-help",
            [
                (0, 1, 1, "east-first", 0.0),
                (1, 1, 2, "east-second", 30.0),
                (2, 2, 1, "east-first", 120.0),
                (3, 2, 2, "east-second", 150.0),
            ],
            240.0,
        ),
        ("lobby", [(0, 1, 1, "b-front-desk", 0.0)], 45.5),
    ],
)
def test_the_escalation_timeline_is_cumulative_over_rounds(
    route: str, expected_calls: list[tuple[int, int, int, str, float]], exhausted_at: float
) -> None:
    found = POLICY.route(route)
    assert found is not None
    calls, exhausted = timeline(found)
    assert [(c.level, c.round, c.step, c.team, c.called_at_s) for c in calls] == expected_calls
    assert exhausted == exhausted_at


def test_an_explicit_drill_flag_overrides_the_kind() -> None:
    assert preview(POLICY, EAST, "help", drill=True).route == "drills"


def test_drills_not_handled_differently_when_no_route_singles_them_out() -> None:
    policy = load_policy("routes:\n  - name: all\n    chain: {steps: [{team: ops, wait_s: 5}]}\n")
    result = preview(policy, WEST, "drill")
    assert (result.route, result.help_route, result.drills_differ) == ("all", "all", False)
    assert result.default_route


@pytest.mark.parametrize(
    ("route", "words"),
    [
        ("drills", "drills"),
        ("east-help", "region east; kind help or tamper"),
        ("lobby", "facility clinic-b; location b-lobby"),
        ("catch-all", "everything (catch-all)"),
    ],
)
def test_conditions_in_words(route: str, words: str) -> None:
    found = POLICY.route(route)
    assert found is not None
    assert describe_match(found.match) == words


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (30, "30 s"), (60, "1 min"), (90, "1 min 30 s"), (3600, "1 h"),
     (3725, "1 h 2 min 5 s"), (1.5, "1.5 s")],
)  # fmt: skip
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text
