"""device.agent.modem against the fake modem on a pseudo-terminal (real pyserial, real pty)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from device.agent.modem import (
    ModemError,
    ModemTimeout,
    ModemUnavailable,
    SmsModem,
    encode_text,
    valid_number,
)
from tests.support.fake_modem import FakeModem, SentSms

NUMBER = "+15550100"


@pytest.fixture
def modem() -> Iterator[FakeModem]:
    with FakeModem() as fake:
        yield fake


def _driver(fake: FakeModem, timeout: float = 2.0) -> SmsModem:
    return SmsModem(fake.path, 115200, command_timeout_s=timeout, send_timeout_s=timeout)


def test_sends_one_sms_and_returns_the_reference(modem: FakeModem) -> None:
    assert _driver(modem).send_sms(NUMBER, "Beacon alert: test") == 12
    assert modem.sent == [SentSms(NUMBER, "Beacon alert: test")]
    assert modem.commands == ["AT", "AT+CMGF=1", f'AT+CMGS="{NUMBER}"']


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"echo": False}, id="no-echo"),
        pytest.param({"noise": "RING"}, id="unsolicited-ring"),
        pytest.param({"noise": "+CREG: 1,5"}, id="unsolicited-registration"),
        pytest.param({"reference": 201}, id="other-reference"),
    ],
)
def test_tolerates_modem_variations(options: dict[str, object]) -> None:
    with FakeModem(**options) as fake:  # type: ignore[arg-type]
        ref = _driver(fake).send_sms(NUMBER, "hello")
        assert ref == fake.reference
        assert fake.sent == [SentSms(NUMBER, "hello")]


def test_port_is_reopened_for_every_sms(modem: FakeModem) -> None:
    driver = _driver(modem)
    for i in range(3):
        driver.send_sms(NUMBER, f"message {i}")
    assert [s.text for s in modem.sent] == ["message 0", "message 1", "message 2"]


def test_cms_error_carries_its_code() -> None:
    with FakeModem(fail_first=1, error_code=500) as fake:
        driver = _driver(fake)
        with pytest.raises(ModemError) as caught:
            driver.send_sms(NUMBER, "first")
        assert caught.value.code == 500
        assert "+CMS ERROR: 500" in str(caught.value)
        assert type(caught.value) is ModemError
        assert driver.send_sms(NUMBER, "second") == 12  # the modem recovers
        assert fake.sent == [SentSms(NUMBER, "second")]


def test_plain_error_to_a_command() -> None:
    with FakeModem(error_on="AT+CMGF=1") as fake:
        with pytest.raises(ModemError, match="ERROR") as caught:
            _driver(fake).send_sms(NUMBER, "x")
        assert caught.value.code is None
        assert fake.sent == []


def test_silent_modem_times_out_quickly() -> None:
    with FakeModem(silent=True) as fake:
        started = time.monotonic()
        with pytest.raises(ModemTimeout, match="no final result from the modem"):
            _driver(fake, timeout=0.3).send_sms(NUMBER, "x")
        assert time.monotonic() - started < 2.0
        assert fake.commands == ["AT"]


def test_timeout_after_the_text_is_a_timeout() -> None:
    with FakeModem(silent_after_text=True) as fake:
        with pytest.raises(ModemTimeout):
            _driver(fake, timeout=0.3).send_sms(NUMBER, "x")
        assert fake.send_attempts == 1  # it took the text; whether it went out is unknown


def test_missing_prompt_is_cancelled_with_escape() -> None:
    with FakeModem(prompt=False) as fake:
        with pytest.raises(ModemTimeout, match="no > prompt"):
            _driver(fake, timeout=0.3).send_sms(NUMBER, "x")
        deadline = time.monotonic() + 2
        while fake.cancelled == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.cancelled == 1  # the modem is not left waiting for message text
        assert fake.send_attempts == 0


def test_missing_port_is_unavailable() -> None:
    with pytest.raises(ModemUnavailable, match="cannot open modem port /dev/no-such-modem"):
        SmsModem("/dev/no-such-modem").send_sms(NUMBER, "x")


@pytest.mark.parametrize("number", ["", "12", "+44 1632 960961", "0800-FLOWERS", '1";AT'])
def test_refuses_what_is_not_a_phone_number(number: str) -> None:
    assert not valid_number(number)
    with pytest.raises(ValueError, match="not a phone number"):
        SmsModem("/dev/unused").send_sms(number, "x")


@pytest.mark.parametrize("number", ["+441632960961", "07700900123", "112"])
def test_phone_numbers(number: str) -> None:
    assert valid_number(number)


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("Beacon alert: help", b"Beacon alert: help"),
        ("Caf\u00e9", b"Caf?"),
        ("end\x1aAT+CMGS", b"end AT+CMGS"),  # Ctrl-Z inside would end the message early
        ("esc\x1b", b"esc "),
        ("two\nlines", b"two lines"),
    ],
)
def test_encode_text(text: str, wire: bytes) -> None:
    assert encode_text(text) == wire
