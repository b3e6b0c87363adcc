"""``beacon demo``: the whole system on one machine with embedded defaults.

Fleet broker, one responder broker per region with its bridge, the fleet manager on SQLite,
three headless kiosks in two facilities in two regions, and a responder watcher per region
printing incidents as they arrive. All state lives under ``var/demo/``; Ctrl-C stops it all.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from beacon.plan import DEMO_PLAN
from beacon.processes import RunningSystem
from beacon.system import HOST, SystemLayout, build_system
from device.ui.staff_access import hash_pin, save_pin_hash
from protocol.messages import IncidentMessage
from responder.client import IncidentWatcher
from responder.format import format_incident
from transport.mqtt import BrokerEndpoint

DEMO_HEARTBEAT_S = 10.0
DEMO_STAFF_PIN = "2468"


def run_demo(
    base: Path,
    *,
    duration: float | None,
    press_help_at: float | None,
    headless: bool = True,
    say: Callable[[str], None] = print,
) -> int:
    """Run everything; with a display (and not ``headless``) the first kiosk shows its screen
    in a window, the others stay headless."""
    if base.exists():
        shutil.rmtree(base)
    layout = build_system(base, DEMO_PLAN)
    screen = None
    if not headless and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        screen = DEMO_PLAN.kiosks[0].device_id
        save_pin_hash(layout.kiosk_dirs[screen], hash_pin(DEMO_STAFF_PIN))
    system = RunningSystem(layout, heartbeat_s=DEMO_HEARTBEAT_S, screen_kiosk=screen)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    watchers: list[IncidentWatcher] = []

    def show(incident: IncidentMessage) -> None:
        say(f"responder ▸ {format_incident(incident, time.time())}")

    try:
        kiosks = len(layout.kiosk_dirs)
        say(f"starting brokers, fleet manager and {kiosks} kiosks under {layout.base} …")
        system.start()
        for region, tls in layout.responder_watch.items():
            endpoint = BrokerEndpoint(HOST, layout.responder_ports[region], tls)
            watcher = IncidentWatcher(
                endpoint, layout.responder_identity(region, "watch"), region, show
            )
            watcher.start()
            watchers.append(watcher)
        admin = _first_admin(layout)
        connection = layout.write_connection_file(
            console_url=f"{layout.api_url}/console/", admin=admin
        )
        first = next(iter(layout.kiosk_dirs))
        say(f"ready. fleet broker {HOST}:{layout.fleet_port}; connection details in {connection}")
        for region, port in layout.responder_ports.items():
            say(f"  responder broker {region}: {HOST}:{port}")
        say(f"  press help:   beacon kiosk ctl --state-dir {layout.kiosk_dirs[first]} press-help")
        say("  acknowledge:  beacon responder ack INCIDENT_ID")
        say("  resolve:      beacon responder resolve INCIDENT_ID --note 'what was done'")
        config = layout.fleet_configs[0]
        say(
            f"  enrol a kiosk: beacon provision token create --location {_first_location(layout)}"
            f" --config {config}"
        )
        say(
            f"                 beacon kiosk enrol --server {layout.api_url} --token TOKEN"
            f" --ca-file {layout.ca_file} --state-dir /tmp/new-kiosk"
        )
        if screen:
            say(f"  {screen} shows its screen in a window (staff PIN {DEMO_STAFF_PIN})")
        say(f"  console:      {layout.api_url}/console/ (the fleet CA signs its certificate)")
        token = layout.qr_tokens[_first_location(layout)]
        say(f"  QR landing:   {layout.landing_url}/r/{token}?l=en (what the kiosks' QR codes open)")
        say("  read report:  beacon responder decrypt INCIDENT_ID (key and token: connection.json)")
        if admin is not None:
            say(f"  console account: {admin[0]} / {admin[1]} (also in {connection})")
        say("Ctrl-C stops everything.")
        started = time.monotonic()
        pressed = False
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if press_help_at is not None and not pressed and elapsed >= press_help_at:
                alert_id = system.press_help(first)
                say(f"kiosk ▸ help pressed on {first} (alert {alert_id})")
                pressed = True
            if duration is not None and elapsed >= duration:
                break
            for name, proc in [
                (p.name, p)
                for p in [
                    *system.fleet_managers,
                    system.api,
                    *([system.landing] if layout.plan.landing_page else []),
                    *system.kiosks.values(),
                ]
            ]:
                if not proc.is_running:
                    say(f"{name} exited unexpectedly; see {proc.log_path}")
                    return 1
            stop.wait(0.2)
        return 0
    finally:
        say("stopping …")
        for watcher in watchers:
            watcher.stop()
        system.stop()
        say("stopped.")


def _first_location(layout: SystemLayout) -> str:
    return layout.plan.kiosks[0].location_id


def _first_admin(layout: SystemLayout) -> tuple[str, str] | None:
    """The first ops account of a fresh demo (for the console; API tokens are made with
    `beacon fleet token create`)."""
    from fleet_manager.accounts.bootstrap import ensure_first_admin
    from fleet_manager.store.database import migrate, open_engine

    engine = open_engine(layout.database_url)
    try:
        migrate(engine)
        return ensure_first_admin(engine)
    finally:
        engine.dispose()
