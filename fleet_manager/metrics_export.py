"""What ``/metrics`` says, as a pure function of figures read from the fleet store.

The API process has no counters of the fleet managers in memory: each fleet manager instance
writes its counters and its alert-latency histogram to ``metric_snapshots`` with its
heartbeat flush, and this module sums them across instances. Gauges (incidents, kiosks,
rollouts, console requests) come from GROUP BY queries the route makes. Everything is turned
into ``prometheus_client`` metric families, exposed through a collector on a fresh registry
(never the library's global one, so nothing leaks between apps or tests).

Snapshot histograms are ``{"le": [ascending upper bounds, no +Inf], "counts": [per bucket,
not cumulative, len(le) + 1 with +Inf last], "sum": float, "count": int}``. Instances whose
bounds differ from the majority's (during an upgrade) or whose histogram is malformed are left
out of the sum and reported in :attr:`Exposition.skipped`.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

ALERT_HISTOGRAM = "alert_ingest_seconds"

# Prometheus name (without _total) → (snapshot counter name, help).
SNAPSHOT_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("beacon_messages_ingested", "messages_ingested", "Kiosk messages accepted (all instances)."),
    ("beacon_messages_rejected", "messages_rejected", "Kiosk messages rejected (all instances)."),
    ("beacon_alerts_duplicate", "alerts_duplicate", "Alerts received again (all instances)."),
    ("beacon_escalations", "escalations", "Incident escalations (all instances)."),
    ("beacon_worker_errors", "worker_errors", "Fleet manager worker errors (all instances)."),
    ("beacon_report_incidents", "report_incidents_opened", "Incidents opened by reports."),
    ("beacon_landing_pages", "landing_pages", "Landing pages served (all languages, tokens)."),
    ("beacon_landing_reports", "landing_reports", "Reports received and sealed."),
    ("beacon_landing_additions", "landing_additions", "Additions to reports received."),
    (
        "beacon_landing_reports_no_key",
        "landing_reports_no_key",
        "Reports refused because their region has no report key (act on this).",
    ),
)


@dataclass(frozen=True)
class Snapshot:
    """One fleet manager instance's row of ``metric_snapshots``."""

    instance: str
    updated_at: float
    counters: Mapping[str, Any]
    histograms: Mapping[str, Any]


def bucket_label(bound: float) -> str:
    """An ``le`` label as Prometheus clients write it (``0.25``, ``1.0``, ``+Inf``)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


@dataclass(frozen=True)
class Histogram:
    le: tuple[float, ...]  # upper bounds, ascending, finite, without +Inf
    counts: tuple[int, ...]  # per bucket (not cumulative), len(le) + 1, +Inf last
    sum: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus wants them: cumulative, labelled, ending with +Inf."""
        running = 0
        out: list[tuple[str, float]] = []
        for bound, n in zip((*self.le, math.inf), self.counts, strict=True):
            running += n
            out.append((bucket_label(bound), float(running)))
        return out


@dataclass(frozen=True)
class FleetFigures:
    """Everything ``/metrics`` reports, as read by the route."""

    now: float
    incidents: Sequence[tuple[str, str, int]] = ()  # (state, kind, n)
    kiosks: Sequence[tuple[bool, str, int]] = ()  # (online, lifecycle, n), registered ones
    rollouts: Sequence[tuple[str, int]] = ()  # (state, n)
    console_requests: Sequence[tuple[str, int]] = ()  # (state, n)
    snapshots: Sequence[Snapshot] = ()
    api_counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Exposition:
    families: list[Metric]
    skipped: list[str]  # instances whose alert histogram was left out, with why


