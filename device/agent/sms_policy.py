"""When the kiosk texts the on-call number, as pure functions and a small state machine.

MQTT is the alert path; SMS is the last resort for one situation: an alert is waiting for
the fleet manager's confirmation *and* the kiosk has not been able to reach the broker for
``fallback_after_s``. Then each such alert is texted once, through the kiosk's own cellular
modem, to the facility's on-call number. The alert stays in the outbox either way and is
delivered over MQTT when the broker is back: the text is an extra, not a replacement.

- One text per alert, ever: the ids already texted are persisted by the caller and passed in
  as ``texted``; a restart does not text again. A text is recorded only after the modem says
  it was sent, so a crash in between may text twice; a duplicate beats a lost alert.
- A broker that is reachable but a fleet manager that is not is *not* covered here: the broker
  holds the alert and the kiosk keeps resending; that failure is watched fleet-side.
- A failing modem is retried on a widening schedule (10 s, 30 s, 60 s, 2 min, then every
  5 min) and never given up on; the schedule is per modem, not per alert, because a missing
  modem or no signal affects every alert alike.

    idle ──(disconnected ≥ fallback_after_s and alert not texted)──▶ send
    send ──ok──▶ texted (reset retry)      send ──fail──▶ wait retry_delay(failures) ──▶ send

The message carries location and time only, like the alert itself.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

RETRY_SCHEDULE_S: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0, 300.0)
DEFAULT_FALLBACK_AFTER_S = 30.0
MAX_SMS_CHARS = 160  # one GSM 7-bit text-mode message

DEFAULT_TEMPLATE = "Beacon alert: {what} at {location_name} ({facility}), {time}. Ref {ref}."
TEMPLATE_FIELDS = frozenset({"what", "location_name", "location", "facility", "time", "ref"})
WHAT_BY_KIND = {
    "help": "help requested",
    "tamper": "kiosk enclosure opened",
    "drill": "DRILL, no action needed",
}


@dataclass(frozen=True)
class PendingAlert:
    """What the policy needs of an unconfirmed outbox entry."""

    alert_id: str
    kind: str
    created_at: float  # wall-clock seconds, for ordering and the message only


def sms_due(
    pending: Sequence[PendingAlert],
    texted: frozenset[str],
    disconnected_since: float | None,
    now: float,
    fallback_after_s: float,
) -> list[str]:
    """Ids of the alerts to text now, oldest first.

    ``disconnected_since`` and ``now`` share one clock (monotonic in the agent);
    ``disconnected_since`` is None while the broker is reachable, and then nothing is due,
    however old the pending alerts are. Otherwise every pending alert not in ``texted`` is due
    once the broker has been out of reach for ``fallback_after_s`` (the edge itself is due).
    An alert raised during a long outage is due at once: its own age does not matter.
    """
    if disconnected_since is None or now - disconnected_since < fallback_after_s:
        return []
    due = [a for a in pending if a.alert_id not in texted]
    return [a.alert_id for a in sorted(due, key=lambda a: a.created_at)]


# -- modem retries --------------------------------------------------------------------------


def retry_delay(failures: int, schedule: Sequence[float] = RETRY_SCHEDULE_S) -> float:
    """Wait after the ``failures``-th failure in a row; the last step repeats forever."""
    if failures <= 0 or not schedule:
        return 0.0
    return float(schedule[min(failures, len(schedule)) - 1])


@dataclass(frozen=True)
class ModemRetry:
    """Consecutive modem failures and when the next attempt may be made."""

    failures: int = 0
    next_attempt_at: float | None = None

    def may_attempt(self, now: float) -> bool:
        return self.next_attempt_at is None or now >= self.next_attempt_at


def after_failure(
    state: ModemRetry, now: float, schedule: Sequence[float] = RETRY_SCHEDULE_S
) -> ModemRetry:
    failures = state.failures + 1
    return replace(state, failures=failures, next_attempt_at=now + retry_delay(failures, schedule))


def after_success(state: ModemRetry) -> ModemRetry:
    return ModemRetry()


# -- the message ----------------------------------------------------------------------------


def short_ref(alert_id: str) -> str:
    """The first 8 hex digits of the alert id, upper case: enough to find it in the console."""
    return alert_id.replace("-", "")[:8].upper()


def template_problems(template: str) -> list[str]:
    """What is wrong with an operator's message template (empty list: usable)."""
    problems: list[str] = []
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return [f"not a valid template ({exc}); use {{field}} placeholders"]
    for name in fields:
        if name not in TEMPLATE_FIELDS:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            problems.append(f"unknown placeholder {{{name}}} (known: {known})")
    return problems


def sms_text(
    template: str,
    *,
    kind: str,
    location: str,
    location_name: str,
    facility: str,
    at: datetime,
    alert_id: str,
) -> str:
    """The text for one alert, at most :data:`MAX_SMS_CHARS` characters.

    Text-mode SMS is 7-bit: a location name that is not plain printable ASCII (say, Arabic)
    is replaced by the location id rather than sent as question marks, and so is a name that
    would make the text longer than one message (then the end is cut only if still too long).
    ``at`` should be aware local time; its zone abbreviation is appended when it has one.
    """
    name = location_name.strip()
    if not name or not _plain_ascii(name):
        name = location
    values = {
        "what": WHAT_BY_KIND.get(kind, kind),
        "location_name": name,
        "location": location,
        "facility": facility,
        "time": at.strftime("%Y-%m-%d %H:%M %Z").strip(),
        "ref": short_ref(alert_id),
    }
    text = template.format_map(values)
    if len(text) > MAX_SMS_CHARS:
        # A long room name must not push the time and reference off the end.
        text = template.format_map({**values, "location_name": location})
    return text[:MAX_SMS_CHARS]


def _plain_ascii(text: str) -> bool:
    return all(32 <= ord(c) < 127 for c in text)
