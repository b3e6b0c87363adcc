"""Physical inputs end to end: a held button and an opened enclosure (mock pins) on a real
in-process kiosk agent → real fleet broker and fleet manager → responder broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from device.agent.agent import AgentSettings, KioskAgent
from device.agent.hardware import Hardware, HardwarePins
from tests.support.live import LiveSystem

HELP_PIN, TAMPER_PIN = 17, 27
HOLD_S = 0.4


@pytest.fixture
def system(tmp_path: Path) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path / "system")
    try:
        live.start(kiosks=False)
        yield live
    finally:
        live.stop()


@pytest.fixture
def agent(system: LiveSystem) -> Iterator[KioskAgent]:
    kiosk = KioskAgent(
        system.layout.kiosk_dirs["kiosk-a1"],
        AgentSettings(heartbeat_interval_s=1.0, backoff_cap_s=1.0),
    )
    kiosk.start()
    try:
        assert kiosk.wait_connected(15)
        yield kiosk
    finally:
        kiosk.stop()


class Raised:
    """Alert ids raised by the hardware callbacks, in order."""

    def __init__(self, agent: KioskAgent) -> None:
        self.agent = agent
        self.ids: list[str] = []
        self._cond = threading.Condition()

    def help(self) -> None:
        self._record(self.agent.raise_alert("help", "button"))

    def tamper(self) -> None:
        self._record(self.agent.raise_alert("tamper", "sensor"))

    def _record(self, alert_id: str) -> None:
        with self._cond:
            self.ids.append(alert_id)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.ids) >= count, timeout), self.ids
            return list(self.ids)


def _wait_confirmed(agent: KioskAgent, alert_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while agent.alert_state(alert_id) != "confirmed":
        assert time.monotonic() < deadline, f"{alert_id} is {agent.alert_state(alert_id)}"
        time.sleep(0.05)


def test_held_button_and_opened_enclosure_reach_the_responder(
    system: LiveSystem, agent: KioskAgent
) -> None:
    pins = MockFactory()
    raised = Raised(agent)
    hardware = Hardware(
        HardwarePins(help_button=HELP_PIN, tamper=TAMPER_PIN),
        HOLD_S,
        on_help=raised.help,
        on_motion=lambda: None,
        on_tamper=raised.tamper,
        pin_factory=pins,
        tamper_debounce_s=0.05,
    )
    recorder = system.recorders["east"]
    try:
        # One long hold: exactly one alert, however long the button stays down.
        pins.pin(HELP_PIN).drive_low()
        [help_id] = raised.wait_for(1)
        time.sleep(HOLD_S * 4)
        pins.pin(HELP_PIN).drive_high()
        incident = recorder.wait_for_alert(help_id)
        assert incident.kind == "help"
        assert incident.device_id == "kiosk-a1"
        assert incident.location == "a-waiting"
        assert incident.drill is False
        _wait_confirmed(agent, help_id)  # after the fleet manager's commit
        row = system.alert_row(help_id)
        assert row is not None and row.source == "button" and row.kind == "help"

        # The enclosure: shut, then opened (with contact bounce): one tamper incident.
        tamper = pins.pin(TAMPER_PIN)
        tamper.drive_low()
        time.sleep(0.1)
        tamper.drive_high()
        tamper.drive_low()
        tamper.drive_high()
        ids = raised.wait_for(2)
        tamper_id = ids[1]
        incident = recorder.wait_for_alert(tamper_id)
        assert incident.kind == "tamper"
        assert incident.location == "a-waiting"
        _wait_confirmed(agent, tamper_id)
        row = system.alert_row(tamper_id)
        assert row is not None and row.source == "sensor" and row.kind == "tamper"

        time.sleep(1.0)
        assert raised.ids == [help_id, tamper_id]
        from_kiosk = {str(i.alert_id) for i in recorder.received if i.device_id == "kiosk-a1"}
        assert from_kiosk == {help_id, tamper_id}
    finally:
        hardware.close()
