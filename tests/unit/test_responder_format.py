"""responder.format: ages and the one-line incident summary a responder reads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from protocol.messages import EscalationInfo, IncidentMessage
from responder.format import age_text, format_incident


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(-5.0, "0s", id="negative-clock-skew"),
        pytest.param(0.0, "0s", id="zero"),
        pytest.param(0.9, "0s", id="under-a-second"),
        pytest.param(59.99, "59s", id="just-under-a-minute"),
        pytest.param(60.0, "1m00s", id="one-minute"),
        pytest.param(61.0, "1m01s", id="minute-and-second"),
        pytest.param(754.0, "12m34s", id="twelve-minutes"),
        pytest.param(3599.0, "59m59s", id="just-under-an-hour"),
        pytest.param(3600.0, "1h00m", id="one-hour"),
        pytest.param(3600.0 + 59.0, "1h00m", id="hour-drops-seconds"),
        pytest.param(2 * 3600 + 5 * 60, "2h05m", id="two-hours-five"),
        pytest.param(100 * 3600 + 30 * 60, "100h30m", id="hundred-hours"),
    ],
)
def test_age_text(seconds: float, text: str) -> None:
    assert age_text(seconds) == text


BASE: dict[str, Any] = {
    "incident_id": "inc-0123456789abcdef",
    "version": 1,
    "state": "opened",
    "kind": "help",
    "drill": False,
    "region": "north",
    "facility": "fac-st-mary",
    "location": "loc-waiting-1",
    "location_name": "Waiting room 1",
    "device_id": "kiosk-a1",
    "alert_id": UUID("0b9e4c1e-6f7a-4d43-9a51-2d8f0c3b7e10"),
    "alert_ts": 1000.0,
    "opened_at": 1001.0,
    "updated_at": 1001.0,
    "route": "north-help",
    "escalation": EscalationInfo(level=0, team="north-onsite", notified=["north-onsite"]),
}


def _incident(**changes: Any) -> IncidentMessage:
    return IncidentMessage(**{**BASE, **changes})


CASES = [
    pytest.param(
        _incident(),
        1042.0,
        "OPENED       inc-0123456789abcdef  help at Waiting room 1 · fac-st-mary [north]"
        "  age 42s  team north-onsite (level 0)",
        id="opened",
    ),
    pytest.param(
        _incident(
            state="escalated",
            escalation=EscalationInfo(
                level=1, team="north-regional", notified=["north-onsite", "north-regional"]
            ),
        ),
        1000.0 + 95,
        "ESCALATED    inc-0123456789abcdef  help at Waiting room 1 · fac-st-mary [north]"
        "  age 1m35s  team north-regional (level 1)",
        id="escalated",
    ),
    pytest.param(
        _incident(
            state="escalated",
            escalation=EscalationInfo(
                level=1,
                team="north-regional",
                notified=["north-onsite", "north-regional"],
                exhausted=True,
            ),
        ),
        1000.0 + 3 * 3600 + 7 * 60,
        "ESCALATED    inc-0123456789abcdef  help at Waiting room 1 · fac-st-mary [north]"
        "  age 3h07m  UNANSWERED after notifying north-onsite, north-regional",
        id="exhausted",
    ),
    pytest.param(
        _incident(state="acknowledged", acknowledged_by="ana"),
        1010.0,
        "ACKNOWLEDGED inc-0123456789abcdef  help at Waiting room 1 · fac-st-mary [north]"
        "  age 10s  acknowledged by ana",
        id="acknowledged",
    ),
    pytest.param(
        _incident(state="resolved", acknowledged_by="ana", resolved_by="ben"),
        1000.0 + 600,
        "RESOLVED     inc-0123456789abcdef  help at Waiting room 1 · fac-st-mary [north]"
        "  age 10m00s  resolved by ben",
        id="resolved",
    ),
    pytest.param(
        _incident(kind="drill", drill=True),
        1001.0,
        "[DRILL] OPENED       inc-0123456789abcdef  drill at Waiting room 1 · fac-st-mary [north]"
        "  age 1s  team north-onsite (level 0)",
        id="drill-marked-first",
    ),
    pytest.param(
        _incident(location_name=None, facility=None, kind="tamper"),
        999.0,
        "OPENED       inc-0123456789abcdef  tamper at loc-waiting-1 [north]"
        "  age 0s  team north-onsite (level 0)",
        id="no-name-no-facility",
    ),
    pytest.param(
        # An acknowledged incident that had exhausted its chain reads as acknowledged.
        _incident(
            state="acknowledged",
            acknowledged_by="ana",
            escalation=EscalationInfo(level=0, team="t", notified=["t"], exhausted=True),
        ),
        1000.0,
        "ACKNOWLEDGED inc-0123456789abcdef  help at Waiting room 1 · fac-st-mary [north]"
        "  age 0s  acknowledged by ana",
        id="acknowledged-after-exhaustion",
    ),
]


@pytest.mark.parametrize(("incident", "now", "line"), CASES)
def test_format_incident(incident: IncidentMessage, now: float, line: str) -> None:
    assert format_incident(incident, now) == line
