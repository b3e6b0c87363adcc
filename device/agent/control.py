"""The kiosk's local control socket: JSON lines over a Unix socket in the state dir (mode 0600).

Only the kiosk user can reach it. Staff tools and tests use it to read status, simulate a help
press and run a drill: the same calls the touch UI makes, through the same agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transport.log import get_logger

log = get_logger("device.control")

SOCKET_NAME = "control.sock"
MAX_REQUEST = 4096

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlError(RuntimeError):
    """The control socket could not be reached or answered with an error."""


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST)
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("request must be a JSON object")
            reply = self.server.dispatch(request)
        except (ValueError, KeyError) as exc:
            log.warning("control_request_rejected", error=str(exc))
            reply = {"ok": False, "error": str(exc)}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, dispatch: Handler) -> None:
        self.dispatch = dispatch
        super().__init__(path, _RequestHandler)


class ControlServer:
    def __init__(self, state_dir: Path, dispatch: Handler) -> None:
        self.path = state_dir / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        # Create the socket with no access for others from the first instant.
        old = os.umask(0o177)
        try:
            self._server = _Server(str(self.path), dispatch)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="control", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def control_request(
    state_dir: Path, request: dict[str, Any], timeout: float = 10.0
) -> dict[str, Any]:
    path = state_dir / SOCKET_NAME
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(f"cannot reach the kiosk agent at {path}: {exc}") from None
    reply: dict[str, Any] = json.loads(data)
    return reply
