"""Login throttling: a pure state machine per key (one username, or one client address).

Why two keys: per username stops guessing one account's password from many addresses; per
address stops one address trying a few passwords on every account. The address limit is
higher, because a whole clinic can sit behind one NAT address.

Rules (per key, with :class:`ThrottlePolicy` numbers):

- Failures count while they come less than ``window_s`` apart; after ``window_s`` of quiet
  (counted from the end of any lockout) the count starts again at zero.
- The ``max_failures``-th failure locks the key for ``base_lockout_s``; each further failure
  (possible only after the lockout ends) doubles it, up to ``max_lockout_s``.
- While locked, an attempt is refused *without checking the password* (no oracle), and does
  not count as a failure (so refused attempts cannot stretch someone else's lockout).
- A success clears the username's state, never the address's: otherwise an attacker with one
  account could reset the address counter between guesses at other accounts.

State is plain data (:class:`ThrottleState`), stored by the shell in a table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_s: float
    base_lockout_s: float
    max_lockout_s: float


USERNAME_POLICY = ThrottlePolicy(
    max_failures=5, window_s=900.0, base_lockout_s=60.0, max_lockout_s=900.0
)
ADDRESS_POLICY = ThrottlePolicy(
    max_failures=20, window_s=900.0, base_lockout_s=60.0, max_lockout_s=900.0
)


@dataclass(frozen=True)
class ThrottleState:
    failures: int = 0
    last_failure_at: float | None = None
    locked_until: float | None = None


CLEAR = ThrottleState()


def retry_after(state: ThrottleState, now: float) -> float | None:
    """Seconds until the key may try again, or None if it may try now."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until - now
    return None


def current(state: ThrottleState, now: float, policy: ThrottlePolicy) -> ThrottleState:
    """The state with stale failures forgotten (quiet for ``window_s`` after the last event)."""
    if state.last_failure_at is None:
        return CLEAR
    quiet_since = max(state.last_failure_at, state.locked_until or state.last_failure_at)
    if now - quiet_since >= policy.window_s:
        return CLEAR
    return state


def lockout_s(failures: int, policy: ThrottlePolicy) -> float:
    """How long the ``failures``-th failure locks the key (0: not locked)."""
    if failures < policy.max_failures:
        return 0.0
    doublings = failures - policy.max_failures
    # Cap the exponent before computing: 2**1000 is fine for int, but not for a float.
    return min(policy.max_lockout_s, policy.base_lockout_s * float(2 ** min(doublings, 32)))


def record_failure(state: ThrottleState, now: float, policy: ThrottlePolicy) -> ThrottleState:
    """The state after a failed attempt at ``now`` (call only when :func:`retry_after` is None)."""
    failures = current(state, now, policy).failures + 1
    lock = lockout_s(failures, policy)
    return ThrottleState(
        failures=failures, last_failure_at=now, locked_until=now + lock if lock else None
    )


@dataclass(frozen=True)
class Gate:
    """Whether a login attempt may be checked at all, and if not, for how long not."""

    open: bool
    retry_after_s: float = 0.0


def login_gate(by_user: ThrottleState, by_address: ThrottleState, now: float) -> Gate:
    """Open unless the username or the address is locked (then: the longer wait)."""
    waits = [w for w in (retry_after(by_user, now), retry_after(by_address, now)) if w]
    return Gate(open=not waits, retry_after_s=max(waits, default=0.0))
