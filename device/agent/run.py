"""``beacon kiosk run --headless``: the agent and its control socket, until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from device.agent.agent import AgentSettings, KioskAgent
from device.agent.control import ControlServer
from device.agent.device_config import load_device_config
from device.agent.peripherals import start_peripherals
from device.agent.systemd_notify import agent_health, start_supervision, stop_supervision
from transport.log import get_logger

log = get_logger("device.run")


def control_dispatch(agent: KioskAgent) -> Any:
    def dispatch(request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": agent.status()}
        if cmd == "press-help":
            source = request.get("source", "touch")
            if source not in ("touch", "button"):
                raise ValueError("source must be touch or button")
            return {"ok": True, "alert_id": agent.raise_alert("help", source)}
        if cmd == "drill":
            return {"ok": True, "alert_id": agent.raise_alert("drill", "staff")}
        if cmd == "alert-state":
            return {"ok": True, "state": agent.alert_state(str(request["alert_id"]))}
        if cmd == "renew-cert":
            return {"ok": agent.renew_certificate(force=True)}
        raise ValueError(
            f"unknown command {cmd!r} (status, press-help, drill, alert-state, renew-cert)"
        )

    return dispatch


def run_headless(state_dir: Path, settings: AgentSettings) -> None:
    config = load_device_config(state_dir)
    agent = KioskAgent(state_dir, settings)
    control = ControlServer(state_dir, control_dispatch(agent))
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.start()
    control.start()
    peripherals = start_peripherals(agent, config, state_dir)
    supervision = start_supervision(agent_health(agent.device_id))
    log.info("kiosk_ready", device=agent.device_id, control=str(control.path))
    while not done.wait(0.5):
        pass
    log.info("kiosk_stopping", device=agent.device_id)
    stop_supervision(*supervision)
    peripherals.stop()
    control.stop()
    agent.stop()
