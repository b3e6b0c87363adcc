"""device.agent.outbox_policy: resend schedule and state transitions of the alert outbox."""

from __future__ import annotations

from dataclasses import replace

import pytest

from device.agent.outbox_policy import (
    FIRST_RESEND_S,
    MAX_RESEND_S,
    OutboxEntry,
    after_reconnect,
    is_due,
    mark_confirmed,
    mark_sent,
    next_due_at,
    resend_delay,
)

NEW = OutboxEntry(
    alert_id="0b9e4c1e-6f7a-4d43-9a51-2d8f0c3b7e10",
    kind="help",
    source="button",
    location="loc-waiting-1",
    created_at=100.0,
)


def _sent(attempts: int, last_sent_at: float) -> OutboxEntry:
    return replace(NEW, state="sent", attempts=attempts, last_sent_at=last_sent_at)


def _confirmed(attempts: int = 1, last_sent_at: float | None = 100.0) -> OutboxEntry:
    return replace(
        NEW, state="confirmed", attempts=attempts, last_sent_at=last_sent_at, confirmed_at=101.0
    )


def test_constants() -> None:
    assert (FIRST_RESEND_S, MAX_RESEND_S) == (2.0, 30.0)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        pytest.param(0, 2.0, id="never-sent"),
        pytest.param(1, 2.0, id="after-1st"),
        pytest.param(2, 4.0, id="after-2nd"),
        pytest.param(3, 8.0, id="after-3rd"),
        pytest.param(4, 16.0, id="after-4th"),
        pytest.param(5, 30.0, id="after-5th-capped"),
        pytest.param(6, 30.0, id="after-6th"),
        pytest.param(50, 30.0, id="after-50th"),
        pytest.param(2000, 30.0, id="after-2000th"),
    ],
)
def test_resend_delay(attempts: int, delay: float) -> None:
    assert resend_delay(attempts) == delay


DUE = [
    # entry, now, is_due, next_due_at
    pytest.param(NEW, 50.0, True, 100.0, id="new-is-due-at-once"),
    pytest.param(NEW, 100.0, True, 100.0, id="new-at-creation"),
    pytest.param(_sent(1, 100.0), 101.9, False, 102.0, id="sent-once-just-before"),
    pytest.param(_sent(1, 100.0), 102.0, True, 102.0, id="sent-once-exactly-due"),
    pytest.param(_sent(2, 110.0), 113.0, False, 114.0, id="sent-twice-waits-4s"),
    pytest.param(_sent(2, 110.0), 114.0, True, 114.0, id="sent-twice-due"),
    pytest.param(_sent(4, 200.0), 215.0, False, 216.0, id="sent-4x-waits-16s"),
    pytest.param(_sent(5, 200.0), 229.9, False, 230.0, id="sent-5x-capped-wait"),
    pytest.param(_sent(9, 200.0), 230.0, True, 230.0, id="sent-9x-capped-due"),
    pytest.param(_confirmed(), 10_000.0, False, None, id="confirmed-never-due"),
    pytest.param(
        _confirmed(attempts=0, last_sent_at=None), 10_000.0, False, None, id="confirmed-unsent"
    ),
]


@pytest.mark.parametrize(("entry", "now", "due", "due_at"), DUE)
def test_is_due_and_next_due_at(
    entry: OutboxEntry, now: float, due: bool, due_at: float | None
) -> None:
    assert is_due(entry, now) is due
    assert next_due_at(entry) == due_at


def test_new_entry_defaults() -> None:
    assert (NEW.state, NEW.attempts, NEW.last_sent_at, NEW.confirmed_at) == (
        "pending",
        0,
        None,
        None,
    )
    assert NEW.awaiting_confirmation


TRANSITIONS = [
    pytest.param(
        lambda: mark_sent(NEW, 100.5),
        replace(NEW, state="sent", attempts=1, last_sent_at=100.5),
        id="pending-sent",
    ),
    pytest.param(
        lambda: mark_sent(_sent(1, 100.5), 103.0),
        replace(NEW, state="sent", attempts=2, last_sent_at=103.0),
        id="sent-sent-again",
    ),
    pytest.param(
        lambda: mark_confirmed(_sent(2, 103.0), 104.0),
        replace(NEW, state="confirmed", attempts=2, last_sent_at=103.0, confirmed_at=104.0),
        id="sent-confirmed",
    ),
    pytest.param(
        lambda: mark_confirmed(NEW, 100.2),
        replace(NEW, state="confirmed", confirmed_at=100.2),
        id="pending-confirmed",
    ),
    pytest.param(lambda: mark_sent(_confirmed(), 500.0), _confirmed(), id="confirmed-not-resent"),
    pytest.param(
        lambda: mark_confirmed(_confirmed(), 500.0), _confirmed(), id="confirm-twice-keeps-first"
    ),
    pytest.param(
        lambda: after_reconnect(_sent(3, 120.0)),
        replace(NEW, state="sent", attempts=3, last_sent_at=None),
        id="reconnect-makes-sent-due",
    ),
    pytest.param(lambda: after_reconnect(NEW), NEW, id="reconnect-pending-unchanged"),
    pytest.param(lambda: after_reconnect(_confirmed()), _confirmed(), id="reconnect-confirmed"),
]


@pytest.mark.parametrize(("transition", "expected"), TRANSITIONS)
def test_transition(transition: object, expected: OutboxEntry) -> None:
    assert callable(transition)
    assert transition() == expected


def test_reconnect_makes_a_waiting_entry_due_at_once() -> None:
    waiting = _sent(4, 200.0)
    assert not is_due(waiting, 201.0)
    reconnected = after_reconnect(waiting)
    assert is_due(reconnected, 201.0)
    # Its back-off is kept: after the next send it waits as long as a 5th attempt would.
    resent = mark_sent(reconnected, 201.0)
    assert (resent.attempts, next_due_at(resent)) == (5, 231.0)


def test_a_full_life() -> None:
    entry = NEW
    sends = []
    now = 100.0
    while now < 200.0:
        if is_due(entry, now):
            entry = mark_sent(entry, now)
            sends.append(now)
        now += 1.0
    assert sends == [100.0, 102.0, 106.0, 114.0, 130.0, 160.0, 190.0]
    entry = mark_confirmed(entry, 200.0)
    assert not entry.awaiting_confirmation
    assert not any(is_due(entry, t) for t in (200.0, 1e6))
    assert next_due_at(entry) is None
