"""Sending one SMS through a cellular modem with AT commands over a serial port (pyserial).

Each :meth:`SmsModem.send_sms` opens the port, talks, and closes it in ``finally``: a modem
that is unplugged and plugged back (and re-enumerated) is found again on the next attempt,
and a flapping modem cannot leak file descriptors. The exchange, in text mode::

    → AT                     ← OK
    → AT+CMGF=1              ← OK
    → AT+CMGS="<number>"     ← "> "
    → <text> Ctrl-Z          ← +CMGS: <ref>   ← OK

Echoed commands and unsolicited lines (``RING``, ``+CREG: …``) are skipped. Failures are
types: :class:`ModemUnavailable` (no port, cannot open, unplugged mid-way),
:class:`ModemTimeout` (no answer in time), :class:`ModemError` (``ERROR`` or
``+CMS ERROR: <n>`` / ``+CME ERROR: <n>``, with the code). Retrying is the caller's business
(:mod:`device.agent.sms_policy`).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

import serial

CTRL_Z = b"\x1a"
ESC = b"\x1b"
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_ERROR = re.compile(r"^\+CM[ES] ERROR:\s*(\d+)")
_CMGS = re.compile(r"^\+CMGS:\s*(\d+)")


class ModemError(Exception):
    """The modem answered with an error; ``code`` is the ``+CMS/+CME ERROR`` number if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ModemTimeout(ModemError):
    """The modem did not answer in time."""


class ModemUnavailable(ModemError):
    """The serial port is missing, cannot be opened, or went away during the exchange."""


def valid_number(number: str) -> bool:
    """International (``+44…``) or national digits, 3–20 of them, no spaces."""
    return bool(_NUMBER.match(number))


def encode_text(text: str) -> bytes:
    """Text-mode bytes: printable ASCII only (Ctrl-Z or ESC inside would end or cancel it)."""
    cleaned = "".join(c if 32 <= ord(c) < 127 else ("?" if ord(c) >= 127 else " ") for c in text)
    return cleaned.encode("ascii")


class SmsModem:
    """A modem on ``port``; ``send_sms`` is the whole API. Not thread-safe: one sender."""

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        command_timeout_s: float = 5.0,
        send_timeout_s: float = 60.0,
        open_serial: Callable[..., Any] = serial.Serial,
    ) -> None:
        self.port = port
        self.baud = baud
        self.command_timeout_s = command_timeout_s
        self.send_timeout_s = send_timeout_s  # the network may take a while to accept a text
        self._open_serial = open_serial

    def send_sms(self, number: str, text: str) -> int:
        """Send ``text`` to ``number``; return the network's message reference."""
        if not valid_number(number):
            raise ValueError(f"{number!r} is not a phone number (digits, optional leading +)")
        try:
            port = self._open_serial(
                port=self.port, baudrate=self.baud, timeout=0.1, write_timeout=5.0
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemUnavailable(f"cannot open modem port {self.port}: {exc}") from exc
        session = _AtSession(port, self.port)
        try:
            session.discard_input()  # stale unsolicited lines from before we opened
            session.command("AT", self.command_timeout_s)
            session.command("AT+CMGF=1", self.command_timeout_s)
            session.write(f'AT+CMGS="{number}"\r'.encode("ascii"))
            try:
                session.wait_prompt(self.command_timeout_s)
                session.write(encode_text(text) + CTRL_Z)
                lines = session.read_final(self.send_timeout_s)
            except ModemTimeout:
                session.write_quietly(ESC)  # do not leave the modem waiting for message text
                raise
        finally:
            session.close()
        for line in lines:
            match = _CMGS.match(line)
            if match:
                return int(match.group(1))
        raise ModemError("modem said OK but gave no message reference (+CMGS)")


class _AtSession:
    """Line-oriented reading from one open port, with deadlines."""

    def __init__(self, port: Any, name: str) -> None:
        self._port = port
        self._name = name
        self._buffer = b""

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise ModemUnavailable(f"modem port {self._name} failed: {exc}") from exc

    def discard_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise ModemUnavailable(f"modem port {self._name} failed: {exc}") from exc

    def write_quietly(self, data: bytes) -> None:
        with contextlib.suppress(ModemUnavailable):  # best effort while already failing
            self.write(data)

    def close(self) -> None:
        # Closing a port that went away cannot fail the send any further.
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()

    def command(self, command: str, timeout: float) -> list[str]:
        self.write(command.encode("ascii") + b"\r")
        return self.read_final(timeout, sent=command)

    def read_final(self, timeout: float, sent: str | None = None) -> list[str]:
        """Lines up to and including a final result; raise on an error result."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            for line in self._take_lines():
                if line == sent:
                    continue  # echo
                lines.append(line)
                if line == "OK":
                    return lines
                self._raise_on_error(line)
            self._fill(deadline, "final result")

    def wait_prompt(self, timeout: float) -> None:
        """Until the ``> `` prompt for the message text (it has no line end)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self._take_lines():
                self._raise_on_error(line)
                if line.startswith(">"):
                    return
            if self._buffer.strip().startswith(b">"):
                self._buffer = b""
                return
            self._fill(deadline, "> prompt")

    @staticmethod
    def _raise_on_error(line: str) -> None:
        if line == "ERROR":
            raise ModemError("modem answered ERROR")
        match = _ERROR.match(line)
        if match:
            raise ModemError(f"modem answered {line}", code=int(match.group(1)))

    def _take_lines(self) -> list[str]:
        lines: list[str] = []
        while True:
            cut = min(
                (i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0),
                default=-1,
            )
            if cut < 0:
                return lines
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
            line = raw.decode("ascii", errors="replace").strip()
            if line:
                lines.append(line)

    def _fill(self, deadline: float, waiting_for: str) -> None:
        if time.monotonic() >= deadline:
            raise ModemTimeout(f"no {waiting_for} from the modem on {self._name}")
        try:
            chunk = self._port.read(max(1, self._port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise ModemUnavailable(f"modem port {self._name} failed: {exc}") from exc
        self._buffer += chunk
