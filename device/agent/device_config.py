"""The kiosk's local peripheral settings: ``STATE_DIR/kiosk.toml`` (optional).

Without the file every default applies: no GPIO inputs fitted, SMS fallback off, no display
schedule. Example::

    [hardware]                     # BCM pin numbers; leave a pin out if it is not fitted
    help_button_pin = 17
    motion_pin = 4
    tamper_pin = 27
    hold_seconds = 3.0             # press-and-hold time of the help button

    [sms]
    enabled = true
    port = "/dev/ttyUSB2"          # the modem's AT command port
    baud = 115200
    on_call_number = "+441632960961"
    fallback_after_seconds = 30    # broker out of reach this long with an alert pending
    # message = "Beacon alert: {what} at {location_name} ({facility}), {time}. Ref {ref}."

    [display]
    motion_wake_seconds = 120
    [[display.windows]]
    days = "mon-fri"
    on = "07:00"
    off = "19:30"

Sections belong to their components. This module reads ``[hardware]``, ``[sms]`` and
``[display]`` and is strict about their keys (a typo is an error naming the file and field,
:class:`DeviceConfigError`). The ``[staff]`` section (the staff panel PIN) is owned and read by
the UI; this module never looks at it, nor at any other section.

One exception to strictness: the display windows are operator input that degrades (see
:func:`device.agent.display_schedule.parse_schedule`): a bad window leaves the display alone
and is reported in :attr:`DisplaySettings.warnings` instead of stopping the kiosk.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.agent.display_schedule import DisplayWindow, parse_schedule
from device.agent.hardware import HardwarePins
from device.agent.modem import valid_number
from device.agent.sms_fallback import SmsSettings
from device.agent.sms_policy import template_problems
from transport.log import get_logger

log = get_logger("device.config")

CONFIG_FILE = "kiosk.toml"
BCM_PINS = range(28)  # GPIO0 … GPIO27 on the 40-pin header


class DeviceConfigError(ValueError):
    """``kiosk.toml`` cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class HardwareSettings:
    pins: HardwarePins = field(default_factory=HardwarePins)
    hold_s: float = 3.0
    tamper_debounce_s: float = 0.1


@dataclass(frozen=True)
class DisplaySettings:
    windows: tuple[DisplayWindow, ...] = ()
    motion_wake_s: float = 120.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceConfig:
    hardware: HardwareSettings = field(default_factory=HardwareSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    source: Path | None = None  # the file read, or None for all defaults


def load_device_config(state_dir: Path) -> DeviceConfig:
    """Read ``state_dir/kiosk.toml``; defaults if it does not exist."""
    path = state_dir / CONFIG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return DeviceConfig()
    except OSError as exc:
        raise DeviceConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DeviceConfigError(f"{path}: not valid TOML ({exc})") from None
    config = parse_device_config(data, str(path))
    for warning in config.display.warnings:
        log.warning("display_schedule_problem", problem=warning)
    return DeviceConfig(config.hardware, config.sms, config.display, source=path)


def parse_device_config(data: Mapping[str, Any], source: str = CONFIG_FILE) -> DeviceConfig:
    """The parsed TOML document → settings; :class:`DeviceConfigError` names ``source``."""
    return DeviceConfig(
        hardware=_hardware(_Section(data, "hardware", source)),
        sms=_sms(_Section(data, "sms", source)),
        display=_display(_Section(data, "display", source)),
    )


class _Section:
    """One table of the file, with typed getters that raise errors naming the field."""

    def __init__(self, data: Mapping[str, Any], name: str, source: str) -> None:
        self.name = name
        self.source = source
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            raise DeviceConfigError(f"{source}: [{name}] must be a table")
        self.values: Mapping[str, Any] = value

    def error(self, key: str, message: str) -> DeviceConfigError:
        return DeviceConfigError(f"{self.source}: [{self.name}] {key}: {message}")

    def only(self, *keys: str) -> None:
        unknown = sorted(set(self.values) - set(keys))
        if unknown:
            raise self.error(unknown[0], f"unknown setting (known: {', '.join(keys)})")

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number of seconds, not {value!r}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low:g} and {high:g}, not {value:g}")
        return float(value)

    def integer(self, key: str, default: int | None, allowed: range) -> int | None:
        value = self.values.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, not {value!r}")
        if value not in allowed:
            raise self.error(key, f"must be {allowed.start}…{allowed.stop - 1}, not {value}")
        return value

    def text(self, key: str, default: str) -> str:
        value = self.values.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"must be text in quotes, not {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value


