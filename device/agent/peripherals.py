"""Everything beside the agent that touches the kiosk's hardware, started with one call.

``beacon kiosk run`` (the composition root) calls :func:`start_peripherals` after starting
the agent and :meth:`Peripherals.stop` before stopping it:

- the GPIO inputs: help button → ``agent.raise_alert("help", "button")``, tamper switch →
  ``agent.raise_alert("tamper", "sensor")``, motion → ``on_motion`` (the UI wakes the
  screen). No usable GPIO (a laptop, a CI runner, a Pi without a pin library) is logged once
  and the kiosk runs without them: the touch screen's help control still works.
- the SMS fallback loop, if ``[sms] enabled``.

The display schedule is not applied here: the UI owns the screen and calls
:func:`device.agent.display_schedule.screen_should_be_on` and
:func:`device.agent.display_power.apply_power`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.agent.agent import KioskAgent
from device.agent.device_config import DeviceConfig
from device.agent.hardware import Hardware, HardwareUnavailable
from device.agent.sms_fallback import SmsFallback
from transport.log import get_logger

log = get_logger("device.peripherals")


@dataclass
class Peripherals:
    hardware: Hardware | None
    sms: SmsFallback | None

    def stop(self) -> None:
        """Stop accepting presses first, then the SMS loop (it may finish a send in progress)."""
        if self.hardware is not None:
            self.hardware.close()
            self.hardware = None
        if self.sms is not None:
            self.sms.stop()
            self.sms = None


def start_peripherals(
    agent: KioskAgent,
    config: DeviceConfig,
    state_dir: Path,
    on_motion: Callable[[], None] | None = None,
) -> Peripherals:
    """Start the fitted inputs and the SMS fallback; never fails for missing hardware."""
    hardware = _start_hardware(agent, config, on_motion)
    sms: SmsFallback | None = None
    if config.sms.enabled:
        sms = SmsFallback(agent, config.sms, state_dir)
        sms.start()
    else:
        log.info("sms_fallback_disabled", device=agent.device_id)
    return Peripherals(hardware=hardware, sms=sms)


def _start_hardware(
    agent: KioskAgent, config: DeviceConfig, on_motion: Callable[[], None] | None
) -> Hardware | None:
    settings = config.hardware
    if not settings.pins.any_fitted:
        log.info("hardware_none_fitted", device=agent.device_id)
        return None

    def help_held() -> None:
        agent.raise_alert("help", "button")

    def enclosure_opened() -> None:
        agent.raise_alert("tamper", "sensor")

    def motion() -> None:
        if on_motion is not None:
            on_motion()

    try:
        # gpiozero warns once per pin library it fails to load; one log line says it all.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Hardware(
                settings.pins,
                settings.hold_s,
                on_help=help_held,
                on_motion=motion,
                on_tamper=enclosure_opened,
                tamper_debounce_s=settings.tamper_debounce_s,
            )
    except HardwareUnavailable as exc:
        log.warning("gpio_unavailable", device=agent.device_id, error=str(exc))
        return None
