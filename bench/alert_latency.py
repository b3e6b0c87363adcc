"""Help press → responder latency under fleet load, against a broker-and-bridge baseline.

    python bench/alert_latency.py [--kiosks N] [--alerts M] [--heartbeat-interval S]
                                  [--warmup K] [--base DIR] [--quick]

A real system is laid out with :func:`beacon.system.build_system` (N kiosks in 2 facilities in 2
regions) and run for real: the fleet broker, one responder broker per region with its bridge,
the fleet manager, ONE headless kiosk process (the one that is pressed, driven through its
control socket like the touch UI would be) and the other N-1 kiosks as real agents in
``python -m device.simulator`` processes of up to 100 kiosks each (paho's select() loop limits
one process to about 150), all heartbeating every S seconds.

Two series, interleaved so both see the same load, each M samples after K warm-up samples,
spaced 50-100 ms apart and taken one at a time (each waits for its arrival or a timeout):

* ``help_press_to_responder_ms``: from just before ``press-help`` is sent on the control socket
  to the arrival of the incident's first version (state ``opened``) at a subscriber on the
  pressed kiosk's region's responder broker. This covers the control socket, the kiosk's durable
  outbox write, the fleet broker, the fleet manager (classify, store, route, publish) and the
  bridge.
* ``baseline_broker_bridge_ms``: a plain paho client (``bench-baseline`` certificate) publishes
  QoS 1 straight to ``beacon/v1/resp/<region>/incident/baseline-<n>`` on the fleet broker; the
  same subscriber receives it through the same bridge. This is the floor the help path sits on.

Both timestamps are ``time.perf_counter()`` in this process. Percentiles are nearest-rank
(the smallest sample with at least p% of the samples at or below it). A sample that has not
arrived within ``--timeout`` counts as lost and is left out of the percentiles.

One JSON object goes to stdout (besides the agreed keys, ``fleet_heartbeats_per_s``: heartbeats
the fleet manager recorded per second while measuring, to show the load was really there);
progress goes to stderr. Every process is stopped in a
``finally`` block, and the system's directory is removed unless ``--base`` was given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import shutil
import signal
import sqlite3
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from beacon.plan import FacilityPlan, KioskPlan, SystemPlan
from beacon.processes import ManagedProcess, RunningSystem
from beacon.system import HOST, SystemLayout, build_system
from device.agent.control import control_request
from protocol import topics
from provisioning.tls import TlsFiles

TARGET_P99_MS = 10.0
TARGET_RATIO_P99 = 10.0
BASELINE_ID = "bench-baseline"
PRESSED_REGION = "north"
SIMULATOR_SHARD = 100  # kiosks per simulator process (device.simulator.MAX_AGENTS is 150)
# Long waits: no escalation fires during a run, so every incident version measured is "opened".
BENCH_POLICY = """\
routes:
  - name: help
    match: {kind: [help, tamper]}
    chain:
      steps:
        - {team: onsite-security, wait_s: 3600}
  - name: everything-else
    match: {}
    chain:
      steps:
        - {team: central-ops, wait_s: 3600}
