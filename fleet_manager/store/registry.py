"""Facilities, locations and registered kiosks: where each kiosk is, for routing and display.

Also each location's QR tokens. ``locations.qr_token`` is the token printed on new stickers and
shown by kiosks; ``location_tokens`` keeps every token the location has had. Rotating a token
(a sticker was photographed, a room changed hands) retires the old one with a grace period:
stickers already on the wall keep leading to the location until the grace period ends, then the
old token stops resolving. :func:`token_status` is the pure rule; :func:`resolve_token` is what
the landing page asks.

Two levels of writing: :func:`add_facility` / :func:`add_location` insert and leave integrity
to the database (the demo and tests use them); :func:`create_facility` /
:func:`create_location` first validate and check, raising :class:`RegistryError` subclasses
with messages for people (``beacon provision`` uses them).
"""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from fleet_manager.store.schema import devices, facilities, location_tokens, locations
from protocol.identities import is_valid_segment

LOCATION_KINDS = ("waiting_room", "bathroom", "exam_room", "other")

NAME_MAX = 200
FLOOR_MAX = 32
ROOM_MAX = 64
DAY = 86_400.0
# A rotated-out token keeps working this long unless told otherwise: time to replace stickers.
DEFAULT_GRACE_S = 30 * DAY
MAX_GRACE_S = 3650 * DAY

TokenStatus = Literal["active", "grace", "expired", "unknown"]
RESOLVING: frozenset[TokenStatus] = frozenset({"active", "grace"})


class RegistryError(ValueError):
    """A registry change or question that cannot be done; the message is for people."""


class InvalidEntryError(RegistryError):
    """Ids, names or kinds that break the rules (every problem, joined by "; ")."""


class DuplicateIdError(RegistryError):
    """The id is already taken."""


class UnknownFacilityError(RegistryError):
    """No facility has this id."""


class UnknownLocationError(RegistryError):
    """No location has this id."""


@dataclass(frozen=True)
class DevicePlacement:
    """Where a registered kiosk stands: the facts routing needs."""

    device_id: str
    location_id: str
    location_name: str
    facility_id: str
    region: str


@dataclass(frozen=True)
class TokenPlace:
    """Where a scanned QR token leads: what the landing page needs to route a report."""

    location_id: str
    location_name: str
    facility_id: str
    region: str


@dataclass(frozen=True)
class Facility:
    facility_id: str
    name: str
    region: str
    created_at: float


@dataclass(frozen=True)
class Location:
    location_id: str
    facility_id: str
    name: str
    kind: str
    floor: str | None
    room: str | None
    qr_token: str  # the current token: the one to print
    created_at: float


@dataclass(frozen=True)
class TokenRecord:
    """One token a location has had. ``retired_at`` is None while it is the current token."""

    token: str
    location_id: str
    created_at: float
    retired_at: float | None = None
    valid_until: float | None = None


@dataclass(frozen=True)
class TokenRotation:
    location_id: str
    new_token: str
    old_token: str
    old_valid_until: float  # the old token resolves until this time, then stops


# -- pure rules -------------------------------------------------------------------------------


def new_location_token() -> str:
    """An opaque, unguessable token for a location's QR URL (never a word)."""
    return secrets.token_urlsafe(16)


def token_status(record: TokenRecord | None, now: float) -> TokenStatus:
    """Whether a token resolves at ``now``.

    ``unknown``: no such token. ``active``: the location's current token (or a retired one
    asked about before it was retired). ``grace``: retired, still resolving until
    ``valid_until`` (exclusive). ``expired``: retired and past its grace period; a retired
    token without ``valid_until`` is expired too (no grace was given). The creation time is
    not checked: a fleet manager whose clock lags must still resolve a token just created.
    """
    if record is None:
        return "unknown"
    if record.retired_at is None or now < record.retired_at:
        return "active"
    if record.valid_until is not None and now < record.valid_until:
        return "grace"
    return "expired"


def _text_problem(value: str, what: str, limit: int) -> str | None:
    if not value or not value.strip():
        return f"{what} must not be empty"
    if value != value.strip():
        return f"{what} {value!r} must not start or end with spaces"
    if len(value) > limit:
        return f"{what} must be at most {limit} characters (it has {len(value)})"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        return f"{what} {value!r} must not contain control characters or line breaks"
    return None


