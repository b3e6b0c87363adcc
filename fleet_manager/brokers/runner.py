"""Run a Mosquitto broker as a child process: the thin adapter under the rendered configs.

Used by the demo and the integration tests; production runs Mosquitto under systemd with the
same rendered files.

Mosquitto started as root drops to the ``mosquitto`` account *before* it opens its log, TLS keys,
ACL and persistence files, so files we write 0600 (keys, ACL) or keep in a private temporary
directory become unreadable to it and it exits at once. :func:`broker_user_setting` gives the
``user`` value that keeps the broker running as whoever starts it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

FALLBACK_BINARY = "/usr/sbin/mosquitto"
_POLL_SECONDS = 0.05
_STOP_GRACE_SECONDS = 5.0


def mosquitto_binary() -> str:
    """Path of the ``mosquitto`` executable; raises FileNotFoundError if it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    if os.access(FALLBACK_BINARY, os.X_OK):
        return FALLBACK_BINARY
    raise FileNotFoundError(
        "mosquitto is not installed (looked on PATH and at /usr/sbin/mosquitto);"
        " install the Debian package 'mosquitto'"
    )


def broker_user_setting() -> str | None:
    """The ``user`` to render into a broker config started by this process.

    ``"root"`` when this process is root (so Mosquitto does not drop to an account that cannot
    read our files), otherwise None: an unprivileged Mosquitto cannot switch users anyway.
    """
    return "root" if os.geteuid() == 0 else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(host: str, port: int) -> bool:
    # Same SO_REUSEADDR as Mosquitto, so a port in TIME_WAIT after a restart still counts as free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class BrokerPaths:
    """Where one broker's files live inside its directory (all absolute)."""

    directory: Path
    conf_file: Path
    acl_file: Path
    data_dir: Path
    log_file: Path


def broker_paths(directory: Path) -> BrokerPaths:
    """The file layout :func:`write_broker_files` uses; render the config with these paths."""
    directory = directory.resolve()
    return BrokerPaths(
        directory=directory,
        conf_file=directory / "mosquitto.conf",
        acl_file=directory / "acl",
        data_dir=directory / "data",
        log_file=directory / "mosquitto.log",
    )


def write_broker_files(directory: Path, conf_text: str, acl_text: str) -> Path:
    """Write ``mosquitto.conf`` and ``acl`` (0600) and create ``data/``; return the conf path.

    ``conf_text`` must name this directory's ``acl`` file (see :func:`broker_paths`), otherwise
    the broker would silently enforce some other ACL; ValueError if it does not.
    """
    paths = broker_paths(directory)
    if f"acl_file {paths.acl_file}\n" not in conf_text:
        raise ValueError(f"config does not use the ACL file it is written with ({paths.acl_file})")
    paths.directory.mkdir(parents=True, exist_ok=True)
    paths.data_dir.mkdir(mode=0o700, exist_ok=True)
    # The ACL maps identities to rights: readable by the broker's account only.
    fd = os.open(paths.acl_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(acl_text)
    os.chmod(paths.acl_file, 0o600)
    paths.conf_file.write_text(conf_text, encoding="utf-8")
    return paths.conf_file


def _log_file_from_conf(conf_path: Path) -> Path | None:
    for line in conf_path.read_text(encoding="utf-8").splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and parts[0] == "log_dest" and parts[1] == "file":
            return Path(parts[2])
    return None


def _tail(path: Path | None, lines: int) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


class MosquittoProcess:
    """One ``mosquitto -c conf`` child process listening on ``127.0.0.1:port``.

    The broker's stdout/stderr go to ``{name}.stderr`` beside the config (Mosquitto reports
    config errors there before its own log is open); its log file is the config's
    ``log_dest file`` path, if any. Not thread-safe: drive it from one thread.
    """

    def __init__(self, conf_path: Path, port: int, name: str, host: str = "127.0.0.1") -> None:
        self.conf_path = conf_path.resolve()
        self.port = port
        self.name = name
        self.host = host
        self.stderr_path = self.conf_path.parent / f"{name}.stderr"
        self.log_path = _log_file_from_conf(self.conf_path)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        """Everything the broker has logged so far (its log file, else its stderr)."""
        path = self.log_path if self.log_path is not None else self.stderr_path
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 20) -> str:
        parts = [_tail(self.stderr_path, lines), _tail(self.log_path, lines)]
        return "\n".join(part for part in parts if part)

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and return once its port accepts TCP connections.

        Raises RuntimeError (with the tail of the broker's output) if the port is taken, the
        process exits during start-up, or the port does not open within ``timeout`` seconds.
        The readiness probe is a bare TCP connect, so a TLS broker logs one failed connection
        from this host at every start.
        """
        if self.is_running:
            raise RuntimeError(f"broker {self.name} is already running (pid {self.pid})")
        if not _port_is_free(self.host, self.port):
            raise RuntimeError(
                f"broker {self.name}: port {self.host}:{self.port} is already in use"
            )
        self._stderr = self.stderr_path.open("ab")
        self._process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            code = self._process.poll()
            if code is not None:
                self._close_stderr()
                raise RuntimeError(
                    f"broker {self.name} exited with status {code} during start-up:\n"
                    f"{self.log_tail()}"
                )
            if _accepts_connections(self.host, self.port):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"broker {self.name} did not open {self.host}:{self.port} within {timeout}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(_POLL_SECONDS)

    def stop(self) -> None:
        """SIGTERM (Mosquitto saves its persistence file), then SIGKILL if it lingers."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_stderr()

    def kill(self) -> None:
        """SIGKILL: a crash. Anything since the last autosave is lost."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._close_stderr()

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self.start(timeout)

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        if not self.is_running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"MosquittoProcess({self.name!r}, {self.host}:{self.port}, {state})"
