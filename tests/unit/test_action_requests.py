"""The pre-check of console actions on incidents (pure), and who sees a queued request."""

from __future__ import annotations

import pytest

from fleet_manager.accounts.policy import Grant, Principal
from fleet_manager.api.action_requests import (
    Precheck,
    Queue,
    Refuse,
    Unchanged,
    kiosk_command_problem,
    may_see_request,
    precheck,
)
from fleet_manager.incidents.escalation import EscalationStatus
from fleet_manager.incidents.lifecycle import IncidentStatus
from fleet_manager.store.console_requests import ConsoleRequest
from fleet_manager.store.fleet_views import KioskRow

ESC = EscalationStatus(level=0, team="east-onsite", notified=("east-onsite",), next_at=None)
OPENED = IncidentStatus(state="opened", escalation=ESC)
ESCALATED = IncidentStatus(state="escalated", escalation=ESC)
ACKED = IncidentStatus(state="acknowledged", escalation=ESC, acknowledged_by="rita")
RESOLVED = IncidentStatus(
    state="resolved", escalation=ESC, acknowledged_by="rita", resolved_by="rita"
)


@pytest.mark.parametrize(
    ("status", "action", "note", "expected"),
    [
        (OPENED, "ack", None, Queue(None)),
        (OPENED, "ack", "  on my way ", Queue("on my way")),
        (ESCALATED, "ack", "", Queue(None)),
        (ACKED, "ack", None, Unchanged("already acknowledged by rita")),
        (OPENED, "resolve", None, Queue(None)),
        (ACKED, "resolve", "false alarm", Queue("false alarm")),
        (RESOLVED, "resolve", None, Refuse("incident is already resolved by rita")),
        (RESOLVED, "ack", None, Refuse("incident is already resolved by rita")),
        (RESOLVED, "note", "called back", Queue("called back")),
        (OPENED, "note", None, Refuse("a note needs text")),
        (OPENED, "note", "   ", Refuse("a note needs text")),
        (OPENED, "note", "x" * 500, Queue("x" * 500)),
        (OPENED, "note", "x" * 501, Refuse("a note is at most 500 characters")),
        (OPENED, "ack", "x" * 501, Refuse("a note is at most 500 characters")),
        (OPENED, "note", "two\nlines\tand a tab", Queue("two\nlines\tand a tab")),
        (OPENED, "note", "nul\x00", Refuse("a note must not contain control characters")),
        (OPENED, "resolve", "bell\x07", Refuse("a note must not contain control characters")),
    ],
)
def test_precheck(
    status: IncidentStatus, action: str, note: str | None, expected: Precheck
) -> None:
    assert precheck(status, action, note) == expected  # type: ignore[arg-type]


def _kiosk(lifecycle: str) -> KioskRow:
    return KioskRow(
        "kiosk-a1", True, None, None, None, None, "stable", lifecycle,
        None, None, None, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("lifecycle", "problem"),
    [
        ("active", None),
        ("revoked", "the kiosk is revoked: it takes no commands"),
        ("decommissioned", "the kiosk is decommissioned: it takes no commands"),
    ],
)
def test_kiosk_command_problem(lifecycle: str, problem: str | None) -> None:
    assert kiosk_command_problem(_kiosk(lifecycle)) == problem


def _request(actor: str) -> ConsoleRequest:
    return ConsoleRequest("r1", "ack", "inc-1", actor, None, 0.0, "queued", None, None, None)


@pytest.mark.parametrize(
    ("who", "actor", "visible"),
    [
        (
            Principal("user", "rita", frozenset({Grant("responder", region="east")})),
            "user:rita",
            True,
        ),
        (
            Principal("user", "rex", frozenset({Grant("responder", region="east")})),
            "user:rita",
            False,
        ),
        (Principal("user", "olga", frozenset({Grant("ops")})), "user:rita", True),
        (Principal("token", "tok-1", frozenset({Grant("ops")})), "user:rita", True),
        (Principal("user", "audra", frozenset({Grant("auditor")})), "user:rita", False),
        (Principal("token", "tok-2", frozenset()), "token:tok-2", True),
    ],
)
def test_who_sees_a_request(who: Principal, actor: str, visible: bool) -> None:
    assert may_see_request(who, _request(actor)) is visible