def id_problem(value: str, what: str) -> str | None:
    """Why ``value`` cannot be a facility, location or region id, or None."""
    if is_valid_segment(value):
        return None
    return (
        f"{what} {value!r} is not a valid id: use 1-63 lower-case letters, digits, '-' or '_',"
        " starting with a letter or digit"
    )


def facility_problems(facility_id: str, name: str, region: str) -> list[str]:
    """Every rule a new facility breaks (empty if none)."""
    found = [
        id_problem(facility_id, "facility id"),
        _text_problem(name, "facility name", NAME_MAX),
        id_problem(region, "region"),
    ]
    return [p for p in found if p is not None]


def location_problems(
    location_id: str,
    facility_id: str,
    name: str,
    kind: str,
    floor: str | None = None,
    room: str | None = None,
) -> list[str]:
    """Every rule a new location breaks (empty if none). ``floor`` and ``room`` are optional."""
    found = [
        id_problem(location_id, "location id"),
        id_problem(facility_id, "facility id"),
        _text_problem(name, "location name", NAME_MAX),
        None
        if kind in LOCATION_KINDS
        else f"location kind {kind!r} must be one of {', '.join(LOCATION_KINDS)}",
        None if floor is None else _text_problem(floor, "floor", FLOOR_MAX),
        None if room is None else _text_problem(room, "room", ROOM_MAX),
    ]
    return [p for p in found if p is not None]


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str) -> float:
    """Seconds in ``"30d"``, ``"12h"``, ``"90m"``, ``"45s"``, ``"2w"`` or ``"0"``.

    A bare number is seconds. ``ValueError`` for anything else, or beyond 3650 days.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            f"duration {text!r} is not a number with a unit s, m, h, d or w (e.g. 30d, 12h)"
        )
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not math.isfinite(seconds) or seconds > MAX_GRACE_S:
        raise ValueError(f"duration {text!r} is longer than {MAX_GRACE_S / DAY:.0f} days")
    return seconds


# -- writing ----------------------------------------------------------------------------------


def add_facility(conn: sa.Connection, facility_id: str, name: str, region: str, now: float) -> None:
    conn.execute(
        facilities.insert().values(
            facility_id=facility_id, name=name, region=region, created_at=now
        )
    )


def add_location(
    conn: sa.Connection,
    location_id: str,
    facility_id: str,
    name: str,
    kind: str,
    now: float,
    qr_token: str | None = None,
    *,
    floor: str | None = None,
    room: str | None = None,
) -> str:
    """Insert a location with a new token (or ``qr_token``) as its active token; the token."""
    if kind not in LOCATION_KINDS:
        raise InvalidEntryError(
            f"location kind {kind!r} must be one of {', '.join(LOCATION_KINDS)}"
        )
    token = qr_token or new_location_token()
    conn.execute(
        locations.insert().values(
            location_id=location_id,
            facility_id=facility_id,
            name=name,
            kind=kind,
            qr_token=token,
            created_at=now,
            floor=floor,
            room=room,
        )
    )
    conn.execute(
        location_tokens.insert().values(token=token, location_id=location_id, created_at=now)
    )
    return token


def create_facility(
    conn: sa.Connection, facility_id: str, name: str, region: str, now: float
) -> Facility:
    """Validate, refuse a taken id, insert. :class:`RegistryError` says what is wrong."""
    problems = facility_problems(facility_id, name, region)
    if problems:
        raise InvalidEntryError("; ".join(problems))
    if get_facility(conn, facility_id) is not None:
        raise DuplicateIdError(f"facility {facility_id!r} already exists")
    add_facility(conn, facility_id, name, region, now)
    return Facility(facility_id, name, region, now)


def create_location(
    conn: sa.Connection,
    location_id: str,
    facility_id: str,
    name: str,
    kind: str,
    now: float,
    *,
    floor: str | None = None,
    room: str | None = None,
) -> Location:
    """Validate, refuse a taken id or an unknown facility, insert with a new random token."""
    problems = location_problems(location_id, facility_id, name, kind, floor, room)
    if problems:
        raise InvalidEntryError("; ".join(problems))
    if get_location(conn, location_id) is not None:
        raise DuplicateIdError(f"location {location_id!r} already exists")
    if get_facility(conn, facility_id) is None:
        raise UnknownFacilityError(f"facility {facility_id!r} does not exist")
    token = add_location(conn, location_id, facility_id, name, kind, now, floor=floor, room=room)
    return Location(location_id, facility_id, name, kind, floor, room, token, now)


def rotate_location_token(
    conn: sa.Connection,
    location_id: str,
    now: float,
    grace_s: float = DEFAULT_GRACE_S,
    new_token: str | None = None,
) -> TokenRotation:
    """Give the location a new current token; the old one resolves for ``grace_s`` more seconds.

    Tokens retired earlier keep the end of validity they were given. Two rotations of the same
    location at the same time: one wins, the other raises :class:`RegistryError`.
    """
    if not math.isfinite(grace_s) or not 0 <= grace_s <= MAX_GRACE_S:
        raise InvalidEntryError(
            f"grace period must be between 0 and {MAX_GRACE_S / DAY:.0f} days, not {grace_s!r} s"
        )
    location = get_location(conn, location_id)
    if location is None:
        raise UnknownLocationError(f"location {location_id!r} does not exist")
    old = location.qr_token
    token = new_token or new_location_token()
    valid_until = now + grace_s
    # Compare-and-set: only the rotation that still sees the old token may replace it.
    swapped = conn.execute(
        locations.update()
        .where(locations.c.location_id == location_id, locations.c.qr_token == old)
        .values(qr_token=token)
    ).rowcount
    if swapped != 1:
        raise RegistryError(
            f"location {location_id!r} got a new token at the same time; look before rotating again"
        )
    retired = conn.execute(
        location_tokens.update()
        .where(location_tokens.c.token == old, location_tokens.c.retired_at.is_(None))
        .values(retired_at=now, valid_until=valid_until)
    ).rowcount
    if not retired and token_record(conn, old) is None:
        # A token from before the history existed: record it as retired now.
        conn.execute(
            location_tokens.insert().values(
                token=old,
                location_id=location_id,
                created_at=location.created_at,
                retired_at=now,
                valid_until=valid_until,
            )
        )
    conn.execute(
        location_tokens.insert().values(token=token, location_id=location_id, created_at=now)
    )
    return TokenRotation(location_id, token, old, valid_until)


def register_device(
    conn: sa.Connection, device_id: str, location_id: str, now: float, channel: str = "stable"
) -> None:
    """Place a kiosk at a location; a kiosk seen before registration keeps its state."""
    updated = conn.execute(
        devices.update()
        .where(devices.c.device_id == device_id)
        .values(location_id=location_id, registered=True, channel=channel)
    ).rowcount
    if not updated:
        conn.execute(
            devices.insert().values(
                device_id=device_id,
                location_id=location_id,
                registered=True,
                channel=channel,
                online=False,
                created_at=now,
            )
        )


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovedKiosk:
    """An online kiosk whose registry location differs from the one it last reported."""

    device_id: str
    location_id: str
    location_name: str
    qr_token: str
    facility_id: str
    region: str

    def command_body(self) -> dict[str, object]:
        return {
            "location": self.location_id,
            "location_name": self.location_name,
            "location_token": self.qr_token,
            "facility": self.facility_id,
            "region": self.region,
        }


def moved_kiosks(conn: sa.Connection) -> list[MovedKiosk]:
    rows = conn.execute(
        sa.select(
            devices.c.device_id,
            locations.c.location_id,
            locations.c.name,
            locations.c.qr_token,
            facilities.c.facility_id,
            facilities.c.region,
        )
        .select_from(devices.join(locations).join(facilities))
        .where(
            devices.c.registered.is_(True),
            devices.c.online.is_(True),
            devices.c.lifecycle == "active",
            devices.c.reported_location.is_not(None),
            devices.c.reported_location != devices.c.location_id,
        )
        .order_by(devices.c.device_id)
    )
    return [MovedKiosk(*row) for row in rows]


def placement(conn: sa.Connection, device_id: str) -> DevicePlacement | None:
    row = conn.execute(
        sa.select(
            devices.c.device_id,
            locations.c.location_id,
            locations.c.name,
            facilities.c.facility_id,
            facilities.c.region,
        )
        .select_from(devices.join(locations).join(facilities))
        .where(devices.c.device_id == device_id, devices.c.registered.is_(True))
    ).first()
    if row is None:
        return None
    return DevicePlacement(row[0], row[1], row[2], row[3], row[4])


_FACILITY_COLUMNS = (
    facilities.c.facility_id,
    facilities.c.name,
    facilities.c.region,
    facilities.c.created_at,
)
_LOCATION_COLUMNS = (
    locations.c.location_id,
    locations.c.facility_id,
    locations.c.name,
    locations.c.kind,
    locations.c.floor,
    locations.c.room,
    locations.c.qr_token,
    locations.c.created_at,
)
_TOKEN_COLUMNS = (
    location_tokens.c.token,
    location_tokens.c.location_id,
    location_tokens.c.created_at,
    location_tokens.c.retired_at,
    location_tokens.c.valid_until,
)


def get_facility(conn: sa.Connection, facility_id: str) -> Facility | None:
    row = conn.execute(
        sa.select(*_FACILITY_COLUMNS).where(facilities.c.facility_id == facility_id)
    ).first()
    return None if row is None else Facility(*row)


def list_facilities(conn: sa.Connection) -> list[Facility]:
    rows = conn.execute(sa.select(*_FACILITY_COLUMNS).order_by(facilities.c.facility_id))
    return [Facility(*row) for row in rows]


def get_location(conn: sa.Connection, location_id: str) -> Location | None:
    row = conn.execute(
        sa.select(*_LOCATION_COLUMNS).where(locations.c.location_id == location_id)
    ).first()
    return None if row is None else Location(*row)


def list_locations(conn: sa.Connection, facility_id: str | None = None) -> list[Location]:
    """Locations by facility and id; only one facility's (:class:`UnknownFacilityError`)."""
    query = sa.select(*_LOCATION_COLUMNS).order_by(locations.c.facility_id, locations.c.location_id)
    if facility_id is not None:
        if get_facility(conn, facility_id) is None:
            raise UnknownFacilityError(f"facility {facility_id!r} does not exist")
        query = query.where(locations.c.facility_id == facility_id)
    return [Location(*row) for row in conn.execute(query)]


