"""device.agent.systemd_notify against a real Unix datagram socket, as systemd listens."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.agent.systemd_notify import (
    Heartbeat,
    SystemdNotifier,
    Watchdog,
    start_supervision,
    stop_supervision,
    threads_alive,
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    try:
        yield path, sock
    finally:
        sock.close()


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def drain(sock: socket.socket, seconds: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append(receive(sock))
        except TimeoutError:
            break
    return got


def test_ready_watchdog_stopping(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("agent up")
    assert receive(sock) == "READY=1\nSTATUS=agent up"
    assert notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    assert notifier.stopping()
    assert receive(sock) == "STOPPING=1"


def test_abstract_socket() -> None:
    name = f"beacon-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2.0)
        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert receive(sock) == "READY=1"


def test_without_notify_socket_nothing_happens() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog() and not notifier.stopping()
    watchdog = Watchdog(notifier, lambda: True, interval_s=0.01)
    watchdog.start()
    watchdog.stop()
    assert watchdog.pets == 0


def test_gone_socket_is_not_fatal(tmp_path: Path) -> None:
    assert not SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody")}).ready()


def test_watchdog_interval_is_a_third_of_watchdog_sec() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000"}
    assert SystemdNotifier(env).watchdog_interval_s == pytest.approx(10.0)
    mine = {**env, "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier(mine).watchdog_interval_s == pytest.approx(10.0)
    # Meant for another process (we inherited it): not ours to pet.
    assert SystemdNotifier({**env, "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert SystemdNotifier({"NOTIFY_SOCKET": "/x"}).watchdog_interval_s is None
    assert SystemdNotifier({**env, "WATCHDOG_USEC": "soon"}).watchdog_interval_s is None


def test_watchdog_pets_only_while_healthy(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    healthy = threading.Event()
    healthy.set()
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "150000", "WATCHDOG_PID": str(os.getpid())}
    notifier, watchdog = start_supervision(healthy.is_set, environ=env)
    assert receive(sock) == "READY=1"
    assert watchdog.interval_s == pytest.approx(0.05)
    pets = drain(sock, 0.5)
    assert len(pets) >= 3 and set(pets) == {"WATCHDOG=1"}
    healthy.clear()
    drain(sock, 0.1)  # a pet already on its way
    assert drain(sock, 0.4) == []
    healthy.set()
    assert "WATCHDOG=1" in drain(sock, 0.4)
    stop_supervision(notifier, watchdog)
    rest = drain(sock, 0.3)
    assert rest[-1:] == ["STOPPING=1"] or "STOPPING=1" in rest


def test_a_failing_health_check_counts_as_unhealthy(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener

    def broken() -> bool:
        raise RuntimeError("boom")

    watchdog = Watchdog(SystemdNotifier({"NOTIFY_SOCKET": path}), broken, interval_s=0.02)
    watchdog.start()
    assert drain(sock, 0.3) == []
    watchdog.stop()


def test_threads_alive_and_heartbeat() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="beacon-test-worker", daemon=True)
    check = threads_alive(["beacon-test-worker", "MainThread"])
    assert not check()
    worker.start()
    assert check()
    stop.set()
    worker.join()
    assert not check()
    now = [100.0]
    beat = Heartbeat(clock=lambda: now[0])
    assert beat.fresh(5)
    now[0] = 106.0
    assert not beat.fresh(5)
    beat.beat()
    assert beat.fresh(5)
