"""device/ui/gestures.py and device/ui/staff_access.py as tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.ui import gestures as g
from device.ui import staff_access as sa


@pytest.mark.parametrize(
    ("held_for", "fires"),
    [(0.1, False), (1.99, False), (2.0, True), (5.0, True)],
)
def test_hold_fires_only_after_the_hold_time(held_for: float, fires: bool) -> None:
    h = g.hold_press(g.Hold(hold_s=2.0), 10.0)
    _, fired = g.hold_release(h, 10.0 + held_for)
    assert fired is fires


def test_hold_fires_once_while_held_and_not_again_on_release() -> None:
    h = g.hold_press(g.Hold(hold_s=2.0), 0.0)
    h, fired = g.hold_poll(h, 1.0)
    assert not fired
    h, fired = g.hold_poll(h, 2.1)
    assert fired
    h, fired = g.hold_poll(h, 3.0)
    assert not fired
    h, fired = g.hold_release(h, 4.0)
    assert not fired
    _, fired = g.hold_poll(h, 9.0)  # released: nothing more
    assert not fired


@pytest.mark.parametrize(
    ("times", "fires_at"),
    [
        ((0.0, 0.5, 1.0), 2),
        ((0.0, 0.5, 2.0), None),  # too slow
        ((0.0, 1.0, 1.6, 2.0), 3),  # the first tap fell out of the window
        ((0.0,), None),
    ],
)
def test_triple_tap(times: tuple[float, ...], fires_at: int | None) -> None:
    t = g.Taps(count=3, window_s=1.5)
    fired_at = None
    for i, now in enumerate(times):
        t, fired = g.tap(t, now)
        if fired and fired_at is None:
            fired_at = i
    assert fired_at == fires_at


@pytest.mark.parametrize(
    ("start", "end", "seconds", "expected"),
    [
        ((400, 400), (400, 200), 0.3, True),
        ((400, 400), (400, 300), 0.3, False),  # too short
        ((400, 400), (600, 250), 0.3, False),  # too sideways
        ((400, 200), (400, 400), 0.3, False),  # upwards
        ((400, 400), (400, 100), 2.0, False),  # too slow
    ],
)
def test_swipe_down(
    start: tuple[float, float], end: tuple[float, float], seconds: float, expected: bool
) -> None:
    assert g.is_swipe_down(start, end, seconds, screen_height=480) is expected


@pytest.mark.parametrize(
    ("pos", "expected"),
    [((10, 470), True), ((90, 470), False), ((10, 300), False)],
)
def test_staff_corner(pos: tuple[float, float], expected: bool) -> None:
    assert g.in_corner(pos, (800, 480), 80) is expected


def test_pin_gate_locks_after_five_failures_and_refuses_even_the_right_pin() -> None:
    gate = sa.PinGate()
    outcomes = []
    for i in range(5):
        gate, outcome = sa.attempt(gate, False, float(i))
        outcomes.append(outcome)
    assert outcomes == ["denied"] * 4 + ["locked"]
    gate, outcome = sa.attempt(gate, True, 10.0)
    assert outcome == "locked"
    gate, outcome = sa.attempt(gate, True, 4.0 + sa.LOCKOUT_S + 1)
    assert outcome == "open"
    assert gate == sa.PinGate()


def test_pin_is_stored_hashed_and_checked(tmp_path: Path) -> None:
    sa.save_pin_hash(tmp_path, sa.hash_pin("2468"))
    text = (tmp_path / sa.STAFF_FILE).read_text()
    assert "2468" not in text
    assert (tmp_path / sa.STAFF_FILE).stat().st_mode & 0o777 == 0o600
    stored = sa.load_pin_hash(tmp_path)
    assert sa.check_pin(stored, "2468")
    assert not sa.check_pin(stored, "2469")
    assert not sa.check_pin(None, "2468")


@pytest.mark.parametrize("pin", ["123", "abcd", "1234567890123", ""])
def test_bad_pins_are_refused(pin: str) -> None:
    with pytest.raises(ValueError, match="4 to 12 digits"):
        sa.hash_pin(pin)
