"""fleet_manager.incidents.lifecycle: opened → escalated → acknowledged → resolved, as a table of
timer ticks and responder actions with the states and timeline they must produce."""

from __future__ import annotations

from typing import Any

import pytest

from fleet_manager.incidents.escalation import EscalationStatus
from fleet_manager.incidents.lifecycle import (
    ActionRefused,
    IncidentStatus,
    TimelineEntry,
    Transition,
    on_escalation_timer,
    on_report_addition,
    on_responder_action,
    open_incident,
)
from fleet_manager.routing.policy import EscalationChain, EscalationStep
from protocol.messages import ResponderActionKind

CHAIN = EscalationChain((EscalationStep("onsite", 30.0), EscalationStep("regional", 60.0)))
SHORT = EscalationChain((EscalationStep("ops", 10.0),))
DEVICE = "kiosk-a1"

# A step: ("timer", t) or (action, responder, t) or ("note", responder, t, text).
Step = tuple[Any, ...]
Event = tuple[float, str, str, dict[str, Any]]


def _run(chain: EscalationChain, steps: list[Step]) -> tuple[IncidentStatus, list[Event]]:
    opened = open_incident(chain, "north-help", DEVICE, 0.0)
    status = opened.status
    timeline = list(opened.timeline)
    for step in steps:
        result: Transition | None
        if step[0] == "timer":
            result = on_escalation_timer(chain, status, step[1])
        else:
            action: ResponderActionKind = step[0]
            note = step[3] if len(step) > 3 else None
            result = on_responder_action(status, action, step[1], step[2], note)
        if result is not None:
            status = result.status
            timeline.extend(result.timeline)
    return status, [(e.at, e.event, e.actor, e.detail) for e in timeline]


OPENED: list[Event] = [
    (0.0, "opened", DEVICE, {}),
    (0.0, "routed", "system", {"route": "north-help", "team": "onsite"}),
]


def _esc(
    level: int, team: str, notified: tuple[str, ...], next_at: float | None, exhausted: bool = False
) -> EscalationStatus:
    return EscalationStatus(level, team, notified, next_at, exhausted)


