"""Start and stop the processes of a laid-out system: brokers, fleet managers, kiosks.

Every child gets a parent-death signal, so nothing is left behind even if the parent is
killed, and its output goes to a log file under the system's ``logs/`` folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from beacon.system import SystemLayout
from device.agent.control import ControlError, control_request
from fleet_manager.brokers.runner import MosquittoProcess

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM it when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """A ``python -m MODULE ...`` child process (``beacon`` by default), its output in a log
    file."""

    def __init__(self, name: str, args: list[str], log_path: Path, module: str = "beacon") -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self.module = module
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, env: dict[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the parent only; it stops children in order
            env=env,
        )

    def stop(self, timeout: float = 10.0) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close()

    def kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._close()

    def pause(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def _close(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, event: str, timeout: float, after: int = 0) -> None:
        """Until a JSON log line with ``"event": event`` appears past byte ``after``."""
        needle = f'"event": "{event}"'
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text()[after:]:
                return
            if not self.is_running:
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: no {event!r} within {timeout}s")

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0


class RunningSystem:
    """The processes of one :class:`SystemLayout`, started and stopped in a safe order."""

    def __init__(
        self,
        layout: SystemLayout,
        heartbeat_s: float = 60.0,
        screen_kiosk: str | None = None,
        screen_size: str = "1024x600",
    ) -> None:
        """``screen_kiosk``, if given, runs with its touch UI in a window; the rest headless."""
        self.layout = layout
        self.heartbeat_s = heartbeat_s
        logs = layout.base / "logs"
        self.fleet_broker = MosquittoProcess(
            layout.fleet_broker_conf, layout.fleet_port, "fleet-broker"
        )
        self.responder_brokers = {
            region: MosquittoProcess(conf, layout.responder_ports[region], f"responder-{region}")
            for region, conf in layout.responder_broker_confs.items()
        }
        self.fleet_managers = [
            ManagedProcess(
                f"fleet-{i}", ["fleet", "serve", "--config", str(cfg)], logs / f"fleet-{i}.log"
            )
            for i, cfg in enumerate(layout.fleet_configs, start=1)
        ]

        self.api = ManagedProcess(
            "fleet-api",
            ["fleet", "api", "--config", str(layout.fleet_configs[0])],
            logs / "fleet-api.log",
        )

        self.landing = ManagedProcess(
            "landing",
            ["landing", "serve", "--config", str(layout.fleet_configs[0])],
            logs / "landing.log",
        )

        def kiosk_args(device_id: str, state_dir: Path) -> list[str]:
            mode = ["--size", screen_size] if device_id == screen_kiosk else ["--headless"]
            return [
                "kiosk",
                "run",
                *mode,
                "--state-dir",
                str(state_dir),
                "--heartbeat-interval",
                str(heartbeat_s),
            ]

        self.kiosks = {
            device_id: ManagedProcess(
                device_id, kiosk_args(device_id, state_dir), logs / f"{device_id}.log"
            )
            for device_id, state_dir in layout.kiosk_dirs.items()
        }

    def start_brokers(self) -> None:
        for broker in self.responder_brokers.values():
            broker.start()
        self.fleet_broker.start()

    def start_fleet_managers(self, wait: float = 30.0) -> None:
        """Start them and wait until each is subscribed: a kiosk's first alert must find a
        consumer (later ones are queued in the fleet manager's persistent session)."""
        for fm in self.fleet_managers:
            self.start_fleet_manager(fm, wait)

    def start_fleet_manager(self, fm: ManagedProcess, wait: float = 30.0) -> None:
        offset = fm.log_size()
        fm.start()
        fm.wait_for_log("mqtt_connected", wait, after=offset)

    def start_api(self, wait: float = 30.0) -> None:
        """Start the HTTPS API and wait until it accepts connections."""
        _start_listening(self.api, self.layout.api_port, wait)

    def start_landing(self, wait: float = 30.0) -> None:
        """Start the landing page and wait until it accepts connections."""
        _start_listening(self.landing, self.layout.landing_port, wait)

    def start_kiosks(self, wait: float = 20.0) -> None:
        for kiosk in self.kiosks.values():
            kiosk.start()
        for device_id in self.kiosks:
            self.wait_kiosk_ready(device_id, wait)

    def start(self) -> None:
        self.start_brokers()
        self.start_fleet_managers()
        self.start_api()
        if self.layout.plan.landing_page:
            self.start_landing()
        self.start_kiosks()

    def wait_kiosk_ready(self, device_id: str, timeout: float = 20.0) -> None:
        """Until the kiosk answers on its control socket and is connected to the broker."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.kiosks[device_id].is_running:
                raise RuntimeError(
                    f"kiosk {device_id} exited:\n{self.kiosks[device_id].log_text()[-2000:]}"
                )
            try:
                status = self.ctl(device_id, {"cmd": "status"}, timeout=2)["status"]
                if isinstance(status, dict) and status["connected"]:
                    return
                last = "not connected"
            except (ControlError, ValueError, KeyError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TimeoutError(f"kiosk {device_id} not ready after {timeout}s ({last})")

    def ctl(
        self, device_id: str, request: dict[str, object], timeout: float = 10.0
    ) -> dict[str, object]:
        return control_request(self.layout.kiosk_dirs[device_id], dict(request), timeout)

    def press_help(self, device_id: str) -> str:
        reply = self.ctl(device_id, {"cmd": "press-help"})
        if not reply.get("ok"):
            raise RuntimeError(f"press-help failed on {device_id}: {reply}")
        return str(reply["alert_id"])

    def stop(self) -> None:
        """Kiosks first (so their goodbye is recorded), then fleet managers, then brokers."""
        for kiosk in self.kiosks.values():
            kiosk.stop()
        self.api.stop()
        self.landing.stop()
        for fm in self.fleet_managers:
            fm.stop()
        self.fleet_broker.stop()
        for broker in self.responder_brokers.values():
            broker.stop()


def _start_listening(process: ManagedProcess, port: int, wait: float) -> None:
    process.start()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not process.is_running:
            raise RuntimeError(f"{process.name} exited:\n{process.log_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{process.name} not listening after {wait}s")
