"""fleet_manager.ingest.classify: topic + payload → typed inbound message, or ProtocolError."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from fleet_manager.ingest import (
    Inbound,
    InboundAlert,
    InboundCommandResult,
    InboundEvent,
    InboundResponderAction,
    InboundStatus,
    InboundTelemetry,
    classify,
)
from protocol import topics
from protocol.errors import PayloadError, ProtocolError, TopicError
from protocol.messages import (
    AlertMessage,
    CommandResultMessage,
    EventMessage,
    ResponderAction,
    StatusMessage,
    TelemetryMessage,
)

ALERT_ID = "0b9e4c1e-6f7a-4d43-9a51-2d8f0c3b7e10"


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


ALERT = {"alert_id": ALERT_ID, "kind": "help", "source": "touch", "location": "loc-1", "ts": 5.0}

CLASSIFIED = [
    pytest.param(
        topics.device_alert("kiosk-a1"),
        # The payload names no device: the kiosk is whoever the topic (and so the ACL) says.
        _json({**ALERT, "device_id": "kiosk-b2"}),
        InboundAlert(
            "kiosk-a1",
            AlertMessage(
                alert_id=UUID(ALERT_ID), kind="help", source="touch", location="loc-1", ts=5.0
            ),
        ),
        id="alert",
    ),
    pytest.param(
        topics.device_status("kiosk-a1"),
        _json({"state": "offline", "session": "s-9"}),
        InboundStatus("kiosk-a1", StatusMessage(state="offline", session="s-9")),
        id="status",
    ),
    pytest.param(
        topics.device_telemetry("kiosk-b2"),
        _json({"ts": 1.0, "seq": 2, "uptime_s": 3.0, "outbox_pending": 0}),
        InboundTelemetry(
            "kiosk-b2", TelemetryMessage(ts=1.0, seq=2, uptime_s=3.0, outbox_pending=0)
        ),
        id="telemetry",
    ),
    pytest.param(
        topics.device_event("kiosk-a1"),
        _json({"ts": 1.0, "event": "content_failed", "detail": {"why": "expired"}}),
        InboundEvent(
            "kiosk-a1", EventMessage(ts=1.0, event="content_failed", detail={"why": "expired"})
        ),
        id="event",
    ),
    pytest.param(
        topics.device_command_result("kiosk-a1", "c0ffee"),
        _json({"cid": "c0ffee", "ok": True, "ts": 2.0}),
        InboundCommandResult(
            "kiosk-a1", "c0ffee", CommandResultMessage(cid="c0ffee", ok=True, ts=2.0)
        ),
        id="command-result",
    ),
    pytest.param(
        topics.responder_ack("north", "inc-0123"),
        _json({"responder": "ana", "action": "resolve", "ts": 9.0}),
        InboundResponderAction(
            "north", "inc-0123", ResponderAction(responder="ana", action="resolve", ts=9.0)
        ),
        id="responder-action",
    ),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), CLASSIFIED)
def test_classify(topic: str, payload: bytes, expected: Inbound) -> None:
    result = classify(topic, payload)
    assert type(result) is type(expected)
    assert result == expected


VALID_ANY = _json({"ts": 1.0})

REFUSED = [
    pytest.param(
        topics.device_alert("kiosk-a1"), b"not json", PayloadError, "AlertMessage", id="alert-junk"
    ),
    pytest.param(
        topics.device_alert("kiosk-a1"),
        _json({**ALERT, "kind": "prank"}),
        PayloadError,
        "AlertMessage: kind",
        id="alert-bad-kind",
    ),
    pytest.param(
        topics.device_status("kiosk-a1"),
        _json({"state": "online"}),
        PayloadError,
        "StatusMessage: session: Field required",
        id="status-missing-session",
    ),
    pytest.param(
        topics.device_telemetry("kiosk-a1"),
        b"[]",
        PayloadError,
        "TelemetryMessage: payload must be a JSON object",
        id="telemetry-array",
    ),
    pytest.param(
        topics.device_event("kiosk-a1"),
        _json({"event": "boot"}),
        PayloadError,
        "EventMessage: ts: Field required",
        id="event-missing-ts",
    ),
    pytest.param(
        topics.device_command_result("kiosk-a1", "c1"),
        _json({"cid": "c1", "ts": 1.0}),
        PayloadError,
        "CommandResultMessage: ok: Field required",
        id="result-missing-ok",
    ),
    pytest.param(
        topics.responder_ack("north", "inc-1"),
        _json({"responder": "ana", "action": "ack"}),
        PayloadError,
        "ResponderAction: ts: Field required",
        id="ack-missing-ts",
    ),
    # Our topics that the fleet manager publishes but never consumes.
    pytest.param(
        topics.device_command("kiosk-a1", "c1"),
        VALID_ANY,
        PayloadError,
        "is not one the fleet manager consumes",
        id="command",
    ),
    pytest.param(
        topics.content_channel("stable"),
        VALID_ANY,
        PayloadError,
        "is not one the fleet manager consumes",
        id="content",
    ),
    pytest.param(
        topics.responder_incident("north", "inc-1"),
        VALID_ANY,
        PayloadError,
        "is not one the fleet manager consumes",
        id="incident",
    ),
    # Foreign topics.
    pytest.param("$SYS/broker/uptime", b"42", TopicError, "outside beacon/v1/", id="sys"),
    pytest.param(
        "other/v1/dev/kiosk-a1/alert", _json(ALERT), TopicError, "outside", id="other-root"
    ),
    pytest.param(
        "beacon/v1/dev/kiosk-a1/alert/x", _json(ALERT), TopicError, "not part", id="extra-level"
    ),
    pytest.param(
        "beacon/v1/dev/KIOSK/alert", _json(ALERT), TopicError, "invalid segment", id="upper-case"
    ),
]


@pytest.mark.parametrize(("topic", "payload", "error", "message"), REFUSED)
def test_classify_refuses(
    topic: str, payload: bytes, error: type[ProtocolError], message: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        classify(topic, payload)
    assert type(info.value) is error
    assert message in str(info.value)


@pytest.mark.parametrize(
    "publisher",
    ["fleet-manager-1", "responder-east-desk", "bridge-east", "not-a-kiosk"],
)
def test_only_kiosks_may_raise_alerts(publisher: str) -> None:
    """Every client may write its own subtree on the fleet broker; only kiosk ids count."""
    with pytest.raises(TopicError) as info:
        classify(topics.device_alert(publisher), _json(ALERT))
    assert "is not a kiosk id" in str(info.value)