def token_record(conn: sa.Connection, token: str) -> TokenRecord | None:
    row = conn.execute(sa.select(*_TOKEN_COLUMNS).where(location_tokens.c.token == token)).first()
    return None if row is None else TokenRecord(*row)


def token_history(conn: sa.Connection, location_id: str) -> list[TokenRecord]:
    """Every token of the location, oldest first."""
    rows = conn.execute(
        sa.select(*_TOKEN_COLUMNS)
        .where(location_tokens.c.location_id == location_id)
        .order_by(location_tokens.c.created_at, location_tokens.c.token)
    )
    return [TokenRecord(*row) for row in rows]


def resolve_token(conn: sa.Connection, token: str, now: float) -> str | None:
    """The location a scanned token leads to at ``now``; None if unknown or expired."""
    record = token_record(conn, token)
    if record is None or token_status(record, now) not in RESOLVING:
        return None
    return record.location_id


def place_of_token(conn: sa.Connection, token: str, now: float) -> TokenPlace | None:
    """The location (with its facility and region) a scanned token leads to at ``now``; None if
    the token is unknown or expired."""
    row = conn.execute(
        sa.select(
            location_tokens.c.retired_at,
            location_tokens.c.valid_until,
            locations.c.location_id,
            locations.c.name,
            facilities.c.facility_id,
            facilities.c.region,
        )
        .join(locations, locations.c.location_id == location_tokens.c.location_id)
        .join(facilities, facilities.c.facility_id == locations.c.facility_id)
        .where(location_tokens.c.token == token)
    ).first()
    if row is None:
        return None
    record = TokenRecord(token, row.location_id, 0.0, row.retired_at, row.valid_until)
    if token_status(record, now) not in RESOLVING:
        return None
    return TokenPlace(row.location_id, row.name, row.facility_id, row.region)
