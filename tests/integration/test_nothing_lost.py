"""Nothing lost: crashes and outages anywhere on the path still deliver each alert exactly
once, as one incident."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device.agent.identity import tls_files
from protocol import topics
from protocol.messages import AlertMessage
from tests.support.live import LiveSystem
from tests.support.tcp_proxy import TcpProxy


def assert_exactly_one_incident(live: LiveSystem, region: str, alert_id: str) -> None:
    opened = live.recorders[region].wait_for_alert(alert_id, timeout=45)
    time.sleep(1.0)  # give any duplicate the chance to show up
    incident_ids = {i.incident_id for i in live.recorders[region].for_alert(alert_id)}
    assert incident_ids == {opened.incident_id}
    opened_versions = [i for i in live.recorders[region].for_alert(alert_id) if i.version == 1]
    assert len(opened_versions) == 1
    assert len(live.incidents_for_alert(alert_id)) == 1


def test_kiosk_killed_right_after_press_delivers_after_restart(live: LiveSystem) -> None:
    # The broker is down, so the alert cannot leave the kiosk: it exists only in the outbox.
    live.running.fleet_broker.stop()
    alert_id = live.running.press_help("kiosk-a1")
    live.running.kiosks["kiosk-a1"].kill()
    live.running.fleet_broker.start()
    live.running.kiosks["kiosk-a1"].start()
    assert_exactly_one_incident(live, "east", alert_id)
    live.running.wait_kiosk_ready("kiosk-a1")
    live.wait_confirmed("kiosk-a1", alert_id)


def test_kiosk_killed_while_connected_right_after_press(live: LiveSystem) -> None:
    alert_id = live.running.press_help("kiosk-a2")
    live.running.kiosks["kiosk-a2"].kill()
    live.running.kiosks["kiosk-a2"].start()
    assert_exactly_one_incident(live, "east", alert_id)
    live.running.wait_kiosk_ready("kiosk-a2")
    live.wait_confirmed("kiosk-a2", alert_id)


def test_fleet_broker_restarted_mid_flow(live: LiveSystem) -> None:
    first = live.running.press_help("kiosk-a1")
    live.recorders["east"].wait_for_alert(first)
    live.running.fleet_broker.stop()
    second = live.running.press_help("kiosk-a1")  # lands in the outbox while the broker is down
    time.sleep(1.0)
    live.running.fleet_broker.start()
    assert_exactly_one_incident(live, "east", second)
    assert_exactly_one_incident(live, "east", first)
    live.wait_confirmed("kiosk-a1", second)


def test_fleet_manager_killed_and_restarted_mid_flow(live: LiveSystem) -> None:
    fm = live.running.fleet_managers[0]
    fm.kill()
    alert_id = live.running.press_help("kiosk-b1")
    time.sleep(2.5)  # the kiosk resends meanwhile; nobody confirms
    live.running.start_fleet_manager(fm)
    assert_exactly_one_incident(live, "west", alert_id)
    live.wait_confirmed("kiosk-b1", alert_id)


def test_fleet_manager_paused_while_kiosk_resends(live: LiveSystem) -> None:
    fm = live.running.fleet_managers[0]
    fm.pause()
    try:
        alert_id = live.running.press_help("kiosk-a1")
        time.sleep(6.5)  # resends at about 2 s and 6 s pile up at the broker
    finally:
        fm.resume()
    assert_exactly_one_incident(live, "east", alert_id)
    row = live.alert_row(alert_id)
    assert row is not None
    assert row.duplicates >= 1  # the resends arrived, and were recognised as the same alert


def test_kiosk_offline_for_a_while_then_back(live: LiveSystem) -> None:
    kiosk = live.running.kiosks["kiosk-a2"]
    kiosk.stop()
    state_dir = live.layout.kiosk_dirs["kiosk-a2"]
    profile = json.loads((state_dir / "device.json").read_text())
    proxy = TcpProxy(live.layout.fleet_port)
    try:
        profile["broker"]["port"] = proxy.port
        (state_dir / "device.json").write_text(json.dumps(profile))
        kiosk.start()
        live.running.wait_kiosk_ready("kiosk-a2")
        proxy.cut()
        alert_id = live.running.press_help("kiosk-a2")
        time.sleep(4.0)
        assert live.recorders["east"].for_alert(alert_id) == []
        proxy.restore()
        assert_exactly_one_incident(live, "east", alert_id)
        live.wait_confirmed("kiosk-a2", alert_id)
    finally:
        proxy.close()


def _raw_kiosk_client(live: LiveSystem, device_id: str) -> mqtt.Client:
    tls = tls_files(live.layout.kiosk_dirs[device_id])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(tls.cafile), certfile=str(tls.certfile), keyfile=str(tls.keyfile))
    client.connect("127.0.0.1", live.layout.fleet_port)
    client.loop_start()
    return client


def test_resends_and_malformed_payloads_never_create_a_second_incident(live: LiveSystem) -> None:
    """A kiosk (here a raw client with kiosk-a1's certificate) sends garbage, then the same
    alert five times: the fleet manager survives, counts, and opens one incident."""
    live.running.kiosks["kiosk-a1"].stop()
    client = _raw_kiosk_client(live, "kiosk-a1")
    try:
        topic = topics.device_alert("kiosk-a1")
        for garbage in (b"not json", b"[]", b'{"alert_id": "nope"}', b"\xff\xfe", b"{}" * 40000):
            client.publish(topic, garbage, qos=1).wait_for_publish(5)
        alert = AlertMessage.model_validate(
            {
                "alert_id": "3f2b8c1e-1d2a-4c55-9a43-7d0c2f6e9b10",
                "kind": "help",
                "source": "touch",
                "location": "a-waiting",
                "ts": time.time(),
            }
        )
        for _ in range(5):
            client.publish(topic, alert.to_bytes(), qos=1).wait_for_publish(5)
        assert_exactly_one_incident(live, "east", str(alert.alert_id))
    finally:
        client.loop_stop()
        client.disconnect()
    row = live.alert_row(str(alert.alert_id))
    assert row is not None and row.duplicates == 4
    log = live.fleet_log()
    assert log.count('"message_rejected"') >= 4
    assert live.running.fleet_managers[0].is_running
