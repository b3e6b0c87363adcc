"""How quickly the console and API answer on a big fleet, against the bare HTTPS hop.

    python bench/console.py [--kiosks N] [--incidents M] [--requests R] [--quick]
                            [--database-url URL]

A system is laid out with :func:`beacon.system.build_system` (certificates, config, database),
then the store is filled in bulk: N kiosks (default 10,000) over 50 facilities in 5 regions,
and M incidents (default 100,000) with their opening timeline. The real HTTPS API process
(``beacon fleet api``) serves it. An ops user logs in for the console page; an ops API token
calls the JSON API. Requests go one at a time over one kept-alive TLS connection each, after
a warm-up, and each path is timed R times (default 300):

- ``baseline``: ``GET /healthz`` — the hop itself (TLS, uvicorn, routing), no database;
- ``fleet_page``: ``GET /console/fleet`` — the fleet page (first 100 kiosks, counts, filters);
- ``kiosks_api``: ``GET /api/v1/kiosks?limit=100``;
- ``incidents_api``: ``GET /api/v1/incidents?limit=50`` (newest first, with the capped count);
- ``open_incidents_api``: ``GET /api/v1/incidents?state=opened&limit=50``.

Target (issue 6): p99 under 100 ms for the fleet page and the incidents API. One JSON object
goes to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import signal
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from beacon.plan import FacilityPlan, KioskPlan, SystemPlan
from beacon.processes import RunningSystem
from beacon.system import HOST, SystemLayout, build_system
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.store import create_user
from fleet_manager.accounts.token_store import create_api_token
from fleet_manager.store.database import open_engine
from fleet_manager.store.schema import devices, facilities, incident_events, incidents, locations

TARGET_P99_MS = 100.0
PASSWORD = "bench password that is long enough 1"
REGIONS = ("north", "south", "east", "west", "central")
FACILITIES = 50
STATES = ("resolved",) * 17 + ("acknowledged", "escalated", "opened")
PLAN = SystemPlan(
    facilities=(FacilityPlan("seed", "Seed clinic", "north"),),
    kiosks=(KioskPlan("kiosk-seed", "seed", "seed-room", "Seed room"),),
    policy_yaml="routes:\n  - name: everything\n    match: {}\n    chain:\n"
    "      steps: [{team: first, wait_s: 60}]\n",
    content_repository=False,
)
PATHS = {
    "baseline": "/healthz",
    "fleet_page": "/console/fleet",
    "kiosks_api": "/api/v1/kiosks?limit=100",
    "incidents_api": "/api/v1/incidents?limit=50",
    "open_incidents_api": "/api/v1/incidents?state=opened&limit=50",
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed(engine: sa.Engine, kiosks: int, incident_count: int, now: float) -> None:
    """Bulk rows, as the fleet manager would have written them over months."""
    rng = random.Random(6)
    facility_rows = [
        {
            "facility_id": f"fac-{f:03d}",
            "name": f"Facility {f}",
            "region": REGIONS[f % len(REGIONS)],
            "created_at": now,
            "require_approval": False,
        }
        for f in range(FACILITIES)
    ]
    location_rows, device_rows = [], []
    for k in range(kiosks):
        facility = facility_rows[k % FACILITIES]
        location_rows.append(
            {
                "location_id": f"loc-{k:06d}",
                "facility_id": facility["facility_id"],
                "name": f"Room {k}",
                "kind": "waiting_room",
                "qr_token": f"bench-token-{k:06d}-{rng.getrandbits(64):016x}",
                "created_at": now,
            }
        )
        online = rng.random() < 0.95
        device_rows.append(
            {
                "device_id": f"kiosk-{k:06d}",
                "location_id": f"loc-{k:06d}",
                "registered": True,
                "channel": "stable",
                "online": online,
                "session": "s",
                "status_at": now - rng.uniform(0, 86400),
                "last_heartbeat_at": now - rng.uniform(0, 60),
                "heartbeat_seq": 1,
                "outbox_pending": 0,
                "app_version": "0.1.0",
                "content_version": "2026.11.1",
                "created_at": now,
                "lifecycle": "active",
            }
        )
    incident_rows, event_rows = [], []
    chain = {"steps": [{"team": "first", "wait_s": 60.0}], "repeat": 0}
    for i in range(incident_count):
        k = rng.randrange(kiosks)
        facility = facility_rows[k % FACILITIES]
        opened = now - (incident_count - i) * 30.0
        state = rng.choice(STATES)
        incident_id = f"inc-{i:016x}"
        incident_rows.append(
            {
                "incident_id": incident_id,
                "alert_id": f"00000000-0000-4000-8000-{i:012x}",
                "version": 1,
                "state": state,
                "kind": "help" if i % 10 else "drill",
                "drill": i % 10 == 0,
                "region": facility["region"],
                "facility_id": facility["facility_id"],
                "location_id": f"loc-{k:06d}",
                "location_name": f"Room {k}",
                "device_id": f"kiosk-{k:06d}",
                "alert_ts": opened,
                "opened_at": opened,
                "updated_at": opened + 120.0,
                "route": "everything",
                "chain": chain,
                "escalation_level": 0,
                "escalation_team": "first",
                "notified": ["first"],
                "next_escalation_at": None,
                "exhausted": False,
                "acknowledged_by": None if state in ("opened", "escalated") else "bench",
                "resolved_by": "bench" if state == "resolved" else None,
            }
        )
        event_rows.append(
            {"incident_id": incident_id, "at": opened, "event": "opened", "actor": "x"}
            | {"detail": {}}
        )
    with engine.begin() as conn:
        conn.execute(facilities.insert(), facility_rows)
        for start in range(0, kiosks, 5000):
            conn.execute(locations.insert(), location_rows[start : start + 5000])
            conn.execute(devices.insert(), device_rows[start : start + 5000])
        for start in range(0, incident_count, 10000):
            conn.execute(incidents.insert(), incident_rows[start : start + 10000])
            conn.execute(incident_events.insert(), event_rows[start : start + 10000])


class Client:
    """One kept-alive HTTPS connection to the API, trusting the fleet CA."""

    def __init__(self, layout: SystemLayout, headers: dict[str, str]) -> None:
        context = ssl.create_default_context(cafile=str(layout.ca_file))
        self.connection = http.client.HTTPSConnection(
            HOST, layout.api_port, context=context, timeout=30
        )
        self.headers = headers

    def get(self, path: str) -> tuple[int, bytes]:
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def post_json(self, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        self.connection.request(
            "POST", path, body=json.dumps(body), headers={"content-type": "application/json"}
        )
        return self.connection.getresponse()


def login_cookie(layout: SystemLayout) -> str:
    client = Client(layout, {})
    response = client.post_json("/api/v1/session", {"username": "olga", "password": PASSWORD})
    response.read()
    if response.status != 200:
        raise RuntimeError(f"login failed: {response.status}")
    cookie = response.getheader("set-cookie") or ""
    return cookie.split(";", 1)[0]


def timed(client: Client, path: str, requests: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        status, _body = client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        status, _body = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "max_ms": round(samples[-1], 2),
        "bytes": len(_body),
    }


def run(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    layout = build_system(base, PLAN)
    if args.database_url:
        config = layout.fleet_configs[0]
        text = config.read_text()
        config.write_text(text.replace(layout.database_url, args.database_url))
        database_url = args.database_url
    else:
        database_url = layout.database_url
    engine = open_engine(database_url)
    now = time.time()
    started = time.perf_counter()
    seed(engine, args.kiosks, args.incidents, now)
    took = time.perf_counter() - started
    say(f"seeded {args.kiosks} kiosks, {args.incidents} incidents in {took:.1f} s")
    with engine.begin() as conn:
        create_user(conn, "olga", PASSWORD, [Grant("ops")], actor="bench", now=now)
        token, _row = create_api_token(
            conn, "bench", [Grant("ops")], creator=None, owner="olga", actor="bench", now=now
        )
    engine.dispose()
    running = RunningSystem(layout)
    running.start_api()
    try:
        page_client = Client(layout, {"cookie": login_cookie(layout)})
        api_client = Client(layout, {"authorization": f"Bearer {token}"})
        results = {}
        for name, path in PATHS.items():
            client = page_client if name in ("baseline", "fleet_page") else api_client
            results[name] = timed(client, path, args.requests, warmup=max(5, args.requests // 10))
            say(f"{name}: {results[name]}")
    finally:
        running.api.stop()
    baseline = results["baseline"]["p99_ms"]
    worst = max(results["fleet_page"]["p99_ms"], results["incidents_api"]["p99_ms"])
    return {
        "kiosks": args.kiosks,
        "incidents": args.incidents,
        "requests_per_path": args.requests,
        "database": "postgresql" if args.database_url else "sqlite",
        "paths": results,
        "baseline_p99_ms": baseline,
        "ratio_p99_to_baseline": round(worst / baseline, 1) if baseline else None,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": worst < TARGET_P99_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Console and API latency on a big fleet.")
    parser.add_argument("--kiosks", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://…/db (empty database)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 kiosks")
    args = parser.parse_args(argv)
    if args.quick:
        args.kiosks, args.incidents, args.requests = 200, 2_000, 20
    if args.kiosks < 1 or args.incidents < 0 or args.requests < 1:
        parser.error("--kiosks and --requests must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = Path(tempfile.mkdtemp(prefix="beacon-console-bench-"))
    try:
        result = run(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
