"""Which training reminders are due today, and what they say (pure).

One reminder per person and requirement that is "due" or "overdue" with a known deadline, for
people with an email address, once per (person, rule, deadline): a renewed licence (a new
deadline) is reminded again, the same deadline never twice. A person whose deadline is unknown
(no licence renewal date on record) is left to the compliance page.

The text is neutral and about the addressee alone: which requirement, by when, and where to do
it (the console's Training page). No link: a reminder should not teach people to follow links
in email to a login page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from fleet_manager.training.compliance import ComplianceRow
from fleet_manager.training.rules import Rule
from fleet_manager.training.status import State

ReminderKey = tuple[str, str, str]  # (username, rule id, due date YYYY-MM-DD)


@dataclass(frozen=True)
class Reminder:
    username: str
    email: str
    full_name: str
    rule_id: str
    due_date: date
    state: State  # "due" or "overdue"
    subject: str
    body: str  # plain text

    @property
    def key(self) -> ReminderKey:
        return (self.username, self.rule_id, self.due_date.isoformat())

    @property
    def text(self) -> str:
        """Subject and body, as one would read them."""
        return f"Subject: {self.subject}\n\n{self.body}"


def _requirement(rule_id: str, rules: Sequence[Rule]) -> str:
    rule = next((r for r in rules if r.id == rule_id), None)
    if rule is None or not rule.summary:
        return f"the training requirement {rule_id!r}"
    return f"the training requirement {rule_id!r} ({rule.summary})"


def _message(
    full_name: str, rule_id: str, due: date, state: State, today: date, rules: Sequence[Rule]
) -> tuple[str, str]:
    when = f"{due:%B} {due.day}, {due.year} ({due.isoformat()})"  # Python leaves LC_TIME at C
    if state == "overdue":
        subject = f"Training reminder: a requirement was due on {due.isoformat()}"
        status = f"Our records show that {_requirement(rule_id, rules)} was due on {when}."
    else:
        days = (due - today).days
        left = "today" if days == 0 else "in 1 day" if days == 1 else f"in {days} days"
        subject = f"Training reminder: a requirement is due by {due.isoformat()}"
        status = f"Our records show that {_requirement(rule_id, rules)} is due by {when}, {left}."
    body = "\n".join(
        [
            f"Hello {full_name},",
            "",
            status,
            "",
            "To complete it, log in to the Beacon console and open the Training page. If you"
            " have completed it already, or your licence renewal date has changed, please update"
            " your record there or tell your facility's administrator.",
            "",
            "This is an automatic message from your facility's training records; you will not"
            " be reminded again about this deadline.",
            "",
        ]
    )
    return subject, body


def reminders_due(
    rows: Sequence[ComplianceRow],
    already: set[tuple[str, str, str]],
    today: date,
    *,
    rules: Sequence[Rule] = (),
) -> list[Reminder]:
    """The reminders to send: person × rule "due"/"overdue" with a due date, with an email,
    not in ``already`` ((username, rule id, due date ISO) of those sent before). ``rules``, if
    given, lets the text quote each requirement's summary."""
    found: list[Reminder] = []
    for row in rows:
        person = row.profile
        email = (person.email or "").strip()
        if not email:
            continue
        for status in row.status.rules:
            if status.state == "current" or status.due_date is None:
                continue
            if (person.username, status.rule_id, status.due_date.isoformat()) in already:
                continue
            subject, body = _message(
                person.full_name, status.rule_id, status.due_date, status.state, today, rules
            )
            found.append(
                Reminder(
                    username=person.username,
                    email=email,
                    full_name=person.full_name,
                    rule_id=status.rule_id,
                    due_date=status.due_date,
                    state=status.state,
                    subject=subject,
                    body=body,
                )
            )
    return found
