"""Signed command envelopes from the fleet manager to kiosks (Ed25519).

A command is small and self-describing: its id, type, when it was made and until when it is
valid, so a late command is dropped instead of acted on. The signature covers the canonical
JSON of every other field; the kiosk verifies with the fleet key pinned at provisioning.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.errors import EnvelopeError
from protocol.identities import is_valid_segment
from protocol.messages import MAX_PAYLOAD_BYTES

CommandType = Literal["alert_received", "identify", "drill", "content_check", "config", "relocate"]
COMMAND_TYPES: frozenset[str] = frozenset(get_args(CommandType))
# Tolerated clock difference between fleet manager and kiosk.
CLOCK_SKEW_S = 300.0


@dataclass(frozen=True)
class Command:
    cid: str
    type: str
    created: float
    expires: float
    device_id: str
    body: dict[str, Any] = field(default_factory=dict)

    def signed_part(self) -> bytes:
        return _canonical(
            {
                "cid": self.cid,
                "type": self.type,
                # As floats always: the verifier parses floats, and 1 and 1.0 serialise apart.
                "created": float(self.created),
                "expires": float(self.expires),
                "device_id": self.device_id,
                "body": self.body,
            }
        )


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_command(command: Command, key: Ed25519PrivateKey) -> bytes:
    """The wire form of ``command``: its fields plus a base64 ``sig``."""
    signature = key.sign(command.signed_part())
    wire = json.loads(command.signed_part())
    wire["sig"] = base64.b64encode(signature).decode()
    return _canonical(wire)


def verify_command(payload: bytes, key: Ed25519PublicKey, *, device_id: str, now: float) -> Command:
    """Check signature, addressee and validity window; raise :class:`EnvelopeError` if any fails.

    ``device_id`` is the receiving kiosk: a command signed for another kiosk is refused, so a
    captured command cannot be replayed elsewhere.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError("command envelope is too large")
    try:
        wire = json.loads(payload)
        sig = base64.b64decode(wire.pop("sig"), validate=True)
        command = Command(
            cid=str(wire["cid"]),
            type=str(wire["type"]),
            created=float(wire["created"]),
            expires=float(wire["expires"]),
            device_id=str(wire["device_id"]),
            body=dict(wire["body"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EnvelopeError(
            f"malformed command envelope ({exc.__class__.__name__}: {exc})"
        ) from None
    try:
        key.verify(sig, command.signed_part())
    except InvalidSignature:
        raise EnvelopeError(f"command {command.cid}: bad signature") from None
    if command.type not in COMMAND_TYPES:
        raise EnvelopeError(f"command {command.cid}: unknown type {command.type!r}")
    if not is_valid_segment(command.cid):
        raise EnvelopeError(f"command id {command.cid!r} is invalid")
    if command.device_id != device_id:
        raise EnvelopeError(f"command {command.cid} is addressed to another device")
    if now > command.expires:
        raise EnvelopeError(f"command {command.cid} expired at {command.expires:.0f}")
    if command.created > now + CLOCK_SKEW_S:
        raise EnvelopeError(f"command {command.cid} was created in the future")
    return command
