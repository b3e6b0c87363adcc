"""The `beacon` command as people use it: the demo, the control socket, the responder tools."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from fleet_manager.store.schema import devices
from tests.support.live import LiveSystem


def beacon(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", *args], capture_output=True, text=True, timeout=timeout
    )


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_demo_runs_presses_help_and_stops_cleanly(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    result = beacon(
        "demo",
        "--headless",
        "--duration",
        "8",
        "--press-help",
        "2",
        "--base",
        str(base),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "help pressed on kiosk-stmarys-wait" in result.stdout
    assert "responder ▸ OPENED" in result.stdout
    assert "Main waiting room" in result.stdout
    assert processes_mentioning(str(base)) == []

    info = json.loads((base / "connection.json").read_text())
    assert set(info) >= {"brokers", "kiosks", "responders", "database_url", "console_url"}
    assert len(info["kiosks"]) == 3
    assert {k["region"] for k in info["kiosks"]} == {"north", "south"}
    assert {k["facility"] for k in info["kiosks"]} == {"st-marys", "riverside"}
    for kiosk in info["kiosks"]:
        assert len(kiosk["qr_token"]) >= 20  # opaque, random: never a word
        for key in ("cert", "key", "ca", "state_dir"):
            assert Path(kiosk[key]).exists()
    assert set(info["responders"]) == {"north", "south"}
    assert set(info["brokers"]["responders"]) == {"north", "south"}
    assert info["admin"]["username"] == "admin" and len(info["admin"]["password"]) >= 12
    assert (base / "connection.json").stat().st_mode & 0o777 == 0o600
    assert info["console_url"].startswith("https://127.0.0.1:")
    assert info["console_url"].endswith("/console/")


def test_ctrl_c_stops_the_demo_and_every_child(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "beacon", "demo", "--headless", "--base", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "Ctrl-C stops everything" in line or time.monotonic() > deadline:
            break
    assert processes_mentioning(str(base)), "the demo should have started its children"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    time.sleep(0.5)
    assert processes_mentioning(str(base)) == []


def test_control_socket_is_private(shared_live: LiveSystem) -> None:
    sock = shared_live.layout.kiosk_dirs["kiosk-a1"] / "control.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600


def test_kiosk_ctl_and_responder_cli(shared_live: LiveSystem) -> None:
    state_dir = shared_live.layout.kiosk_dirs["kiosk-b1"]
    status = beacon("kiosk", "ctl", "--state-dir", str(state_dir), "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"]["device_id"] == "kiosk-b1"

    pressed = beacon(
        "kiosk", "ctl", "--state-dir", str(state_dir), "press-help", "--source", "button"
    )
    alert_id = json.loads(pressed.stdout)["alert_id"]
    incident = shared_live.recorders["west"].wait_for_alert(alert_id)

    connection = shared_live.layout.write_connection_file()
    acked = beacon(
        "responder", "ack", incident.incident_id, "--as", "kim", "--connection", str(connection)
    )
    assert acked.returncode == 0, acked.stderr
    assert f"{incident.incident_id}: acknowledged" in acked.stdout
    resolved = beacon(
        "responder",
        "resolve",
        incident.incident_id,
        "--note",
        "safe",
        "--connection",
        str(connection),
    )
    assert resolved.returncode == 0, resolved.stderr
    assert "resolved" in resolved.stdout
    again = beacon("responder", "ack", incident.incident_id, "--connection", str(connection))
    assert again.returncode == 0  # an ack on a resolved incident reports its state, no change
    assert shared_live.timeline(incident.incident_id).count("acknowledged") == 1

    unknown = beacon(
        "responder", "ack", "inc-0000000000000000", "--connection", str(connection), timeout=90
    )
    assert unknown.returncode != 0
    assert "not confirmed" in unknown.stderr


def test_kiosk_killed_is_marked_offline_by_its_last_will(live: LiveSystem) -> None:
    def online() -> bool:
        with live.engine.connect() as conn:
            row = conn.execute(
                sa.select(devices.c.online).where(devices.c.device_id == "kiosk-a2")
            ).one()
        return bool(row.online)

    deadline = time.monotonic() + 10
    while not online() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert online()
    live.running.kiosks["kiosk-a2"].kill()
    deadline = time.monotonic() + 15
    while online() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not online()
    live.running.kiosks["kiosk-a2"].start()
    live.running.wait_kiosk_ready("kiosk-a2")
    deadline = time.monotonic() + 10
    while not online() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert online()


def test_bad_config_and_identity_give_clear_errors(tmp_path: Path) -> None:
    missing = beacon("fleet", "serve", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("database_url: 5\nbroker: {port: 0}\n")
    result = beacon("fleet", "serve", "--config", str(bad))
    assert result.returncode == 1
    assert "broker.port" in result.stderr
    assert "Traceback" not in result.stderr
    kiosk = beacon("kiosk", "run", "--headless", "--state-dir", str(tmp_path / "empty"))
    assert kiosk.returncode == 1
    assert "not provisioned" in kiosk.stderr
