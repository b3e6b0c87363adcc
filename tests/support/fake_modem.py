"""A fake cellular modem on a pseudo-terminal: enough AT for text-mode SMS.

The code under test opens :attr:`FakeModem.path` with pyserial exactly as it would open
``/dev/ttyUSB2``. The fake answers ``AT`` and ``AT+CMGF=1`` with ``OK``, ``AT+CMGS="…"`` with the
``> `` prompt, and the text ended by Ctrl-Z with ``+CMGS: <ref>`` and ``OK``, recording each
SMS. It can fail the first sends with ``+CMS ERROR``, answer ``ERROR`` to a command, stay
silent (a hung modem), withhold the prompt, go silent only after the text, and emit
unsolicited lines.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import time
import tty
from dataclasses import dataclass
from types import TracebackType

CTRL_Z = 0x1A
ESC = 0x1B


@dataclass(frozen=True)
class SentSms:
    number: str
    text: str


class FakeModem:
    def __init__(
        self,
        *,
        fail_first: int = 0,
        error_code: int = 500,
        silent: bool = False,
        silent_after_text: bool = False,
        prompt: bool = True,
        echo: bool = True,
        noise: str | None = None,
        error_on: str | None = None,
        reference: int = 12,
    ) -> None:
        self.fail_first = fail_first  # answer +CMS ERROR to this many sends, then succeed
        self.error_code = error_code
        self.silent = silent
        self.silent_after_text = silent_after_text
        self.prompt = prompt  # False: takes the text but never shows "> " (hung mid-command)
        self.echo = echo
        self.noise = noise  # an unsolicited line sent before every answer, e.g. "RING"
        self.error_on = error_on  # a command answered with plain ERROR
        self.reference = reference
        self.sent: list[SentSms] = []
        self.commands: list[str] = []
        self.send_attempts = 0
        self.cancelled = 0  # ESC received while waiting for message text
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-modem", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeModem:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> FakeModem:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_sent(self, count: int, timeout: float = 10.0) -> list[SentSms]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sent) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(self.sent)} SMS after {timeout}s, wanted {count} "
                        f"(attempts {self.send_attempts}, commands {self.commands})"
                    )
                self._cond.wait(remaining)
            return list(self.sent)

    # -- the modem ------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        os.write(self._master, text.encode("ascii"))

    def _answer(self, text: str) -> None:
        if self.noise:
            self._write(f"\r\n{self.noise}\r\n")
        self._write(text)

    def _serve(self) -> None:
        line = b""
        body = b""
        number: str | None = None  # set while waiting for the message text
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except OSError:
                return
            for byte in data:
                if number is not None:
                    if byte == CTRL_Z:
                        self._message(number, body.decode("ascii", errors="replace"))
                        number, body = None, b""
                    elif byte == ESC:
                        with self._cond:
                            self.cancelled += 1
                        number, body = None, b""
                    else:
                        body += bytes([byte])
                    continue
                if byte == ESC:
                    continue
                if byte in (0x0D, 0x0A):
                    command = line.decode("ascii", errors="replace").strip()
                    line = b""
                    if command:
                        number = self._command(command)
                    continue
                line += bytes([byte])

    def _command(self, command: str) -> str | None:
        with self._cond:
            self.commands.append(command)
        if self.echo:
            self._write(command + "\r")
        if self.silent:
            return None
        if command == self.error_on:
            self._answer("\r\nERROR\r\n")
            return None
        if command in ("AT", "AT+CMGF=1"):
            self._answer("\r\nOK\r\n")
            return None
        match = re.fullmatch(r'AT\+CMGS="(\+?\d+)"', command)
        if match:
            if self.prompt:
                self._write("\r\n> ")
            return match.group(1)
        self._answer("\r\nERROR\r\n")
        return None

    def _message(self, number: str, text: str) -> None:
        with self._cond:
            self.send_attempts += 1
            failing = self.fail_first > 0
            if failing:
                self.fail_first -= 1
        if self.echo:
            self._write(text)
        if self.silent_after_text:
            return
        if failing:
            self._answer(f"\r\n+CMS ERROR: {self.error_code}\r\n")
            return
        with self._cond:
            self.sent.append(SentSms(number, text))
            self._cond.notify_all()
        self._answer(f"\r\n+CMGS: {self.reference}\r\n\r\nOK\r\n")
