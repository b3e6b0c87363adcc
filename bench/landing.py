"""How many landing pages per second this machine serves, and how fast reports go in.

    python bench/landing.py [--duration S] [--concurrency C] [--clients P]
                            [--report-duration S] [--report-concurrency C] [--quick]

A system is laid out with :func:`beacon.system.build_system` (CA, landing certificate, SQLite
store with two locations of a facility in region "north" and the region's report key), its
landing limits are raised to their maxima so the abuse limiter never refuses the benchmark
(every request comes from 127.0.0.1, one client to the limiter), and the real process
``beacon landing serve --config fleet.yaml`` (uvicorn, one worker, HTTPS) serves it.

The load comes from P client processes (default 2), each an asyncio loop over raw TLS streams
sending pre-built HTTP/1.1 requests on kept-alive connections and reading Content-Length-framed
answers: a Python HTTP client library would cap far below the server. C connections in all
(closed loop: each sends its next request when the answer arrives, unless paced). After a
warm-up, requests sent and answered within a fixed window are counted; latency is from sending
to the last body byte.

- ``baseline_healthz``: ``GET /healthz`` — the server's floor (TLS, uvicorn, routing);
- ``page``: ``GET /r/{token}?l=…`` — the landing page, two known tokens, six languages
  (Spanish, English, Arabic, Chinese, Vietnamese, French): the most the server gives;
- ``page_at_target``: the same, offered at 1,000 requests/s (open loop, latency from each
  request's scheduled moment): what a visitor sees at the target rate;
- ``report``: ``POST /r/{token}/report`` — a form with ~500 characters of text, at modest
  concurrency: each is an Argon2 hash (by design), a seal and a synced SQLite write.

The CPU the server, the clients and everything else used in each window is measured (from
``/proc`` and ``getrusage``) and given in cores, with how long the server waited for a CPU: on
two shared cores the clients and other work take CPU from the server, and that belongs next to
the numbers. Target (issue 7): 1,000 page requests per second. One
JSON object goes to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import ssl
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from beacon.plan import FacilityPlan, KioskPlan, SystemPlan
from beacon.processes import RunningSystem
from beacon.system import HOST, SystemLayout, build_system

TARGET_PAGE_RPS = 1000
PAGE_LANGUAGES = ("es", "en", "ar", "zh-Hans", "vi", "fr")
REQUEST_TIMEOUT_S = 30.0
PLAN = SystemPlan(
    facilities=(FacilityPlan("clinic-n", "North Clinic", "north"),),
    kiosks=(
        KioskPlan("kiosk-waiting", "clinic-n", "n-waiting", "Waiting room"),
        KioskPlan("kiosk-restroom", "clinic-n", "n-restroom", "Restroom"),
    ),
    policy_yaml="routes:\n  - name: everything\n    match: {}\n    chain:\n"
    "      steps: [{team: first, wait_s: 60}]\n",
    qr_origin="",
    landing_page=True,
)
# The limits' maxima (fleet_manager.config.LandingLimits): one benchmark client is one address.
LIMITS = {
    "reports_per_hour": 10_000,
    "additions_per_hour": 10_000,
    "wrong_codes_per_hour": 10_000,
    "all_reports_per_hour": 1_000_000,
}
# About 500 characters, as a person might write on a phone (not logged, sealed on arrival).
REPORT_TEXT = (
    "Hay una mujer en la sala de espera que no habla por sí misma; el hombre que la acompaña "
    "responde por ella, guarda sus documentos y no la deja sola ni un momento. Dice que trabaja "
    "en un restaurante desde hace dos años pero que nunca le han pagado, que duerme en el mismo "
    "lugar donde trabaja con otras cuatro personas y que no puede salir sin permiso. Tiene miedo "
    "de que si habla con alguien la denuncien a inmigración. Vuelve los martes a la misma hora "
    "para su cita. Por favor, que alguien la ayude sin que él se entere."
)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the load generator (runs in forked client processes) --------------------------------


@dataclass(frozen=True)
class ClientSpec:
    port: int
    ca_file: str
    requests: tuple[bytes, ...]
    connections: int
    first: int  # where in ``requests`` this process starts, so processes do not move in step
    start_at: float  # wall clock: requests before this are the warm-up
    end_at: float
    # Open loop: each connection sends on a fixed schedule, ``interval_s`` apart, and latency
    # counts from the scheduled moment, so a slow answer that delays the next request shows
    # in the numbers instead of hiding. 0: closed loop.
    interval_s: float = 0.0
    offset_s: float = 0.0  # this process's first connection
    stagger_s: float = 0.0  # between its connections, so sends spread evenly over time


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    largest_response: int = 0  # body bytes
    cpu_s: float = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, int]:
    """Status, whether the server will close, body length (the body is read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close, length


async def _one_connection(
    spec: ClientSpec, context: ssl.SSLContext, start: int, offset_s: float, out: Samples
) -> None:
    i = start
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    wall_to_perf = time.perf_counter() - time.time()
    scheduled = max(time.time(), spec.start_at - 1.0) + offset_s  # paced warm-up: ~1 s
    while time.time() < spec.end_at:
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(
                    HOST, spec.port, ssl=context, server_hostname=HOST
                )
            request = spec.requests[i % len(spec.requests)]
            i += 1
            if spec.interval_s:
                await asyncio.sleep(max(0.0, scheduled - time.time()))
                sent_wall, sent = scheduled, scheduled + wall_to_perf
                scheduled += spec.interval_s
            else:
                sent_wall, sent = time.time(), time.perf_counter()
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                writer.write(request)
                status, close, length = await _read_response(reader)
            took_ms = (time.perf_counter() - sent) * 1000
            if sent_wall >= spec.start_at and time.time() <= spec.end_at:
                out.latencies_ms.append(took_ms)
                out.statuses[status] += 1
                out.largest_response = max(out.largest_response, length)
            if close:
                writer.close()
                writer = reader = None
        except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError):
            if spec.start_at <= time.time() <= spec.end_at:
                out.errors += 1
            if writer is not None:
                writer.close()
            writer = reader = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _client_main(spec: ClientSpec) -> Samples:
    context = ssl.create_default_context(cafile=spec.ca_file)
    out = Samples()

    async def cpu_in_window() -> None:
        await asyncio.sleep(max(0.0, spec.start_at - time.time()))
        before = _cpu_seconds()
        await asyncio.sleep(max(0.0, spec.end_at - time.time()))
        out.cpu_s = _cpu_seconds() - before

    step = max(1, len(spec.requests) // max(1, spec.connections))
    await asyncio.gather(
        cpu_in_window(),
        *(
            _one_connection(
                spec, context, spec.first + n * step, spec.offset_s + n * spec.stagger_s, out
            )
            for n in range(spec.connections)
        ),
    )
    return out


def _client_process(spec: ClientSpec) -> Samples:
    return asyncio.run(_client_main(spec))


# -- the measuring side ------------------------------------------------------------------


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_runqueue_seconds(pid: int) -> float:
    """How long the server's main thread (its event loop) was ready to run but waited for a
    CPU (``/proc/PID/schedstat``, nanoseconds)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent running anything (user, nice, system, irq, softirq), from
    ``/proc/stat``; idle, I/O wait and time stolen by a hypervisor are not counted."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / os.sysconf("SC_CLK_TCK")


def cpu_stall_seconds() -> float | None:
    """Time during which some runnable task waited for a CPU (Linux PSI), or None if the
    kernel does not say: the plainest sign that other work took our turns."""
    try:
        first = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
    except OSError:
        return None
    return int(first.rsplit("total=", 1)[1]) / 1e6


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/html\r\n\r\n".encode()


def post_request(path: str, form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def measure(
    name: str,
    layout: SystemLayout,
    server_pid: int,
    requests: list[bytes],
    *,
    concurrency: int,
    clients: int,
    duration: float,
    warmup: float,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Closed loop at ``concurrency``, or, given a ``rate``, that many requests per second
    spread over the connections."""
    clients = max(1, min(clients, concurrency))
    paced = f", paced at {rate:g}/s" if rate else ""
    say(f"{name}: {concurrency} connections from {clients} client processes{paced}, {duration:g} s")
    # Connections are opened and warmed up before the window starts.
    start_at = time.time() + warmup
    end_at = start_at + duration
    specs = [
        ClientSpec(
            port=layout.landing_port,
            ca_file=str(layout.ca_file),
            requests=tuple(requests),
            connections=concurrency // clients + (1 if c < concurrency % clients else 0),
            first=c * max(1, len(requests) // clients),
            start_at=start_at,
            end_at=end_at,
            interval_s=concurrency / rate if rate else 0.0,
            offset_s=c / rate if rate else 0.0,
            stagger_s=clients / rate if rate else 0.0,
        )
        for c in range(clients)
    ]
    # Forked: the children need nothing from the parent but the spec, and start at once.
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        pending = pool.map_async(_client_process, specs)
        time.sleep(max(0.0, start_at - time.time()))
        server_before, busy_before = server_cpu_seconds(server_pid), machine_busy_seconds()
        stall_before, queued_before = cpu_stall_seconds(), server_runqueue_seconds(server_pid)
        time.sleep(max(0.0, end_at - time.time()))
        server_used = server_cpu_seconds(server_pid) - server_before
        busy = machine_busy_seconds() - busy_before
        stall_after, queued = cpu_stall_seconds(), server_runqueue_seconds(server_pid)
        results: list[Samples] = pending.get(timeout=duration + warmup + 2 * REQUEST_TIMEOUT_S)
    latencies = sorted(x for r in results for x in r.latencies_ms)
    statuses: Counter[int] = Counter()
    for r in results:
        statuses.update(r.statuses)
    client_used = sum(r.cpu_s for r in results)
    answered = len(latencies)
    if not answered:
        raise RuntimeError(f"{name}: no request was answered in the window")
    summary: dict[str, Any] = {
        "concurrency": concurrency,
        **({"offered_rps": rate} if rate else {}),
        "client_processes": clients,
        "duration_s": duration,
        "requests": answered,
        "rps": round(answered / duration, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(answered - 1, int(answered * 0.99))], 2),
        "max_ms": round(latencies[-1], 2),
        "non_200": answered - statuses.get(200, 0),
        "errors": sum(r.errors for r in results),
        "largest_response_bytes": max(r.largest_response for r in results),
        "server_cores": round(server_used / duration, 2),
        "server_cpu_ms_per_request": round(server_used * 1000 / answered, 3),
        "client_cores": round(client_used / duration, 2),
        # What else ran on the machine meanwhile (other work shares these cores).
        "other_cores": round(max(0.0, busy - server_used - client_used) / duration, 2),
        # Of the window, how long the server's event loop sat ready but not running.
        "server_waited_for_cpu_pct": round((queued - queued_before) * 100 / duration, 1),
        "cpu_wait_pct": None
        if stall_before is None or stall_after is None
        else round((stall_after - stall_before) * 100 / duration, 1),
    }
    if summary["non_200"]:
        summary["statuses"] = {str(k): v for k, v in sorted(statuses.items())}
    say(f"{name}: {summary}")
    return summary


def check_page(layout: SystemLayout, path: str) -> None:
    """One plain request first: the bench must be timing the real page, not an error."""
    context = ssl.create_default_context(cafile=str(layout.ca_file))
    connection = http.client.HTTPSConnection(HOST, layout.landing_port, context=context)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    if response.status != 200 or 'lang="es"' not in body or "tel:" not in body:
        raise RuntimeError(f"GET {path} answered {response.status}: not the landing page")


def raise_limits(layout: SystemLayout) -> None:
    config_path = layout.fleet_configs[0]
    config = yaml.safe_load(config_path.read_text())
    config["landing"]["limits"] = LIMITS
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average_1_5_15_min_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"),
        "uvicorn_workers": 1,
        "http_parser": "httptools" if find_spec("httptools") else "h11",
        "event_loop": "uvloop" if find_spec("uvloop") else "asyncio",
        "database": "sqlite",
    }


