"""Escalation as a pure state machine over an :class:`EscalationChain`.

Level ``n`` is the n-th notification: step ``n % len(steps)`` of the chain. Each level waits
its step's ``wait_s`` for an acknowledgement; when the wait runs out the next level's team is
notified. After the last level the escalation is *exhausted*: every team has been told
``repeat`` times and the incident stays open and visible, but nobody new is paged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fleet_manager.routing.policy import EscalationChain


@dataclass(frozen=True)
class EscalationStatus:
    level: int
    team: str
    notified: tuple[str, ...]
    next_at: float | None
    exhausted: bool = False


def begin_escalation(chain: EscalationChain, now: float) -> EscalationStatus:
    first = chain.step_at(0)
    return EscalationStatus(
        level=0, team=first.team, notified=(first.team,), next_at=now + first.wait_s
    )


def escalate_if_due(
    chain: EscalationChain, status: EscalationStatus, now: float
) -> EscalationStatus | None:
    """The next status if the current wait has run out, else None (nothing to do)."""
    if status.next_at is None or now < status.next_at:
        return None
    level = status.level + 1
    if level >= chain.levels:
        return replace(status, next_at=None, exhausted=True)
    step = chain.step_at(level)
    notified = status.notified if step.team in status.notified else (*status.notified, step.team)
    # Each team gets its full wait from the moment it is notified, even if this fleet manager
    # was down when the level fell due.
    return EscalationStatus(
        level=level, team=step.team, notified=notified, next_at=now + step.wait_s
    )


def stop_escalation(status: EscalationStatus) -> EscalationStatus:
    return replace(status, next_at=None)
