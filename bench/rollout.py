"""How fast a newly published bundle reaches a fleet, against a plain-download baseline.

    python bench/rollout.py [--kiosks N] [--waves all] [--base DIR] [--quick]

A real system is laid out with :func:`beacon.system.build_system` (N kiosks, a TUF repository
with the sample bundle on "stable") and run for real: the fleet broker, responder brokers, the
fleet manager, the fleet API serving the repository over HTTPS, and the N kiosks as real agents
in ``python -m device.simulator`` processes of up to 100 each. Each kiosk first installs the
channel's content (as a new kiosk does); then a new version is built, published with the TUF
repository code and rolled out (waves ``--waves``, default everyone at once).

Measured from the moment the rollout is stored: seconds until 50 %, 99 % and 100 % of the
kiosks run the new version (their ``content/current`` points at it: verified by TUF, unpacked,
loaded, QR origins checked, switched), and when the fleet manager marked the rollout completed
(all kiosks reported healthy). ``bytes_served`` is what the API process wrote meanwhile
(response bodies counted by the API: TUF metadata, channel pointers and bundles).

Baseline, same run, same API and certificates: N plain HTTPS GETs of the new bundle file, 16
at a time, no TUF, no checks: the transfer floor the rollout sits on.

One JSON object goes to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import ssl
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beacon.plan import FacilityPlan, KioskPlan, SystemPlan
from beacon.processes import ManagedProcess, RunningSystem
from beacon.system import CONTENT_CHANNEL, SAMPLE_BUNDLE, SystemLayout, build_system
from content.build import build_bundle
from content_repo.expiry import RoleName
from content_repo.keys import key_path, load_signer
from content_repo.repository import publish_bundle
from fleet_manager.rollouts import plan as rollout_plan
from fleet_manager.rollouts import service as rollouts
from fleet_manager.store.database import open_engine
from protocol.content_delivery import RolloutScope

NEW_VERSION = "2099.1.1"
SIMULATOR_SHARD = 100
TARGET_KIOSKS = 1000
TARGET_P99_S = 60.0
BENCH_POLICY = """\
routes:
  - name: everything
    match: {}
    chain:
      steps:
        - {team: central-ops, wait_s: 3600}