def _hardware(section: _Section) -> HardwareSettings:
    section.only(
        "help_button_pin", "motion_pin", "tamper_pin", "hold_seconds", "tamper_debounce_seconds"
    )
    pins = HardwarePins(
        help_button=section.integer("help_button_pin", None, BCM_PINS),
        motion=section.integer("motion_pin", None, BCM_PINS),
        tamper=section.integer("tamper_pin", None, BCM_PINS),
    )
    named = {
        "help_button_pin": pins.help_button,
        "motion_pin": pins.motion,
        "tamper_pin": pins.tamper,
    }
    seen: dict[int, str] = {}
    for key, pin in named.items():
        if pin is None:
            continue
        if pin in seen:
            raise section.error(key, f"GPIO{pin} is already the {seen[pin]}")
        seen[pin] = key
    return HardwareSettings(
        pins=pins,
        hold_s=section.number("hold_seconds", HardwareSettings.hold_s, 0.5, 30.0),
        tamper_debounce_s=section.number(
            "tamper_debounce_seconds", HardwareSettings.tamper_debounce_s, 0.0, 5.0
        ),
    )


def _sms(section: _Section) -> SmsSettings:
    section.only(
        "enabled",
        "port",
        "baud",
        "on_call_number",
        "fallback_after_seconds",
        "message",
        "retry_seconds",
    )
    defaults = SmsSettings()
    enabled = section.flag("enabled", defaults.enabled)
    number = section.text("on_call_number", defaults.on_call_number).replace(" ", "")
    if number and not valid_number(number):
        raise section.error(
            "on_call_number", f"{number!r} is not a phone number (e.g. '+441632960961')"
        )
    if enabled and not number:
        raise section.error("on_call_number", "is required when enabled = true")
    port = section.text("port", defaults.port)
    if enabled and not port.strip():
        raise section.error("port", "is required when enabled = true")
    baud = section.integer("baud", defaults.baud, range(300, 4_000_001))
    template = section.text("message", defaults.template)
    problems = template_problems(template)
    if problems:
        raise section.error("message", "; ".join(problems))
    retry = section.values.get("retry_seconds", list(defaults.retry_s))
    if (
        not isinstance(retry, list)
        or not retry
        or not all(isinstance(r, int | float) and not isinstance(r, bool) and r > 0 for r in retry)
    ):
        raise section.error("retry_seconds", f"must be a list of positive seconds, not {retry!r}")
    return SmsSettings(
        enabled=enabled,
        port=port.strip(),
        baud=baud if baud is not None else defaults.baud,
        on_call_number=number,
        fallback_after_s=section.number(
            "fallback_after_seconds", defaults.fallback_after_s, 0.0, 24 * 3600.0
        ),
        template=template,
        retry_s=tuple(float(r) for r in retry),
        command_timeout_s=defaults.command_timeout_s,
        send_timeout_s=defaults.send_timeout_s,
    )


def _display(section: _Section) -> DisplaySettings:
    section.only("motion_wake_seconds", "windows")
    windows: tuple[DisplayWindow, ...] = ()
    warnings: list[str] = []
    if "windows" in section.values:
        windows, warnings = parse_schedule(section.values["windows"])
    return DisplaySettings(
        windows=windows,
        motion_wake_s=section.number(
            "motion_wake_seconds", DisplaySettings.motion_wake_s, 0.0, 24 * 3600.0
        ),
        warnings=tuple(f"{section.source}: [display] {w}" for w in warnings),
    )
