"""device.agent.device_config: kiosk.toml → settings, with errors naming file and field."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from device.agent.device_config import (
    CONFIG_FILE,
    DeviceConfig,
    DeviceConfigError,
    load_device_config,
)
from device.agent.display_schedule import DisplayWindow
from device.agent.hardware import HardwarePins
from device.agent.sms_fallback import SmsSettings

FULL = """\
[hardware]
help_button_pin = 17
motion_pin = 4
tamper_pin = 27
hold_seconds = 2.5

[sms]
enabled = true
port = "/dev/ttyUSB3"
baud = 9600
on_call_number = "+44 1632 960961"
fallback_after_seconds = 45
message = "Help at {location_name}, {time}. Ref {ref}"
retry_seconds = [5, 20]

[display]
motion_wake_seconds = 90
[[display.windows]]
days = "mon-fri"
on = "07:00"
off = "19:30"
[[display.windows]]
days = ["sat"]
on = 09:00:00
off = "13:00"

[staff]
pin_hash = "owned by the UI; never read here"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CONFIG_FILE
    path.write_text(text)
    return path


def test_no_file_means_defaults(tmp_path: Path) -> None:
    config = load_device_config(tmp_path)
    assert config == DeviceConfig()
    assert config.sms.enabled is False
    assert not config.hardware.pins.any_fitted
    assert config.display.windows == ()


def test_full_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_device_config(tmp_path)
    assert config.source == path
    assert config.hardware.pins == HardwarePins(help_button=17, motion=4, tamper=27)
    assert config.hardware.hold_s == 2.5
    assert config.sms == SmsSettings(
        enabled=True,
        port="/dev/ttyUSB3",
        baud=9600,
        on_call_number="+441632960961",
        fallback_after_s=45.0,
        template="Help at {location_name}, {time}. Ref {ref}",
        retry_s=(5.0, 20.0),
    )
    assert config.display.motion_wake_s == 90.0
    assert config.display.windows == (
        DisplayWindow(frozenset(range(5)), time(7), time(19, 30)),
        DisplayWindow(frozenset({5}), time(9), time(13)),
    )
    assert config.display.warnings == ()


def test_empty_file_is_defaults(tmp_path: Path) -> None:
    write(tmp_path, "")
    assert load_device_config(tmp_path).sms == SmsSettings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[sms\n", "not valid TOML", id="toml-syntax"),
        pytest.param("sms = 3\n", "[sms] must be a table", id="section-not-table"),
        pytest.param(
            "[hardware]\nhelp_buton_pin = 17\n",
            "[hardware] help_buton_pin: unknown setting",
            id="typo-in-key",
        ),
        pytest.param(
            "[hardware]\nhelp_button_pin = 40\n",
            "[hardware] help_button_pin: must be 0…27, not 40",
            id="pin-out-of-range",
        ),
        pytest.param(
            "[hardware]\nmotion_pin = '4'\n",
            "[hardware] motion_pin: must be a whole number",
            id="pin-as-text",
        ),
        pytest.param(
            "[hardware]\nhelp_button_pin = 17\ntamper_pin = 17\n",
            "[hardware] tamper_pin: GPIO17 is already the help_button_pin",
            id="pin-twice",
        ),
        pytest.param(
            "[hardware]\nhold_seconds = 0.1\n",
            "[hardware] hold_seconds: must be between 0.5 and 30",
            id="hold-too-short",
        ),
        pytest.param(
            "[hardware]\nhold_seconds = true\n",
            "[hardware] hold_seconds: must be a number",
            id="hold-bool",
        ),
        pytest.param(
            "[sms]\nenabled = true\n",
            "[sms] on_call_number: is required when enabled = true",
            id="enabled-without-number",
        ),
        pytest.param(
            "[sms]\non_call_number = 'Dana'\n",
            "[sms] on_call_number: 'Dana' is not a phone number",
            id="number-not-a-number",
        ),
        pytest.param(
            "[sms]\nenabled = 'yes'\n",
            "[sms] enabled: must be true or false",
            id="enabled-not-bool",
        ),
        pytest.param(
            "[sms]\nenabled = true\non_call_number = '+15550100'\nport = ''\n",
            "[sms] port: is required",
            id="no-port",
        ),
        pytest.param("[sms]\nbaud = 0\n", "[sms] baud: must be 300", id="baud"),
        pytest.param(
            "[sms]\nmessage = 'Help for {patient_name}'\n",
            "[sms] message: unknown placeholder {patient_name}",
            id="template-field",
        ),
        pytest.param(
            "[sms]\nretry_seconds = []\n",
            "[sms] retry_seconds: must be a list of positive seconds",
            id="retry-empty",
        ),
        pytest.param(
            "[sms]\nfallback_after_seconds = -1\n",
            "[sms] fallback_after_seconds: must be between 0",
            id="negative-fallback",
        ),
        pytest.param(
            "[display]\nwindow = []\n",
            "[display] window: unknown setting",
            id="display-typo",
        ),
        pytest.param(
            "[display]\nmotion_wake_seconds = 'long'\n",
            "[display] motion_wake_seconds: must be a number",
            id="wake-text",
        ),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DeviceConfigError) as caught:
        load_device_config(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_bad_display_window_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[display]\n[[display.windows]]\ndays = 'mon-fir'\non = '07:00'\noff = '19:00'\n",
    )
    config = load_device_config(tmp_path)
    assert config.display.windows == ()
    assert config.display.warnings[0].startswith(f"{path}: [display] window 1: days")
    assert "ignored" in config.display.warnings[-1]


def test_other_sections_belong_to_other_components(tmp_path: Path) -> None:
    write(tmp_path, "[staff]\npin = 1234\n[ui]\nanything = 'goes'\n")
    assert load_device_config(tmp_path).source is not None


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).mkdir()
    with pytest.raises(DeviceConfigError, match="cannot be read"):
        load_device_config(tmp_path)
