"""An incident's life as a pure state machine: opened → escalated → acknowledged → resolved.

Every function takes the current :class:`IncidentStatus` and returns a :class:`Transition`
(the new status plus the timeline entries to record), or ``None`` when nothing changes. The
store and the MQTT adapter apply transitions; they never decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fleet_manager.incidents.escalation import (
    EscalationStatus,
    begin_escalation,
    escalate_if_due,
    stop_escalation,
)
from fleet_manager.routing.policy import EscalationChain
from protocol.messages import IncidentState, ResponderActionKind


@dataclass(frozen=True)
class TimelineEntry:
    at: float
    event: str  # opened, routed, escalated, exhausted, acknowledged, resolved, note, duplicate...
    actor: str  # "system", a kiosk id, or a responder name
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IncidentStatus:
    state: IncidentState
    escalation: EscalationStatus
    acknowledged_by: str | None = None
    resolved_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"


@dataclass(frozen=True)
class Transition:
    status: IncidentStatus
    timeline: tuple[TimelineEntry, ...]


class ActionRefused(ValueError):
    """A responder action that does not apply to the incident in its current state."""


def open_incident(
    chain: EscalationChain, route_name: str, device_id: str, now: float
) -> Transition:
    escalation = begin_escalation(chain, now)
    return Transition(
        IncidentStatus(state="opened", escalation=escalation),
        (
            TimelineEntry(now, "opened", device_id),
            TimelineEntry(now, "routed", "system", {"route": route_name, "team": escalation.team}),
        ),
    )


def on_escalation_timer(
    chain: EscalationChain, status: IncidentStatus, now: float
) -> Transition | None:
    """Escalate if the incident is still unacknowledged and its wait has run out."""
    if status.state not in ("opened", "escalated"):
        return None
    nxt = escalate_if_due(chain, status.escalation, now)
    if nxt is None:
        return None
    if nxt.exhausted:
        entry = TimelineEntry(now, "exhausted", "system", {"notified": list(nxt.notified)})
        return Transition(replace(status, escalation=nxt), (entry,))
    entry = TimelineEntry(now, "escalated", "system", {"team": nxt.team, "level": nxt.level})
    return Transition(replace(status, state="escalated", escalation=nxt), (entry,))


def on_responder_action(
    status: IncidentStatus,
    action: ResponderActionKind,
    responder: str,
    now: float,
    note: str | None = None,
    sent_at: float | None = None,
) -> Transition | None:
    """Apply ack / resolve / note. A repeated ack is a no-op (None); acting on a resolved
    incident is refused, except adding a note. ``sent_at`` (the responder's timestamp) is kept
    in the timeline so a redelivered note can be recognised (see :func:`is_repeated_note`)."""
    detail: dict[str, Any] = {"note": note} if note else {}
    if sent_at is not None:
        detail["sent_at"] = sent_at
    if action == "note":
        if not note:
            raise ActionRefused("a note needs text")
        return Transition(status, (TimelineEntry(now, "note", responder, detail),))
    if not status.is_open:
        raise ActionRefused(f"incident is already resolved by {status.resolved_by}")
    if action == "ack":
        if status.state == "acknowledged":
            return None
        new = replace(
            status,
            state="acknowledged",
            acknowledged_by=responder,
            escalation=stop_escalation(status.escalation),
        )
        return Transition(new, (TimelineEntry(now, "acknowledged", responder, detail),))
    new = replace(
        status,
        state="resolved",
        resolved_by=responder,
        acknowledged_by=status.acknowledged_by or responder,
        escalation=stop_escalation(status.escalation),
    )
    return Transition(new, (TimelineEntry(now, "resolved", responder, detail),))


def on_report_addition(
    chain: EscalationChain, status: IncidentStatus, entry: int, actor: str, now: float
) -> Transition:
    """A reporter added to their report. On a resolved incident it may be the most urgent thing
    they have written ("it is happening now"), so the incident opens again and escalates from
    the start of its chain; otherwise it stays as it is (a responder on it sees the addition)."""
    added = TimelineEntry(now, "report_added", actor, {"entry": entry})
    if status.is_open:
        return Transition(status, (added,))
    reopened = IncidentStatus(state="opened", escalation=begin_escalation(chain, now))
    note = TimelineEntry(
        now, "reopened", "system", {"reason": "report_added", "resolved_by": status.resolved_by}
    )
    routed = TimelineEntry(now, "routed", "system", {"team": reopened.escalation.team})
    return Transition(reopened, (added, note, routed))


def is_repeated_note(
    timeline: list[TimelineEntry], responder: str, note: str | None, sent_at: float
) -> bool:
    """True if this very note (same responder, text and sending time) is already recorded:
    every fleet manager instance receives every responder action."""
    return any(
        e.event == "note"
        and e.actor == responder
        and e.detail.get("note") == note
        and e.detail.get("sent_at") == sent_at
        for e in timeline
    )
