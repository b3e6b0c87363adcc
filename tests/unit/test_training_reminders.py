"""Who gets a training reminder, and what it says (issue 8): the pure part, as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from fleet_manager.store.training_store import Profile
from fleet_manager.training.compliance import ComplianceRow
from fleet_manager.training.reminders import Reminder, reminders_due
from fleet_manager.training.rules import Rule
from fleet_manager.training.status import PersonStatus, RuleStatus, State

TODAY = date(2026, 6, 15)
RENEWAL = date(2026, 7, 15)  # 30 days ahead
PAST = date(2026, 5, 1)

TX = Rule(
    id="tx-every-renewal",
    scope="state",
    kind="every_renewal",
    modules=("recognising-signs",),
    evidence=("module",),
    state="TX",
    summary="Texas: an approved course before each licence renewal.",
)


def person(username: str = "ana", **changes: object) -> Profile:
    base = Profile(
        username=username,
        facility_id="fac-a",
        full_name=f"{username.title()} Example",
        email=f"{username}@example.org",
        profession="nurse",
        licence_state="TX",
        licence_renewal=RENEWAL,
        joined_at=1_700_000_000.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def status(rule_id: str, state: State, due: date | None) -> RuleStatus:
    return RuleStatus(rule_id, state, due, f"{state} by {due}")


def row(profile: Profile, *rules: RuleStatus) -> ComplianceRow:
    rank: dict[State, int] = {"current": 0, "due": 1, "overdue": 2}
    worst: State = max((r.state for r in rules), key=rank.__getitem__, default="current")
    return ComplianceRow(profile, PersonStatus(worst, rules), ())


def keys(reminders: list[Reminder]) -> list[tuple[str, str, str, str]]:
    return [(r.username, r.rule_id, r.due_date.isoformat(), r.state) for r in reminders]


TX_DUE = status("tx-every-renewal", "due", RENEWAL)
TX_OVERDUE = status("tx-every-renewal", "overdue", PAST)
TX_CURRENT = status("tx-every-renewal", "current", RENEWAL)
TX_UNKNOWN = status("tx-every-renewal", "due", None)  # no renewal date on record
YEARLY_DUE = status("facility-annual", "due", date(2026, 7, 1))


@pytest.mark.parametrize(
    ("rows", "already", "expected"),
    [
        pytest.param(
            [row(person(), TX_DUE)],
            set(),
            [("ana", "tx-every-renewal", "2026-07-15", "due")],
            id="due-with-email",
        ),
        pytest.param(
            [row(person(), TX_OVERDUE)],
            set(),
            [("ana", "tx-every-renewal", "2026-05-01", "overdue")],
            id="overdue",
        ),
        pytest.param([row(person(), TX_CURRENT)], set(), [], id="current-none"),
        pytest.param([row(person(), TX_UNKNOWN)], set(), [], id="no-deadline-known"),
        pytest.param([row(person(email=None), TX_DUE)], set(), [], id="no-email"),
        pytest.param([row(person(email="  "), TX_DUE)], set(), [], id="blank-email"),
        pytest.param([row(person())], set(), [], id="no-rule-applies"),
        pytest.param(
            [row(person(), TX_DUE)],
            {("ana", "tx-every-renewal", "2026-07-15")},
            [],
            id="already-reminded",
        ),
        pytest.param(
            [row(person(), TX_DUE)],
            {("ana", "tx-every-renewal", "2024-07-15")},
            [("ana", "tx-every-renewal", "2026-07-15", "due")],
            id="reminded-for-an-earlier-deadline",
        ),
        pytest.param(
            [row(person(), TX_OVERDUE)],
            {("ana", "tx-every-renewal", "2026-05-01")},
            [],
            id="due-then-overdue-same-deadline-once",
        ),
        pytest.param(
            [row(person(), TX_DUE)],
            {("ben", "tx-every-renewal", "2026-07-15")},
            [("ana", "tx-every-renewal", "2026-07-15", "due")],
            id="someone-else-reminded",
        ),
        pytest.param(
            [row(person(), TX_DUE, YEARLY_DUE, status("x", "current", None))],
            set(),
            [
                ("ana", "tx-every-renewal", "2026-07-15", "due"),
                ("ana", "facility-annual", "2026-07-01", "due"),
            ],
            id="one-per-rule",
        ),
        pytest.param(
            [
                row(person("ana"), TX_DUE),
                row(person("ben", email=None), TX_DUE),
                row(person("cy"), TX_OVERDUE),
            ],
            set(),
            [
                ("ana", "tx-every-renewal", "2026-07-15", "due"),
                ("cy", "tx-every-renewal", "2026-05-01", "overdue"),
            ],
            id="several-people",
        ),
    ],
)
def test_who_is_reminded(
    rows: list[ComplianceRow], already: set[tuple[str, str, str]], expected: list[tuple[str, ...]]
) -> None:
    assert keys(reminders_due(rows, already, TODAY)) == expected


def test_the_reminder_key_is_what_the_store_remembers() -> None:
    [reminder] = reminders_due([row(person(), TX_DUE)], set(), TODAY)
    assert reminder.key == ("ana", "tx-every-renewal", "2026-07-15")
    assert reminders_due([row(person(), TX_DUE)], {reminder.key}, TODAY) == []


def test_text_says_which_requirement_by_when_and_where() -> None:
    [reminder] = reminders_due([row(person(), TX_DUE)], set(), TODAY, rules=[TX])
    assert reminder.email == "ana@example.org"
    assert reminder.full_name == "Ana Example"
    assert reminder.subject == "Training reminder: a requirement is due by 2026-07-15"
    assert reminder.body.startswith("Hello Ana Example,\n")
    assert "'tx-every-renewal' (Texas: an approved course before each licence renewal.)" in (
        reminder.body
    )
    assert "is due by July 15, 2026 (2026-07-15), in 30 days." in reminder.body
    assert "log in to the Beacon console and open the Training page" in reminder.body
    assert "http" not in reminder.body  # no link to follow
    assert reminder.text == f"Subject: {reminder.subject}\n\n{reminder.body}"


def test_overdue_text() -> None:
    [reminder] = reminders_due([row(person(), TX_OVERDUE)], set(), TODAY)
    assert reminder.subject == "Training reminder: a requirement was due on 2026-05-01"
    assert "'tx-every-renewal' was due on May 1, 2026 (2026-05-01)." in reminder.body


@pytest.mark.parametrize(
    ("due", "phrase"),
    [(TODAY, "today"), (date(2026, 6, 16), "in 1 day"), (date(2026, 8, 14), "in 60 days")],
)
def test_days_left(due: date, phrase: str) -> None:
    [reminder] = reminders_due(
        [row(person(), status("tx-every-renewal", "due", due))], set(), TODAY
    )
    assert f"({due.isoformat()}), {phrase}." in reminder.body


def test_a_reminder_carries_nobody_else_s_data() -> None:
    ana = person("ana", full_name="Ana Gómez", email="ana@example.org")
    ben = person("ben", full_name="Benedict Okafor", email="ben.o@example.org", profession="md")
    reminders = reminders_due([row(ana, TX_DUE), row(ben, TX_OVERDUE)], set(), TODAY, rules=[TX])
    by_name = {r.username: r for r in reminders}
    assert "Benedict" not in by_name["ana"].text and "ben.o@" not in by_name["ana"].text
    assert "Gómez" not in by_name["ben"].text and "ana@" not in by_name["ben"].text
    for reminder in reminders:
        assert "nurse" not in reminder.text and "md" not in reminder.text.split()
