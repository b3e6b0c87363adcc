"""The alert outbox as a pure state machine.

An alert is written to the outbox *before* anything is sent and stays until the fleet
manager's signed "alert received" command names it: the broker's PUBACK only says a broker
has it in memory. Until then it is resent on a widening schedule, and at once after every
reconnect. Confirmed entries are kept (for the staff panel and audits) and never resent.

    pending ──send──▶ sent ──send──▶ sent (attempts+1) …
       └──────────────┴──confirm──▶ confirmed
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

OutboxState = Literal["pending", "sent", "confirmed"]

FIRST_RESEND_S = 2.0
MAX_RESEND_S = 30.0


@dataclass(frozen=True)
class OutboxEntry:
    alert_id: str
    kind: str
    source: str
    location: str
    created_at: float
    state: OutboxState = "pending"
    attempts: int = 0
    last_sent_at: float | None = None
    confirmed_at: float | None = None

    @property
    def awaiting_confirmation(self) -> bool:
        return self.state != "confirmed"


def resend_delay(attempts: int) -> float:
    """Wait after the ``attempts``-th send before sending again: 2, 4, 8, 16, 30, 30 … s."""
    exponent = min(max(0, attempts - 1), 40)  # bounded: an alert may wait for days
    return min(MAX_RESEND_S, FIRST_RESEND_S * float(2**exponent))


def is_due(entry: OutboxEntry, now: float) -> bool:
    if entry.state == "confirmed":
        return False
    if entry.last_sent_at is None:
        return True
    return now >= entry.last_sent_at + resend_delay(entry.attempts)


def next_due_at(entry: OutboxEntry) -> float | None:
    if entry.state == "confirmed":
        return None
    if entry.last_sent_at is None:
        return entry.created_at
    return entry.last_sent_at + resend_delay(entry.attempts)


def mark_sent(entry: OutboxEntry, now: float) -> OutboxEntry:
    if entry.state == "confirmed":
        return entry
    return replace(entry, state="sent", attempts=entry.attempts + 1, last_sent_at=now)


def mark_confirmed(entry: OutboxEntry, now: float) -> OutboxEntry:
    if entry.state == "confirmed":
        return entry
    return replace(entry, state="confirmed", confirmed_at=now)


def after_reconnect(entry: OutboxEntry) -> OutboxEntry:
    """A new connection may have lost what was in flight: make an unconfirmed entry due now."""
    if entry.state == "confirmed":
        return entry
    return replace(entry, last_sent_at=None)
