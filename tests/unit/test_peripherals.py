"""device.agent.peripherals: the one-call wiring, with a stand-in agent and mock pins."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from gpiozero import Device  # type: ignore[import-untyped]
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from device.agent.agent import KioskAgent
from device.agent.device_config import DeviceConfig, HardwareSettings
from device.agent.hardware import HardwarePins
from device.agent.identity import BrokerAddress, DeviceProfile
from device.agent.outbox_policy import OutboxEntry
from device.agent.peripherals import start_peripherals
from device.agent.sms_fallback import SmsSettings

PINS = HardwarePins(help_button=17, motion=4, tamper=27)
PROFILE = DeviceProfile(
    device_id="kiosk-t1",
    region="east",
    facility="clinic-a",
    location="a-waiting",
    broker=BrokerAddress(host="127.0.0.1", port=1),
    command_key="unused",
)


class StandInAgent:
    device_id = "kiosk-t1"

    def __init__(self) -> None:
        self.profile = PROFILE
        self.counters: Counter[str] = Counter()
        self.alerts: list[tuple[str, str]] = []
        self.raised = threading.Semaphore(0)

    def raise_alert(self, kind: str, source: str) -> str:
        self.alerts.append((kind, source))
        self.raised.release()
        return f"alert-{len(self.alerts)}"

    def pending_alerts(self) -> list[OutboxEntry]:
        return []

    def seconds_disconnected(self) -> float | None:
        return None


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = None


def _config(pins: HardwarePins = PINS, sms: SmsSettings | None = None) -> DeviceConfig:
    return DeviceConfig(
        hardware=HardwareSettings(pins=pins, hold_s=0.5, tamper_debounce_s=0.0),
        sms=sms or SmsSettings(),
    )


def test_nothing_fitted_nothing_started(tmp_path: Path) -> None:
    agent = StandInAgent()
    peripherals = start_peripherals(cast(KioskAgent, agent), DeviceConfig(), tmp_path)
    assert peripherals.hardware is None and peripherals.sms is None
    peripherals.stop()


def test_no_gpio_is_logged_and_the_kiosk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-pin-library")
    peripherals = start_peripherals(cast(KioskAgent, StandInAgent()), _config(), tmp_path)
    assert peripherals.hardware is None
    assert len(recwarn) == 0
    peripherals.stop()
    Device.pin_factory = None


def test_inputs_are_wired_to_the_agent(tmp_path: Path, mock_pins: MockFactory) -> None:
    agent = StandInAgent()
    motions = threading.Semaphore(0)
    peripherals = start_peripherals(
        cast(KioskAgent, agent), _config(), tmp_path, on_motion=motions.release
    )
    try:
        assert peripherals.hardware is not None
        mock_pins.pin(17).drive_low()
        assert agent.raised.acquire(timeout=3)
        mock_pins.pin(17).drive_high()
        mock_pins.pin(27).drive_low()
        mock_pins.pin(27).drive_high()
        assert agent.raised.acquire(timeout=3)
        assert agent.alerts == [("help", "button"), ("tamper", "sensor")]
        motion = peripherals.hardware.motion
        assert motion is not None and motion.device.value == 0
        mock_pins.pin(4).drive_high()
        assert motions.acquire(timeout=3)
    finally:
        peripherals.stop()
    assert peripherals.hardware is None


def test_sms_fallback_runs_when_enabled(tmp_path: Path) -> None:
    sms = SmsSettings(enabled=True, on_call_number="+15550100", port="/dev/no-such-modem")
    peripherals = start_peripherals(
        cast(KioskAgent, StandInAgent()), _config(HardwarePins(), sms), tmp_path
    )
    try:
        assert peripherals.sms is not None
        assert peripherals.hardware is None
    finally:
        peripherals.stop()
    assert peripherals.sms is None