def _count(value: Any) -> int | None:
    """A counter value as stored, if it is one (a non-negative int; bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def parse_histogram(value: Any) -> Histogram | str:
    """A snapshot histogram, or why it cannot be used."""
    if not isinstance(value, Mapping):
        return "not an object"
    le, counts, total = value.get("le"), value.get("counts"), value.get("sum")
    if not isinstance(le, list) or not isinstance(counts, list):
        return "le and counts must be lists"
    bounds: list[float] = []
    for b in le:
        if isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b):
            return "le must be finite numbers"
        bounds.append(float(b))
    if any(a >= b for a, b in itertools.pairwise(bounds)) or (bounds and bounds[0] < 0):
        return "le must be ascending and not negative"
    if len(counts) != len(bounds) + 1:
        return "counts must have one more entry than le (the +Inf bucket)"
    checked = [_count(c) for c in counts]
    if any(c is None for c in checked):
        return "counts must be non-negative integers"
    if isinstance(total, bool) or not isinstance(total, int | float) or not math.isfinite(total):
        return "sum must be a finite number"
    return Histogram(tuple(bounds), tuple(c for c in checked if c is not None), float(total))


def merge_histograms(
    found: Iterable[tuple[str, Any]],
) -> tuple[Histogram | None, list[str]]:
    """Sum the instances' histograms (``(instance, value)``) that share the most common bounds;
    the sum (None if there is none) and the instances left out, with why."""
    parsed: list[tuple[str, Histogram]] = []
    skipped: list[str] = []
    for instance, value in found:
        h = parse_histogram(value)
        if isinstance(h, str):
            skipped.append(f"{instance}: {h}")
        else:
            parsed.append((instance, h))
    if not parsed:
        return None, skipped
    votes = Counter(h.le for _, h in parsed)
    first: dict[tuple[float, ...], int] = {}
    for i, (_, h) in enumerate(parsed):
        first.setdefault(h.le, i)
    # The bounds most instances use; on a tie, those of the first instance (by name).
    bounds = max(votes, key=lambda le: (votes[le], -first[le]))
    counts = [0] * (len(bounds) + 1)
    total = 0.0
    for instance, h in parsed:
        if h.le != bounds:
            skipped.append(f"{instance}: bucket bounds differ from the other instances'")
            continue
        counts = [a + b for a, b in zip(counts, h.counts, strict=True)]
        total += h.sum
    return Histogram(bounds, tuple(counts), total), skipped


def sum_counters(snapshots: Iterable[Snapshot]) -> dict[str, int]:
    """Every counter summed over instances (values that are not counts are ignored)."""
    totals: dict[str, int] = {}
    for s in snapshots:
        if not isinstance(s.counters, Mapping):
            continue
        for name, value in s.counters.items():
            n = _count(value)
            if n is not None and isinstance(name, str):
                totals[name] = totals.get(name, 0) + n
    return totals


def families(figures: FleetFigures) -> Exposition:
    """The metric families for ``figures`` (pure)."""
    out: list[Metric] = []

    incidents = GaugeMetricFamily(
        "beacon_incidents", "Incidents by state and kind.", labels=["state", "kind"]
    )
    open_total = 0
    for state, kind, n in sorted(figures.incidents):
        incidents.add_metric([state, kind], n)
        if state != "resolved":
            open_total += n
    out.append(incidents)
    out.append(
        GaugeMetricFamily("beacon_incidents_open", "Incidents not resolved.", value=open_total)
    )

    kiosks = GaugeMetricFamily(
        "beacon_kiosks",
        "Registered kiosks by connection state and lifecycle.",
        labels=["state", "lifecycle"],
    )
    by_kiosk: Counter[tuple[str, str]] = Counter()
    for online, lifecycle, n in figures.kiosks:
        by_kiosk["online" if online else "offline", lifecycle] += n
    for (state, lifecycle), n in sorted(by_kiosk.items()):
        kiosks.add_metric([state, lifecycle], n)
    out.append(kiosks)

    rollouts = GaugeMetricFamily("beacon_rollouts", "Content rollouts by state.", labels=["state"])
    for state, n in sorted(figures.rollouts):
        rollouts.add_metric([state], n)
    out.append(rollouts)

    requests = GaugeMetricFamily(
        "beacon_console_requests",
        "Console and API requests to the fleet manager by state.",
        labels=["state"],
    )
    for state, n in sorted(figures.console_requests):
        requests.add_metric([state], n)
    out.append(requests)

    summed = sum_counters(figures.snapshots)
    for name, counter, doc in SNAPSHOT_COUNTERS:
        out.append(CounterMetricFamily(name, doc, value=summed.get(counter, 0)))

    api = CounterMetricFamily(
        "beacon_api_events", "This API process's own counters, by name.", labels=["name"]
    )
    for name, n in sorted(figures.api_counters.items()):
        if (value := _count(n)) is not None:
            api.add_metric([name], value)
    out.append(api)

    out.append(
        GaugeMetricFamily(
            "beacon_fleet_managers",
            "Fleet manager instances with a metric snapshot.",
            value=len(figures.snapshots),
        )
    )
    age = GaugeMetricFamily(
        "beacon_fleet_manager_snapshot_age_seconds",
        "Seconds since each fleet manager instance last wrote its metrics.",
        labels=["instance"],
    )
    for s in sorted(figures.snapshots, key=lambda s: s.instance):
        age.add_metric([s.instance], max(0.0, figures.now - s.updated_at))
    out.append(age)

    merged, skipped = merge_histograms(
        (s.instance, s.histograms[ALERT_HISTOGRAM])
        for s in sorted(figures.snapshots, key=lambda s: s.instance)
        if isinstance(s.histograms, Mapping) and ALERT_HISTOGRAM in s.histograms
    )
    latency = HistogramMetricFamily(
        "beacon_alert_ingest_seconds",
        "Seconds from a kiosk's alert to its incident being stored (all instances).",
    )
    if merged is not None:
        latency.add_metric([], merged.cumulative(), merged.sum)
    out.append(latency)
    return Exposition(out, skipped)


class FixedCollector(Collector):
    """Hands a registry metric families computed beforehand."""

    def __init__(self, found: Sequence[Metric]) -> None:
        self.found = list(found)

    def collect(self) -> Iterator[Metric]:
        yield from self.found


def exposition_text(found: Sequence[Metric]) -> bytes:
    """The Prometheus text format of ``found``, through a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FixedCollector(found))
    return generate_latest(registry)
