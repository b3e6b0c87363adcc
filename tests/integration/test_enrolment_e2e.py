"""Provisioning end to end, with the real API, fleet manager, brokers and kiosk processes:
a token → a new kiosk enrols → its help alert arrives with the right location → it renews its
certificate over mTLS → it is revoked: disconnected at once and refused on every reconnect.
And the enrol command's answers to a wrong token, an unreachable server and approval."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from beacon.processes import ManagedProcess
from device.agent.control import ControlError, control_request
from device.agent.identity import load_profile, tls_files
from fleet_manager.enrolment.service import create_token
from fleet_manager.store import audit_log, enrolment_store
from tests.support.live import LiveSystem
from tests.support.waiting import wait_until
from transport.mqtt import BrokerEndpoint, LinkOptions, MqttLink


@pytest.fixture
def system(tmp_path: Path) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path / "system")
    try:
        live.start(kiosks=False)
        live.running.start_api()
        yield live
    finally:
        live.stop()


def beacon(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def enrol(
    system: LiveSystem, state: Path, token: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return beacon(
        "kiosk", "enrol",
        "--server", system.layout.api_url,
        "--token-file", "-",
        "--state-dir", str(state),
        "--ca-file", str(system.layout.ca_file),
        *extra,
        stdin=token,
    )  # fmt: skip


def connected(state: Path) -> bool:
    try:
        status = control_request(state, {"cmd": "status"}, 2)["status"]
    except (ControlError, ValueError, KeyError, OSError):
        return False
    return isinstance(status, dict) and bool(status["connected"])


def serial(state: Path) -> int:
    pem = tls_files(state).certfile.read_bytes()
    return x509.load_pem_x509_certificates(pem)[0].serial_number


def can_connect_as(state: Path, system: LiveSystem, timeout: float = 5.0) -> bool:
    profile = load_profile(state)
    link = MqttLink(
        BrokerEndpoint("127.0.0.1", system.layout.fleet_port, tls_files(state)),
        LinkOptions(client_id=profile.device_id, persistent=False, name="probe"),
        on_message=lambda _t, _p, _q: None,
    )
    link.start()
    try:
        return link.wait_connected(timeout)
    finally:
        link.stop()


def test_enrol_alert_renew_revoke(system: LiveSystem, tmp_path: Path) -> None:
    token = create_token(system.engine, "a-waiting", 3600, "test", time.time()).token
    state = tmp_path / "new-kiosk"

    done = enrol(system, state, token)
    assert done.returncode == 0, done.stderr
    profile = load_profile(state)
    assert (profile.location, profile.facility, profile.region) == ("a-waiting", "clinic-a", "east")
    assert (tls_files(state).keyfile.stat().st_mode & 0o777) == 0o600
    assert profile.device_id in done.stdout

    kiosk = ManagedProcess(
        profile.device_id,
        ["kiosk", "run", "--headless", "--state-dir", str(state), "--heartbeat-interval", "1"],
        tmp_path / "kiosk.log",
    )
    kiosk.start()
    try:
        wait_until(lambda: connected(state), 30, "the new kiosk connected")
        alert_id = str(control_request(state, {"cmd": "press-help"})["alert_id"])
        incident = system.recorders["east"].wait_for_alert(alert_id)
        assert (incident.device_id, incident.location) == (profile.device_id, "a-waiting")
        assert incident.location_name == "A waiting room"

        # Renewal over the kiosk's own mTLS session; the new pair is used from the next connection.
        first = serial(state)
        assert control_request(state, {"cmd": "renew-cert"})["ok"] is True
        wait_until(lambda: serial(state) != first, 30, "a renewed certificate")
        with system.engine.connect() as conn:
            issued = enrolment_store.device_certificates(conn, profile.device_id)
        assert [c.via for c in issued] == ["enrol", "renew"]
        assert int(issued[1].serial, 16) == serial(state)
        kiosk.stop()
        kiosk.start()
        wait_until(lambda: connected(state), 30, "the kiosk reconnected with its new certificate")

        # Revocation: cut off at once, refused from then on; other kiosks unaffected.
        revoked = beacon(
            "provision", "revoke", profile.device_id, "--reason", "stolen",
            "--config", str(system.layout.fleet_configs[0]),
        )  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr + revoked.stdout
        wait_until(lambda: not connected(state), 15, "the revoked kiosk disconnected")
        time.sleep(3)  # several reconnect attempts (backoff starts at 0.5 s)
        assert not connected(state)
        assert not can_connect_as(state, system)
        with system.engine.connect() as conn:
            assert enrolment_store.lifecycle(conn, profile.device_id) == "revoked"
            actions = [e.action for e in audit_log.entries(conn, subject=profile.device_id)]
            assert actions[-2:] == ["device.revoked", "device.cut_off"]
            assert audit_log.verify_chain(conn) is None

        system.running.kiosks["kiosk-a1"].start()
        system.running.wait_kiosk_ready("kiosk-a1", 30)
        other = system.running.press_help("kiosk-a1")
        assert system.recorders["east"].wait_for_alert(other).device_id == "kiosk-a1"
    finally:
        kiosk.stop()


def test_enrol_command_refusals_and_approval(system: LiveSystem, tmp_path: Path) -> None:
    state = tmp_path / "kiosk"
    wrong = enrol(system, state, "AAAA-BBBB-CCCC-DDDD-EEEE")
    assert wrong.returncode == 1
    assert "token_unknown" in wrong.stderr
    assert not (state / "device.json").exists()

    unreachable = beacon(
        "kiosk", "enrol", "--server", "https://127.0.0.1:9", "--token", "AAAA-BBBB-CCCC-DDDD-EEEE",
        "--state-dir", str(state), "--ca-file", str(system.layout.ca_file),
    )  # fmt: skip
    assert unreachable.returncode == 75
    assert "cannot reach" in unreachable.stderr

    config = str(system.layout.fleet_configs[0])
    required = beacon("provision", "facility", "require-approval", "clinic-a", "--config", config)
    assert required.returncode == 0, required.stderr
    token = create_token(system.engine, "a-restroom", 3600, "test", time.time()).token
    waiting = enrol(system, state, token, "--no-wait")
    assert waiting.returncode == 3, waiting.stderr
    listed = beacon("provision", "pending", "--json", "--config", config)
    assert '"a-restroom"' in listed.stdout
    device_id = listed.stdout.split('"device_id": "')[1].split('"')[0]
    approved = beacon("provision", "approve", device_id, "--config", config)
    assert approved.returncode == 0, approved.stderr
    # The kiosk resumes with the key and enrolment it kept: no second token needed.
    done = enrol(system, state, token)
    assert done.returncode == 0, done.stderr
    assert load_profile(state).device_id == device_id
    assert load_profile(state).location == "a-restroom"


def test_a_moved_kiosk_serves_its_new_location(system: LiveSystem) -> None:
    system.running.kiosks["kiosk-a1"].start()
    system.running.wait_kiosk_ready("kiosk-a1", 30)
    state = system.layout.kiosk_dirs["kiosk-a1"]
    moved = beacon(
        "provision", "move", "kiosk-a1", "--location", "b-exam",
        "--config", str(system.layout.fleet_configs[0]),
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    # The fleet manager sees the kiosk still reporting a-waiting and sends a signed "relocate".
    wait_until(lambda: load_profile(state).location == "b-exam", 20, "the kiosk relocated")
    profile = load_profile(state)
    assert (profile.facility, profile.region) == ("clinic-b", "west")
    assert profile.location_name == "B exam room"
    assert profile.location_token == system.layout.qr_tokens["b-exam"]
    status = control_request(state, {"cmd": "status"})["status"]
    assert isinstance(status, dict) and status["location"] == "b-exam"
    alert_id = system.running.press_help("kiosk-a1")
    incident = system.recorders["west"].wait_for_alert(alert_id)
    assert (incident.location, incident.facility) == ("b-exam", "clinic-b")
    with system.engine.connect() as conn:
        assert [e.action for e in audit_log.entries(conn, subject="kiosk-a1")] == ["device.moved"]
