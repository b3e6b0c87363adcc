"""The JSON shapes of ``/api/v1`` facilities, locations, enrolment tokens, approvals and
revocation (requests forbid unknown fields and bound every length)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fleet_manager.registry_admin.rules import (
    DEFAULT_QR_GRACE_S,
    DEFAULT_TOKEN_TTL_S,
    MAX_TOKEN_TTL_S,
    MIN_TOKEN_TTL_S,
    REASON_MAX,
)
from fleet_manager.registry_admin.views import FacilityRow, KioskRow, LocationRow, PendingRow
from fleet_manager.store.registry import FLOOR_MAX, MAX_GRACE_S, NAME_MAX, ROOM_MAX

ID_MAX = 64
# As protocol.identities (one MQTT topic level) and the registry's rules for names: the schema
# says as much as it can, the registry still has the last word (422 with its message).
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_NOT_TEXT = r"\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
TEXT_PATTERN = rf"^[^\s{_NOT_TEXT}](?:[^{_NOT_TEXT}]*[^\s{_NOT_TEXT}])?$"
LocationKind = Literal["waiting_room", "bathroom", "exam_room", "other"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NewFacility(_Request):
    facility_id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=TEXT_PATTERN)
    region: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    require_approval: bool = False


class FacilityChange(_Request):
    require_approval: bool


class NewLocation(_Request):
    location_id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=TEXT_PATTERN)
    kind: LocationKind
    floor: str | None = Field(
        default=None, min_length=1, max_length=FLOOR_MAX, pattern=TEXT_PATTERN
    )
    room: str | None = Field(default=None, min_length=1, max_length=ROOM_MAX, pattern=TEXT_PATTERN)


class QrRotation(_Request):
    grace_s: float = Field(default=DEFAULT_QR_GRACE_S, ge=0, le=MAX_GRACE_S)


class TokenRequest(_Request):
    ttl_s: float = Field(default=DEFAULT_TOKEN_TTL_S, ge=MIN_TOKEN_TTL_S, le=MAX_TOKEN_TTL_S)


class Decision(_Request):
    reason: str = Field(default="", max_length=REASON_MAX)


class RevokeRequest(_Request):
    reason: str = Field(default="", max_length=REASON_MAX)
    decommission: bool = False


class FacilityOut(BaseModel):
    facility_id: str
    name: str
    region: str
    require_approval: bool
    created_at: float
    locations: int
    kiosks: int
    kiosks_online: int
    pending_approvals: int

    @staticmethod
    def of(row: FacilityRow) -> FacilityOut:
        return FacilityOut(**row.__dict__)


class LocationOut(BaseModel):
    location_id: str
    name: str
    kind: str
    floor: str | None
    room: str | None
    qr_token: str  # the current one, printed on new stickers
    qr_state: str  # active | rotating (an old token still works)
    qr_since: float | None
    old_qr_tokens_working: int
    old_qr_working_until: float | None
    open_enrolment_tokens: int
    kiosks: int

    @staticmethod
    def of(row: LocationRow) -> LocationOut:
        return LocationOut(
            location_id=row.location_id,
            name=row.name,
            kind=row.kind,
            floor=row.floor,
            room=row.room,
            qr_token=row.qr_token,
            qr_state=row.qr.state,
            qr_since=row.qr.current_since,
            old_qr_tokens_working=row.qr.old_tokens_working,
            old_qr_working_until=row.qr.old_working_until,
            open_enrolment_tokens=row.open_enrolment_tokens,
            kiosks=row.kiosks,
        )


class KioskOut(BaseModel):
    device_id: str
    location_id: str | None
    location_name: str | None
    online: bool
    lifecycle: str
    last_heartbeat_at: float | None
    app_version: str | None
    content_version: str | None

    @staticmethod
    def of(row: KioskRow) -> KioskOut:
        return KioskOut(**row.__dict__)


class PendingOut(BaseModel):
    enrolment_id: str
    device_id: str
    location_id: str
    location_name: str
    facility_id: str
    region: str
    created_at: float

    @staticmethod
    def of(row: PendingRow) -> PendingOut:
        return PendingOut(**row.__dict__)


class FacilityDetail(BaseModel):
    facility: FacilityOut
    locations: list[LocationOut]
    kiosks: list[KioskOut]
    pending_approvals: list[PendingOut]


class LocationCreated(BaseModel):
    location_id: str
    facility_id: str
    name: str
    kind: str
    floor: str | None
    room: str | None
    qr_token: str
    created_at: float


class RotationOut(BaseModel):
    location_id: str
    new_token: str
    old_token: str
    old_valid_until: float


class TokenOut(BaseModel):
    token: str  # shown once: only its hash is stored
    location_id: str
    expires_at: float
    qr_svg: str  # the token as a QR code (SVG document, error correction M)


class EnrolmentOut(BaseModel):
    enrolment_id: str
    device_id: str
    location_id: str
    facility_id: str
    state: str
    decided_at: float | None
    decided_by: str | None


class RevocationOut(BaseModel):
    device_id: str
    lifecycle: str
    certificates_revoked: int
    crl_number: int | None
    acl_changed: bool
    broker_reloaded: bool
    disconnected: bool
    complete: bool
    summary: str
    problems: list[str]
