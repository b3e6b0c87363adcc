"""firmware_config: profile validation (errors name file and field) and the rendered files."""

from __future__ import annotations

import configparser
import copy
import os
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from beacon.cli_config import config_group
from device.agent.device_config import parse_device_config
from device.agent.display_schedule import DisplayWindow
from device.agent.hardware import HardwarePins
from firmware_config import (
    SECRET_FILES,
    Profile,
    ProfileError,
    load_profile,
    parse_profile,
    profile_warnings,
    render,
    toml_out,
    write_boot_folder,
)
from firmware_config import boot_files as render_module

SAMPLE = Path(__file__).resolve().parents[2] / "firmware_config" / "sample-profile.toml"
TOKEN = "tok-3f9a1c2b7d4e5f60a1b2"
PSK = "correct horse \\ battery"


def ssh_key(comment: str = "ops@clinic") -> str:
    public = Ed25519PrivateKey.generate().public_key()
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}"


def base() -> dict[str, Any]:
    """A complete, valid profile as the parsed TOML document."""
    return {
        "system": {
            "hostname": "kiosk-waiting-01",
            "timezone": "Europe/London",
            "ntp_servers": ["time.clinic.test", "192.0.2.123"],
            "kiosk_user": "kiosk",
            "packages": ["v4l-utils"],
        },
        "display": {
            "connector": "HDMI-A-1",
            "rotation": 90,
            "resolution": "1920x1080",
            "motion_wake_seconds": 90,
            "windows": [{"days": "mon-fri", "on": "07:00", "off": "19:30"}],
        },
        "network": {
            "ethernet_dhcp": True,
            "wifi": {"ssid": "Clinic Guest", "psk": PSK, "country": "GB"},
        },
        "fleet": {
            "enrolment_url": "https://enrol.clinic.test:8443",
            "enrolment_token": TOKEN,
            "broker": "broker.clinic.test:8883",
            "allowed_outbound": ["tuf.clinic.test:443", "198.51.100.7:8443", "[2001:db8::7]:443"],
        },
        "ssh": {"mode": "off"},
        "hardware": {"help_button_pin": 17, "motion_pin": 4, "tamper_pin": 27, "hold_seconds": 2.5},
        "sms": {
            "enabled": True,
            "port": "/dev/ttyUSB2",
            "baud": 115200,
            "on_call_number": "+441632960961",
            "fallback_after_seconds": 45,
        },
    }


def profile(change: Callable[[dict[str, Any]], None] | None = None) -> Profile:
    data = base()
    if change is not None:
        change(data)
    return parse_profile(data, "kiosk.toml")


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(toml_out.dumps(data))
    return path


# -- validation --------------------------------------------------------------------------


