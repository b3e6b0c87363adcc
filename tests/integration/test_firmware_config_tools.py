"""The rendered files against the real tools: systemd-analyze, cloud-init, nft, sh.

These tools are system packages (Makefile APT_PACKAGES: cloud-init, nftables; systemd-analyze
and dash come with the base system). A missing tool fails the test with a message saying what
to install: a check that silently skips is a check nobody runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_config import Profile, boot_files, parse_profile, render
from tests.unit.test_firmware_config import base


def need(tool: str, package: str) -> str:
    path = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        pytest.fail(f"{tool} is not installed: `apt-get install {package}` (or `make system-deps`)")
    return path


def ssh_key() -> str:
    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _variant(name: str) -> Profile:
    data = base()
    if name == "key-only":
        data["ssh"] = {
            "mode": "key-only",
            "authorized_keys": [ssh_key() + " ops@clinic"],
            "allow_from": ["10.20.0.0/16", "2001:db8::/32"],
        }
        data["network"]["dns_servers"] = ["192.0.2.53", "2001:db8::53"]
        data["system"]["ntp_servers"] = ["192.0.2.123"]
    elif name == "ethernet-only":
        del data["network"]["wifi"]
        data["system"]["read_only_root"] = False
        data["fleet"]["allowed_outbound"] = []
        del data["hardware"], data["sms"]
    elif name == "wifi-only":
        data["network"]["ethernet_dhcp"] = False
        data["display"] = {"connector": "DSI-1", "rotation": 180}
    return parse_profile(data, f"{name}.toml")


VARIANTS = ["wifi+ethernet", "key-only", "ethernet-only", "wifi-only"]


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> Profile:
    return _variant(str(request.param))


def user_data_files(profile: Profile) -> dict[str, str]:
    doc: dict[str, Any] = yaml.safe_load(render(profile)["user-data"])
    return {f["path"]: f["content"] for f in doc["write_files"]}


# -- systemd ----------------------------------------------------------------------------------

# systemd-analyze verify checks a unit as systemd would load it, including that ExecStart's
# program exists and is executable. /usr/bin/beacon and our /usr/local/sbin scripts exist only
# on a kiosk, so the copies verified here point ExecStart at /bin/sleep (same syntax, a real
# executable); every other line is exactly what the kiosk gets. No other message is expected:
# the unit must verify clean, so the list of tolerated messages is empty on purpose. (Missing
# ordering targets like nftables.service are not reported by verify; User= is not checked.)
HARMLESS: tuple[str, ...] = ()


def test_units_pass_systemd_analyze_verify(tmp_path: Path, variant: Profile) -> None:
    analyze = need("systemd-analyze", "systemd")
    files = user_data_files(variant)
    units = {
        p.rsplit("/", 1)[1]: c for p, c in files.items() if p.startswith("/etc/systemd/system/")
    }
    assert set(units) == {
        "beacon-kiosk.service",
        "beacon-firstboot.service",
        "beacon-firewall-hosts.service",
        "beacon-firewall-hosts.timer",
    }
    assert units["beacon-kiosk.service"] == render(variant)["beacon-kiosk.service"].decode()
    paths = []
    for name, text in units.items():
        lines = [
            "ExecStart=/bin/sleep 1" if line.startswith("ExecStart=") else line
            for line in text.splitlines()
        ]
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *paths], capture_output=True, text=True, timeout=120
    )
    messages = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not any(h in line for h in HARMLESS)
    ]
    assert result.returncode == 0 and messages == [], "\n".join(messages)


def test_systemd_analyze_would_catch_a_broken_unit(tmp_path: Path) -> None:
    analyze = need("systemd-analyze", "systemd")
    text = render(_variant("wifi+ethernet"))["beacon-kiosk.service"].decode()
    broken = text.replace("ExecStart=/usr/bin/beacon", "ExecStart=/bin/sleep 1 #").replace(
        "ProtectSystem=strict", "ProtectSystem=sometimes"
    )
    path = tmp_path / "beacon-kiosk.service"
    path.write_text(broken)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=120
    )
    assert "sometimes" in result.stderr, result.stderr


# -- cloud-init -------------------------------------------------------------------------------


def test_user_data_passes_cloud_init_schema(tmp_path: Path, variant: Profile) -> None:
    cloud_init = need("cloud-init", "cloud-init")
    path = tmp_path / "user-data"
    path.write_bytes(render(variant)["user-data"])
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Valid cloud-config: {path}" in output
    assert "deprecat" not in output.lower(), output


def test_cloud_init_schema_would_catch_a_mistake(tmp_path: Path) -> None:
    cloud_init = need("cloud-init", "cloud-init")
    text = render(_variant("wifi+ethernet"))["user-data"].decode()
    path = tmp_path / "user-data"
    path.write_text(text.replace("ssh_pwauth: false", "ssh_pwauth: [nope]"))
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0


# -- nftables ---------------------------------------------------------------------------------


def test_nftables_ruleset_passes_nft_check(tmp_path: Path, variant: Profile) -> None:
    nft = need("nft", "nftables")
    path = tmp_path / "nftables.conf"
    path.write_bytes(render(variant)["nftables.conf"])
    assert user_data_files(variant)["/etc/nftables.conf"] == path.read_text()
    result = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- shell scripts ----------------------------------------------------------------------------


def scripts(profile: Profile) -> dict[str, str]:
    files = user_data_files(profile)
    return {
        "beacon-firstboot": files["/usr/local/sbin/beacon-firstboot"],
        "beacon-firewall-hosts": files["/usr/local/sbin/beacon-firewall-hosts"],
        "state-partition": boot_files.state_partition_script(profile),
    }


def test_scripts_are_valid_posix_shell(tmp_path: Path, variant: Profile) -> None:
    dash = need("dash", "dash")
    for name, text in scripts(variant).items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run([dash, "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def _fake_tools(bin_dir: Path, answers: dict[str, list[str]], batches: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    cases = "\n".join(
        f"  {host}) printf '%s\\n' {' '.join(repr(f'{a} STREAM {host}') for a in addrs)} ;;"
        for host, addrs in answers.items()
    )
    getent = bin_dir / "getent"
    getent.write_text(
        "#!/bin/sh\n# fake getent ahostsv4|ahostsv6 HOST\n"
        f'case "$2" in\n{cases}\n  *) exit 2 ;;\nesac | '
        'if [ "$1" = ahostsv6 ]; then grep ":"; else grep -v ":"; fi\n'
    )
    nft = bin_dir / "nft"
    nft.write_text(f"#!/bin/sh\ncat >>{batches}\necho --- >>{batches}\n")
    for tool in (getent, nft):
        tool.chmod(0o755)


def test_firewall_hosts_script_swaps_resolved_addresses_into_the_sets(tmp_path: Path) -> None:
    need("dash", "dash")
    profile = _variant("wifi+ethernet")
    script = tmp_path / "beacon-firewall-hosts"
    script.write_text(boot_files.firewall_hosts_script(profile))
    batches = tmp_path / "batches"
    env_base = {"BEACON_FIREWALL_STATE": str(tmp_path / "state"), "LC_ALL": "C"}

    def run(answers: dict[str, list[str]]) -> str:
        bin_dir = tmp_path / "bin"
        _fake_tools(bin_dir, answers, batches)
        batches.write_text("")
        env = {**os.environ, **env_base, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        result = subprocess.run(["dash", str(script)], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return batches.read_text()

    first = run(
        {
            "broker.clinic.test": ["192.0.2.10", "2001:db8::10"],
            "enrol.clinic.test": ["192.0.2.20"],
            "tuf.clinic.test": ["192.0.2.30"],
            "198.51.100.7": ["198.51.100.7"],
            "2001:db8::7": ["2001:db8::7"],
        }
    )
    assert "flush set inet beacon tcp_out4\n" in first
    assert (
        "add element inet beacon tcp_out4 { 192.0.2.10 . 8883,192.0.2.20 . 8443,"
        "192.0.2.30 . 443,198.51.100.7 . 8443 }" in first
    )
    assert "add element inet beacon tcp_out6 { 2001:db8::10 . 8883,2001:db8::7 . 443 }" in first
    # The broker moved: the next run keeps the previous answer too, the one after drops it.
    second = run({"broker.clinic.test": ["192.0.2.11"]})
    assert "192.0.2.11 . 8883" in second and "192.0.2.10 . 8883" in second
    third = run({"broker.clinic.test": ["192.0.2.11"]})
    assert "192.0.2.11 . 8883" in third and "192.0.2.10 . 8883" not in third


# -- the kiosk under systemd's notification protocol --------------------------------------------


def test_headless_kiosk_notifies_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    """The real `beacon kiosk run --headless`, as systemd runs it (Type=notify, WatchdogSec)."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": path,
            "WATCHDOG_USEC": "600000",  # WatchdogSec=0.6 s: a pet every 0.2 s
        }
        kiosk = subprocess.Popen(
            [
                *(sys.executable, "-m", "beacon", "kiosk", "run", "--demo", "--headless"),
                *("--state-dir", str(tmp_path / "state")),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        received: list[str] = []

        def wait_for(message: str, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while message not in received:
                left = deadline - time.monotonic()
                if left <= 0 or kiosk.poll() is not None:
                    kiosk.kill()
                    _, err = kiosk.communicate()
                    pytest.fail(f"no {message} (got {received}); kiosk stderr:\n{err[-3000:]}")
                sock.settimeout(left)
                try:
                    received.append(sock.recv(4096).decode().split("\n")[0])
                except TimeoutError:
                    continue

        try:
            wait_for("READY=1", 60)
            received.clear()
            wait_for("WATCHDOG=1", 5)
            received.clear()
            wait_for("WATCHDOG=1", 5)  # and again: it keeps petting
            kiosk.send_signal(signal.SIGTERM)
            wait_for("STOPPING=1", 20)
            assert kiosk.wait(timeout=30) == 0
        finally:
            if kiosk.poll() is None:
                kiosk.kill()
                kiosk.wait()
