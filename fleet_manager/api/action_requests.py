"""Asking the fleet manager to act on an incident or a kiosk: one path for the API and pages.

The API process has no MQTT link: it queues a console request (``store.console_requests``)
and a fleet manager instance applies it exactly as it applies a responder's action (or sends
the kiosk a signed command). Before queueing, the pure :func:`precheck` runs the incident
lifecycle on the incident's current status, so what can never apply (acting on a resolved
incident, a note without text) is refused at once with the lifecycle's own reason, and a
repeated acknowledgement is answered as harmless without queueing anything. The fleet
manager decides again when it applies the request: the incident may have moved meanwhile.

Each queued request is written to the audit log (``incident.<action>_requested`` or
``kiosk.<command>_requested``) in the same transaction, with the request id; never the note's
text, which may say something about a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel

from fleet_manager.accounts.policy import Grant, Principal, Resource
from fleet_manager.incidents.lifecycle import ActionRefused, IncidentStatus, on_responder_action
from fleet_manager.store import audit_log, console_requests
from fleet_manager.store.console_requests import ConsoleRequest
from fleet_manager.store.fleet_views import KioskRow
from fleet_manager.store.incident_store import IncidentRecord

IncidentAction = Literal["ack", "resolve", "note"]
KioskCommand = Literal["identify", "drill"]
INCIDENT_ACTIONS: tuple[IncidentAction, ...] = ("ack", "resolve", "note")
KIOSK_COMMANDS: tuple[KioskCommand, ...] = ("identify", "drill")
MAX_NOTE = 500
REQUESTS_PATH = "/api/v1/requests"
# What an id looks like (protocol.identities): nothing else reaches the database, so a NUL or a
# control character is a 400, not a PostgreSQL error.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
REQUEST_ID_PATTERN = r"^[0-9a-f]{32}$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # free text in a query: no control characters
NOTE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # a note: lines and tabs, no other


@dataclass(frozen=True)
class Queue:
    """The action can apply: queue it."""

    note: str | None  # trimmed; None when empty


@dataclass(frozen=True)
class Unchanged:
    """Nothing would change (a repeated acknowledgement): answer as done, queue nothing."""

    reason: str


@dataclass(frozen=True)
class Refuse:
    """The action cannot apply; ``reason`` is for the person asking."""

    reason: str


Precheck = Queue | Unchanged | Refuse


def precheck(status: IncidentStatus, action: IncidentAction, note: str | None) -> Precheck:
    """Whether ``action`` (with ``note``) can apply to an incident now at ``status``."""
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE:
        return Refuse(f"a note is at most {MAX_NOTE} characters")
    if text is not None and not re.fullmatch(NOTE_PATTERN, text):
        return Refuse("a note must not contain control characters")
    try:
        transition = on_responder_action(status, action, "console", 0.0, text)
    except ActionRefused as refused:
        return Refuse(str(refused))
    if transition is None:
        return Unchanged(f"already acknowledged by {status.acknowledged_by}")
    return Queue(text)


def is_id(value: str) -> bool:
    """Whether ``value`` looks like an id (see :data:`ID_PATTERN`)."""
    return re.fullmatch(ID_PATTERN, value) is not None


def is_text(value: str) -> bool:
    """Whether ``value`` is free text without control characters."""
    return re.fullmatch(TEXT_PATTERN, value) is not None


def kiosk_command_problem(kiosk: KioskRow) -> str | None:
    """Why ``kiosk`` cannot be sent a command, or None."""
    if kiosk.lifecycle != "active":
        return f"the kiosk is {kiosk.lifecycle}: it takes no commands"
    return None


def incident_resource(record: IncidentRecord) -> Resource:
    """An incident is its facility and its region (a kiosk never placed has no facility)."""
    return Resource(facility_id=record.facility_id, region=record.region)


def kiosk_resource(kiosk: KioskRow) -> Resource:
    """A kiosk is its location's facility; without a location only fleet-wide grants see it
    (``Resource()`` is fleet-wide)."""
    return Resource(facility_id=kiosk.facility_id, region=kiosk.region)


def request_incident_action(
    conn: sa.Connection,
    who: Principal,
    record: IncidentRecord,
    action: IncidentAction,
    note: str | None,
    now: float,
) -> ConsoleRequest | Unchanged | Refuse:
    """Pre-check, then queue and audit; the queued request, or why nothing was queued."""
    decision = precheck(record.status, action, note)
    if not isinstance(decision, Queue):
        return decision
    request_id = console_requests.submit(
        conn, action, record.incident_id, who.label, now, decision.note
    )
    audit_log.record(
        conn,
        at=now,
        actor=who.label,
        action=f"incident.{action}_requested",
        subject=record.incident_id,
        outcome="queued",
        detail={"request_id": request_id, "with_note": decision.note is not None},
    )
    found = console_requests.get(conn, request_id)
    assert found is not None
    return found


def request_kiosk_command(
    conn: sa.Connection, who: Principal, kiosk: KioskRow, command: KioskCommand, now: float
) -> ConsoleRequest | Refuse:
    problem = kiosk_command_problem(kiosk)
    if problem is not None:
        return Refuse(problem)
    request_id = console_requests.submit(conn, command, kiosk.device_id, who.label, now)
    audit_log.record(
        conn,
        at=now,
        actor=who.label,
        action=f"kiosk.{command}_requested",
        subject=kiosk.device_id,
        outcome="queued",
        detail={"request_id": request_id},
    )
    found = console_requests.get(conn, request_id)
    assert found is not None
    return found


def may_see_request(who: Principal, request: ConsoleRequest) -> bool:
    """A request is visible to whoever made it, and to fleet-wide ops."""
    return request.actor == who.label[:64] or Grant("ops") in who.grants


class RequestView(BaseModel):
    request_id: str
    kind: str
    target: str
    actor: str
    state: str
    created_at: float
    done_at: float | None
    outcome: str | None

    @staticmethod
    def of(request: ConsoleRequest) -> RequestView:
        # done_at holds the claim time while a request is claimed: not a finishing time.
        done_at = request.done_at if request.state in ("done", "refused") else None
        return RequestView(
            request_id=request.request_id,
            kind=request.kind,
            target=request.target,
            actor=request.actor,
            state=request.state,
            created_at=request.created_at,
            done_at=done_at,
            outcome=request.outcome,
        )


class ActionAnswer(BaseModel):
    """What a POST of an action answers: the queued request (202), or none (200, nothing to
    do) with the reason."""

    request: RequestView | None
    message: str
