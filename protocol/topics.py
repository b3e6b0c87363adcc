"""Topic builders and the parser for the v1 MQTT contract (see docs/architecture.md).

Every topic the system uses is built here, so the contract has one home. Parsing is strict:
anything that is not one of our topics raises :class:`TopicError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from protocol.errors import TopicError
from protocol.identities import is_valid_segment

ROOT = "beacon/v1"
SHARE_GROUP = "fleet"


class TopicKind(Enum):
    STATUS = "status"
    TELEMETRY = "telemetry"
    ALERT = "alert"
    EVENT = "event"
    COMMAND = "cmd"
    COMMAND_RESULT = "cmd_result"
    CONTENT = "content"
    INCIDENT = "incident"
    ACK = "ack"
    CERT_RENEW = "cert_renew"
    CERT_ISSUED = "cert_issued"


def _seg(value: str, what: str) -> str:
    if not is_valid_segment(value):
        raise TopicError(f"invalid {what} {value!r} for a topic segment")
    return value


def device_status(device_id: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/status"


def device_telemetry(device_id: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/telemetry"


def device_alert(device_id: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/alert"


def device_event(device_id: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/event"


def device_command(device_id: str, cid: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/cmd/{_seg(cid, 'command id')}"


def device_command_result(device_id: str, cid: str) -> str:
    return f"{device_command(device_id, cid)}/result"


def device_commands_filter(device_id: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/cmd/+"


def device_cert_renew(device_id: str) -> str:
    """Where a kiosk asks for a new certificate, over its mTLS connection."""
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/cert/renew"


def device_cert_issued(device_id: str) -> str:
    return f"{ROOT}/dev/{_seg(device_id, 'device id')}/cert/issued"


def content_channel(channel: str) -> str:
    return f"{ROOT}/content/{_seg(channel, 'channel')}"


def responder_incident(region: str, incident_id: str) -> str:
    return f"{ROOT}/resp/{_seg(region, 'region')}/incident/{_seg(incident_id, 'incident id')}"


def responder_incidents_filter(region: str) -> str:
    return f"{ROOT}/resp/{_seg(region, 'region')}/incident/#"


def responder_ack(region: str, incident_id: str) -> str:
    return f"{ROOT}/resp/{_seg(region, 'region')}/ack/{_seg(incident_id, 'incident id')}"


def responder_acks_filter(region: str) -> str:
    return f"{ROOT}/resp/{_seg(region, 'region')}/ack/#"


def shared(topic_filter: str, group: str = SHARE_GROUP) -> str:
    """A shared subscription, so several fleet manager instances split the load."""
    return f"$share/{group}/{topic_filter}"


# What the fleet manager consumes from kiosks, through a $share group so instances split it.
FLEET_INGEST_FILTERS: tuple[str, ...] = (
    f"{ROOT}/dev/+/status",
    f"{ROOT}/dev/+/telemetry",
    f"{ROOT}/dev/+/alert",
    f"{ROOT}/dev/+/event",
    f"{ROOT}/dev/+/cmd/+/result",
    f"{ROOT}/dev/+/cert/renew",
)
# Responder actions, on a plain subscription: Mosquitto 2.0 does not keep $share subscriptions
# across a broker restart, and the bridge delivers acks queued meanwhile before the fleet
# manager has resubscribed. Every instance sees every ack; version checks make it apply once.
FLEET_ACK_FILTER = f"{ROOT}/resp/+/ack/+"


@dataclass(frozen=True)
class ParsedTopic:
    kind: TopicKind
    device_id: str | None = None
    cid: str | None = None
    region: str | None = None
    incident_id: str | None = None
    channel: str | None = None


_DEVICE_LEAVES = {
    "status": TopicKind.STATUS,
    "telemetry": TopicKind.TELEMETRY,
    "alert": TopicKind.ALERT,
    "event": TopicKind.EVENT,
}


def parse_topic(topic: str) -> ParsedTopic:
    """Parse one of our topics; raise :class:`TopicError` naming what is wrong."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"topic {topic!r} is outside {ROOT}/")
    parts = topic[len(prefix) :].split("/")
    for part in parts:
        if not is_valid_segment(part):
            raise TopicError(f"topic {topic!r} has an invalid segment {part!r}")
    match parts:
        case ["dev", device_id, leaf] if leaf in _DEVICE_LEAVES:
            return ParsedTopic(_DEVICE_LEAVES[leaf], device_id=device_id)
        case ["dev", device_id, "cmd", cid]:
            return ParsedTopic(TopicKind.COMMAND, device_id=device_id, cid=cid)
        case ["dev", device_id, "cmd", cid, "result"]:
            return ParsedTopic(TopicKind.COMMAND_RESULT, device_id=device_id, cid=cid)
        case ["dev", device_id, "cert", "renew"]:
            return ParsedTopic(TopicKind.CERT_RENEW, device_id=device_id)
        case ["dev", device_id, "cert", "issued"]:
            return ParsedTopic(TopicKind.CERT_ISSUED, device_id=device_id)
        case ["content", channel]:
            return ParsedTopic(TopicKind.CONTENT, channel=channel)
        case ["resp", region, "incident", incident_id]:
            return ParsedTopic(TopicKind.INCIDENT, region=region, incident_id=incident_id)
        case ["resp", region, "ack", incident_id]:
            return ParsedTopic(TopicKind.ACK, region=region, incident_id=incident_id)
    raise TopicError(f"topic {topic!r} is not part of the v1 contract")
