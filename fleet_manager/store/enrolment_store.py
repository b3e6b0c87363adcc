"""Enrolment tokens, enrolments, issued certificates and kiosk lifecycle in the fleet database.

Thin: the rules live in :mod:`fleet_manager.enrolment`; this module reads and writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import sqlalchemy as sa

from fleet_manager.enrolment.decision import Lifecycle
from fleet_manager.enrolment.tokens import TokenFacts
from fleet_manager.store.registry import UnknownLocationError, get_location
from fleet_manager.store.schema import (
    certificates,
    devices,
    enrolment_tokens,
    enrolments,
    facilities,
    locations,
)

EnrolmentState = Literal["pending", "approved", "issued", "rejected"]


class EnrolmentError(ValueError):
    """A decision about an enrolment that cannot be made; the message is for people."""


@dataclass(frozen=True)
class EnrolmentRecord:
    enrolment_id: str
    device_id: str
    location_id: str
    facility_id: str
    csr_pem: str
    state: EnrolmentState
    created_at: float
    decided_at: float | None
    decided_by: str | None


@dataclass(frozen=True)
class CertificateRecord:
    serial: str  # hex
    device_id: str
    issued_at: float
    not_after: float
    via: str
    revoked_at: float | None


# -- tokens -----------------------------------------------------------------------------------


def add_token(
    conn: sa.Connection,
    token_hash: str,
    location_id: str,
    *,
    now: float,
    expires_at: float,
    created_by: str,
) -> None:
    if get_location(conn, location_id) is None:
        raise UnknownLocationError(f"no location {location_id!r}")
    conn.execute(
        enrolment_tokens.insert().values(
            token_hash=token_hash,
            location_id=location_id,
            created_at=now,
            expires_at=expires_at,
            created_by=created_by,
        )
    )


def token_facts(conn: sa.Connection, token_hash: str) -> TokenFacts | None:
    row = conn.execute(
        sa.select(
            enrolment_tokens.c.location_id,
            enrolment_tokens.c.expires_at,
            enrolment_tokens.c.used_at,
        ).where(enrolment_tokens.c.token_hash == token_hash)
    ).first()
    return None if row is None else TokenFacts(row[0], row[1], row[2])


def consume_token(conn: sa.Connection, token_hash: str, enrolment_id: str, now: float) -> bool:
    """Mark the token used; False if someone else used it first (it is single-use)."""
    updated = conn.execute(
        enrolment_tokens.update()
        .where(
            enrolment_tokens.c.token_hash == token_hash,
            enrolment_tokens.c.used_at.is_(None),
            enrolment_tokens.c.expires_at > now,
        )
        .values(used_at=now, enrolment_id=enrolment_id)
    ).rowcount
    return updated == 1


# -- enrolments -------------------------------------------------------------------------------


def require_approval(conn: sa.Connection, location_id: str) -> bool:
    value = conn.execute(
        sa.select(facilities.c.require_approval)
        .select_from(locations.join(facilities))
        .where(locations.c.location_id == location_id)
    ).scalar()
    return bool(value)


def set_require_approval(conn: sa.Connection, facility_id: str, required: bool) -> bool:
    updated = conn.execute(
        facilities.update()
        .where(facilities.c.facility_id == facility_id)
        .values(require_approval=required)
    ).rowcount
    return updated == 1


def add_enrolment(
    conn: sa.Connection,
    *,
    enrolment_id: str,
    device_id: str,
    location_id: str,
    csr_pem: str,
    state: EnrolmentState,
    now: float,
) -> None:
    conn.execute(
        enrolments.insert().values(
            enrolment_id=enrolment_id,
            device_id=device_id,
            location_id=location_id,
            csr_pem=csr_pem,
            state=state,
            created_at=now,
        )
    )


_ENROLMENT_COLUMNS = (
    enrolments.c.enrolment_id,
    enrolments.c.device_id,
    enrolments.c.location_id,
    locations.c.facility_id,
    enrolments.c.csr_pem,
    enrolments.c.state,
    enrolments.c.created_at,
    enrolments.c.decided_at,
    enrolments.c.decided_by,
)


def _enrolment(row: sa.RowMapping) -> EnrolmentRecord:
    return EnrolmentRecord(**row)


def get_enrolment(conn: sa.Connection, enrolment_id: str) -> EnrolmentRecord | None:
    row = conn.execute(
        sa.select(*_ENROLMENT_COLUMNS)
        .select_from(enrolments.join(locations))
        .where(enrolments.c.enrolment_id == enrolment_id)
    ).first()
    return None if row is None else _enrolment(row._mapping)


def list_enrolments(
    conn: sa.Connection, state: EnrolmentState | None = None, facility_id: str | None = None
) -> list[EnrolmentRecord]:
    query = (
        sa.select(*_ENROLMENT_COLUMNS)
        .select_from(enrolments.join(locations))
        .order_by(enrolments.c.created_at, enrolments.c.enrolment_id)
    )
    if state is not None:
        query = query.where(enrolments.c.state == state)
    if facility_id is not None:
        query = query.where(locations.c.facility_id == facility_id)
    return [_enrolment(row._mapping) for row in conn.execute(query)]


def find_enrolment(conn: sa.Connection, ref: str) -> EnrolmentRecord | None:
    """By enrolment id or by the device id it was given (staff see the latter)."""
    found = get_enrolment(conn, ref)
    if found is not None:
        return found
    enrolment_id = conn.execute(
        sa.select(enrolments.c.enrolment_id).where(enrolments.c.device_id == ref)
    ).scalar()
    return None if enrolment_id is None else get_enrolment(conn, str(enrolment_id))


def enrolment_for_token(conn: sa.Connection, token_hash: str) -> EnrolmentRecord | None:
    enrolment_id = conn.execute(
        sa.select(enrolment_tokens.c.enrolment_id).where(
            enrolment_tokens.c.token_hash == token_hash
        )
    ).scalar()
    return None if enrolment_id is None else get_enrolment(conn, str(enrolment_id))


def mark_decided(conn: sa.Connection, enrolment_id: str, now: float, by: str) -> None:
    """Record who decided an enrolment that had no decision yet (auto-approval)."""
    conn.execute(
        enrolments.update()
        .where(enrolments.c.enrolment_id == enrolment_id, enrolments.c.decided_at.is_(None))
        .values(decided_at=now, decided_by=by)
    )


def set_enrolment_state(
    conn: sa.Connection,
    enrolment_id: str,
    state: EnrolmentState,
    *,
    expected: EnrolmentState,
    now: float,
    by: str | None = None,
) -> bool:
    """Move an enrolment from ``expected`` to ``state``; False if it was not in ``expected``."""
    values: dict[str, object] = {"state": state}
    if by is not None:
        values.update(decided_at=now, decided_by=by)
    updated = conn.execute(
        enrolments.update()
        .where(enrolments.c.enrolment_id == enrolment_id, enrolments.c.state == expected)
        .values(**values)
    ).rowcount
    return updated == 1


# -- certificates and lifecycle ---------------------------------------------------------------


def record_certificate(
    conn: sa.Connection,
    *,
    serial: int,
    device_id: str,
    issued_at: float,
    not_after: float,
    via: str,
) -> None:
    conn.execute(
        certificates.insert().values(
            serial=format(serial, "x"),
            device_id=device_id,
            issued_at=issued_at,
            not_after=not_after,
            via=via,
        )
    )


def device_certificates(conn: sa.Connection, device_id: str) -> list[CertificateRecord]:
    rows = conn.execute(
        sa.select(certificates)
        .where(certificates.c.device_id == device_id)
        .order_by(certificates.c.issued_at)
    )
    return [CertificateRecord(**row._mapping) for row in rows]


def revoked_certificates(conn: sa.Connection) -> list[CertificateRecord]:
    """Every revoked certificate that has not yet expired (expired ones need no CRL entry)."""
    rows = conn.execute(
        sa.select(certificates)
        .where(certificates.c.revoked_at.is_not(None))
        .order_by(certificates.c.revoked_at, certificates.c.serial)
    )
    return [CertificateRecord(**row._mapping) for row in rows]


def revoke_certificates(conn: sa.Connection, device_id: str, now: float) -> int:
    return conn.execute(
        certificates.update()
        .where(certificates.c.device_id == device_id, certificates.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount


def lifecycle(conn: sa.Connection, device_id: str) -> Lifecycle | None:
    value = conn.execute(
        sa.select(devices.c.lifecycle).where(devices.c.device_id == device_id)
    ).scalar()
    return None if value is None else cast(Lifecycle, value)


def set_lifecycle(conn: sa.Connection, device_id: str, value: Lifecycle) -> bool:
    updated = conn.execute(
        devices.update().where(devices.c.device_id == device_id).values(lifecycle=value)
    ).rowcount
    return updated == 1


def device_ids_with_lifecycle(conn: sa.Connection, value: Lifecycle) -> list[str]:
    return list(
        conn.execute(
            sa.select(devices.c.device_id)
            .where(devices.c.lifecycle == value)
            .order_by(devices.c.device_id)
        ).scalars()
    )


def move_device(conn: sa.Connection, device_id: str, location_id: str) -> None:
    if get_location(conn, location_id) is None:
        raise UnknownLocationError(f"no location {location_id!r}")
    conn.execute(
        devices.update().where(devices.c.device_id == device_id).values(location_id=location_id)
    )
