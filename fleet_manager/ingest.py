"""Classifying what arrives on the fleet broker: topic + payload → a typed inbound message.

Pure: anything that is not exactly our contract raises :class:`ProtocolError`, which the
service counts, logs and drops. Nothing here trusts a payload to say which kiosk sent it: the
device id comes from the topic, which the broker's ACL ties to the sender's certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import topics
from protocol.enrolment import RenewRequest
from protocol.errors import PayloadError, TopicError
from protocol.identities import is_device_id
from protocol.messages import (
    AlertMessage,
    CommandResultMessage,
    EventMessage,
    ResponderAction,
    StatusMessage,
    TelemetryMessage,
    decode,
)
from protocol.topics import TopicKind


@dataclass(frozen=True)
class InboundAlert:
    device_id: str
    message: AlertMessage


@dataclass(frozen=True)
class InboundStatus:
    device_id: str
    message: StatusMessage


@dataclass(frozen=True)
class InboundTelemetry:
    device_id: str
    message: TelemetryMessage


@dataclass(frozen=True)
class InboundEvent:
    device_id: str
    message: EventMessage


@dataclass(frozen=True)
class InboundCommandResult:
    device_id: str
    cid: str
    message: CommandResultMessage


@dataclass(frozen=True)
class InboundResponderAction:
    region: str
    incident_id: str
    message: ResponderAction


@dataclass(frozen=True)
class InboundRenewRequest:
    device_id: str
    message: RenewRequest


Inbound = (
    InboundAlert
    | InboundStatus
    | InboundTelemetry
    | InboundEvent
    | InboundCommandResult
    | InboundResponderAction
    | InboundRenewRequest
)


def classify(topic: str, payload: bytes) -> Inbound:
    parsed = topics.parse_topic(topic)
    if parsed.kind is TopicKind.ACK:
        assert parsed.region is not None and parsed.incident_id is not None
        return InboundResponderAction(
            parsed.region, parsed.incident_id, decode(ResponderAction, payload)
        )
    device_id = parsed.device_id
    if device_id is None:
        raise PayloadError(f"topic {topic!r} is not one the fleet manager consumes")
    if not is_device_id(device_id):
        # The ACL lets every client write its own subtree, so a service or responder
        # certificate could publish here under its own name: only kiosks may.
        raise TopicError(f"topic {topic!r}: {device_id!r} is not a kiosk id")
    if parsed.kind is TopicKind.ALERT:
        return InboundAlert(device_id, decode(AlertMessage, payload))
    if parsed.kind is TopicKind.STATUS:
        return InboundStatus(device_id, decode(StatusMessage, payload))
    if parsed.kind is TopicKind.TELEMETRY:
        return InboundTelemetry(device_id, decode(TelemetryMessage, payload))
    if parsed.kind is TopicKind.EVENT:
        return InboundEvent(device_id, decode(EventMessage, payload))
    if parsed.kind is TopicKind.COMMAND_RESULT:
        assert parsed.cid is not None
        return InboundCommandResult(device_id, parsed.cid, decode(CommandResultMessage, payload))
    if parsed.kind is TopicKind.CERT_RENEW:
        return InboundRenewRequest(device_id, decode(RenewRequest, payload))
    raise PayloadError(f"topic {topic!r} is not one the fleet manager consumes")
