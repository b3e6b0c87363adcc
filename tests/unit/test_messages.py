"""protocol.messages.decode: valid payloads per model, refusals that name model and field,
unknown fields ignored (forward compatibility)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from protocol.errors import PayloadError, ProtocolError
from protocol.messages import (
    MAX_PAYLOAD_BYTES,
    AlertMessage,
    CommandResultMessage,
    EscalationInfo,
    EventMessage,
    IncidentMessage,
    ResponderAction,
    StatusMessage,
    TelemetryMessage,
    WireModel,
    decode,
)

ALERT_ID = "0b9e4c1e-6f7a-4d43-9a51-2d8f0c3b7e10"

VALID_ALERT: dict[str, Any] = {
    "alert_id": ALERT_ID,
    "kind": "help",
    "source": "button",
    "location": "loc-waiting-1",
    "ts": 1700000000.5,
}

VALID_INCIDENT: dict[str, Any] = {
    "incident_id": "inc-0123456789abcdef",
    "version": 3,
    "state": "escalated",
    "kind": "help",
    "drill": False,
    "region": "north",
    "facility": "fac-st-mary",
    "location": "loc-waiting-1",
    "location_name": "Waiting room 1",
    "device_id": "kiosk-a1",
    "alert_id": ALERT_ID,
    "alert_ts": 1700000000.5,
    "opened_at": 1700000001.0,
    "updated_at": 1700000031.0,
    "route": "north-help",
    "escalation": {
        "level": 1,
        "team": "north-regional",
        "notified": ["north-onsite", "north-regional"],
        "next_at": 1700000091.0,
    },
}


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


VALID = [
    pytest.param(
        StatusMessage,
        {"state": "online", "session": "s-1", "app": "1.4.0", "content": "c-7", "ts": 10.0},
        StatusMessage(state="online", session="s-1", app="1.4.0", content="c-7", ts=10.0),
        id="status-birth",
    ),
    pytest.param(
        StatusMessage,
        {"state": "offline", "session": "s-1"},
        StatusMessage(state="offline", session="s-1"),
        id="status-last-will",
    ),
    pytest.param(
        TelemetryMessage,
        {"ts": 20.0, "seq": 4, "uptime_s": 3600.0, "outbox_pending": 1, "app": "1.4.0"},
        TelemetryMessage(ts=20.0, seq=4, uptime_s=3600.0, outbox_pending=1, app="1.4.0"),
        id="telemetry",
    ),
    pytest.param(
        AlertMessage,
        VALID_ALERT,
        AlertMessage(
            alert_id=UUID(ALERT_ID),
            kind="help",
            source="button",
            location="loc-waiting-1",
            ts=1700000000.5,
            attempt=1,
        ),
        id="alert-help-default-attempt",
    ),
    pytest.param(
        AlertMessage,
        {**VALID_ALERT, "kind": "drill", "source": "staff", "attempt": 4},
        AlertMessage(
            alert_id=UUID(ALERT_ID),
            kind="drill",
            source="staff",
            location="loc-waiting-1",
            ts=1700000000.5,
            attempt=4,
        ),
        id="alert-drill-resend",
    ),
    pytest.param(
        AlertMessage,
        {**VALID_ALERT, "kind": "tamper", "source": "sensor"},
        AlertMessage(
            alert_id=UUID(ALERT_ID),
            kind="tamper",
            source="sensor",
            location="loc-waiting-1",
            ts=1700000000.5,
        ),
        id="alert-tamper",
    ),
    pytest.param(
        EventMessage,
        {"ts": 5.0, "event": "content_applied", "detail": {"version": "c-8"}},
        EventMessage(ts=5.0, event="content_applied", detail={"version": "c-8"}),
        id="event",
    ),
    pytest.param(
        EventMessage,
        {"ts": 5.0, "event": "boot"},
        EventMessage(ts=5.0, event="boot", detail={}),
        id="event-without-detail",
    ),
    pytest.param(
        CommandResultMessage,
        {"cid": "c0ffee", "ok": False, "detail": "busy", "ts": 7.0},
        CommandResultMessage(cid="c0ffee", ok=False, detail="busy", ts=7.0),
        id="command-result",
    ),
    pytest.param(
        ResponderAction,
        {"responder": "responder-north-ana", "action": "ack", "ts": 8.0},
        ResponderAction(responder="responder-north-ana", action="ack", ts=8.0),
        id="responder-ack",
    ),
    pytest.param(
        ResponderAction,
        {"responder": "responder-north-ana", "action": "note", "ts": 8.0, "note": "on my way"},
        ResponderAction(responder="responder-north-ana", action="note", ts=8.0, note="on my way"),
        id="responder-note",
    ),
    pytest.param(
        IncidentMessage,
        VALID_INCIDENT,
        IncidentMessage(
            incident_id="inc-0123456789abcdef",
            version=3,
            state="escalated",
            kind="help",
            drill=False,
            region="north",
            facility="fac-st-mary",
            location="loc-waiting-1",
            location_name="Waiting room 1",
            device_id="kiosk-a1",
            alert_id=UUID(ALERT_ID),
            alert_ts=1700000000.5,
            opened_at=1700000001.0,
            updated_at=1700000031.0,
            route="north-help",
            escalation=EscalationInfo(
                level=1,
                team="north-regional",
                notified=["north-onsite", "north-regional"],
                next_at=1700000091.0,
                exhausted=False,
            ),
        ),
        id="incident",
    ),
]


@pytest.mark.parametrize(("model", "data", "expected"), VALID)
def test_decode_valid(model: type[WireModel], data: dict[str, Any], expected: WireModel) -> None:
    assert decode(model, _json(data)) == expected


def test_alert_drill_property() -> None:
    assert decode(AlertMessage, _json({**VALID_ALERT, "kind": "drill"})).drill is True
    assert decode(AlertMessage, _json(VALID_ALERT)).drill is False


@pytest.mark.parametrize(("model", "data", "expected"), VALID)
def test_to_bytes_round_trip(
    model: type[WireModel], data: dict[str, Any], expected: WireModel
) -> None:
    assert decode(model, expected.to_bytes()) == expected


def test_to_bytes_leaves_out_none() -> None:
    wire = json.loads(StatusMessage(state="offline", session="s-1").to_bytes())
    assert wire == {"state": "offline", "session": "s-1"}


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


MALFORMED = [
    pytest.param(AlertMessage, b"help!", "AlertMessage: payload is not valid JSON", id="not-json"),
    pytest.param(AlertMessage, b"", "AlertMessage: payload is not valid JSON", id="empty"),
    pytest.param(
        AlertMessage,
        b'{"alert_id": "' + ALERT_ID.encode() + b'",',
        "AlertMessage: payload is not valid JSON",
        id="truncated-json",
    ),
    pytest.param(
        AlertMessage,
        b"\xff\xfe\xfa\x00garbage",
        "AlertMessage: payload is not valid JSON",
        id="non-utf8",
    ),
    pytest.param(
        AlertMessage,
        b'{"location": "caf\xe9"}',
        "AlertMessage: payload is not valid JSON",
        id="latin1-in-json",
    ),
    pytest.param(
        AlertMessage,
        b"[1, 2]",
        "AlertMessage: payload must be a JSON object",
        id="json-array",
    ),
    pytest.param(
        StatusMessage, b'"online"', "StatusMessage: payload must be a JSON object", id="json-string"
    ),
    pytest.param(StatusMessage, b"null", "StatusMessage: payload must be a JSON object", id="null"),
    pytest.param(
        AlertMessage,
        _json(_without(VALID_ALERT, "alert_id")),
        "AlertMessage: alert_id: Field required",
        id="alert-missing-alert_id",
    ),
    pytest.param(
        AlertMessage,
        _json(_without(VALID_ALERT, "location")),
        "AlertMessage: location: Field required",
        id="alert-missing-location",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "alert_id": "not-a-uuid"}),
        "AlertMessage: alert_id: Input should be a valid UUID",
        id="alert-bad-uuid",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "alert_id": 12345}),
        "AlertMessage: alert_id: UUID input should be a string",
        id="alert-uuid-number",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "kind": "panic"}),
        "AlertMessage: kind: Input should be 'help', 'drill' or 'tamper'",
        id="alert-unknown-kind",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "source": "voice"}),
        "AlertMessage: source: Input should be",
        id="alert-unknown-source",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "ts": "yesterday"}),
        "AlertMessage: ts: Input should be a valid number",
        id="alert-ts-word",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "ts": [1.0]}),
        "AlertMessage: ts: Input should be a valid number",
        id="alert-ts-list",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "location": ""}),
        "AlertMessage: location: String should have at least 1 character",
        id="alert-empty-location",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "location": "x" * 65}),
        "AlertMessage: location: String should have at most 64 characters",
        id="alert-location-too-long",
    ),
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "attempt": 0}),
        "AlertMessage: attempt: Input should be greater than or equal to 1",
        id="alert-attempt-zero",
    ),
    pytest.param(
        StatusMessage,
        _json({"state": "sleeping", "session": "s-1"}),
        "StatusMessage: state: Input should be 'online' or 'offline'",
        id="status-unknown-state",
    ),
    pytest.param(
        StatusMessage,
        _json({"state": "online", "session": ""}),
        "StatusMessage: session: String should have at least 1 character",
        id="status-empty-session",
    ),
    pytest.param(
        TelemetryMessage,
        _json({"ts": 1.0, "seq": -1, "uptime_s": 1.0, "outbox_pending": 0}),
        "TelemetryMessage: seq: Input should be greater than or equal to 0",
        id="telemetry-negative-seq",
    ),
    pytest.param(
        TelemetryMessage,
        _json({"ts": 1.0, "seq": 1.5, "uptime_s": 1.0, "outbox_pending": 0}),
        "TelemetryMessage: seq: Input should be a valid integer",
        id="telemetry-fractional-seq",
    ),
    pytest.param(
        EventMessage,
        _json({"ts": 1.0, "event": "x", "detail": ["a"]}),
        "EventMessage: detail: Input should be an object",
        id="event-detail-list",
    ),
    pytest.param(
        CommandResultMessage,
        _json({"cid": "c1", "ok": "maybe", "ts": 1.0}),
        "CommandResultMessage: ok: Input should be a valid boolean",
        id="result-ok-word",
    ),
    pytest.param(
        ResponderAction,
        _json({"responder": "ana", "action": "escalate", "ts": 1.0}),
        "ResponderAction: action: Input should be 'ack', 'resolve' or 'note'",
        id="action-unknown",
    ),
    pytest.param(
        ResponderAction,
        _json({"responder": "ana", "action": "note", "ts": 1.0, "note": "n" * 501}),
        "ResponderAction: note: String should have at most 500 characters",
        id="action-note-too-long",
    ),
    pytest.param(
        IncidentMessage,
        _json({**VALID_INCIDENT, "escalation": {**VALID_INCIDENT["escalation"], "level": -1}}),
        "IncidentMessage: escalation.level: Input should be greater than or equal to 0",
        id="incident-nested-field",
    ),
    pytest.param(
        IncidentMessage,
        _json(_without(VALID_INCIDENT, "facility")),
        "IncidentMessage: facility: Field required",
        id="incident-missing-nullable-facility",
    ),
    pytest.param(
        CommandResultMessage,
        _json({"cid": "c1", "ok": False, "detail": "z" * 2049, "ts": 1.0}),
        "CommandResultMessage: detail: String should have at most 2048 characters",
        id="string-over-2048",
    ),
    # The module promises that wrongly typed fields are refused ("strict decoding").
    pytest.param(
        AlertMessage,
        _json({**VALID_ALERT, "ts": "1700000000.5"}),
        "AlertMessage: ts:",
        id="alert-ts-numeric-string",
    ),
    pytest.param(
        TelemetryMessage,
        _json({"ts": 1.0, "seq": 1, "uptime_s": True, "outbox_pending": 0}),
        "TelemetryMessage: uptime_s:",
        id="telemetry-uptime-boolean",
    ),
]


@pytest.mark.parametrize(("model", "payload", "message"), MALFORMED)
def test_decode_refuses(model: type[WireModel], payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        decode(model, payload)
    assert str(info.value).startswith(message), str(info.value)


def test_missing_fields_are_all_named() -> None:
    with pytest.raises(PayloadError) as info:
        decode(AlertMessage, b"{}")
    text = str(info.value)
    assert text.startswith("AlertMessage: ")
    for field in ("alert_id", "kind", "source", "location", "ts"):
        assert f"{field}: Field required" in text
    assert "attempt" not in text


@pytest.mark.parametrize(
    ("size", "accepted"),
    [
        pytest.param(MAX_PAYLOAD_BYTES, True, id="exactly-max"),
        pytest.param(MAX_PAYLOAD_BYTES + 1, False, id="one-over-max"),
    ],
)
def test_payload_size_limit(size: int, accepted: bool) -> None:
    # A valid event padded with whitespace to exactly ``size`` bytes.
    body = b'{"ts": 1.0, "event": "boot"}'
    payload = body + b" " * (size - len(body))
    assert len(payload) == size
    if accepted:
        assert decode(EventMessage, payload) == EventMessage(ts=1.0, event="boot")
    else:
        with pytest.raises(
            PayloadError, match=f"EventMessage: payload of {size} bytes is too large"
        ):
            decode(EventMessage, payload)


UNKNOWN_FIELDS = [
    pytest.param(
        AlertMessage,
        {**VALID_ALERT, "battery": 0.8, "firmware": {"rev": 2}},
        id="alert",
    ),
    pytest.param(
        StatusMessage,
        {"state": "online", "session": "s-1", "ip": "10.0.0.5"},
        id="status",
    ),
    pytest.param(
        ResponderAction,
        {"responder": "ana", "action": "ack", "ts": 1.0, "eta_s": 300},
        id="responder-action",
    ),
    pytest.param(
        IncidentMessage,
        {
            **VALID_INCIDENT,
            "priority": "p1",
            "escalation": {**VALID_INCIDENT["escalation"], "x": 1},
        },
        id="incident-nested",
    ),
]


@pytest.mark.parametrize(("model", "data"), UNKNOWN_FIELDS)
def test_unknown_fields_are_ignored(model: type[WireModel], data: dict[str, Any]) -> None:
    decoded = decode(model, _json(data))
    known = set(type(decoded).model_fields)
    assert decoded == model.model_validate({k: v for k, v in data.items() if k in known})
    assert "priority" not in decoded.model_dump()
    assert "battery" not in decoded.model_dump()


def test_decoded_messages_are_frozen() -> None:
    message = decode(AlertMessage, _json(VALID_ALERT))
    with pytest.raises(ValueError, match="frozen"):
        message.location = "elsewhere"


def test_payload_error_is_a_protocol_error() -> None:
    assert issubclass(PayloadError, ProtocolError)
