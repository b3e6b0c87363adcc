"""Many kiosks in one process, for load: one real :class:`KioskAgent` per state directory.

The agents are the production class, not a model of it, so the fleet side sees exactly what a
fleet of Pis would send (births, heartbeats, Last Wills, alerts). They connect in small batches,
each batch waiting briefly for its TLS handshakes, so a few hundred kiosks do not stampede the
broker (or this process's GIL) with simultaneous handshakes.

    python -m device.simulator --heartbeat-interval 1.0 STATE_DIR [STATE_DIR ...]

runs until SIGTERM or SIGINT, then says goodbye for every kiosk and exits. One process takes
at most :data:`MAX_AGENTS` kiosks (paho's select() loop, see below); run several for more.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from device.agent.agent import AgentSettings, KioskAgent
from transport.log import configure_logging, get_logger

log = get_logger("device.simulator")

DESCRIPTION = "Run many kiosk agents in one process until SIGTERM or SIGINT."
BATCH_SIZE = 10
BATCH_CONNECT_WAIT_S = 2.0
# paho's network loop uses select(), which cannot watch a descriptor numbered 1024 or above, and
# each agent holds six (TLS socket, paho's wake-up socket pair, SQLite db, WAL and shm). Past
# about 165 agents in one process the newest ones silently never connect: run more processes.
MAX_AGENTS = 150


def run_simulator(
    state_dirs: Sequence[Path], settings: AgentSettings, stop: threading.Event
) -> None:
    """Start an agent per state directory in batches; on ``stop``, stop them all and return.

    A batch that has not connected within :data:`BATCH_CONNECT_WAIT_S` does not hold up the
    next one: its agents keep retrying on their own backoff, as a real kiosk would.
    Raises ValueError for more than :data:`MAX_AGENTS` state directories.
    """
    if len(state_dirs) > MAX_AGENTS:
        raise ValueError(
            f"{len(state_dirs)} kiosks in one process is more than {MAX_AGENTS}: paho's select()"
            " loop cannot use descriptors past 1024; split them over several simulators"
        )
    agents: list[KioskAgent] = []
    try:
        for first in range(0, len(state_dirs), BATCH_SIZE):
            if stop.is_set():
                break
            batch = [KioskAgent(d, settings) for d in state_dirs[first : first + BATCH_SIZE]]
            for agent in batch:
                agent.start()
                agents.append(agent)
            deadline = time.monotonic() + BATCH_CONNECT_WAIT_S
            for agent in batch:
                agent.wait_connected(max(0.0, deadline - time.monotonic()))
        connected = sum(a.connected for a in agents)
        log.warning("simulator_started", kiosks=len(agents), connected=connected)
        while not stop.wait(0.5):
            pass
    finally:
        # Stopping one agent waits for its link thread; in parallel the fleet stops in ~1 s.
        with ThreadPoolExecutor(max_workers=max(1, min(64, len(agents)))) as pool:
            list(pool.map(lambda a: a.stop(), agents))
        log.warning("simulator_stopped", kiosks=len(agents))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m device.simulator", description=DESCRIPTION)
    parser.add_argument("--heartbeat-interval", type=float, default=60.0, metavar="S")
    parser.add_argument("state_dirs", nargs="+", type=Path, metavar="STATE_DIR")
    args = parser.parse_args(argv)
    if len(args.state_dirs) > MAX_AGENTS:
        parser.error(f"at most {MAX_AGENTS} state directories per process (paho uses select())")
    configure_logging("WARNING", process="simulator")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_simulator(
        args.state_dirs, AgentSettings(heartbeat_interval_s=args.heartbeat_interval), stop
    )


if __name__ == "__main__":
    main()