"""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bench_plan(kiosks: int) -> SystemPlan:
    facilities = (
        FacilityPlan("bench-north", "Bench North Clinic", "north"),
        FacilityPlan("bench-south", "Bench South Hospital", "south"),
    )
    return SystemPlan(
        facilities=facilities,
        kiosks=tuple(
            KioskPlan(
                f"kiosk-bench-{i:04d}",
                facilities[i % 2].facility_id,
                f"bench-loc-{i:04d}",
                f"Bench room {i}",
            )
            for i in range(kiosks)
        ),
        policy_yaml=BENCH_POLICY,
        content_repository=True,
    )


def running_version(state_dir: Path) -> str | None:
    current = state_dir / "content" / "current"
    try:
        return current.resolve(strict=True).name
    except OSError:
        return None


def count_on(layout: SystemLayout, version: str | None) -> int:
    if version is None:
        return sum(running_version(d) is not None for d in layout.kiosk_dirs.values())
    return sum(running_version(d) == version for d in layout.kiosk_dirs.values())


def bytes_served(api: ManagedProcess) -> int:
    """The API's response bytes so far: SIGUSR1 makes it log its counters."""
    assert api.pid is not None
    before = api.log_text().count('"api_counters"')
    os.kill(api.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = api.log_text()
        if text.count('"api_counters"') > before:
            line = [x for x in text.splitlines() if '"api_counters"' in x][-1]
            return int(json.loads(line)["counters"].get("api_bytes_out", 0))
        time.sleep(0.05)
    raise TimeoutError("the API did not log its counters")


def new_bundle(work: Path, qr_origin: str) -> Path:
    source = work / "bundle"
    shutil.copytree(SAMPLE_BUNDLE, source)
    manifest = source / "manifest.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{NEW_VERSION}"', manifest.read_text())
    manifest.write_text(text)
    return build_bundle(source, work / "dist", allowed_origins=[qr_origin]).path


def publish(layout: SystemLayout, bundle: Path) -> None:
    fleet = layout.base / "fleet"
    keys = fleet / "content-keys"
    passphrase = (keys / "passphrase").read_bytes()
    phrases: dict[RoleName, bytes | None] = {"targets": passphrase}
    signer = {
        role: load_signer(key_path(keys, role), phrases.get(role))
        for role in ("targets", "snapshot", "timestamp")
    }
    publish_bundle(
        fleet / "content-repo",
        bundle,
        channel=CONTENT_CHANNEL,
        targets=signer["targets"],
        snapshot=signer["snapshot"],
        timestamp=signer["timestamp"],
        now=datetime.now(UTC),
    )


def baseline_downloads(layout: SystemLayout, count: int) -> float:
    """Seconds for ``count`` plain HTTPS GETs of the new bundle, 16 at a time."""
    targets = layout.base / "fleet" / "content-repo" / "targets" / "bundles"
    (name,) = [p.name for p in targets.iterdir() if p.name.endswith(f"{NEW_VERSION}.tar.gz")]
    url = f"{layout.api_url}/tuf/targets/bundles/{name}"
    context = ssl.create_default_context(cafile=str(layout.ca_file))

    def fetch(_: int) -> int:
        with urllib.request.urlopen(url, context=context, timeout=60) as response:
            return len(response.read())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        sizes = list(pool.map(fetch, range(count)))
    assert all(sizes), "a baseline download came back empty"
    return time.monotonic() - started


def wait_for(what: str, done: Any, timeout: float, watched: list[ManagedProcess]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        for p in watched:
            if not p.is_running:
                raise RuntimeError(f"{p.name} exited; see {p.log_path}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


def run(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    plan = bench_plan(args.kiosks)
    say(f"laying out {args.kiosks} kiosks with a content repository under {base} …")
    layout = build_system(base, plan)
    system = RunningSystem(layout, heartbeat_s=60.0)
    dirs = [layout.kiosk_dirs[k.device_id] for k in plan.kiosks]
    simulators = [
        ManagedProcess(
            f"simulator-{first // SIMULATOR_SHARD + 1}",
            [
                "--heartbeat-interval",
                "60",
                *(str(d) for d in dirs[first : first + SIMULATOR_SHARD]),
            ],
            layout.base / "logs" / f"simulator-{first // SIMULATOR_SHARD + 1}.log",
            module="device.simulator",
        )
        for first in range(0, len(dirs), SIMULATOR_SHARD)
    ]
    engine = open_engine(layout.database_url)
    n = args.kiosks
    try:
        system.start_brokers()
        system.start_fleet_managers()
        system.start_api()
        for simulator in simulators:
            simulator.start()
        watched = [*system.fleet_managers, system.api, *simulators]
        say("waiting for every kiosk to install the channel's content …")
        started = time.monotonic()
        wait_for("initial content", lambda: count_on(layout, None) >= n, 60 + 1.0 * n, watched)
        initial_s = time.monotonic() - started
        bundle = new_bundle(base / "work", plan.qr_origin)
        publish(layout, bundle)
        bytes_before = bytes_served(system.api)
        say(f"rolling {NEW_VERSION} out to {n} kiosks (waves {args.waves}) …")
        row = rollouts.start(
            engine,
            channel=CONTENT_CHANNEL,
            version=NEW_VERSION,
            baseline=None,
            scope=RolloutScope(),
            waves=rollout_plan.parse_waves(args.waves),
            success_threshold=0.95,
            error_threshold=0.05,
            timeout_s=600,
            actor="bench",
            now=time.time(),
        )
        t0 = time.monotonic()
        marks: dict[int, float] = {}
        deadline = t0 + args.timeout
        completed_s: float | None = None
        while time.monotonic() < deadline:
            on = count_on(layout, NEW_VERSION)
            for pct in (50, 99, 100):
                if pct not in marks and on * 100 >= pct * n:
                    marks[pct] = time.monotonic() - t0
            if completed_s is None:
                with engine.connect() as conn:
                    found = rollouts.get(conn, row.rollout_id)
                if found is not None and found.rollout.state == "completed":
                    completed_s = time.monotonic() - t0
            if 100 in marks and completed_s is not None:
                break
            for p in watched:
                if not p.is_running:
                    raise RuntimeError(f"{p.name} exited; see {p.log_path}")
            time.sleep(0.1)
        served = bytes_served(system.api) - bytes_before
        on_new = count_on(layout, NEW_VERSION)
        say(f"{on_new}/{n} kiosks on {NEW_VERSION}; measuring the download baseline …")
        baseline_s = baseline_downloads(layout, n)
    finally:
        say("stopping …")
        for simulator in simulators:
            simulator.stop()
        system.stop()
        engine.dispose()
    t99 = marks.get(99)
    return {
        "kiosks": n,
        "waves": args.waves,
        "initial_content_s": round(initial_s, 2),
        "seconds_to_50pct": round(marks[50], 2) if 50 in marks else None,
        "seconds_to_99pct": round(t99, 2) if t99 is not None else None,
        "seconds_to_100pct": round(marks[100], 2) if 100 in marks else None,
        "rollout_completed_s": round(completed_s, 2) if completed_s is not None else None,
        "kiosks_on_new_version": on_new,
        "bytes_served": served,
        "bundle_bytes": bundle.stat().st_size,
        "baseline_plain_downloads_s": round(baseline_s, 2),
        "ratio_99pct_to_baseline": round(t99 / baseline_s, 2) if t99 and baseline_s else None,
        "target": {"kiosks": TARGET_KIOSKS, "seconds_to_99pct": TARGET_P99_S},
        "meets_target": n >= TARGET_KIOSKS and t99 is not None and t99 <= TARGET_P99_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seconds until a fleet runs a new bundle.")
    parser.add_argument("--kiosks", type=int, default=TARGET_KIOSKS, metavar="N")
    parser.add_argument("--waves", default="all", help="e.g. all, or 1%%,10%%,100%%")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait at most")
    parser.add_argument("--base", type=Path, help="keep the system here (must be empty or absent)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 kiosks")
    args = parser.parse_args(argv)
    if args.quick:
        args.kiosks = 10
    if args.kiosks < 1:
        parser.error("--kiosks must be at least 1")
    if args.base is not None and args.base.exists() and any(args.base.iterdir()):
        parser.error(f"--base {args.base} is not empty")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = args.base or Path(tempfile.mkdtemp(prefix="beacon-rollout-bench-"))
    try:
        result = run(args, base)
    finally:
        if args.base is None:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
