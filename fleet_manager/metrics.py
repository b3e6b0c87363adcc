"""In-process counters (messages ingested, rejected by reason, alerts, duplicates …) and the
alert-latency histogram.

Every rejection is counted here and logged once. Each fleet manager writes a snapshot of both to
``metric_snapshots`` (see ``fleet_manager.store.metric_snapshots``); the API's ``/metrics``
sums them over instances.
"""

from __future__ import annotations

import threading
from collections import Counter


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def inc(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


# Upper bounds (seconds) of the alert-latency buckets: from the sub-millisecond broker hop to
# the seconds an overloaded database would cost.
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class Histogram:
    """Counts per bucket (not cumulative; the last bucket is +Inf), their sum and count, in
    the JSON shape ``metric_snapshots.histograms`` stores and ``/metrics`` reads."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self._lock = threading.Lock()
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        index = next((i for i, b in enumerate(self.bounds) if value <= b), len(self.bounds))
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "le": list(self.bounds),
                "counts": list(self._counts),
                "sum": self._sum,
                "count": sum(self._counts),
            }
