"""``beacon kiosk run`` with the touch UI: Kivy on the main thread, the agent beside it.

The agent, its control socket and (when fitted) the peripherals run on their own threads; the
UI only ever calls ``raise_alert`` (a local disk write) and reads ``status()``, so it never
waits on the network.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from content.bundle import BundleError, ContentBundle, load_bundle
from device.agent.agent import AgentSettings, KioskAgent
from device.agent.control import ControlServer
from device.agent.device_config import load_device_config
from device.agent.display_loop import DisplayLoop
from device.agent.identity import DeviceProfile
from device.agent.peripherals import start_peripherals
from device.agent.run import control_dispatch
from device.agent.systemd_notify import Heartbeat, agent_health, start_supervision, stop_supervision
from device.ui.staff_access import load_pin_hash
from device.ui.view_model import QrPlacement
from transport.log import get_logger

log = get_logger("device.ui.run")

SAMPLE_BUNDLE = Path(__file__).resolve().parents[2] / "content" / "sample"


def prepare_kivy(size: tuple[int, int] | None, fullscreen: bool) -> None:
    """Configure Kivy before it is imported: no argument parsing, a private home, the size."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="beacon-kivy-"))
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "log_level", "warning")
    # A mouse is a single finger here: no multitouch emulation dots on screen.
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("graphics", "borderless", "1")
    if size is not None:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen and size is None else "0")


def ui_dispatch(agent: KioskAgent, app: Any) -> Any:
    """The agent's control commands plus the UI's own (state, show a slide, PIN pad keys)."""
    from device.ui.kiosk_app import on_kivy_thread

    base = control_dispatch(agent)

    def dispatch(request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "ui-state":
            return {"ok": True, "ui": on_kivy_thread(app.snapshot)}
        if cmd == "ui-show":
            slide, lang = str(request["slide_id"]), str(request["language"])
            frame = on_kivy_thread(lambda: app.show(slide, lang))
            return {"ok": True, "frame": {"slide_id": frame.slide_id, "language": frame.language}}
        if cmd == "ui-widgets":
            return {"ok": True, "widgets": on_kivy_thread(app.widget_positions)}
        return dict(base(request))

    return dispatch


def run_with_ui(
    state_dir: Path,
    settings: AgentSettings,
    bundle_dir: Path | None = None,
    size: tuple[int, int] | None = None,
    fullscreen: bool = True,
) -> None:
    prepare_kivy(size, fullscreen)
    config = load_device_config(state_dir)
    agent = KioskAgent(state_dir, settings)
    # Verified content from the fleet when there is some; else the bundle given, or the sample.
    updated = agent.content.updater.current_bundle_dir() if agent.content else None
    bundle: ContentBundle = load_bundle(bundle_dir or updated or SAMPLE_BUNDLE)
    profile = agent.profile
    qr = (
        QrPlacement(profile.qr_origin, profile.location_token, tuple(profile.allowed_origins))
        if profile.location_token and profile.qr_origin
        else None
    )
    if qr is None:
        log.warning("no_qr_placement", device=profile.device_id, hint="re-provision this kiosk")

    from kivy.clock import Clock

    from device.ui.kiosk_app import KioskApp, KioskIdentity

    identity = KioskIdentity(
        device_id=profile.device_id,
        facility=profile.facility,
        location=profile.location,
        location_name=profile.location_name,
        qr=qr,
    )
    app = KioskApp(bundle, identity, agent, load_pin_hash(state_dir))
    agent.on_identify = lambda: Clock.schedule_once(lambda _dt: app.identify(), 0)

    def relocated(moved: DeviceProfile) -> None:
        placement = KioskIdentity(
            device_id=moved.device_id,
            facility=moved.facility,
            location=moved.location,
            location_name=moved.location_name,
            qr=QrPlacement(moved.qr_origin, moved.location_token, tuple(moved.allowed_origins))
            if moved.location_token and moved.qr_origin
            else None,
        )
        Clock.schedule_once(lambda _dt: app.relocate(placement), 0)

    agent.on_relocated = relocated

    def content_applied(new_dir: Path, version: str) -> None:
        """A verified update: show it, then tell the updater it was shown (health check)."""

        def show(_dt: float) -> None:
            try:
                app.replace_content(load_bundle(new_dir))
            except (BundleError, OSError) as exc:
                log.error("content_show_failed", version=version, error=str(exc))
                return  # not confirmed: the updater rolls back when the window closes
            if agent.content is not None:
                agent.content.confirm(version)

        Clock.schedule_once(show, 0)

    if agent.content is not None:
        agent.content.on_applied = content_applied
    control = ControlServer(state_dir, ui_dispatch(agent, app))

    def stop(signum: int, frame: object) -> None:
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    display = DisplayLoop(config.display)
    agent.start()
    control.start()
    peripherals = start_peripherals(agent, config, state_dir, on_motion=display.motion)
    display.start()
    ui_beat = Heartbeat()
    Clock.schedule_interval(lambda _dt: ui_beat.beat(), 1.0)
    supervision = start_supervision(agent_health(profile.device_id, ui=ui_beat))
    log.info("kiosk_ui_ready", device=profile.device_id, content=bundle.version)
    try:
        app.run()
    finally:
        stop_supervision(*supervision)
        display.stop()
        peripherals.stop()
        control.stop()
        agent.stop()
