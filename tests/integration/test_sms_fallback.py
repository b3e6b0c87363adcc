"""The SMS fallback on a real kiosk agent whose broker is out of reach, with the fake modem on
a pseudo-terminal: one text per alert (across restarts), retries, no modem, and the alert still
delivered over MQTT when the network is back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from device.agent.agent import AgentSettings, KioskAgent
from device.agent.sms_fallback import SmsFallback, SmsSettings
from tests.support.fake_modem import FakeModem
from tests.support.live import LiveSystem
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

DEVICE = "kiosk-a1"
ON_CALL = "+15550100"
AGENT_SETTINGS = AgentSettings(heartbeat_interval_s=1.0, backoff_base_s=0.2, backoff_cap_s=1.0)


class Kiosk:
    """The system, a cuttable network between kiosk-a1 and its broker, and the kiosk's parts."""

    def __init__(self, system: LiveSystem) -> None:
        self.system = system
        self.state_dir = system.layout.kiosk_dirs[DEVICE]
        self.network = TcpProxy(system.layout.fleet_port)
        profile = json.loads((self.state_dir / "device.json").read_text())
        profile["broker"]["port"] = self.network.port
        (self.state_dir / "device.json").write_text(json.dumps(profile))
        self.agent: KioskAgent | None = None
        self.fallback: SmsFallback | None = None

    def start(self, settings: SmsSettings) -> KioskAgent:
        self.agent = KioskAgent(self.state_dir, AGENT_SETTINGS)
        self.agent.start()
        self.fallback = SmsFallback(self.agent, settings, self.state_dir, tick_s=0.1)
        self.fallback.start()
        return self.agent

    def stop(self) -> None:
        if self.fallback is not None:
            self.fallback.stop()
            self.fallback = None
        if self.agent is not None:
            self.agent.stop()
            self.agent = None


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    system = LiveSystem(tmp_path / "system")
    kiosk: Kiosk | None = None
    try:
        system.start(kiosks=False)
        kiosk = Kiosk(system)
        yield kiosk
    finally:
        if kiosk is not None:
            kiosk.stop()
            kiosk.network.close()
        system.stop()


@pytest.fixture
def modem() -> Iterator[FakeModem]:
    with FakeModem() as fake:
        yield fake


def sms_settings(port: str, **overrides: object) -> SmsSettings:
    values: dict[str, object] = {
        "enabled": True,
        "port": port,
        "on_call_number": ON_CALL,
        "fallback_after_s": 1.0,
        "retry_s": (0.3, 0.6),
        "command_timeout_s": 2.0,
        "send_timeout_s": 2.0,
    }
    values.update(overrides)
    return SmsSettings(**values)  # type: ignore[arg-type]


def delivered_after_reconnect(kiosk: Kiosk, agent: KioskAgent, alert_id: str) -> None:
    kiosk.network.restore()
    incident = kiosk.system.recorders["east"].wait_for_alert(alert_id, timeout=20)
    assert incident.kind == "help" and incident.location == "a-waiting"
    wait_until(lambda: agent.alert_state(alert_id) == "confirmed", 20, "confirmed")
    assert agent.pending_alerts() == []


def test_one_sms_per_alert_even_across_restarts(kiosk: Kiosk, modem: FakeModem) -> None:
    kiosk.network.cut()
    agent = kiosk.start(sms_settings(modem.path))
    alert_id = agent.raise_alert("help", "button")
    [sms] = modem.wait_sent(1, timeout=10)
    assert sms.number == ON_CALL
    assert sms.text.startswith("Beacon alert: help requested at A waiting room (clinic-a), ")
    assert sms.text.endswith(f"Ref {alert_id.replace('-', '')[:8].upper()}.")
    wait_until(lambda: agent.counters["sms_sent"] == 1, 5, "counted")  # after the modem's OK

    time.sleep(2.0)  # well past fallback_after_s, many rounds later
    assert modem.send_attempts == 1

    kiosk.stop()  # restart both: the outbox still holds the alert, and the record the text
    agent = kiosk.start(sms_settings(modem.path))
    assert [e.alert_id for e in agent.pending_alerts()] == [alert_id]
    time.sleep(2.5)
    assert modem.send_attempts == 1

    delivered_after_reconnect(kiosk, agent, alert_id)
    assert modem.send_attempts == 1


def test_modem_errors_are_retried_then_sent(kiosk: Kiosk) -> None:
    with FakeModem(fail_first=2, error_code=500) as modem:
        kiosk.network.cut()
        agent = kiosk.start(sms_settings(modem.path))
        alert_id = agent.raise_alert("help", "touch")
        modem.wait_sent(1, timeout=10)
        wait_until(lambda: agent.counters["sms_sent"] == 1, 5, "counted")
        assert modem.send_attempts == 3
        assert agent.counters["sms_failures"] == 2
        time.sleep(1.5)
        assert modem.send_attempts == 3
        delivered_after_reconnect(kiosk, agent, alert_id)


def test_no_modem_is_logged_and_counted_and_the_alert_still_arrives(kiosk: Kiosk) -> None:
    kiosk.network.cut()
    with capture_logs() as logs:
        agent = kiosk.start(sms_settings("/dev/no-such-modem"))
        alert_id = agent.raise_alert("help", "button")
        wait_until(lambda: agent.counters["sms_failures"] >= 2, 10, "two failures")
    failures = [e for e in logs if e["event"] == "sms_failed"]
    assert failures and failures[0]["failure"] == "ModemUnavailable"
    assert failures[0]["alert_id"] == alert_id
    assert "/dev/no-such-modem" in failures[0]["error"]
    assert agent.counters["sms_sent"] == 0
    assert [e.alert_id for e in agent.pending_alerts()] == [alert_id]
    assert agent.alert_state(alert_id) == "pending"
    delivered_after_reconnect(kiosk, agent, alert_id)


def test_waits_fallback_after_s_from_losing_the_broker(kiosk: Kiosk, modem: FakeModem) -> None:
    agent = kiosk.start(sms_settings(modem.path, fallback_after_s=2.0))
    assert agent.wait_connected(15)
    kiosk.network.cut()
    wait_until(lambda: not agent.connected, 10, "disconnected")
    lost_at = time.monotonic()
    alert_id = agent.raise_alert("help", "button")
    time.sleep(1.0)
    assert modem.send_attempts == 0  # the broker has been gone for less than 2 s
    modem.wait_sent(1, timeout=10)
    assert time.monotonic() - lost_at >= 1.8  # lost_at is seen up to one poll late
    delivered_after_reconnect(kiosk, agent, alert_id)
    time.sleep(1.0)
    assert modem.send_attempts == 1


def test_connected_kiosk_never_texts(kiosk: Kiosk, modem: FakeModem) -> None:
    agent = kiosk.start(sms_settings(modem.path, fallback_after_s=0.0))
    assert agent.wait_connected(15)
    alert_id = agent.raise_alert("help", "button")
    wait_until(lambda: agent.alert_state(alert_id) == "confirmed", 20, "confirmed")
    time.sleep(1.0)
    assert modem.commands == []
