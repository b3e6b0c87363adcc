"""Login throttling as a table: (failures so far, when) → state and how long to wait."""

from __future__ import annotations

import pytest

from fleet_manager.accounts.throttle import (
    ADDRESS_POLICY,
    CLEAR,
    USERNAME_POLICY,
    Gate,
    ThrottlePolicy,
    ThrottleState,
    current,
    lockout_s,
    login_gate,
    record_failure,
    retry_after,
)

T0 = 1_800_000_000.0
P = USERNAME_POLICY


def _fail_at(times: list[float], policy: ThrottlePolicy = P) -> ThrottleState:
    state = CLEAR
    for t in times:
        assert retry_after(state, t) is None, f"attempt at {t} should have been refused"
        state = record_failure(state, t, policy)
    return state


@pytest.mark.parametrize(
    ("offsets", "failures", "locked_for"),
    [
        pytest.param([0], 1, None, id="one-failure"),
        pytest.param([0, 1, 2, 3], 4, None, id="four-failures-not-locked"),
        pytest.param([0, 1, 2, 3, 4], 5, 60.0, id="fifth-locks-60s"),
        pytest.param([0, 1, 2, 3, 4, 64], 6, 120.0, id="sixth-after-lock-doubles"),
        pytest.param([0, 1, 2, 3, 4, 64, 184], 7, 240.0, id="seventh-doubles-again"),
        pytest.param(
            [0, 1, 2, 3, 4, 64, 184, 424, 904, 1804], 10, 900.0, id="capped-at-15-minutes"
        ),
        pytest.param([0, 1, 2, 3, 903], 1, None, id="quiet-for-15-minutes-forgets"),
        pytest.param([0, 100, 200, 300, 400], 5, 60.0, id="spaced-but-within-window"),
        pytest.param([0, 1, 2, 3, 4, 64 + 900], 1, None, id="quiet-after-lockout-forgets"),
        pytest.param([0, 1, 2, 3, 4, 64 + 899], 6, 120.0, id="just-short-of-quiet-counts"),
    ],
)
def test_failures_lock_exponentially(
    offsets: list[float], failures: int, locked_for: float | None
) -> None:
    state = _fail_at([T0 + o for o in offsets])
    last = T0 + offsets[-1]
    assert state.failures == failures
    assert retry_after(state, last) == locked_for


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        pytest.param(4, 0.0, id="below-threshold"),
        pytest.param(5, 60.0, id="threshold"),
        pytest.param(8, 480.0, id="three-doublings"),
        pytest.param(9, 900.0, id="cap"),
        pytest.param(10_000, 900.0, id="huge-count-no-overflow"),
    ],
)
def test_lockout_durations(failures: int, seconds: float) -> None:
    assert lockout_s(failures, P) == seconds


def test_address_limit_is_higher_for_shared_nat() -> None:
    state = _fail_at([T0 + i for i in range(19)], ADDRESS_POLICY)
    assert retry_after(state, T0 + 19) is None
    state = record_failure(state, T0 + 19, ADDRESS_POLICY)
    assert retry_after(state, T0 + 19) == 60.0


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        pytest.param(CLEAR, T0, CLEAR, id="clear-stays-clear"),
        pytest.param(
            ThrottleState(3, T0, None), T0 + 899, ThrottleState(3, T0, None), id="within-window"
        ),
        pytest.param(ThrottleState(3, T0, None), T0 + 900, CLEAR, id="window-elapsed"),
        pytest.param(
            ThrottleState(5, T0, T0 + 60),
            T0 + 900,
            ThrottleState(5, T0, T0 + 60),
            id="window-counts-from-lock-end",
        ),
        pytest.param(ThrottleState(5, T0, T0 + 60), T0 + 960, CLEAR, id="quiet-after-lock-end"),
    ],
)
def test_current_forgets_stale_failures(
    state: ThrottleState, now: float, expected: ThrottleState
) -> None:
    assert current(state, now, P) == expected


LOCKED = ThrottleState(5, T0, T0 + 60)


@pytest.mark.parametrize(
    ("by_user", "by_address", "now", "gate"),
    [
        pytest.param(CLEAR, CLEAR, T0, Gate(True), id="both-clear"),
        pytest.param(LOCKED, CLEAR, T0 + 10, Gate(False, 50.0), id="user-locked"),
        pytest.param(CLEAR, LOCKED, T0 + 10, Gate(False, 50.0), id="address-locked"),
        pytest.param(
            LOCKED,
            ThrottleState(20, T0, T0 + 300),
            T0 + 10,
            Gate(False, 290.0),
            id="both-locked-longer-wait",
        ),
        pytest.param(LOCKED, CLEAR, T0 + 60, Gate(True), id="lock-ends-exclusive"),
    ],
)
def test_login_gate(
    by_user: ThrottleState, by_address: ThrottleState, now: float, gate: Gate
) -> None:
    assert login_gate(by_user, by_address, now) == gate
