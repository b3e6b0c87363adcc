"""protocol.envelope: signed commands verify, and forged, misaddressed or stale ones do not."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.envelope import (
    CLOCK_SKEW_S,
    COMMAND_TYPES,
    Command,
    sign_command,
    verify_command,
)
from protocol.errors import EnvelopeError, ProtocolError
from protocol.messages import MAX_PAYLOAD_BYTES

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
DEVICE = "kiosk-a1"
NOW = 1_700_000_000.25


def _command(**changes: Any) -> Command:
    fields: dict[str, Any] = {
        "cid": "c0ffee01",
        "type": "alert_received",
        "created": NOW,
        "expires": NOW + 60.0,
        "device_id": DEVICE,
        "body": {"alert_id": "0b9e4c1e-6f7a-4d43-9a51-2d8f0c3b7e10"},
    }
    fields.update(changes)
    return Command(**fields)


def _verify(payload: bytes, *, now: float = NOW, device_id: str = DEVICE) -> Command:
    return verify_command(payload, KEY.public_key(), device_id=device_id, now=now)


def test_command_types() -> None:
    assert (
        frozenset({"alert_received", "identify", "drill", "content_check", "config", "relocate"})
        == COMMAND_TYPES
    )


ROUND_TRIPS = [
    pytest.param(_command(), NOW, id="alert-received-at-creation"),
    pytest.param(_command(type="identify", body={}), NOW, id="empty-body"),
    pytest.param(
        _command(type="config", body={"nested": {"list": [1, 2.5, "é"], "flag": True}}),
        NOW,
        id="nested-unicode-body",
    ),
    pytest.param(_command(), NOW + 60.0, id="at-expiry-instant"),
    pytest.param(_command(), NOW - CLOCK_SKEW_S, id="kiosk-clock-behind-by-skew"),
    pytest.param(
        _command(created=NOW + CLOCK_SKEW_S, expires=NOW + CLOCK_SKEW_S + 60),
        NOW,
        id="created-at-skew-limit",
    ),
    # Timestamps annotated as float but given as whole numbers (an int is a valid float to mypy).
    pytest.param(
        _command(created=1_700_000_000, expires=1_700_000_060),
        1_700_000_010.0,
        id="whole-number-timestamps",
    ),
]


@pytest.mark.parametrize(("command", "now"), ROUND_TRIPS)
def test_sign_verify_round_trip(command: Command, now: float) -> None:
    assert _verify(sign_command(command, KEY), now=now) == command


def test_wire_form_is_canonical_json_with_signature() -> None:
    wire = json.loads(sign_command(_command(), KEY))
    assert sorted(wire) == ["body", "cid", "created", "device_id", "expires", "sig", "type"]
    assert len(base64.b64decode(wire["sig"])) == 64
    assert sign_command(_command(), KEY) == sign_command(_command(), KEY)


def _tamper(field: str, value: Any) -> Callable[[bytes], bytes]:
    def change(payload: bytes) -> bytes:
        wire = json.loads(payload)
        wire[field] = value
        return json.dumps(wire).encode()

    return change


def _drop(field: str) -> Callable[[bytes], bytes]:
    def change(payload: bytes) -> bytes:
        wire = json.loads(payload)
        del wire[field]
        return json.dumps(wire).encode()

    return change


TAMPERED = [
    pytest.param(_tamper("body", {"alert_id": "someone-else"}), "bad signature", id="body"),
    pytest.param(_tamper("type", "drill"), "bad signature", id="type"),
    pytest.param(_tamper("expires", NOW + 86400.0), "bad signature", id="expiry-extended"),
    pytest.param(_tamper("created", NOW - 1.0), "bad signature", id="created"),
    pytest.param(_tamper("cid", "c0ffee02"), "bad signature", id="cid"),
    pytest.param(_tamper("device_id", "kiosk-b2"), "bad signature", id="device-id-rewritten"),
    pytest.param(
        _tamper("sig", base64.b64encode(b"\0" * 64).decode()), "bad signature", id="zero-sig"
    ),
    pytest.param(_tamper("sig", "not base64!"), "malformed command envelope", id="sig-not-base64"),
    pytest.param(_tamper("sig", 12), "malformed command envelope", id="sig-number"),
    pytest.param(_drop("sig"), "malformed command envelope", id="missing-sig"),
    pytest.param(_drop("body"), "malformed command envelope", id="missing-body"),
    pytest.param(_drop("expires"), "malformed command envelope", id="missing-expires"),
    pytest.param(_tamper("created", "soon"), "malformed command envelope", id="created-word"),
    pytest.param(_tamper("body", 5), "malformed command envelope", id="body-number"),
]


@pytest.mark.parametrize(("change", "message"), TAMPERED)
def test_tampered_envelope_is_refused(change: Callable[[bytes], bytes], message: str) -> None:
    payload = change(sign_command(_command(), KEY))
    with pytest.raises(EnvelopeError, match=message):
        _verify(payload)


GARBAGE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json at all", id="text"),
    pytest.param(b"\xff\xfe\x00\x01", id="non-utf8"),
    pytest.param(b"[1, 2, 3]", id="json-array"),
    pytest.param(b"42", id="json-number"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b"{}", id="empty-object"),
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_is_refused(payload: bytes) -> None:
    with pytest.raises(EnvelopeError, match="malformed command envelope"):
        _verify(payload)


def test_oversize_envelope_is_refused() -> None:
    payload = sign_command(_command(body={"pad": "x" * MAX_PAYLOAD_BYTES}), KEY)
    with pytest.raises(EnvelopeError, match="command envelope is too large"):
        _verify(payload)


def test_wrong_key_is_refused() -> None:
    payload = sign_command(_command(), OTHER_KEY)
    with pytest.raises(EnvelopeError, match="command c0ffee01: bad signature"):
        _verify(payload)


REFUSED_AFTER_SIGNATURE = [
    pytest.param(
        _command(), NOW, "kiosk-b2", "command c0ffee01 is addressed to another device", id="other"
    ),
    pytest.param(
        _command(), NOW + 60.001, DEVICE, "command c0ffee01 expired at 1700000060", id="expired"
    ),
    pytest.param(
        _command(created=NOW - 3600, expires=NOW - 3000),
        NOW,
        DEVICE,
        "command c0ffee01 expired",
        id="long-expired",
    ),
    pytest.param(
        _command(created=NOW + CLOCK_SKEW_S + 0.5, expires=NOW + 3600),
        NOW,
        DEVICE,
        "command c0ffee01 was created in the future",
        id="created-too-far-ahead",
    ),
    pytest.param(
        _command(type="self_destruct"),
        NOW,
        DEVICE,
        "command c0ffee01: unknown type 'self_destruct'",
        id="unknown-type",
    ),
    pytest.param(
        _command(cid="C0FFEE/+"),
        NOW,
        DEVICE,
        "command id 'C0FFEE/\\+' is invalid",
        id="invalid-cid",
    ),
]


@pytest.mark.parametrize(("command", "now", "device_id", "message"), REFUSED_AFTER_SIGNATURE)
def test_validly_signed_but_refused(
    command: Command, now: float, device_id: str, message: str
) -> None:
    with pytest.raises(EnvelopeError, match=message):
        _verify(sign_command(command, KEY), now=now, device_id=device_id)


def test_envelope_error_is_a_protocol_error() -> None:
    assert issubclass(EnvelopeError, ProtocolError)