SCENARIOS = [
    pytest.param(
        CHAIN,
        [],
        IncidentStatus("opened", _esc(0, "onsite", ("onsite",), 30.0)),
        OPENED,
        id="just-opened",
    ),
    pytest.param(
        CHAIN,
        [("timer", 29.0)],
        IncidentStatus("opened", _esc(0, "onsite", ("onsite",), 30.0)),
        OPENED,
        id="timer-before-due-does-nothing",
    ),
    pytest.param(
        CHAIN,
        [("timer", 30.0)],
        IncidentStatus("escalated", _esc(1, "regional", ("onsite", "regional"), 90.0)),
        [*OPENED, (30.0, "escalated", "system", {"team": "regional", "level": 1})],
        id="escalates-to-second-team",
    ),
    pytest.param(
        CHAIN,
        [("timer", 30.0), ("timer", 90.0), ("timer", 200.0)],
        IncidentStatus(
            "escalated", _esc(1, "regional", ("onsite", "regional"), None, exhausted=True)
        ),
        [
            *OPENED,
            (30.0, "escalated", "system", {"team": "regional", "level": 1}),
            (90.0, "exhausted", "system", {"notified": ["onsite", "regional"]}),
        ],
        id="exhausted-then-silent",
    ),
    pytest.param(
        SHORT,
        [("timer", 10.0)],
        IncidentStatus("opened", _esc(0, "ops", ("ops",), None, exhausted=True)),
        [
            *OPENED[:1],
            (0.0, "routed", "system", {"route": "north-help", "team": "ops"}),
            (10.0, "exhausted", "system", {"notified": ["ops"]}),
        ],
        id="one-level-chain-exhausts-while-opened",
    ),
    pytest.param(
        CHAIN,
        [("ack", "ana", 12.0), ("timer", 30.0), ("timer", 500.0)],
        IncidentStatus("acknowledged", _esc(0, "onsite", ("onsite",), None), acknowledged_by="ana"),
        [*OPENED, (12.0, "acknowledged", "ana", {})],
        id="ack-stops-escalation",
    ),
    pytest.param(
        CHAIN,
        [("timer", 30.0), ("ack", "ben", 40.0, "on my way"), ("timer", 90.0)],
        IncidentStatus(
            "acknowledged",
            _esc(1, "regional", ("onsite", "regional"), None),
            acknowledged_by="ben",
        ),
        [
            *OPENED,
            (30.0, "escalated", "system", {"team": "regional", "level": 1}),
            (40.0, "acknowledged", "ben", {"note": "on my way"}),
        ],
        id="ack-after-escalation-with-note",
    ),
    pytest.param(
        CHAIN,
        [("ack", "ana", 12.0), ("ack", "ben", 13.0), ("ack", "ana", 14.0)],
        IncidentStatus("acknowledged", _esc(0, "onsite", ("onsite",), None), acknowledged_by="ana"),
        [*OPENED, (12.0, "acknowledged", "ana", {})],
        id="repeated-ack-is-a-no-op",
    ),
    pytest.param(
        CHAIN,
        [("ack", "ana", 12.0), ("resolve", "ben", 50.0)],
        IncidentStatus(
            "resolved",
            _esc(0, "onsite", ("onsite",), None),
            acknowledged_by="ana",
            resolved_by="ben",
        ),
        [*OPENED, (12.0, "acknowledged", "ana", {}), (50.0, "resolved", "ben", {})],
        id="ack-then-resolve-keeps-acknowledger",
    ),
    pytest.param(
        CHAIN,
        [("resolve", "ana", 5.0, "false alarm, cleaning staff"), ("timer", 30.0)],
        IncidentStatus(
            "resolved",
            _esc(0, "onsite", ("onsite",), None),
            acknowledged_by="ana",
            resolved_by="ana",
        ),
        [*OPENED, (5.0, "resolved", "ana", {"note": "false alarm, cleaning staff"})],
        id="resolve-without-ack-counts-as-ack",
    ),
    pytest.param(
        CHAIN,
        [("timer", 30.0), ("timer", 90.0), ("ack", "ana", 95.0)],
        IncidentStatus(
            "acknowledged",
            _esc(1, "regional", ("onsite", "regional"), None, exhausted=True),
            acknowledged_by="ana",
        ),
        [
            *OPENED,
            (30.0, "escalated", "system", {"team": "regional", "level": 1}),
            (90.0, "exhausted", "system", {"notified": ["onsite", "regional"]}),
            (95.0, "acknowledged", "ana", {}),
        ],
        id="ack-after-exhaustion",
    ),
    pytest.param(
        CHAIN,
        [("note", "ana", 3.0, "checking camera"), ("timer", 30.0)],
        IncidentStatus("escalated", _esc(1, "regional", ("onsite", "regional"), 90.0)),
        [
            *OPENED,
            (3.0, "note", "ana", {"note": "checking camera"}),
            (30.0, "escalated", "system", {"team": "regional", "level": 1}),
        ],
        id="note-does-not-stop-escalation",
    ),
    pytest.param(
        CHAIN,
        [("resolve", "ana", 5.0), ("note", "ben", 70.0, "family informed")],
        IncidentStatus(
            "resolved",
            _esc(0, "onsite", ("onsite",), None),
            acknowledged_by="ana",
            resolved_by="ana",
        ),
        [
            *OPENED,
            (5.0, "resolved", "ana", {}),
            (70.0, "note", "ben", {"note": "family informed"}),
        ],
        id="note-on-resolved-is-allowed",
    ),
]