def run(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    info = machine()  # before anything of ours runs: the load average is the others' work
    layout = build_system(base, PLAN)
    raise_limits(layout)
    tokens = [layout.qr_tokens["n-waiting"], layout.qr_tokens["n-restroom"]]
    running = RunningSystem(layout)
    running.start_landing()
    server_pid = running.landing.pid
    assert server_pid is not None
    try:
        check_page(layout, f"/r/{tokens[0]}?l=es")
        load = {
            "concurrency": args.concurrency,
            "clients": args.clients,
            "duration": args.duration,
            "warmup": args.warmup,
        }
        baseline = measure(
            "baseline_healthz", layout, server_pid, [get_request("/healthz")], **load
        )
        pages = [get_request(f"/r/{t}?l={lang}") for lang in PAGE_LANGUAGES for t in tokens]
        page = measure("page", layout, server_pid, pages, **load)
        # The same page offered at the target rate: the latency a visitor sees at 1,000/s.
        page_at_target = measure(
            "page_at_target", layout, server_pid, pages, rate=TARGET_PAGE_RPS, **load
        )
        reports = [
            post_request(
                f"/r/{t}/report?l={lang}",
                {
                    "what": REPORT_TEXT,
                    "contact_method": "Llamar al número de la clínica, preguntar por Ana",
                    "contact_time": "martes por la mañana",
                    "share": "unsure",
                    "l": lang,
                },
            )
            for lang in ("es", "en")
            for t in tokens
        ]
        report = measure(
            "report",
            layout,
            server_pid,
            reports,
            concurrency=args.report_concurrency,
            clients=1,
            duration=args.report_duration,
            warmup=args.warmup,
        )
    finally:
        running.landing.stop()
    return {
        "page": page,
        "page_at_target": page_at_target,
        "report": report,
        "baseline_healthz": baseline,
        "page_rps_over_healthz_rps": round(page["rps"] / baseline["rps"], 2),
        "page_p99_over_healthz_p99": round(page["p99_ms"] / baseline["p99_ms"], 1),
        "report_text_chars": len(REPORT_TEXT),
        "target_page_rps": TARGET_PAGE_RPS,
        "target_met": page["rps"] >= TARGET_PAGE_RPS and page["non_200"] == 0,
        "machine": info,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Landing page and report throughput.")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per page phase")
    parser.add_argument("--concurrency", type=int, default=64, help="page connections in all")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--report-duration", type=float, default=20.0)
    parser.add_argument("--report-concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each window")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.report_duration, args.warmup = 1.5, 2.0, 0.5
        args.concurrency, args.report_concurrency = 8, 2
    if min(args.duration, args.report_duration) <= 0 or args.warmup < 0:
        parser.error("durations must be positive")
    if min(args.concurrency, args.clients, args.report_concurrency) < 1:
        parser.error("--concurrency, --clients and --report-concurrency must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = Path(tempfile.mkdtemp(prefix="beacon-landing-bench-"))
    try:
        result = run(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
