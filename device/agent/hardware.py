"""The kiosk's physical inputs through gpiozero: help button, motion sensor, tamper switch.

Thin adapters: each turns pin edges into one plain callback and decides nothing else, except
the tamper switch's debounce (a small pure state machine, :class:`OpeningDetector`, so it can
be tested without pins). Wiring, all BCM numbers, each input to ground or 3V3 as noted:

- help button: normally open, pin to ground (internal pull-up). Pressing alone does nothing;
  holding it for ``hold_s`` calls back once, however long it is then held (deliberate intent,
  no accidental alerts from a leaning shoulder).
- motion sensor: a PIR module's output, high while it sees movement (internal pull-down).
- tamper switch: closed (pin to ground) while the enclosure is shut, open when it is opened.
  Each opening calls back once; contact bounce within ``debounce_s`` is not a new opening.

Callbacks run on gpiozero's threads. An exception from one is logged and dropped here, so a
failing callback cannot kill the thread that watches the next press.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import Button  # type: ignore[import-untyped]
from gpiozero import MotionSensor as GpioMotionSensor
from gpiozero.exc import GPIOZeroError  # type: ignore[import-untyped]

from transport.log import get_logger

log = get_logger("device.hardware")

Callback = Callable[[], object]


class HardwareUnavailable(RuntimeError):
    """No usable GPIO (not a Pi, no pin library, or a pin is taken): the kiosk runs without."""


@dataclass(frozen=True)
class HardwarePins:
    """BCM pin numbers; ``None`` = not fitted on this kiosk."""

    help_button: int | None = None
    motion: int | None = None
    tamper: int | None = None

    @property
    def any_fitted(self) -> bool:
        return any(p is not None for p in (self.help_button, self.motion, self.tamper))


def _guarded(name: str, callback: Callback) -> Callable[[], None]:
    def call() -> None:
        try:
            callback()
        except Exception:
            log.exception("hardware_callback_failed", input=name)

    return call


class HelpButton:
    """A press-and-hold button: ``on_held`` once per hold of at least ``hold_s`` seconds."""

    def __init__(self, pin: int, hold_s: float, on_held: Callback, pin_factory: Any = None) -> None:
        self.device = Button(
            pin, pull_up=True, hold_time=hold_s, hold_repeat=False, pin_factory=pin_factory
        )
        call = _guarded("help_button", on_held)

        def held() -> None:
            log.info("help_button_held", pin=pin, hold_s=hold_s)
            call()

        self.device.when_held = held

    def close(self) -> None:
        self.device.close()


class MotionSensor:
    """``on_motion`` each time the sensor goes from still to moving."""

    def __init__(self, pin: int, on_motion: Callback, pin_factory: Any = None) -> None:
        self.device = GpioMotionSensor(pin, pull_up=False, pin_factory=pin_factory)
        self.device.when_motion = _guarded("motion", on_motion)

    def close(self) -> None:
        self.device.close()


@dataclass
class OpeningDetector:
    """Tamper switch debounce: which edges are a real opening of the enclosure.

    An opening counts if the switch had been closed for at least ``debounce_s`` before it.
    So the chatter of one opening (open, closed for 2 ms, open …) is one opening, and an
    enclosure shut properly and opened again is a new one. A switch that is already open at
    start-up is not an opening (there is no edge to see); :class:`TamperSwitch` logs it.
    """

    debounce_s: float
    closed: bool
    closed_at: float | None = None  # None: closed since before we started watching

    def on_closed(self, now: float) -> None:
        if not self.closed:
            self.closed = True
            self.closed_at = now

    def on_opened(self, now: float) -> bool:
        """Record an opening edge; True if it is a new opening (call back)."""
        if not self.closed:
            return False
        self.closed = False
        return self.closed_at is None or now - self.closed_at >= self.debounce_s


class TamperSwitch:
    """``on_opened`` once per opening of the enclosure (see :class:`OpeningDetector`)."""

    def __init__(
        self,
        pin: int,
        on_opened: Callback,
        debounce_s: float = 0.1,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = Button(pin, pull_up=True, pin_factory=pin_factory)
        self.pin = pin
        self._clock = clock
        self._lock = threading.Lock()
        self._call = _guarded("tamper", on_opened)
        self.detector = OpeningDetector(debounce_s=debounce_s, closed=bool(self.device.is_pressed))
        if not self.detector.closed:
            log.warning("tamper_open_at_start", pin=pin)
        self.device.when_pressed = self._closed
        self.device.when_released = self._opened

    def _closed(self) -> None:
        with self._lock:
            self.detector.on_closed(self._clock())

    def _opened(self) -> None:
        with self._lock:
            opening = self.detector.on_opened(self._clock())
        if opening:
            log.warning("enclosure_opened", pin=self.pin)
            self._call()

    def close(self) -> None:
        self.device.close()


class Hardware:
    """Every fitted input, started together and closed together.

    Raises :class:`HardwareUnavailable` if GPIO cannot be used (nothing is left open then).
    Inputs whose pin is ``None`` are simply absent.
    """

    def __init__(
        self,
        pins: HardwarePins,
        hold_s: float,
        on_help: Callback,
        on_motion: Callback,
        on_tamper: Callback,
        pin_factory: Any = None,
        tamper_debounce_s: float = 0.1,
    ) -> None:
        self.pins = pins
        self.help_button: HelpButton | None = None
        self.motion: MotionSensor | None = None
        self.tamper: TamperSwitch | None = None
        try:
            if pins.help_button is not None:
                self.help_button = HelpButton(pins.help_button, hold_s, on_help, pin_factory)
            if pins.motion is not None:
                self.motion = MotionSensor(pins.motion, on_motion, pin_factory)
            if pins.tamper is not None:
                self.tamper = TamperSwitch(
                    pins.tamper, on_tamper, tamper_debounce_s, pin_factory=pin_factory
                )
        except (GPIOZeroError, OSError) as exc:
            self.close()
            raise HardwareUnavailable(f"GPIO is not available: {exc}") from exc
        log.info(
            "hardware_started",
            help_button=pins.help_button,
            motion=pins.motion,
            tamper=pins.tamper,
            hold_s=hold_s,
        )

    def close(self) -> None:
        for device in (self.help_button, self.motion, self.tamper):
            if device is not None:
                device.close()
        self.help_button = None
        self.motion = None
        self.tamper = None
