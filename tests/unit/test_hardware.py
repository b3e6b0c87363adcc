"""device.agent.hardware on gpiozero's mock pins: hold, short press, motion, tamper openings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero import Device  # type: ignore[import-untyped]
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from device.agent.hardware import Hardware, HardwarePins, HardwareUnavailable, OpeningDetector

HELP, MOTION, TAMPER = 17, 4, 27
HOLD_S = 0.3
DEBOUNCE_S = 0.05


class Calls:
    """Counts callbacks from gpiozero's threads; ``wait_for`` polls until a count is reached."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 3.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= count, timeout)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    mock = MockFactory()
    Device.pin_factory = mock
    try:
        yield mock
    finally:
        mock.reset()
        Device.pin_factory = None


@pytest.fixture
def rig(factory: MockFactory) -> Iterator[tuple[Hardware, Calls, Calls, Calls]]:
    on_help, on_motion, on_tamper = Calls(), Calls(), Calls()
    hardware = Hardware(
        HardwarePins(help_button=HELP, motion=MOTION, tamper=TAMPER),
        HOLD_S,
        on_help=on_help,
        on_motion=on_motion,
        on_tamper=on_tamper,
        tamper_debounce_s=DEBOUNCE_S,
    )
    try:
        yield hardware, on_help, on_motion, on_tamper
    finally:
        hardware.close()


def test_held_button_triggers_exactly_once_after_hold_time(
    factory: MockFactory, rig: tuple[Hardware, Calls, Calls, Calls]
) -> None:
    _, on_help, _, _ = rig
    pin = factory.pin(HELP)
    pressed_at = time.monotonic()
    pin.drive_low()
    time.sleep(HOLD_S / 2)
    assert on_help.count == 0  # not yet: pressing alone does nothing
    assert on_help.wait_for(1)
    assert time.monotonic() - pressed_at >= HOLD_S
    time.sleep(HOLD_S * 3)  # still held, long past the hold time
    assert on_help.count == 1
    pin.drive_high()
    time.sleep(HOLD_S)
    assert on_help.count == 1
    pin.drive_low()  # a second, separate hold is a second alert
    assert on_help.wait_for(2)
    pin.drive_high()


def test_short_press_triggers_nothing(
    factory: MockFactory, rig: tuple[Hardware, Calls, Calls, Calls]
) -> None:
    _, on_help, _, _ = rig
    pin = factory.pin(HELP)
    for _ in range(3):
        pin.drive_low()
        time.sleep(HOLD_S / 3)
        pin.drive_high()
        time.sleep(HOLD_S / 3)
    time.sleep(HOLD_S * 2)
    assert on_help.count == 0


def test_motion_calls_back(factory: MockFactory, rig: tuple[Hardware, Calls, Calls, Calls]) -> None:
    hardware, _, on_motion, _ = rig
    assert hardware.motion is not None
    assert hardware.motion.device.value == 0  # blocks until the sensor's sample queue is full
    factory.pin(MOTION).drive_high()
    assert on_motion.wait_for(1)
    factory.pin(MOTION).drive_low()
    time.sleep(0.3)
    factory.pin(MOTION).drive_high()
    assert on_motion.wait_for(2)


def test_tamper_triggers_once_per_opening(
    factory: MockFactory, rig: tuple[Hardware, Calls, Calls, Calls]
) -> None:
    _, _, _, on_tamper = rig
    pin = factory.pin(TAMPER)  # pulled up: reads open at start, which is not an opening
    time.sleep(DEBOUNCE_S * 2)
    assert on_tamper.count == 0
    pin.drive_low()  # enclosure shut
    time.sleep(DEBOUNCE_S * 2)
    pin.drive_high()  # opened
    assert on_tamper.count == 1
    for _ in range(5):  # contact bounce of the same opening
        pin.drive_low()
        pin.drive_high()
    assert on_tamper.count == 1
    pin.drive_low()  # shut properly, then opened again: a new opening
    time.sleep(DEBOUNCE_S * 2)
    pin.drive_high()
    assert on_tamper.count == 2


def test_failing_callback_does_not_stop_the_next_press(factory: MockFactory) -> None:
    calls = Calls()

    def broken() -> None:
        calls()
        raise OSError("disk full")

    hardware = Hardware(HardwarePins(help_button=HELP), HOLD_S, broken, Calls(), Calls())
    try:
        pin = factory.pin(HELP)
        for expected in (1, 2):
            pin.drive_low()
            assert calls.wait_for(expected)
            pin.drive_high()
    finally:
        hardware.close()


def test_unfitted_inputs_are_absent(factory: MockFactory) -> None:
    hardware = Hardware(HardwarePins(motion=MOTION), HOLD_S, Calls(), Calls(), Calls())
    assert hardware.help_button is None and hardware.tamper is None
    assert hardware.motion is not None
    hardware.close()
    assert hardware.motion is None
    assert not HardwarePins().any_fitted


def test_pin_conflict_is_unavailable_and_leaves_nothing_open(factory: MockFactory) -> None:
    with pytest.raises(HardwareUnavailable, match="GPIO is not available"):
        Hardware(HardwarePins(help_button=HELP, tamper=HELP), HOLD_S, Calls(), Calls(), Calls())
    again = Hardware(HardwarePins(help_button=HELP), HOLD_S, Calls(), Calls(), Calls())
    again.close()


def test_no_gpio_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-pin-library")
    with pytest.raises(HardwareUnavailable):
        Hardware(HardwarePins(help_button=HELP), HOLD_S, Calls(), Calls(), Calls())
    Device.pin_factory = None


Step = Callable[[OpeningDetector], bool | None]


def _close(at: float) -> Step:
    def step(d: OpeningDetector) -> None:
        d.on_closed(at)

    return step


def _open(at: float) -> Step:
    return lambda d: d.on_opened(at)


@pytest.mark.parametrize(
    ("closed_at_start", "steps", "openings"),
    [
        pytest.param(True, [_open(5.0)], [True], id="closed-since-start-then-opened"),
        pytest.param(False, [_open(5.0)], [False], id="open-at-start-is-no-opening"),
        pytest.param(False, [_close(1.0), _open(1.2)], [True], id="shut-then-opened"),
        pytest.param(False, [_close(1.0), _open(1.05)], [False], id="too-short-a-closure"),
        pytest.param(False, [_close(1.0), _open(1.125)], [True], id="debounce-edge-counts"),
        pytest.param(
            True,
            [_open(5.0), _close(5.002), _open(5.004), _close(5.006), _open(5.008)],
            [True, False, False],
            id="bounce-is-one-opening",
        ),
        pytest.param(
            True,
            [_open(5.0), _close(6.0), _open(7.0)],
            [True, True],
            id="two-openings",
        ),
        pytest.param(True, [_open(5.0), _open(5.5)], [True, False], id="repeated-open-edge"),
        pytest.param(
            True, [_close(1.0), _open(5.0)], [True], id="repeated-close-edge-keeps-first-time"
        ),
    ],
)
def test_opening_detector(closed_at_start: bool, steps: list[Step], openings: list[bool]) -> None:
    detector = OpeningDetector(debounce_s=0.125, closed=closed_at_start)
    results = [step(detector) for step in steps]
    assert [r for r in results if r is not None] == openings
