"""Message schemas of the v1 contract, and strict decoding of wire payloads.

Unknown fields are ignored rather than refused: during a rollout old fleet managers meet new
kiosks, and an alert must never be dropped because a newer kiosk added an optional field.
Missing or wrongly typed required fields are refused with a message naming the field.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.errors import PayloadError

MAX_PAYLOAD_BYTES = 64 * 1024

AlertKind = Literal["help", "drill", "tamper"]
# touch: on-screen control; button: physical button; staff: staff panel or local control
# socket (drills, tests); sensor: enclosure tamper switch.
AlertSource = Literal["touch", "button", "staff", "sensor"]
IncidentState = Literal["opened", "escalated", "acknowledged", "resolved"]
ResponderActionKind = Literal["ack", "resolve", "note"]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=2048)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class StatusMessage(WireModel):
    """Retained on ``dev/{id}/status``: the birth message, or the Last Will."""

    state: Literal["online", "offline"]
    session: str = Field(min_length=1, max_length=64)
    app: str | None = None
    content: str | None = None
    ts: float | None = None
    # The location the kiosk believes it serves: the fleet sends a "relocate" command when the
    # registry says otherwise (the kiosk was moved).
    location: str | None = None


class TelemetryMessage(WireModel):
    ts: float
    seq: int = Field(ge=0)
    uptime_s: float = Field(ge=0)
    outbox_pending: int = Field(ge=0)
    app: str | None = None
    content: str | None = None


class AlertMessage(WireModel):
    """A help, drill or tamper alert: location and time only, never anything personal."""

    alert_id: UUID
    kind: AlertKind
    source: AlertSource
    location: str = Field(min_length=1, max_length=64)
    ts: float
    attempt: int = Field(default=1, ge=1)

    @property
    def drill(self) -> bool:
        return self.kind == "drill"


class EventMessage(WireModel):
    ts: float
    event: str = Field(min_length=1, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict)


class CommandResultMessage(WireModel):
    cid: str
    ok: bool
    detail: str | None = None
    ts: float


class EscalationInfo(WireModel):
    level: int = Field(ge=0)
    team: str
    notified: list[str]
    next_at: float | None = None
    exhausted: bool = False


class IncidentMessage(WireModel):
    """Retained on ``resp/{region}/incident/{incident_id}``: the incident's current state."""

    incident_id: str
    version: int = Field(ge=1)
    state: IncidentState
    kind: str
    drill: bool
    region: str
    facility: str | None
    location: str
    location_name: str | None = None
    device_id: str
    alert_id: UUID
    alert_ts: float
    opened_at: float
    updated_at: float
    route: str
    escalation: EscalationInfo
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    # Kind "report": how many encrypted entries the report has (an addition raises it); what
    # they say is fetched and decrypted by responders, never carried here.
    report_entries: int = Field(default=0, ge=0)


class ResponderAction(WireModel):
    """Sent by a responder on ``resp/{region}/ack/{incident_id}``."""

    responder: str = Field(min_length=1, max_length=64)
    action: ResponderActionKind
    ts: float
    note: str | None = Field(default=None, max_length=500)


M = TypeVar("M", bound=WireModel)


def decode(model: type[M], payload: bytes) -> M:
    """Decode ``payload`` as ``model``; raise :class:`PayloadError` saying which field is wrong."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"{model.__name__}: payload of {len(payload)} bytes is too large")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{model.__name__}: payload is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError(f"{model.__name__}: payload must be a JSON object")
    try:
        # Strict JSON validation: "12" is not a number and true is not 1.0, but a UUID may
        # arrive as a JSON string (strict mode on parsed Python data would refuse that).
        return model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PayloadError(f"{model.__name__}: {problems}") from None
