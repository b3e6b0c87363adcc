"""Tell systemd how the kiosk is doing: ``sd_notify`` without libsystemd.

The kiosk runs as ``Type=notify`` with ``WatchdogSec=`` (see ``firmware_config``): systemd waits
for ``READY=1`` before it counts the service as started, restarts it when ``WATCHDOG=1`` stops
arriving, and is told ``STOPPING=1`` when we shut down on purpose.

The protocol is one datagram per message on the Unix socket named by ``$NOTIFY_SOCKET`` (a path,
or ``@name`` for the abstract namespace). Without ``$NOTIFY_SOCKET`` (a developer's shell, the
tests, ``beacon demo``) every call here does nothing.

The watchdog only pets while a health check says the process is really working: a kiosk whose
agent thread died but whose interpreter is still up must be restarted, not kept alive by a
thread that pets blindly.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from transport.log import get_logger

log = get_logger("device.systemd")

HealthCheck = Callable[[], bool]


class SystemdNotifier:
    """Sends ``sd_notify`` messages; a no-op when there is no notification socket."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if raw.startswith("@"):
            self.address = "\0" + raw[1:]
        elif raw.startswith("/"):
            self.address = raw
        self.watchdog_interval_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (e.g. ``"READY=1"``) as one message; False if not sent."""
        if self.address is None:
            return False
        message = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(message)
        except OSError as exc:
            # systemd may be restarting; the next message tries again.
            log.warning("sd_notify_failed", error=str(exc))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *_status(status))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *_status(status))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")


def _status(status: str | None) -> tuple[str, ...]:
    return () if status is None else (f"STATUS={status.replace(chr(10), ' ')}",)


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """How often to pet: a third of ``WatchdogSec=``, or None when there is no watchdog.

    systemd sets ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) for the main process only; a child
    that inherited them must not pet on the parent's behalf.
    """
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid is not None and pid != str(os.getpid())):
        return None
    return usec / 1_000_000 / 3


def threads_alive(names: Iterable[str]) -> HealthCheck:
    """A health check: True while a live thread of each of ``names`` exists."""
    wanted = frozenset(names)

    def check() -> bool:
        alive = {t.name for t in threading.enumerate() if t.is_alive()}
        return wanted <= alive

    return check


class Heartbeat:
    """A timestamp a loop refreshes (e.g. the UI's clock); fresh while recently beaten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def fresh(self, max_age_s: float) -> bool:
        return self._clock() - self._last <= max_age_s


class Watchdog:
    """Pets systemd's watchdog every ``interval_s`` while ``healthy()`` is True.

    When the check fails the thread keeps running but stops petting, so systemd's
    ``WatchdogSec=`` expires and it restarts the service (``Restart=always``). A check that
    raises counts as unhealthy.
    """

    def __init__(
        self, notifier: SystemdNotifier, healthy: HealthCheck, interval_s: float | None = None
    ) -> None:
        self._notifier = notifier
        self._healthy = healthy
        self.interval_s = interval_s if interval_s is not None else notifier.watchdog_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pets = 0

    def start(self) -> None:
        if not self._notifier.enabled or self.interval_s is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.interval_s or 1.0
        reported = False
        while True:
            try:
                ok = self._healthy()
            except Exception:
                log.exception("health_check_failed")
                ok = False
            if ok:
                if self._notifier.watchdog():
                    self.pets += 1
                reported = False
            elif not reported:
                log.error("watchdog_withheld", reason="health check failed; systemd will restart")
                reported = True
            if self._stop.wait(interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def start_supervision(
    healthy: HealthCheck, status: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[SystemdNotifier, Watchdog]:
    """Say READY=1 and start petting the watchdog; both no-ops outside systemd."""
    notifier = SystemdNotifier(environ)
    watchdog = Watchdog(notifier, healthy)
    notifier.ready(status)
    watchdog.start()
    return notifier, watchdog


def stop_supervision(notifier: SystemdNotifier, watchdog: Watchdog) -> None:
    """Say STOPPING=1 and stop petting (before the slow part of shutting down)."""
    notifier.stopping()
    watchdog.stop()


UI_MAX_AGE_S = 20.0  # the UI's clock must have ticked this recently (WatchdogSec is 30 s)


def agent_health(device_id: str, ui: Heartbeat | None = None) -> HealthCheck:
    """The kiosk's own health check: its working threads are alive (and the UI ticks).

    The names are those the threads are given where they are made: the agent's ticker
    (``device.agent.agent``), the control socket (``device.agent.control``) and paho's network
    loop (``paho-mqtt-client-<client id>``, the client id being the device id).
    """
    threads = threads_alive([f"{device_id}-tick", "control", f"paho-mqtt-client-{device_id}"])
    if ui is None:
        return threads
    beat = ui
    return lambda: threads() and beat.fresh(UI_MAX_AGE_S)