def _set(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for part in section.split("."):
            target = target.setdefault(part, {})
        target[key] = value

    return change


def _drop(section: str, key: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        if key is None:
            del data[section]
        else:
            del data[section][key]

    return change


def _both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for c in changes:
            c(data)

    return change


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("hostname", _set("system", "hostname", "Kiosk_01"), "[system] hostname: must be one DNS"),
    ("timezone", _set("system", "timezone", "Mars/Olympus"), "[system] timezone:"),
    ("no ntp", _set("system", "ntp_servers", []), "[system] ntp_servers:"),
    ("bad ntp", _set("system", "ntp_servers", ["a b"]), "[system] ntp_servers[0]:"),
    ("root user", _set("system", "kiosk_user", "root"), "[system] kiosk_user:"),
    ("package", _set("system", "packages", ["ok", "Not OK"]), "[system] packages[1]:"),
    ("ro type", _set("system", "read_only_root", "yes"), "[system] read_only_root:"),
    ("root dev", _set("system", "root_device", "mmcblk0p2"), "[system] root_device:"),
    ("typo", _set("system", "hostnme", "x"), "[system] hostnme: unknown setting"),
    ("rotation", _set("display", "rotation", 45), "[display] rotation:"),
    ("resolution", _set("display", "resolution", "big"), "[display] resolution:"),
    ("connector", _set("display", "connector", "VGA-1"), "[display] connector:"),
    ("hdmi pair", _set("display", "hdmi_group", 1), "[display] hdmi_mode: hdmi_group and"),
    (
        "hdmi on dsi",
        _both(
            _set("display", "connector", "DSI-1"),
            _set("display", "hdmi_group", 1),
            _set("display", "hdmi_mode", 16),
        ),
        "[display] hdmi_group: only applies to HDMI",
    ),
    ("window", _set("display", "windows", [{"days": "someday"}]), "[display]"),
    ("wake", _set("display", "motion_wake_seconds", -1), "[display] motion_wake_seconds:"),
    ("psk", _set("network.wifi", "psk", "short"), "[network.wifi] psk:"),
    ("country", _set("network.wifi", "country", "uk"), "[network.wifi] country:"),
    ("ssid", _set("network.wifi", "ssid", "x" * 33), "[network.wifi] ssid:"),
    (
        "no network",
        _both(_set("network", "ethernet_dhcp", False), _drop("network", "wifi")),
        "[network] ethernet_dhcp:",
    ),
    ("dns", _set("network", "dns_servers", ["dns.clinic.test"]), "[network] dns_servers[0]:"),
    (
        "http",
        _set("fleet", "enrolment_url", "http://enrol.clinic.test/"),
        "[fleet] enrolment_url: must use https",
    ),
    (
        "url creds",
        _set("fleet", "enrolment_url", "https://u:p@enrol.clinic.test/"),
        "[fleet] enrolment_url:",
    ),
    ("no token", _drop("fleet", "enrolment_token"), "[fleet] enrolment_token: is required"),
    ("token", _set("fleet", "enrolment_token", "has space in it!!"), "[fleet] enrolment_token:"),
    ("broker port", _set("fleet", "broker", "broker.clinic.test"), "[fleet] broker:"),
    ("broker range", _set("fleet", "broker", "broker.clinic.test:99999"), "[fleet] broker:"),
    ("outbound", _set("fleet", "allowed_outbound", ["x:1", "nope"]), "[fleet] allowed_outbound[1]"),
    ("ssh mode", _set("ssh", "mode", "password"), "[ssh] mode:"),
    ("ssh keys", _set("ssh", "mode", "key-only"), "[ssh] authorized_keys: key-only needs"),
    (
        "ssh key",
        _both(
            _set("ssh", "mode", "key-only"),
            _set("ssh", "authorized_keys", ["ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQAB x"]),
        ),
        "[ssh] authorized_keys[0]: the key data does not hold a ssh-ed25519 key",
    ),
    (
        "ssh user",
        _both(
            _set("ssh", "mode", "key-only"),
            _set("ssh", "authorized_keys", [ssh_key()]),
            _set("ssh", "user", "kiosk"),
        ),
        "[ssh] user: must differ",
    ),
    ("keys off", _set("ssh", "authorized_keys", [ssh_key()]), "[ssh] authorized_keys: given"),
    ("pin", _set("hardware", "help_button_pin", 40), "[hardware] help_button_pin: must be 0…27"),
    ("pin twice", _set("hardware", "motion_pin", 17), "[hardware] motion_pin: GPIO17"),
    ("hw typo", _set("hardware", "button", 3), "[hardware] button: unknown setting"),
    ("sms number", _set("sms", "on_call_number", ""), "[sms] on_call_number: is required"),
    ("sms typo", _set("sms", "number", "1"), "[sms] number: unknown setting"),
    ("no fleet", _drop("fleet"), "[fleet]: is required"),
    ("extra section", _set("extra", "x", 1), "[extra]: unknown section"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_profiles_name_file_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    data = base()
    change(data)
    path = write_toml(tmp_path / "kiosk-7.toml", data)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}: ") and expected in p for p in problems), problems


def test_every_type_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = base()
    data["system"]["hostname"] = "Bad Host"
    data["display"]["rotation"] = 45
    data["fleet"]["enrolment_url"] = "ftp://x"
    path = write_toml(tmp_path / "p.toml", data)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    text = str(caught.value)
    for field in ("[system] hostname", "[display] rotation", "[fleet] enrolment_url"):
        assert field in text


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[system\nhostname = ")
    with pytest.raises(ProfileError, match=r"bad\.toml: not valid TOML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match=r"gone\.toml: cannot be read"):
        load_profile(tmp_path / "gone.toml")


def test_sample_profile_is_valid_and_all_placeholders_are_flagged() -> None:
    sample = load_profile(SAMPLE)
    warnings = profile_warnings(sample, str(SAMPLE))
    flagged = {w.split("] ", 1)[1].split(":", 1)[0] for w in warnings}
    assert {"ssid", "psk", "enrolment_url", "enrolment_token", "broker"} <= flagged
    assert profile_warnings(profile(), "p.toml") == []


def test_defaults() -> None:
    p = profile(_drop("ssh"))
    assert p.system.read_only_root is True
    assert p.ssh.mode == "off"
    assert p.system.root_device == "/dev/mmcblk0p2"


# -- kiosk.toml ------------------------------------------------------------------------------


def user_data_doc(p: Profile) -> dict[str, Any]:
    text = render(p)["user-data"].decode()
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def written(doc: dict[str, Any], path: str) -> dict[str, Any]:
    matches = [f for f in doc["write_files"] if f["path"] == path]
    assert len(matches) == 1, path
    entry: dict[str, Any] = matches[0]
    return entry


def test_kiosk_toml_round_trips_through_the_kiosks_parser() -> None:
    entry = written(user_data_doc(profile()), "/etc/beacon/kiosk.toml")
    assert entry["permissions"] == "0640" and entry["owner"] == "root:kiosk"
    config = parse_device_config(tomllib.loads(entry["content"]), "kiosk.toml")
    assert config.hardware.pins == HardwarePins(help_button=17, motion=4, tamper=27)
    assert config.hardware.hold_s == 2.5
    assert config.sms.enabled and config.sms.port == "/dev/ttyUSB2"
    assert config.sms.on_call_number == "+441632960961"
    assert config.sms.baud == 115200 and config.sms.fallback_after_s == 45
    assert config.display.motion_wake_s == 90
    assert config.display.windows[0].days == frozenset(range(5))
    assert isinstance(config.display.windows[0], DisplayWindow)
    assert config.display.warnings == ()


def test_kiosk_toml_without_peripherals_is_all_defaults() -> None:
    def strip(data: dict[str, Any]) -> None:
        del data["hardware"], data["sms"]
        data["display"] = {"rotation": 0}

    text = render_module.kiosk_toml(profile(strip))
    config = parse_device_config(tomllib.loads(text))
    assert config == parse_device_config({})


def test_toml_writer_round_trips_awkward_values() -> None:
    doc = {
        "sms": {
            "message": 'Alert "{what}" at {location_name}\tñ \x7f \\ end',
            "retry_seconds": [5, 20.5],
        },
        "display": {"windows": [{"days": ["sat", "sun"], "on": "09:00", "off": "24:00"}]},
        "odd key": {"x.y": True},
    }
    assert tomllib.loads(toml_out.dumps(doc)) == doc


# -- rendered files ---------------------------------------------------------------------------


def test_render_is_pure_and_complete() -> None:
    p = profile()
    first, second = render(p), render(p)
    assert first == second
    assert set(first) == {
        "config.txt",
        "cmdline.txt",
        "user-data",
        "meta-data",
        "network-config",
        "nftables.conf",
        "beacon-kiosk.service",
        "system-connections/beacon-wifi.nmconnection",
    }
    assert all(isinstance(v, bytes) for v in first.values())
    no_wifi = render(profile(_drop("network", "wifi")))
    assert "system-connections/beacon-wifi.nmconnection" not in no_wifi


def test_user_data_sets_up_system_and_kiosk_user() -> None:
    doc = user_data_doc(profile())
    assert doc["hostname"] == "kiosk-waiting-01"
    assert doc["timezone"] == "Europe/London"
    assert doc["ntp"]["servers"] == ["time.clinic.test", "192.0.2.123"]
    (kiosk,) = doc["users"]
    assert kiosk["name"] == "kiosk"
    assert kiosk["groups"] == ["render", "video", "input", "gpio", "dialout"]
    assert kiosk["lock_passwd"] is True
    assert not {"passwd", "plain_text_passwd", "hashed_passwd"} & set(kiosk)
    assert kiosk["shell"] == "/usr/sbin/nologin"
    assert doc["ssh_pwauth"] is False and doc["disable_root"] is True
    assert doc["packages"] == ["nftables", "overlayroot", "v4l-utils"]
    paths = {f["path"] for f in doc["write_files"]}
    assert {
        "/etc/beacon/kiosk.toml",
        "/etc/systemd/system/beacon-kiosk.service",
        "/etc/nftables.conf",
        "/etc/NetworkManager/system-connections/beacon-wifi.nmconnection",
        "/etc/systemd/journald.conf.d/beacon.conf",
        "/usr/local/sbin/beacon-firstboot",
    } <= paths
    journald = written(doc, "/etc/systemd/journald.conf.d/beacon.conf")["content"]
    assert "Storage=volatile" in journald
    assert ["systemctl", "enable", "beacon-firstboot.service", "beacon-kiosk.service"] in doc[
        "runcmd"
    ]
    assert ["systemctl", "mask", "ssh.service"] in doc["runcmd"]
    for entry in doc["write_files"]:
        assert entry["path"] != "/etc/ssh/sshd_config.d/beacon.conf"


def test_enrolment_token_is_only_in_a_root_only_file() -> None:
    p = profile()
    text = render(p)["user-data"].decode()
    assert text.count(TOKEN) == 1
    doc = yaml.safe_load(text)
    env = written(doc, "/etc/beacon/enrol.env")
    assert env["permissions"] == "0600" and env["owner"] == "root:root"
    assert f"BEACON_ENROL_TOKEN='{TOKEN}'" in env["content"]
    script = written(doc, "/usr/local/sbin/beacon-firstboot")
    assert script["permissions"] == "0700"
    body = script["content"]
    assert "/usr/bin/beacon kiosk enrol --server https://enrol.clinic.test:8443" in body
    # On stdin, never on a command line that other users could read.
    assert "printf '%s' \"$BEACON_ENROL_TOKEN\" | runuser" in body
    assert '--token-file - --state-dir "$STATE"' in body
    assert "--ca-file" not in body
    assert "rm -f /etc/beacon/enrol.env" in body
    for path, content in render(p).items():
        if path != "user-data":
            assert TOKEN.encode() not in content, path


def test_read_only_root_and_state_partition() -> None:
    doc = user_data_doc(profile())
    script = written(doc, "/usr/local/sbin/beacon-firstboot")["content"]
    assert "READ_ONLY_ROOT=1" in script
    assert "raspi-config nonint do_overlayfs 0" in script
    assert "overlayroot=tmpfs:recurse=0" in script
    assert 'ln -sfn /etc/beacon/kiosk.toml "$STATE/kiosk.toml"' in script
    bootcmd = doc["bootcmd"][0]
    assert bootcmd[:3] == ["cloud-init-per", "once", "beacon-state-partition"]
    assert "state=$((1024 * 2048))" in bootcmd[-1]
    assert doc["power_state"]["condition"] == "test -e /run/beacon-reboot-required"
    writable = user_data_doc(profile(_set("system", "read_only_root", False)))
    assert "READ_ONLY_ROOT=0" in written(writable, "/usr/local/sbin/beacon-firstboot")["content"]
    assert "overlayroot" not in writable["packages"]


def test_key_only_ssh() -> None:
    key = ssh_key()
    p = profile(
        _both(
            _set("ssh", "mode", "key-only"),
            _set("ssh", "authorized_keys", [key]),
            _set("ssh", "allow_from", ["10.20.0.0/16", "2001:db8::/32"]),
        )
    )
    doc = user_data_doc(p)
    admin = doc["users"][1]
    assert admin["name"] == "beacon-admin"
    assert admin["ssh_authorized_keys"] == [key]
    assert admin["lock_passwd"] is True
    sshd = written(doc, "/etc/ssh/sshd_config.d/beacon.conf")["content"]
    assert "PasswordAuthentication no" in sshd and "AllowUsers beacon-admin" in sshd
    nft = render(p)["nftables.conf"].decode()
    assert "ip saddr { 10.20.0.0/16 } tcp dport 22 ct state new" in nft
    assert "ip6 saddr { 2001:db8::/32 } tcp dport 22 ct state new" in nft
    assert "dport 22" not in render(profile())["nftables.conf"].decode()


def test_network_config_is_netplan_v2() -> None:
    text = render(profile())["network-config"].decode()
    network = yaml.safe_load(text)["network"]
    assert network["version"] == 2
    assert network["ethernets"]["eth0"]["dhcp4"] is True
    wlan = network["wifis"]["wlan0"]
    assert wlan["access-points"] == {"Clinic Guest": {"password": PSK}}
    assert wlan["regulatory-domain"] == "GB"
    assert wlan["optional"] is False
    pinned = profile(_set("network", "dns_servers", ["192.0.2.53"]))
    eth = yaml.safe_load(render(pinned)["network-config"])["network"]["ethernets"]["eth0"]
    assert eth["nameservers"] == {"addresses": ["192.0.2.53"]}
    # After the first boot the Wi-Fi is NetworkManager's keyfile only.
    later = yaml.safe_load(
        written(user_data_doc(profile()), "/etc/netplan/50-cloud-init.yaml")["content"]
    )
    assert "wifis" not in later["network"]


def _glib_unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"s": " ", "\\": "\\", "n": "\n", "t": "\t"}[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def test_wifi_keyfile_parses_and_holds_the_network() -> None:
    text = render(profile())["system-connections/beacon-wifi.nmconnection"].decode()
    parser = configparser.RawConfigParser(interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    assert parser["connection"]["type"] == "wifi"
    assert parser["connection"]["id"] == "beacon-wifi"
    assert parser["connection"]["autoconnect-retries"] == "0"
    assert parser["wifi"]["powersave"] == "2"
    assert parser["wifi-security"]["key-mgmt"] == "wpa-psk"
    assert _glib_unescape(parser["wifi-security"]["psk"]) == PSK
    ssid = parser["wifi"]["ssid"]
    assert bytes(int(b) for b in ssid.rstrip(";").split(";")).decode() == "Clinic Guest"
    plain = render(profile(_set("network.wifi", "ssid", "clinic-staff")))
    assert b"ssid=clinic-staff\n" in plain["system-connections/beacon-wifi.nmconnection"]


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """systemd's unit syntax: INI-like, but keys repeat (Environment=) and order matters."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, line
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def test_kiosk_unit() -> None:
    unit = parse_unit(render(profile())["beacon-kiosk.service"].decode())
    service = dict(unit["Service"])
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["ExecStart"] == "/usr/bin/beacon kiosk run --state-dir /var/lib/beacon"
    assert service["User"] == "kiosk"
    assert service["Restart"] == "always" and "RestartSec" in service
    assert service["WatchdogSec"] == "30"
    assert service["StateDirectory"] == "beacon"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/beacon"
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "LockPersonality",
    ):
        assert service[key] == "yes", key
    assert service["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6 AF_NETLINK"
    assert service["SupplementaryGroups"] == "render video input gpio dialout"
    env = [v for k, v in unit["Service"] if k == "Environment"]
    assert "SDL_VIDEODRIVER=kmsdrm" in env and "KCFG_GRAPHICS_ROTATION=90" in env
    assert dict(unit["Install"])["WantedBy"] == "multi-user.target"
    upright = parse_unit(
        render(profile(_set("display", "rotation", 0)))["beacon-kiosk.service"].decode()
    )
    assert not any(v.startswith("KCFG_GRAPHICS_ROTATION") for _, v in upright["Service"])


def test_nftables_rules() -> None:
    nft = render(profile())["nftables.conf"].decode()
    assert nft.startswith("#!/usr/sbin/nft -f\n")
    assert "chain input {\n\t\ttype filter hook input priority filter; policy drop;" in nft
    assert "chain output {\n\t\ttype filter hook output priority filter; policy drop;" in nft
    assert "chain forward {\n\t\ttype filter hook forward priority filter; policy drop;" in nft
    assert '\t\tiif "lo" accept' in nft and '\t\toif "lo" accept' in nft
    assert "ct state established,related accept" in nft
    assert "elements = { 198.51.100.7 . 8443 }" in nft
    assert "elements = { 2001:db8::7 . 443 }" in nft
    assert "ip daddr . tcp dport @tcp_out4 accept" in nft
    assert "ip6 daddr . tcp dport @tcp_out6 accept" in nft
    # DNS from DHCP: any resolver; NTP names: by port.
    assert "meta l4proto { tcp, udp } th dport 53 accept" in nft
    assert "\t\tudp dport 123 accept" in nft
    pinned = render(
        profile(
            _both(
                _set("network", "dns_servers", ["192.0.2.53", "2001:db8::53"]),
                _set("system", "ntp_servers", ["192.0.2.123"]),
            )
        )
    )["nftables.conf"].decode()
    assert "ip daddr { 192.0.2.53 } meta l4proto { tcp, udp } th dport 53 accept" in pinned
    assert "ip6 daddr { 2001:db8::53 } meta l4proto { tcp, udp } th dport 53 accept" in pinned
    assert "ip daddr { 192.0.2.123 } udp dport 123 accept" in pinned
    assert "\t\tudp dport 123 accept" not in pinned
    hosts = render_module.firewall_hosts_script(profile())
    for line in ("enrol.clinic.test 8443", "broker.clinic.test 8883", "tuf.clinic.test 443"):
        assert f"\n{line}\n" in hosts


def test_cmdline_is_one_line_with_kms_video() -> None:
    text = render(profile())["cmdline.txt"].decode()
    assert text.endswith("\n") and text.count("\n") == 1
    params = text.split()
    for expected in (
        "console=tty3",
        "quiet",
        "loglevel=3",
        "consoleblank=0",
        "logo.nologo",
        "vt.global_cursor_default=0",
        "root=/dev/mmcblk0p2",
        "rootfstype=ext4",
        "fsck.repair=yes",
        "rootwait",
        "video=HDMI-A-1:1920x1080@60D,rotate=90",
        "cfg80211.ieee80211_regdom=GB",
    ):
        assert expected in params
    assert not any(p.startswith(("console=serial", "resize", "init=")) for p in params)
    dsi = profile(
        _both(
            _set("display", "connector", "DSI-1"),
            _set("display", "resolution", "auto"),
            _set("display", "rotation", 180),
        )
    )
    assert "video=DSI-1:rotate=180" in render(dsi)["cmdline.txt"].decode().split()
    plain = profile(_both(_set("display", "resolution", "auto"), _set("display", "rotation", 0)))
    assert "video=" not in render(plain)["cmdline.txt"].decode()


def test_config_txt() -> None:
    text = render(profile())["config.txt"].decode()
    lines = text.splitlines()
    for expected in (
        "dtoverlay=vc4-kms-v3d",
        "dtparam=watchdog=on",
        "disable_splash=1",
        "hdmi_force_hotplug=1",
        "dtparam=audio=off",
    ):
        assert expected in lines
    assert not any(line.startswith(("display_lcd_rotate", "display_rotate")) for line in lines)
    second = profile(
        _both(
            _set("display", "connector", "HDMI-A-2"),
            _set("display", "hdmi_group", 2),
            _set("display", "hdmi_mode", 82),
        )
    )
    lines2 = render(second)["config.txt"].decode().splitlines()
    assert {"hdmi_force_hotplug:1=1", "hdmi_group:1=2", "hdmi_mode:1=82"} <= set(lines2)
    dsi = render(profile(_set("display", "connector", "DSI-1")))["config.txt"].decode()
    assert "hdmi_force_hotplug" not in dsi


def test_meta_data_instance_changes_with_the_profile() -> None:
    first = yaml.safe_load(render(profile())["meta-data"])
    again = yaml.safe_load(render(profile())["meta-data"])
    other = yaml.safe_load(
        render(profile(_set("fleet", "enrolment_token", TOKEN + "x")))["meta-data"]
    )
    assert first["instance-id"] == again["instance-id"] != other["instance-id"]
    assert first["dsmode"] == "local"


# -- writing the folder and the CLI -------------------------------------------------------


def test_write_boot_folder_modes(tmp_path: Path) -> None:
    out = tmp_path / "boot"
    (out / "system-connections").mkdir(parents=True)
    stale = out / "user-data"
    stale.write_text("old")
    os.chmod(stale, 0o644)
    old_umask = os.umask(0o000)
    try:
        paths = write_boot_folder(profile(), out)
    finally:
        os.umask(old_umask)
    rendered = render(profile())
    assert {p.relative_to(out).as_posix() for p in paths} == set(rendered)
    for relative, content in rendered.items():
        path = out / relative
        assert path.read_bytes() == content
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if relative in SECRET_FILES else 0o644), relative
    assert not list(out.rglob(".*.tmp"))


def test_cli_check_and_render(tmp_path: Path) -> None:
    runner = CliRunner()
    good = write_toml(tmp_path / "good.toml", base())
    result = runner.invoke(config_group, ["check", str(good)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    broken = copy.deepcopy(base())
    broken["fleet"]["enrolment_url"] = "http://enrol.clinic.test/"
    broken["display"]["rotation"] = 45
    bad = write_toml(tmp_path / "bad.toml", broken)
    result = runner.invoke(config_group, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: [fleet] enrolment_url: must use https" in result.output
    assert f"{bad}: [display] rotation:" in result.output
    out = tmp_path / "out"
    result = runner.invoke(config_group, ["render", str(good), str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "user-data").exists() and (out / "cmdline.txt").exists()
    result = runner.invoke(config_group, ["render", str(bad), str(tmp_path / "none")])
    assert result.exit_code == 1
    assert not (tmp_path / "none").exists()
    result = runner.invoke(config_group, ["check", str(SAMPLE)])
    assert result.exit_code == 0
    assert "placeholder" in result.output  # CliRunner mixes stderr in