@pytest.mark.parametrize(("chain", "steps", "status", "timeline"), SCENARIOS)
def test_lifecycle_scenario(
    chain: EscalationChain, steps: list[Step], status: IncidentStatus, timeline: list[Event]
) -> None:
    final, events = _run(chain, steps)
    assert final == status
    assert events == timeline


def test_is_open() -> None:
    status, _ = _run(CHAIN, [])
    assert status.is_open
    for state in ("escalated", "acknowledged"):
        assert IncidentStatus(state, status.escalation).is_open
    assert not IncidentStatus("resolved", status.escalation).is_open


def test_repeated_ack_returns_none() -> None:
    acked, _ = _run(CHAIN, [("ack", "ana", 12.0)])
    assert on_responder_action(acked, "ack", "ben", 13.0) is None


def test_timer_on_acknowledged_or_resolved_returns_none() -> None:
    # Even with a stale next_at still set, only opened/escalated incidents escalate.
    for state in ("acknowledged", "resolved"):
        status = IncidentStatus(state, _esc(0, "onsite", ("onsite",), 30.0))
        assert on_escalation_timer(CHAIN, status, 1000.0) is None


RESOLVED, _ = _run(CHAIN, [("resolve", "ana", 5.0)])


@pytest.mark.parametrize(
    ("action", "note"),
    [
        pytest.param("ack", None, id="ack"),
        pytest.param("resolve", None, id="resolve"),
        pytest.param("ack", "late ack", id="ack-with-note"),
    ],
)
def test_actions_on_resolved_are_refused(action: ResponderActionKind, note: str | None) -> None:
    with pytest.raises(ActionRefused, match="incident is already resolved by ana"):
        on_responder_action(RESOLVED, action, "ben", 60.0, note)


OPEN, _ = _run(CHAIN, [])


@pytest.mark.parametrize(
    ("status", "note"),
    [
        pytest.param(OPEN, None, id="open-no-note"),
        pytest.param(OPEN, "", id="open-empty-note"),
        pytest.param(RESOLVED, None, id="resolved-no-note"),
    ],
)
def test_note_without_text_is_refused(status: IncidentStatus, note: str | None) -> None:
    with pytest.raises(ActionRefused, match="a note needs text"):
        on_responder_action(status, "note", "ana", 7.0, note)


def test_note_leaves_status_unchanged() -> None:
    result = on_responder_action(OPEN, "note", "ana", 7.0, "hello")
    assert result == Transition(OPEN, (TimelineEntry(7.0, "note", "ana", {"note": "hello"}),))


# -- a reporter adds to their report ------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "state", "events", "team"),
    [
        # Nobody on it yet, or a responder is: it stays as it is; the addition is on the timeline.
        ([], "opened", ["report_added"], "onsite"),
        ([("timer", 30.0)], "escalated", ["report_added"], "regional"),
        ([("ack", "rita", 5.0)], "acknowledged", ["report_added"], "onsite"),
        # Resolved: it may be the most urgent thing they wrote; open again, from the start.
        ([("resolve", "rita", 5.0)], "opened", ["report_added", "reopened", "routed"], "onsite"),
        (
            [("timer", 30.0), ("resolve", "rita", 40.0)],
            "opened",
            ["report_added", "reopened", "routed"],
            "onsite",
        ),
    ],
)
def test_an_addition_reopens_a_resolved_incident_only(
    before: list[Step], state: str, events: list[str], team: str
) -> None:
    status, _ = _run(CHAIN, before)
    step = on_report_addition(CHAIN, status, 2, "landing-page", 100.0)
    assert step.status.state == state
    assert [e.event for e in step.timeline] == events
    assert step.status.escalation.team == team
    assert step.timeline[0].detail == {"entry": 2}
    if "reopened" in events:
        assert step.status.resolved_by is None and step.status.acknowledged_by is None
        assert step.status.escalation.next_at == 100.0 + 30.0  # the chain's first wait
        assert step.timeline[1].detail["resolved_by"] == "rita"
    else:
        assert step.status == status
