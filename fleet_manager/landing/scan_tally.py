"""Counting QR scans in memory, written as aggregates every few seconds.

A page view adds one to (day, location, language); nothing else about the request is kept.
Writing each view would cost a synced database write per request, so counts gather here and a
flusher writes them in one transaction. What is lost if the process dies is the last few
seconds of counts, never anything else.
"""

from __future__ import annotations

import threading
from collections import Counter

Key = tuple[str, str, str]  # day, location, language


class ScanTally:
    def __init__(self) -> None:
        self._counts: Counter[Key] = Counter()
        self._lock = threading.Lock()

    def add(self, day: str, location_id: str, language: str) -> None:
        with self._lock:
            self._counts[(day, location_id, language)] += 1

    def take(self) -> dict[Key, int]:
        """Everything counted since the last take (and start again from zero)."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return dict(counts)

    def put_back(self, counts: dict[Key, int]) -> None:
        """Counts a failed write could not store: kept for the next try."""
        with self._lock:
            self._counts.update(counts)
