"""Sending training reminders by email: the shell around :mod:`fleet_manager.training.reminders`.

Statuses come from :func:`fleet_manager.training.compliance.compliance` (the same the
compliance page shows). Each reminder sent is marked in the store at once, in its own
transaction, so a run cut short never sends it twice. A server that cannot be reached, or refuses
a message, is logged and counted, never raised: the next run tries again (the job exits non-zero
so a timer shows the failure).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa

from fleet_manager.config import SmtpSettings, TrainingSettings
from fleet_manager.store import training_store
from fleet_manager.training.compliance import ComplianceRow, compliance
from fleet_manager.training.reminders import Reminder, reminders_due
from fleet_manager.training.rules import Rule
from transport.log import get_logger

log = get_logger("fleet_manager.training")

SMTP_TIMEOUT_S = 30.0

Send = Callable[[EmailMessage], object]


class MailerError(ValueError):
    """Reminders cannot be sent with this configuration; the message says why."""


@dataclass(frozen=True)
class ReminderRun:
    sent: int
    failed: int  # not sent (server unreachable or refused): tried again next run
    already: int  # reminded before for the same deadline
    no_email: int  # due or overdue, but no email address on record

    @property
    def skipped(self) -> int:
        return self.already + self.no_email


def message(reminder: Reminder, from_address: str, now: float) -> EmailMessage:
    """The email of one reminder (ValueError for an address that cannot be a header)."""
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = reminder.email
    email["Subject"] = reminder.subject
    email["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    email["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2])
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    email.set_content(reminder.body)
    return email


@contextmanager
def smtp_connection(smtp: SmtpSettings) -> Iterator[Send]:
    """A logged-in SMTP session (STARTTLS with certificate checks unless turned off)."""
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S)
    try:
        client.ehlo()
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if smtp.username is not None:
            client.login(smtp.username, smtp.password() or "")
        yield client.send_message
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _counts(rows: Sequence[ComplianceRow], already: set[tuple[str, str, str]]) -> tuple[int, int]:
    """(already reminded, no email) among the person × rule pairs that are due or overdue."""
    seen = no_email = 0
    for row in rows:
        profile = row.profile
        for rule in row.status.rules:
            if rule.state == "current" or rule.due_date is None:
                continue
            if not (profile.email or "").strip():
                no_email += 1
            elif (profile.username, rule.rule_id, rule.due_date.isoformat()) in already:
                seen += 1
    return seen, no_email


def send_reminders(
    engine: sa.Engine,
    rules: Sequence[Rule],
    settings: TrainingSettings,
    today: date,
    send: Send | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> ReminderRun:
    """Send every reminder due on ``today`` (through ``send``, or the configured SMTP server)."""
    if send is None and settings.smtp is None:
        raise MailerError("no training.smtp section in the fleet config: cannot send reminders")
    with engine.connect() as conn:
        rows = compliance(conn, None, rules, today, settings.due_within_days)
        already = training_store.reminded(conn)
    todo = reminders_due(rows, already, today, rules=rules)
    seen, no_email = _counts(rows, already)
    if not todo:
        return ReminderRun(0, 0, seen, no_email)
    from_address = settings.smtp.from_address if settings.smtp else "training@localhost"

    sent = failed = 0
    try:
        with _sender(settings, send) as deliver:
            for i, reminder in enumerate(todo):
                try:
                    deliver(message(reminder, from_address, clock()))
                except (
                    ValueError,
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError,
                ) as exc:
                    failed += 1
                    log.warning(
                        "training_reminder_refused",
                        username=reminder.username,
                        rule=reminder.rule_id,
                        error=str(exc),
                    )
                    continue
                except (smtplib.SMTPException, OSError) as exc:
                    failed += len(todo) - i
                    log.warning(
                        "training_reminder_connection_lost", error=str(exc), left=len(todo) - i
                    )
                    break
                with engine.begin() as conn:
                    training_store.mark_reminded(
                        conn, reminder.username, reminder.rule_id, reminder.due_date, clock()
                    )
                sent += 1
                log.info(
                    "training_reminder_sent", username=reminder.username, rule=reminder.rule_id
                )
    except (smtplib.SMTPException, OSError) as exc:  # connecting, or ending the session
        log.warning("training_reminder_smtp_unavailable", error=str(exc))
        failed = len(todo) - sent
    return ReminderRun(sent, failed, seen, no_email)


@contextmanager
def _sender(settings: TrainingSettings, send: Send | None) -> Iterator[Send]:
    if send is not None:
        yield send
        return
    assert settings.smtp is not None
    with smtp_connection(settings.smtp) as deliver:
        yield deliver
