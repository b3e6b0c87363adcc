"""The health policy after a content switch: keep waiting, roll back, or confirmed (table)."""

from __future__ import annotations

import pytest

from device.content.health import (
    HealthState,
    HealthVerdict,
    confirmed,
    decide,
    restarted,
    rollback_reason,
    switched,
)

V = "2026.11.2"


@pytest.mark.parametrize(
    ("state", "now", "verdict"),
    [
        (HealthState(V, 100.0), 100.0, "keep"),
        (HealthState(V, 100.0), 159.9, "keep"),
        (HealthState(V, 100.0), 160.0, "rollback"),  # the window is [switch, switch + 60 s)
        (HealthState(V, 100.0), 1e9, "rollback"),
        (HealthState(V, 100.0), 50.0, "keep"),  # a reading before the switch: no time passed
        (HealthState(V, 100.0, confirmed_at=101.0), 101.0, "confirmed"),
        (HealthState(V, 100.0, confirmed_at=160.0), 200.0, "confirmed"),  # at the deadline
        (HealthState(V, 100.0, confirmed_at=160.5), 160.5, "rollback"),  # too late
        (HealthState(V, 100.0, window_s=5.0), 104.0, "keep"),
        (HealthState(V, 100.0, window_s=5.0), 105.0, "rollback"),
        (HealthState(V, 100.0, starts=2), 100.0, "keep"),
        (HealthState(V, 100.0, starts=3), 100.0, "rollback"),  # crash loop
        (HealthState(V, 100.0, starts=3, confirmed_at=100.0), 100.0, "rollback"),
        (HealthState(V, 100.0, starts=1, max_starts=1), 100.0, "rollback"),
    ],
)
def test_decide(state: HealthState, now: float, verdict: HealthVerdict) -> None:
    assert decide(state, now) == verdict


def test_a_switch_opens_the_window() -> None:
    state = switched(V, 10.0, window_s=30.0)
    assert (state.version, state.deadline, state.starts, state.confirmed_at) == (V, 40.0, 0, None)


def test_a_restart_rearms_the_window_and_counts() -> None:
    state = restarted(HealthState(V, 100.0, starts=1), 5.0)  # a new process: a new clock
    assert (state.switched_at, state.starts) == (5.0, 2)
    assert decide(state, 64.0) == "keep"
    assert decide(restarted(state, 0.0), 0.0) == "rollback"


def test_the_first_confirmation_counts() -> None:
    state = confirmed(confirmed(HealthState(V, 0.0), 10.0), 90.0)
    assert state.confirmed_at == 10.0
    assert decide(state, 90.0) == "confirmed"


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (HealthState(V, 0.0), f"did not confirm {V} within 60 s"),
        (HealthState(V, 0.0, confirmed_at=75.0), "after 75 s, later than 60 s"),
        (HealthState(V, 0.0, starts=3), "restarted 3 times"),
    ],
)
def test_rollback_reason(state: HealthState, words: str) -> None:
    assert words in rollback_reason(state)