"""


def bench_plan(kiosks: int) -> SystemPlan:
    """N kiosks alternating between a facility in ``north`` and one in ``south``."""
    facilities = (
        FacilityPlan("bench-north", "Bench North Clinic", PRESSED_REGION),
        FacilityPlan("bench-south", "Bench South Hospital", "south"),
    )
    plans = tuple(
        KioskPlan(
            f"kiosk-bench-{i:04d}",
            facilities[i % 2].facility_id,
            f"bench-loc-{i:04d}",
            f"Bench room {i}",
        )
        for i in range(kiosks)
    )
    return SystemPlan(
        facilities=facilities,
        kiosks=plans,
        policy_yaml=BENCH_POLICY,
        extra_client_identities=(BASELINE_ID,),
        extra_fleet_grants={
            BASELINE_ID: [("write", topics.responder_incidents_filter(PRESSED_REGION))]
        },
    )


def _paho_client(client_id: str, tls: TlsFiles) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.tls_set(
        ca_certs=str(tls.cafile),
        certfile=str(tls.certfile),
        keyfile=str(tls.keyfile),
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    return client


class ArrivalRecorder:
    """Subscribes to a region's incidents on its responder broker; notes when each key arrives.

    Keys: ``alert:<alert_id>`` for an incident's first version, ``baseline:<n>`` for a baseline
    message. The time is taken first thing in the callback, before any parsing.
    """

    def __init__(self, port: int, tls: TlsFiles, identity: str, region: str) -> None:
        self._arrivals: dict[str, float] = {}
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._filter = topics.responder_incidents_filter(region)
        self._client = _paho_client(identity, tls)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(HOST, port, keepalive=30)
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> None:
        if not self._subscribed.wait(timeout):
            raise TimeoutError("the responder subscriber did not subscribe in time")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        self._client.loop_stop()

    def wait_for(self, key: str, timeout: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: key in self._arrivals, timeout)
            return self._arrivals.get(key)

    def _on_connect(
        self, client: Any, userdata: object, flags: Any, reason: Any, props: Any
    ) -> None:
        client.subscribe(self._filter, qos=1)

    def _on_message(self, client: Any, userdata: object, msg: Any) -> None:
        arrived = time.perf_counter()
        leaf = str(msg.topic).rsplit("/", 1)[-1]
        if leaf.startswith("baseline-"):
            key = "baseline:" + leaf.removeprefix("baseline-")
        else:
            try:
                incident = json.loads(msg.payload)
            except ValueError:
                return
            if incident.get("version") != 1 or incident.get("state") != "opened":
                return
            key = f"alert:{incident['alert_id']}"
        with self._cond:
            self._arrivals.setdefault(key, arrived)
            self._cond.notify_all()


class BaselinePublisher:
    """A plain QoS 1 publisher on the fleet broker, writing under the region's incident topics."""

    PAD = "x" * 400  # about the size of an incident message

    def __init__(self, port: int, tls: TlsFiles, region: str) -> None:
        self._region = region
        self._connected = threading.Event()
        self._client = _paho_client(BASELINE_ID, tls)
        self._client.on_connect = lambda *_: self._connected.set()
        self._client.connect(HOST, port, keepalive=30)
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> None:
        if not self._connected.wait(timeout):
            raise TimeoutError("the baseline publisher did not connect in time")

    def publish(self, n: int) -> None:
        topic = topics.responder_incident(self._region, f"baseline-{n}")
        self._client.publish(topic, json.dumps({"n": n, "pad": self.PAD}).encode(), qos=1)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        self._client.loop_stop()


@dataclass
class Series:
    latencies_ms: list[float]
    lost: int = 0

    def summary(self) -> dict[str, float | int | None]:
        ordered = sorted(self.latencies_ms)

        def rank(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1], 3)

        return {
            "p50": rank(50),
            "p95": rank(95),
            "p99": rank(99),
            "max": round(ordered[-1], 3) if ordered else None,
            "count": len(ordered),
            "lost": self.lost,
        }


def online_count(db_path: Path) -> tuple[int, int]:
    """(kiosks the fleet manager shows online, sum of their last heartbeat seq numbers)."""
    with contextlib.closing(sqlite3.connect(str(db_path), timeout=5)) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(heartbeat_seq), 0) FROM devices WHERE online"
        ).fetchone()
    return int(row[0]), int(row[1])


def wait_online(db_path: Path, kiosks: int, timeout: float, processes: list[ManagedProcess]) -> int:
    deadline = time.monotonic() + timeout
    online = 0
    while time.monotonic() < deadline:
        for p in processes:
            if not p.is_running:
                raise RuntimeError(f"a process exited during start-up; see {p.log_path}")
        with contextlib.suppress(sqlite3.OperationalError):
            online = online_count(db_path)[0]
        if online >= kiosks:
            break
        time.sleep(0.5)
    return online


