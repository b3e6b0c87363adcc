"""device.agent.sms_fallback: one round at a time, with a stand-in agent, sender and clocks."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from device.agent.identity import BrokerAddress, DeviceProfile
from device.agent.modem import ModemTimeout, ModemUnavailable
from device.agent.outbox_policy import OutboxEntry
from device.agent.sms_fallback import TEXTED_FILE, SmsFallback, SmsSettings, TextedAlerts

NUMBER = "+15550100"
PROFILE = DeviceProfile(
    device_id="kiosk-t1",
    region="east",
    facility="clinic-a",
    location="a-waiting",
    location_name="A waiting room",
    broker=BrokerAddress(host="127.0.0.1", port=1),
    command_key="unused",
)


def entry(n: int, kind: str = "help") -> OutboxEntry:
    return OutboxEntry(
        alert_id=f"{n:08d}-0000-4000-8000-000000000000",
        kind=kind,
        source="button",
        location="a-waiting",
        created_at=1_700_000_000.0 + n,
    )


class StandInAgent:
    def __init__(self) -> None:
        self.profile = PROFILE
        self.counters: Counter[str] = Counter()
        self.pending: list[OutboxEntry] = []
        self.away: float | None = None

    def pending_alerts(self) -> list[OutboxEntry]:
        return list(self.pending)

    def seconds_disconnected(self) -> float | None:
        return self.away


class Sender:
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.sent: list[tuple[str, str]] = []
        self.attempts = 0

    def send_sms(self, number: str, text: str) -> int:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((number, text))
        return len(self.sent)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SETTINGS = SmsSettings(enabled=True, on_call_number=NUMBER, fallback_after_s=30.0)


def make(tmp_path: Path, agent: StandInAgent, sender: Sender, clock: Clock) -> SmsFallback:
    return SmsFallback(agent, SETTINGS, tmp_path, sender=sender, monotonic=clock, wall=clock)


def test_texts_once_after_the_broker_has_been_away_long_enough(tmp_path: Path) -> None:
    agent, sender, clock = StandInAgent(), Sender(), Clock()
    fallback = make(tmp_path, agent, sender, clock)
    agent.pending = [entry(1)]
    assert fallback.tick() == []  # connected: never
    agent.away = 29.0
    assert fallback.tick() == []  # not long enough
    agent.away = 30.0
    assert fallback.tick() == [entry(1).alert_id]
    assert sender.sent[0][0] == NUMBER
    assert "help requested at A waiting room (clinic-a)" in sender.sent[0][1]
    assert "Ref 00000001." in sender.sent[0][1]
    agent.away = 300.0
    assert fallback.tick() == []  # once per alert
    assert agent.counters["sms_sent"] == 1
    # a restart reads what was texted from the state dir
    again = make(tmp_path, agent, sender, clock)
    assert again.tick() == []
    assert len(sender.sent) == 1


def test_new_alert_during_a_long_outage_is_texted_at_once(tmp_path: Path) -> None:
    agent, sender, clock = StandInAgent(), Sender(), Clock()
    fallback = make(tmp_path, agent, sender, clock)
    agent.away = 600.0
    agent.pending = [entry(1)]
    fallback.tick()
    agent.pending = [entry(1), entry(2, "tamper")]
    assert fallback.tick() == [entry(2).alert_id]
    assert "kiosk enclosure opened" in sender.sent[1][1]


def test_modem_failures_follow_the_retry_schedule(tmp_path: Path) -> None:
    agent, clock = StandInAgent(), Clock()
    sender = Sender([ModemUnavailable("no port"), ModemTimeout("silent")])
    fallback = make(tmp_path, agent, sender, clock)
    agent.away, agent.pending = 60.0, [entry(1), entry(2)]
    assert fallback.tick() == []  # fails at 1000: next at 1010
    clock.now = 1009.0
    assert fallback.tick() == []
    assert sender.attempts == 1
    clock.now = 1010.0
    assert fallback.tick() == []  # fails again: next at 1040
    clock.now = 1039.0
    fallback.tick()
    assert sender.attempts == 2
    clock.now = 1040.0
    assert fallback.tick() == [entry(1).alert_id, entry(2).alert_id]
    assert agent.counters["sms_failures"] == 2
    assert fallback.retry.failures == 0  # reset after success


def test_a_failure_stops_the_round_and_keeps_order(tmp_path: Path) -> None:
    agent, clock = StandInAgent(), Clock()
    sender = Sender()
    fallback = make(tmp_path, agent, sender, clock)
    agent.away, agent.pending = 60.0, [entry(2), entry(1)]
    sender.failures = [ModemTimeout("x")]
    fallback.tick()
    assert sender.attempts == 1 and sender.sent == []
    clock.now += 10
    assert fallback.tick() == [entry(1).alert_id, entry(2).alert_id]


def test_texted_record_on_disk(tmp_path: Path) -> None:
    agent, sender, clock = StandInAgent(), Sender(), Clock()
    fallback = make(tmp_path, agent, sender, clock)
    agent.away, agent.pending = 60.0, [entry(7)]
    fallback.tick()
    data = json.loads((tmp_path / TEXTED_FILE).read_text())
    assert data == {"texted": [{"alert_id": entry(7).alert_id, "at": 1000.0, "ref": 1}]}
    assert [p.name for p in tmp_path.iterdir()] == [TEXTED_FILE]  # no temp files left


def test_unreadable_record_starts_empty(tmp_path: Path) -> None:
    (tmp_path / TEXTED_FILE).write_text("{not json")
    assert TextedAlerts(tmp_path / TEXTED_FILE).ids() == frozenset()
    (tmp_path / TEXTED_FILE).write_text('{"texted": [{"at": 1}]}')
    assert TextedAlerts(tmp_path / TEXTED_FILE).ids() == frozenset()


def test_record_is_bounded(tmp_path: Path) -> None:
    store = TextedAlerts(tmp_path / TEXTED_FILE)
    for n in range(510):
        store.add(f"id-{n}", float(n), n)
    ids = TextedAlerts(tmp_path / TEXTED_FILE).ids()
    assert len(ids) == 500 and "id-509" in ids and "id-9" not in ids


def test_refuses_a_bad_number(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        SmsFallback(StandInAgent(), SmsSettings(on_call_number="call Dana"), tmp_path)


def test_thread_survives_a_broken_agent(tmp_path: Path) -> None:
    class Broken(StandInAgent):
        def __init__(self) -> None:
            super().__init__()
            self.calls = threading.Semaphore(0)

        def seconds_disconnected(self) -> float | None:
            self.calls.release()
            raise RuntimeError("bug")

    agent = Broken()
    fallback = SmsFallback(agent, SETTINGS, tmp_path, sender=Sender(), tick_s=0.01)
    fallback.start()
    try:
        for _ in range(3):
            assert agent.calls.acquire(timeout=2)
    finally:
        fallback.stop()
    assert agent.counters["sms_loop_errors"] >= 3
