"""Touch gestures as small pure state machines: deliberate help, quick hide, staff access.

None of them look at Kivy: the UI feeds them press/release/tap times and positions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Hold:
    """Press-and-hold: fires once when held for ``hold_s``; a short tap does nothing.

    The UI calls :func:`hold_poll` while the finger is down (and on release), so the help
    request goes out while the person is still holding, without waiting for the release."""

    hold_s: float
    pressed_at: float | None = None
    fired: bool = False


def hold_press(h: Hold, now: float) -> Hold:
    return replace(h, pressed_at=now, fired=False)


def hold_poll(h: Hold, now: float) -> tuple[Hold, bool]:
    """(new state, whether the help request fires now)."""
    if h.pressed_at is None or h.fired or now - h.pressed_at < h.hold_s:
        return h, False
    return replace(h, fired=True), True


def hold_release(h: Hold, now: float) -> tuple[Hold, bool]:
    h, fired = hold_poll(h, now)
    return replace(h, pressed_at=None, fired=False), fired


@dataclass(frozen=True)
class Taps:
    """``count`` taps within ``window_s`` seconds fire once (then the count starts again)."""

    count: int
    window_s: float
    times: tuple[float, ...] = ()


def tap(t: Taps, now: float) -> tuple[Taps, bool]:
    recent = tuple(x for x in (*t.times, now) if now - x <= t.window_s)
    if len(recent) >= t.count:
        return replace(t, times=()), True
    return replace(t, times=recent), False


def is_swipe_down(
    start: tuple[float, float], end: tuple[float, float], seconds: float, screen_height: float
) -> bool:
    """A quick, mostly vertical downward stroke over at least a quarter of the screen.
    Kivy's y axis points up, so "down" means the end's y is smaller."""
    dx, dy = end[0] - start[0], start[1] - end[1]
    return seconds <= 1.0 and dy >= screen_height / 4 and abs(dx) <= dy / 2


def in_corner(pos: tuple[float, float], size: tuple[float, float], corner_px: float) -> bool:
    """The top-left corner, where the staff gesture is made (Kivy's origin is bottom-left)."""
    return pos[0] <= corner_px and pos[1] >= size[1] - corner_px
