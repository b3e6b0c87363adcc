"""transport.backoff: capped exponential backoff with equal jitter, with an injected rand."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from transport.backoff import Backoff


def _const(value: float) -> Callable[[], float]:
    return lambda: value


def _cycle(values: list[float]) -> Callable[[], float]:
    it: Iterator[float] = iter(values * 1000)
    return lambda: next(it)


@pytest.mark.parametrize(
    ("rand", "expected"),
    [
        pytest.param(0.0, [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0], id="rand-0-floor"),
        pytest.param(1.0, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0], id="rand-1-ceiling"),
        pytest.param(
            0.5, [0.375, 0.75, 1.5, 3.0, 6.0, 12.0, 22.5, 22.5, 22.5], id="rand-half-midpoint"
        ),
    ],
)
def test_default_delays_grow_and_are_capped(rand: float, expected: list[float]) -> None:
    backoff = Backoff(rand=_const(rand))
    assert [backoff.next_delay() for _ in expected] == expected
    assert backoff.attempts == len(expected)


@pytest.mark.parametrize(
    ("base", "cap", "rand", "expected"),
    [
        pytest.param(1.0, 10.0, 1.0, [1.0, 2.0, 4.0, 8.0, 10.0, 10.0], id="base-1-cap-10"),
        pytest.param(1.0, 10.0, 0.0, [0.5, 1.0, 2.0, 4.0, 5.0, 5.0], id="base-1-cap-10-floor"),
        pytest.param(2.0, 3.0, 1.0, [2.0, 3.0, 3.0], id="cap-hit-on-second"),
        pytest.param(5.0, 5.0, 0.0, [2.5, 2.5, 2.5], id="base-equals-cap"),
    ],
)
def test_custom_base_and_cap(base: float, cap: float, rand: float, expected: list[float]) -> None:
    backoff = Backoff(base_s=base, cap_s=cap, rand=_const(rand))
    assert [backoff.next_delay() for _ in expected] == expected


@pytest.mark.parametrize(
    "rand",
    [
        pytest.param(_const(0.0), id="always-0"),
        pytest.param(_const(0.999999), id="always-almost-1"),
        pytest.param(_cycle([0.0, 1.0, 0.3, 0.9, 0.01]), id="mixed"),
    ],
)
def test_delay_between_half_ceiling_and_ceiling(rand: Callable[[], float]) -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0, rand=rand)
    for attempt in range(40):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling, f"attempt {attempt}: {delay}"


def test_reset_starts_again_from_base() -> None:
    backoff = Backoff(rand=_const(1.0))
    for _ in range(10):
        backoff.next_delay()
    assert backoff.attempts == 10
    backoff.reset()
    assert backoff.attempts == 0
    assert [backoff.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]


def test_rand_is_called_once_per_delay() -> None:
    calls: list[int] = []

    def rand() -> float:
        calls.append(1)
        return 0.5

    backoff = Backoff(rand=rand)
    for _ in range(5):
        backoff.next_delay()
    assert len(calls) == 5


def test_stays_capped_after_a_long_outage() -> None:
    # A kiosk whose broker is unreachable overnight keeps retrying: ~1 100 attempts of up to 30 s.
    backoff = Backoff(rand=_const(1.0))
    delays = [backoff.next_delay() for _ in range(1100)]
    assert delays[-1] == 30.0
    assert max(delays) == 30.0
