"""The alert latency benchmark runs end to end and loses nothing (``--quick``).

No timing assertions: the machine is shared and noisy. What must hold anywhere is that every
help press reaches the responder broker as an incident, and every baseline message arrives.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180


def _run_quick_bench() -> dict[str, object]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "alert_latency.py"), "--quick"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the benchmark then stops its brokers and children itself.
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        pytest.fail(f"benchmark did not finish in {TIMEOUT_S}s:\n{err.decode()[-3000:]}")
    assert process.returncode == 0, err.decode()[-3000:]
    result: dict[str, object] = json.loads(out)
    return result


def test_quick_bench_reports_every_sample() -> None:
    result = _run_quick_bench()
    for key in (
        "kiosks",
        "alerts",
        "heartbeat_interval_s",
        "kiosks_online",
        "help_press_to_responder_ms",
        "baseline_broker_bridge_ms",
        "ratio_p99",
        "target",
        "meets_target",
    ):
        assert key in result, key
    alerts = result["alerts"]
    assert result["kiosks"] == 20 and alerts == 30
    for series in ("help_press_to_responder_ms", "baseline_broker_bridge_ms"):
        summary = result[series]
        assert isinstance(summary, dict)
        assert set(summary) == {"p50", "p95", "p99", "max", "count", "lost"}
        assert summary["count"] == alerts, (series, summary)
        assert summary["lost"] == 0, (series, summary)


def test_quick_rollout_bench_brings_every_kiosk_to_the_new_version() -> None:
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rollout.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    assert process.returncode == 0, process.stderr.decode()[-3000:]
    result = json.loads(process.stdout)
    assert result["kiosks_on_new_version"] == result["kiosks"] == 10
    for key in ("seconds_to_50pct", "seconds_to_99pct", "seconds_to_100pct", "rollout_completed_s"):
        assert isinstance(result[key], float)
    # Every kiosk fetched the bundle once, plus metadata.
    assert result["bytes_served"] >= 10 * result["bundle_bytes"]


def test_quick_console_bench_times_every_path() -> None:
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "console.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    assert process.returncode == 0, process.stderr.decode()[-3000:]
    result = json.loads(process.stdout)
    assert (result["kiosks"], result["incidents"]) == (200, 2000)
    paths = result["paths"]
    assert set(paths) == {
        "baseline",
        "fleet_page",
        "kiosks_api",
        "incidents_api",
        "open_incidents_api",
    }
    # Each page answered 200 with a real body (the bench stops on any other status).
    assert all(p["bytes"] > 1000 for name, p in paths.items() if name != "baseline")
    assert isinstance(result["target_met"], bool)


def test_quick_landing_bench_measures_every_phase_without_refusals() -> None:
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "landing.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    assert process.returncode == 0, process.stderr.decode()[-3000:]
    result = json.loads(process.stdout)  # stdout is exactly one JSON object
    phases = ("baseline_healthz", "page", "page_at_target", "report")
    for name in phases:
        phase = result[name]
        assert phase["requests"] > 0, (name, phase)
        # Every answer was a 200: the raised limits let every report in, every page rendered.
        assert (phase["non_200"], phase["errors"]) == (0, 0), (name, phase)
    # The page and the "sent" page are the real HTML; /healthz is the small JSON.
    assert result["page"]["largest_response_bytes"] > 4000
    assert result["report"]["largest_response_bytes"] > 4000
    assert result["baseline_healthz"]["largest_response_bytes"] < 100
    assert result["page_at_target"]["offered_rps"] == result["target_page_rps"] == 1000
    assert isinstance(result["target_met"], bool)
