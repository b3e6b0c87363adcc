"""After a switch, is the new bundle healthy? Keep waiting, roll back, or confirmed (pure).

A signed, valid bundle can still fail on a kiosk: a font the UI cannot open, a slide that makes
it crash. So a switch starts a health window (60 s by default) in which the UI must say it
loaded and showed the new bundle; without that word the kiosk goes back to its last good
content. A UI that crashes restarts the whole process, which would restart the window for ever,
so restarts are counted too: after ``max_starts`` restarts without a confirmation, it rolls
back at once.

Times are readings of one clock (the caller's, normally ``time.monotonic``); the window is
re-armed at each process start because such a clock does not survive a restart. Edge cases:
a confirmation exactly at the deadline counts; a confirmation after it does not (the UI was
too slow, or the word arrived after a crash loop); a clock reading before ``switched_at``
means no time has passed yet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

HealthVerdict = Literal["keep", "rollback", "confirmed"]

DEFAULT_WINDOW_S = 60.0
DEFAULT_MAX_STARTS = 3


@dataclass(frozen=True)
class HealthState:
    version: str
    switched_at: float  # clock reading when the window opened (at the switch, or at a start)
    window_s: float = DEFAULT_WINDOW_S
    confirmed_at: float | None = None
    starts: int = 0  # process starts since the switch without a confirmation
    max_starts: int = DEFAULT_MAX_STARTS

    @property
    def deadline(self) -> float:
        return self.switched_at + self.window_s


def decide(state: HealthState, now: float) -> HealthVerdict:
    """``confirmed`` once the UI confirmed within the window; ``rollback`` when the window
    closed without that (or the process restarted too often); ``keep`` waiting otherwise."""
    if state.starts >= state.max_starts:
        return "rollback"
    if state.confirmed_at is not None:
        return "confirmed" if state.confirmed_at <= state.deadline else "rollback"
    return "keep" if now < state.deadline else "rollback"


def rollback_reason(state: HealthState) -> str:
    """Why :func:`decide` said ``rollback``, for the ``content_rolled_back`` report."""
    if state.starts >= state.max_starts:
        return f"the kiosk restarted {state.starts} times without showing {state.version}"
    if state.confirmed_at is not None:
        late = state.confirmed_at - state.switched_at
        return (
            f"the UI confirmed {state.version} after {late:.0f} s, later than {state.window_s:g} s"
        )
    return f"the UI did not confirm {state.version} within {state.window_s:g} s"


def switched(
    version: str,
    now: float,
    window_s: float = DEFAULT_WINDOW_S,
    max_starts: int = DEFAULT_MAX_STARTS,
) -> HealthState:
    """The state right after switching to ``version``."""
    return HealthState(version, now, window_s, max_starts=max_starts)


def restarted(state: HealthState, now: float) -> HealthState:
    """The state after a process start: the window re-armed, one more start counted."""
    return replace(state, switched_at=now, confirmed_at=None, starts=state.starts + 1)


def confirmed(state: HealthState, now: float) -> HealthState:
    """The state once the UI says it showed the bundle (the first word counts)."""
    return state if state.confirmed_at is not None else replace(state, confirmed_at=now)
