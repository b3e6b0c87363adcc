"""Staff profiles, invitations, training progress, quiz attempts, records and reminders.

Every change a person makes to their own training and every record an admin adds is in the
audit log too. Dates of completion and licence renewal are calendar days (YYYY-MM-DD).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.store import create_user
from fleet_manager.store import audit_log
from fleet_manager.store.schema import audit_log as audit_log_table
from fleet_manager.store.schema import (
    quiz_attempts,
    staff_invites,
    staff_profiles,
    training_progress,
    training_records,
    training_reminders,
    users,
)
from fleet_manager.training.rules import Evidence
from fleet_manager.training.status import Person, Record

INVITE_TTL_S = 14 * 86400


class TrainingStoreError(ValueError):
    """An invitation or profile change that cannot be made; the message says why."""


@dataclass(frozen=True)
class Profile:
    username: str
    facility_id: str
    full_name: str
    email: str | None
    profession: str | None
    licence_state: str | None
    licence_renewal: date | None
    joined_at: float

    def person(self) -> Person:
        return Person(
            facility_id=self.facility_id,
            joined=datetime.fromtimestamp(self.joined_at, UTC).date(),
            licence_state=self.licence_state,
            licence_renewal=self.licence_renewal,
            profession=self.profession,
        )


@dataclass(frozen=True)
class Invite:
    invite_id: str
    facility_id: str
    full_name: str
    email: str | None
    expires_at: float


@dataclass(frozen=True)
class StoredRecord:
    record_id: int
    username: str
    kind: str
    module_id: str | None
    module_version: str | None
    hours: float
    completed_on: date
    certificate_id: str | None
    detail: dict[str, Any]

    def record(self) -> Record:
        kind: Evidence = "self_certification" if self.kind == "self_certification" else "module"
        return Record(kind, self.completed_on, self.hours, self.module_id)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _profile(row: Any) -> Profile:
    return Profile(
        username=row.username,
        facility_id=row.facility_id,
        full_name=row.full_name,
        email=row.email,
        profession=row.profession,
        licence_state=row.licence_state,
        licence_renewal=date.fromisoformat(row.licence_renewal) if row.licence_renewal else None,
        joined_at=row.joined_at,
    )


# -- invitations ------------------------------------------------------------------------------


def create_invite(
    conn: sa.Connection,
    *,
    facility_id: str,
    full_name: str,
    email: str | None,
    actor: str,
    now: float,
) -> tuple[str, str]:
    """A one-time invitation; returns (invite id, secret token). Only the token's SHA-256 is
    stored: the link is shown once, to the admin who made it."""
    token = secrets.token_urlsafe(24)
    invite_id = "inv-" + secrets.token_hex(6)
    conn.execute(
        staff_invites.insert().values(
            invite_id=invite_id,
            token_hash=token_digest(token),
            facility_id=facility_id,
            full_name=full_name,
            email=email,
            created_by=actor,
            created_at=now,
            expires_at=now + INVITE_TTL_S,
        )
    )
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="training.invited",
        subject=invite_id,
        outcome="ok",
        detail={"facility": facility_id},
    )
    return invite_id, token


def open_invite(conn: sa.Connection, token: str, now: float) -> Invite | None:
    """The invitation a link carries, if it is still unused and not expired."""
    row = conn.execute(
        sa.select(staff_invites).where(staff_invites.c.token_hash == token_digest(token))
    ).first()
    if row is None or row.accepted_at is not None or now >= row.expires_at:
        return None
    return Invite(row.invite_id, row.facility_id, row.full_name, row.email, row.expires_at)


def accept_invite(
    conn: sa.Connection, token: str, username: str, password: str, now: float
) -> Profile:
    """Make the account (role staff at the invitation's facility) and its profile, once.
    AccountError / WeakPasswordError from the accounts store say what is wrong."""
    invite = open_invite(conn, token, now)
    if invite is None:
        raise TrainingStoreError("this invitation link has expired or was used already")
    create_user(
        conn,
        username,
        password,
        [Grant("staff", facility_id=invite.facility_id)],
        actor=f"invite:{invite.invite_id}",
        now=now,
        display_name=invite.full_name,
    )
    taken = conn.execute(
        staff_invites.update()
        .where(staff_invites.c.invite_id == invite.invite_id, staff_invites.c.accepted_at.is_(None))
        .values(accepted_at=now, accepted_by=username)
    ).rowcount
    if taken != 1:
        raise TrainingStoreError("this invitation link was used already")
    conn.execute(
        staff_profiles.insert().values(
            username=username,
            facility_id=invite.facility_id,
            full_name=invite.full_name,
            email=invite.email,
            joined_at=now,
            updated_at=now,
        )
    )
    profile = get_profile(conn, username)
    assert profile is not None
    return profile


# -- profiles -----------------------------------------------------------------------------------


def get_profile(conn: sa.Connection, username: str) -> Profile | None:
    row = conn.execute(
        sa.select(staff_profiles).where(staff_profiles.c.username == username)
    ).first()
    return None if row is None else _profile(row)


def profiles(conn: sa.Connection, facility_ids: Iterable[str] | None) -> list[Profile]:
    """Profiles of these facilities (None: every facility), by facility and name, leaving out
    people whose account is disabled."""
    query = (
        sa.select(staff_profiles)
        .join(users, users.c.username == staff_profiles.c.username)
        .where(users.c.disabled.is_(False))
        .order_by(staff_profiles.c.facility_id, staff_profiles.c.full_name)
    )
    if facility_ids is not None:
        query = query.where(staff_profiles.c.facility_id.in_(list(facility_ids)))
    return [_profile(r) for r in conn.execute(query)]


def update_profile(
    conn: sa.Connection,
    username: str,
    *,
    profession: str | None,
    licence_state: str | None,
    licence_renewal: date | None,
    email: str | None,
    actor: str,
    now: float,
) -> None:
    conn.execute(
        staff_profiles.update()
        .where(staff_profiles.c.username == username)
        .values(
            profession=profession,
            licence_state=licence_state,
            licence_renewal=licence_renewal.isoformat() if licence_renewal else None,
            email=email,
            updated_at=now,
        )
    )
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="training.profile_updated",
        subject=username,
        outcome="ok",
        detail={
            "licence_state": licence_state,
            "licence_renewal": licence_renewal.isoformat() if licence_renewal else None,
        },
    )


# -- progress, attempts, records ------------------------------------------------------------------


def mark_section(
    conn: sa.Connection, username: str, module_id: str, section_id: str, now: float
) -> None:
    exists = conn.execute(
        sa.select(training_progress.c.done_at).where(
            training_progress.c.username == username,
            training_progress.c.module_id == module_id,
            training_progress.c.section_id == section_id,
        )
    ).first()
    if exists is None:
        conn.execute(
            training_progress.insert().values(
                username=username, module_id=module_id, section_id=section_id, done_at=now
            )
        )


def progress(conn: sa.Connection, username: str) -> dict[str, set[str]]:
    """Module id → the sections the person has read."""
    found: dict[str, set[str]] = {}
    rows = conn.execute(
        sa.select(training_progress.c.module_id, training_progress.c.section_id).where(
            training_progress.c.username == username
        )
    )
    for module_id, section_id in rows:
        found.setdefault(module_id, set()).add(section_id)
    return found


def record_attempt(
    conn: sa.Connection,
    *,
    username: str,
    module_id: str,
    module_version: str,
    answers: dict[str, int | None],
    correct: int,
    total: int,
    passed: bool,
    now: float,
) -> None:
    conn.execute(
        quiz_attempts.insert().values(
            username=username,
            module_id=module_id,
            module_version=module_version,
            answers=answers,
            correct=correct,
            total=total,
            passed=passed,
            at=now,
        )
    )


def attempts(conn: sa.Connection, username: str, module_id: str) -> list[Any]:
    return list(
        conn.execute(
            sa.select(quiz_attempts)
            .where(quiz_attempts.c.username == username, quiz_attempts.c.module_id == module_id)
            .order_by(quiz_attempts.c.attempt_id)
        )
    )


def add_record(
    conn: sa.Connection,
    *,
    username: str,
    kind: str,
    completed_on: date,
    hours: float,
    now: float,
    actor: str,
    module_id: str | None = None,
    module_version: str | None = None,
    detail: dict[str, Any] | None = None,
) -> StoredRecord:
    """A completion (with a certificate id) or a self-certification; audited."""
    certificate_id = "BCN-" + secrets.token_hex(6).upper() if kind == "module" else None
    result = conn.execute(
        training_records.insert().values(
            username=username,
            kind=kind,
            module_id=module_id,
            module_version=module_version,
            hours=hours,
            completed_on=completed_on.isoformat(),
            recorded_at=now,
            certificate_id=certificate_id,
            detail=detail or {},
        )
    )
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="training.completed" if kind == "module" else "training.self_certified",
        subject=username,
        outcome="ok",
        detail={"module": module_id, "certificate": certificate_id, "on": completed_on.isoformat()},
    )
    record_id = result.inserted_primary_key[0] if result.inserted_primary_key else 0
    return StoredRecord(
        int(record_id),
        username,
        kind,
        module_id,
        module_version,
        hours,
        completed_on,
        certificate_id,
        detail or {},
    )


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        row.record_id,
        row.username,
        row.kind,
        row.module_id,
        row.module_version,
        row.hours,
        date.fromisoformat(row.completed_on),
        row.certificate_id,
        dict(row.detail),
    )


def records(conn: sa.Connection, usernames: Iterable[str]) -> dict[str, list[StoredRecord]]:
    names = list(usernames)
    found: dict[str, list[StoredRecord]] = {name: [] for name in names}
    if not names:
        return found
    rows = conn.execute(
        sa.select(training_records)
        .where(training_records.c.username.in_(names))
        .order_by(training_records.c.completed_on, training_records.c.record_id)
    )
    for row in rows:
        found[row.username].append(_stored(row))
    return found


def certificate(conn: sa.Connection, certificate_id: str) -> StoredRecord | None:
    row = conn.execute(
        sa.select(training_records).where(training_records.c.certificate_id == certificate_id)
    ).first()
    return None if row is None else _stored(row)


# -- reminders and retention ----------------------------------------------------------------


def reminded(conn: sa.Connection) -> set[tuple[str, str, str]]:
    rows = conn.execute(
        sa.select(
            training_reminders.c.username,
            training_reminders.c.rule_id,
            training_reminders.c.due_date,
        )
    )
    return {(u, r, d) for u, r, d in rows}


def mark_reminded(
    conn: sa.Connection, username: str, rule_id: str, due_date: date, now: float
) -> None:
    conn.execute(
        training_reminders.insert().values(
            username=username, rule_id=rule_id, due_date=due_date.isoformat(), sent_at=now
        )
    )


def departed_before(conn: sa.Connection, cutoff: float) -> list[str]:
    """People whose account is disabled and was disabled before ``cutoff`` (by the audit log's
    last ``user.disabled`` entry): their records may go."""
    last_disabled = (
        sa.select(audit_log_table.c.subject, sa.func.max(audit_log_table.c.at).label("at"))
        .where(audit_log_table.c.action == "user.disabled")
        .group_by(audit_log_table.c.subject)
        .subquery()
    )
    return list(
        conn.execute(
            sa.select(staff_profiles.c.username)
            .join(users, users.c.username == staff_profiles.c.username)
            .join(last_disabled, last_disabled.c.subject == staff_profiles.c.username)
            .where(users.c.disabled.is_(True), last_disabled.c.at < cutoff)
            .order_by(staff_profiles.c.username)
        ).scalars()
    )


def delete_training_of(conn: sa.Connection, username: str) -> int:
    """Every training row of one person (the retention job's step); returns rows deleted."""
    deleted = 0
    for table in (training_records, quiz_attempts, training_progress, training_reminders):
        deleted += conn.execute(table.delete().where(table.c.username == username)).rowcount
    # The profile and invitation hold personal data (name, email, licence) kept for these
    # records only: they go with them. The disabled account row stays for the audit log.
    deleted += conn.execute(
        staff_invites.delete().where(staff_invites.c.accepted_by == username)
    ).rowcount
    deleted += conn.execute(
        staff_profiles.delete().where(staff_profiles.c.username == username)
    ).rowcount
    return deleted
