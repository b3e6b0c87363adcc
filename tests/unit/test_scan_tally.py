"""fleet_manager.landing.scan_tally: scans counted in memory, taken and put back by the flusher."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from fleet_manager.landing.scan_tally import Key, ScanTally

D1, D2 = "2026-11-02", "2026-11-03"


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        pytest.param([], {}, id="nothing"),
        pytest.param([(D1, "n-waiting", "en")], {(D1, "n-waiting", "en"): 1}, id="one"),
        pytest.param([(D1, "n-waiting", "en")] * 3, {(D1, "n-waiting", "en"): 3}, id="same-thrice"),
        pytest.param(
            [(D1, "n-waiting", "en"), (D1, "n-waiting", "es"), (D1, "n-restroom", "en")],
            {(D1, "n-waiting", "en"): 1, (D1, "n-waiting", "es"): 1, (D1, "n-restroom", "en"): 1},
            id="per-location-and-language",
        ),
        pytest.param(
            [(D1, "n-waiting", "ar"), (D2, "n-waiting", "ar"), (D2, "n-waiting", "ar")],
            {(D1, "n-waiting", "ar"): 1, (D2, "n-waiting", "ar"): 2},
            id="per-day",
        ),
    ],
)
def test_add_and_take(adds: list[Key], expected: dict[Key, int]) -> None:
    tally = ScanTally()
    for key in adds:
        tally.add(*key)
    taken = tally.take()
    assert taken == expected
    assert type(taken) is dict  # a plain snapshot, not the live counter


def test_take_resets() -> None:
    tally = ScanTally()
    tally.add(D1, "n-waiting", "en")
    assert tally.take() == {(D1, "n-waiting", "en"): 1}
    assert tally.take() == {}
    tally.add(D1, "n-waiting", "en")
    assert tally.take() == {(D1, "n-waiting", "en"): 1}


def test_taken_snapshot_is_not_changed_by_later_adds() -> None:
    tally = ScanTally()
    tally.add(D1, "n-waiting", "en")
    taken = tally.take()
    tally.add(D1, "n-waiting", "en")
    assert taken == {(D1, "n-waiting", "en"): 1}


def test_put_back_adds_to_what_came_since() -> None:
    tally = ScanTally()
    tally.add(D1, "n-waiting", "en")
    tally.add(D1, "n-waiting", "es")
    failed = tally.take()  # the write failed
    tally.add(D1, "n-waiting", "en")  # a scan during the failed write
    tally.put_back(failed)
    assert tally.take() == {(D1, "n-waiting", "en"): 2, (D1, "n-waiting", "es"): 1}


def test_put_back_nothing() -> None:
    tally = ScanTally()
    tally.put_back({})
    assert tally.take() == {}


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    # Switch threads as often as possible so a lost update, if the lock were gone, shows.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("eager_thread_switches")
def test_concurrent_adds_all_counted() -> None:
    tally = ScanTally()
    threads_n, locations_n, rounds = 8, 500, 10
    start = threading.Barrier(threads_n)

    def scan() -> None:
        start.wait()
        # Every thread scans the same fresh keys: the first count of a key is the racy one.
        for r in range(rounds):
            for j in range(locations_n):
                tally.add(D1, f"loc-{r}-{j}", "en")

    threads = [threading.Thread(target=scan) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = tally.take()
    assert len(counts) == rounds * locations_n
    assert set(counts.values()) == {threads_n}


@pytest.mark.usefixtures("eager_thread_switches")
def test_concurrent_adds_and_takes_lose_nothing() -> None:
    # The flusher takes while pages keep counting: every scan lands in exactly one take.
    tally = ScanTally()
    adders_n, adds_n = 4, 3000
    taken: list[dict[Key, int]] = []
    done = threading.Event()

    def scan() -> None:
        for _ in range(adds_n):
            tally.add(D1, "n-waiting", "en")

    def flush() -> None:
        while not done.is_set():
            taken.append(tally.take())

    flusher = threading.Thread(target=flush)
    adders = [threading.Thread(target=scan) for _ in range(adders_n)]
    flusher.start()
    for t in adders:
        t.start()
    for t in adders:
        t.join()
    done.set()
    flusher.join()
    taken.append(tally.take())
    assert sum(sum(t.values()) for t in taken) == adders_n * adds_n