def measure(
    args: argparse.Namespace,
    layout: SystemLayout,
    pressed: str,
    recorder: ArrivalRecorder,
    baseline: BaselinePublisher,
) -> tuple[Series, Series]:
    help_series, base_series = Series([]), Series([])
    state_dir = layout.kiosk_dirs[pressed]
    for i in range(args.warmup + args.alerts):
        counted = i >= args.warmup
        t0 = time.perf_counter()
        reply = control_request(state_dir, {"cmd": "press-help"})
        if not reply.get("ok"):
            raise RuntimeError(f"press-help refused: {reply}")
        arrived = recorder.wait_for(f"alert:{reply['alert_id']}", args.timeout)
        if counted:
            if arrived is None:
                help_series.lost += 1
            else:
                help_series.latencies_ms.append((arrived - t0) * 1000)
        time.sleep(random.uniform(0.05, 0.1))

        t0 = time.perf_counter()
        baseline.publish(i)
        arrived = recorder.wait_for(f"baseline:{i}", args.timeout)
        if counted:
            if arrived is None:
                base_series.lost += 1
            else:
                base_series.latencies_ms.append((arrived - t0) * 1000)
        time.sleep(random.uniform(0.05, 0.1))
    return help_series, base_series


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    plan = bench_plan(args.kiosks)
    say(f"laying out {args.kiosks} kiosks under {base} …")
    layout = build_system(base, plan)
    pressed = plan.kiosks[0].device_id  # in PRESSED_REGION
    others = [layout.kiosk_dirs[k.device_id] for k in plan.kiosks[1:]]
    db_path = Path(layout.database_url.removeprefix("sqlite:///"))
    system = RunningSystem(layout, heartbeat_s=args.heartbeat_interval)
    simulators = [
        ManagedProcess(
            f"simulator-{first // SIMULATOR_SHARD + 1}",
            [
                "--heartbeat-interval",
                str(args.heartbeat_interval),
                *(str(d) for d in others[first : first + SIMULATOR_SHARD]),
            ],
            layout.base / "logs" / f"simulator-{first // SIMULATOR_SHARD + 1}.log",
            module="device.simulator",
        )
        for first in range(0, len(others), SIMULATOR_SHARD)
    ]
    recorder: ArrivalRecorder | None = None
    baseline: BaselinePublisher | None = None
    try:
        system.start_brokers()
        system.start_fleet_managers()
        for simulator in simulators:
            simulator.start()
        system.kiosks[pressed].start()
        system.wait_kiosk_ready(pressed, timeout=60)
        watch = layout.responder_watch[PRESSED_REGION]
        recorder = ArrivalRecorder(
            layout.responder_ports[PRESSED_REGION],
            watch,
            layout.responder_identity(PRESSED_REGION, "watch"),
            PRESSED_REGION,
        )
        baseline = BaselinePublisher(
            layout.fleet_port, layout.extra_clients[BASELINE_ID], PRESSED_REGION
        )
        recorder.wait_ready(10)
        baseline.wait_ready(10)
        watched = [system.kiosks[pressed], *system.fleet_managers, *simulators]
        online = wait_online(db_path, args.kiosks, 30 + 0.3 * args.kiosks, watched)
        say(f"{online}/{args.kiosks} kiosks online; settling for {args.settle:.0f} s under load …")
        time.sleep(args.settle)
        _, seq_before = online_count(db_path)
        started = time.monotonic()
        say(f"measuring {args.alerts} help presses and {args.alerts} baseline messages …")
        help_series, base_series = measure(args, layout, pressed, recorder, baseline)
        _, seq_after = online_count(db_path)
        heartbeat_rate = (seq_after - seq_before) / (time.monotonic() - started)
        for p in watched:
            if not p.is_running:
                raise RuntimeError(f"a process exited during the run; see {p.log_path}")
    finally:
        say("stopping …")
        for client in (recorder, baseline):
            if client is not None:
                client.stop()
        for simulator in simulators:
            simulator.stop()
        system.stop()
    help_summary, base_summary = help_series.summary(), base_series.summary()
    help_p99, base_p99 = help_summary["p99"], base_summary["p99"]
    ratio = round(help_p99 / base_p99, 2) if help_p99 is not None and base_p99 else None
    return {
        "kiosks": args.kiosks,
        "alerts": args.alerts,
        "heartbeat_interval_s": args.heartbeat_interval,
        "kiosks_online": online,
        "fleet_heartbeats_per_s": round(heartbeat_rate, 1),
        "help_press_to_responder_ms": help_summary,
        "baseline_broker_bridge_ms": base_summary,
        "ratio_p99": ratio,
        "target": {"p99_ms": TARGET_P99_MS, "ratio_p99": TARGET_RATIO_P99},
        "meets_target": (
            help_p99 is not None
            and ratio is not None
            and help_p99 <= TARGET_P99_MS
            and ratio <= TARGET_RATIO_P99
            and help_summary["lost"] == 0
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Help press → responder latency under fleet load.")
    parser.add_argument("--kiosks", type=int, default=200, metavar="N")
    parser.add_argument("--alerts", type=int, default=200, metavar="M")
    parser.add_argument("--heartbeat-interval", type=float, default=1.0, metavar="S")
    parser.add_argument("--warmup", type=int, default=5, metavar="K")
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds before a sample is lost"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of load before measuring"
    )
    parser.add_argument("--base", type=Path, help="keep the system here (must be empty or absent)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 kiosks, 30 alerts")
    args = parser.parse_args(argv)
    if args.quick:
        args.kiosks, args.alerts = 20, 30
    if args.kiosks < 1 or args.alerts < 1:
        parser.error("--kiosks and --alerts must be at least 1")
    if args.base is not None and args.base.exists() and any(args.base.iterdir()):
        parser.error(f"--base {args.base} is not empty")
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the brokers too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = args.base or Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    try:
        result = run(args, base)
    finally:
        if args.base is None:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
