"""Who is current, due or overdue: the store's people and records through the pure rules.

Shared by the compliance page, its exports, the API and the reminder job, so all of them say
the same thing for the same day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from fleet_manager.config import TrainingSettings
from fleet_manager.store import training_store
from fleet_manager.store.training_store import Profile, StoredRecord
from fleet_manager.training.rules import Rule
from fleet_manager.training.status import PersonStatus, person_status

DUE_WITHIN_DAYS = 60


def due_window(settings: TrainingSettings | None) -> int:
    """Days ahead that count as "due": the config's ``training.due_within_days``, or 60."""
    return settings.due_within_days if settings is not None else DUE_WITHIN_DAYS


@dataclass(frozen=True)
class ComplianceRow:
    profile: Profile
    status: PersonStatus
    records: tuple[StoredRecord, ...]  # oldest first

    @property
    def completions(self) -> tuple[StoredRecord, ...]:
        return tuple(r for r in self.records if r.kind == "module")


def compliance(
    conn: sa.Connection,
    facility_ids: Iterable[str] | None,
    rules: Sequence[Rule],
    as_of: date,
    due_within_days: int = DUE_WITHIN_DAYS,
) -> list[ComplianceRow]:
    """Every (enabled) person of these facilities (None: all) with their status on ``as_of``;
    records after ``as_of`` are left out, so a past day reads as it did then."""
    people = training_store.profiles(conn, facility_ids)
    held = training_store.records(conn, [p.username for p in people])
    rows = []
    for person in people:
        mine = tuple(r for r in held[person.username] if r.completed_on <= as_of)
        status = person_status(
            person.person(), rules, [r.record() for r in mine], as_of, due_within_days
        )
        rows.append(ComplianceRow(person, status, mine))
    return rows


def summary(rows: Sequence[ComplianceRow]) -> dict[str, int]:
    counts = {"current": 0, "due": 0, "overdue": 0}
    for row in rows:
        counts[row.status.state] += 1
    return counts
