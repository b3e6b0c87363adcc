"""Is a person's training current, due, or overdue? (pure)

For each rule that applies to the person (their licence state and profession; their
facility), :func:`rule_status` says where they stand on ``today``; :func:`person_status` takes
the worst. "due" means a qualifying course is needed within ``due_within_days``; "overdue"
that a deadline has passed without one. The kinds of rule are described in
``content/training/requirements.toml``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from fleet_manager.training.rules import Evidence, Rule

State = Literal["current", "due", "overdue"]
_RANK: dict[State, int] = {"current": 0, "due": 1, "overdue": 2}


@dataclass(frozen=True)
class Person:
    facility_id: str
    joined: date
    licence_state: str | None = None
    licence_renewal: date | None = None
    profession: str | None = None


@dataclass(frozen=True)
class Record:
    """A completed module, or a self-certification of a course taken elsewhere."""

    kind: Evidence
    completed: date
    hours: float = 0.0
    module_id: str | None = None


@dataclass(frozen=True)
class RuleStatus:
    rule_id: str
    state: State
    due_date: date | None  # the deadline that decides (None: unknown, see reason)
    reason: str


@dataclass(frozen=True)
class PersonStatus:
    state: State
    rules: tuple[RuleStatus, ...]

    @property
    def next_due(self) -> date | None:
        dates = [r.due_date for r in self.rules if r.state != "current" and r.due_date]
        return min(dates) if dates else None


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def applies(rule: Rule, person: Person) -> bool:
    if rule.scope == "facility":
        return rule.facility in ("*", person.facility_id)
    if person.licence_state != rule.state:
        return False
    return not rule.professions or person.profession in rule.professions


def accepts_self_certification(person: Person, rules: Iterable[Rule]) -> bool:
    """Whether a requirement that applies to the person may be met by self-certifying."""
    return any(applies(r, person) and "self_certification" in r.evidence for r in rules)


def _counts(rule: Rule, record: Record) -> bool:
    if record.kind not in rule.evidence:
        return False
    return record.kind == "self_certification" or record.module_id in rule.modules


def satisfied(rule: Rule, records: Iterable[Record], after: date | None, until: date) -> bool:
    """Do the qualifying records completed in (after, until] meet the rule's hours?"""
    found = [
        r
        for r in records
        if _counts(rule, r) and r.completed <= until and (after is None or r.completed > after)
    ]
    if not found:
        return False
    if any(r.kind == "self_certification" for r in found):
        return True  # a certified course elsewhere: its hours are the state's to check
    return sum(r.hours for r in found) >= rule.min_hours


def _oldest_needed(rule: Rule, records: Iterable[Record], today: date) -> date | None:
    """Counting back from the newest qualifying completion, the oldest one needed to reach the
    rule's hours (None if all of them together do not)."""
    hours = 0.0
    for record in sorted(
        (r for r in records if _counts(rule, r) and r.completed <= today),
        key=lambda r: r.completed,
        reverse=True,
    ):
        if record.kind == "self_certification":
            return record.completed
        hours += record.hours
        if hours >= rule.min_hours:
            return record.completed
    return None


def _by_deadline(
    rule: Rule, deadline: date | None, today: date, window: int, what: str
) -> RuleStatus:
    if deadline is None:
        return RuleStatus(rule.id, "due", None, f"{what}: no licence renewal date on record")
    if today > deadline:
        return RuleStatus(rule.id, "overdue", deadline, f"{what}: required by {deadline}")
    if (deadline - today).days <= window:
        return RuleStatus(rule.id, "due", deadline, f"{what}: required by {deadline}")
    return RuleStatus(rule.id, "current", deadline, f"{what}: not yet done, required by {deadline}")


def rule_status(
    rule: Rule, person: Person, records: Sequence[Record], today: date, due_within_days: int
) -> RuleStatus:
    grace = timedelta(days=rule.grace_days)
    if rule.kind == "once":
        if satisfied(rule, records, None, today):
            return RuleStatus(rule.id, "current", None, "done (once is enough)")
        deadline = person.licence_renewal if rule.scope == "state" else person.joined + grace
        return _by_deadline(rule, deadline, today, due_within_days, "once")
    if rule.kind == "annual":
        oldest_needed = _oldest_needed(rule, records, today)
        if oldest_needed is None:
            return _by_deadline(rule, person.joined + grace, today, due_within_days, "first course")
        # Met until the oldest completion it needs is a year old.
        expires = add_months(oldest_needed, 12)
        status = _by_deadline(rule, expires, today, due_within_days, "yearly course")
        if status.state == "current":
            return RuleStatus(
                rule.id, "current", expires, f"done {oldest_needed}, valid until {expires}"
            )
        return status
    # every_renewal
    renewal = person.licence_renewal
    if renewal is None:
        return _by_deadline(rule, None, today, due_within_days, "each renewal")
    period_start = add_months(renewal, -rule.period_months)
    if today <= renewal:
        if satisfied(rule, records, period_start, today):
            return RuleStatus(rule.id, "current", renewal, f"done for the period ending {renewal}")
        return _by_deadline(rule, renewal, today, due_within_days, "this licence period")
    # The recorded renewal date has passed: a new period began on it.
    following = add_months(renewal, rule.period_months)
    if today > following:
        return RuleStatus(
            rule.id,
            "overdue",
            following,
            f"the renewal date on record ({renewal}) is more than a period old: update it",
        )
    if satisfied(rule, records, renewal, today):
        return RuleStatus(rule.id, "current", following, "done for the new period")
    if not satisfied(rule, records, period_start, renewal):
        return RuleStatus(rule.id, "overdue", renewal, f"not done before the renewal of {renewal}")
    return _by_deadline(rule, renewal + grace, today, due_within_days, "the new licence period")


def person_status(
    person: Person,
    rules: Iterable[Rule],
    records: Sequence[Record],
    today: date,
    due_within_days: int = 60,
) -> PersonStatus:
    found = tuple(
        rule_status(rule, person, records, today, due_within_days)
        for rule in rules
        if applies(rule, person)
    )
    worst: State = max((r.state for r in found), key=_RANK.__getitem__, default="current")
    return PersonStatus(worst, found)
