"""fleet_manager.reports.limits: fixed-window counts, and client keys that rotate each UTC day."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

import pytest

from fleet_manager.reports.limits import (
    DAY_S,
    Action,
    ClientKeys,
    LimitRules,
    WindowCounts,
    client_address,
)

RULES = LimitRules(
    reports_per_hour=2, additions_per_hour=3, wrong_codes_per_hour=1, all_reports_per_hour=4
)
HOUR = 3600.0
T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        pytest.param("report", 2, id="report"),
        pytest.param("addition", 3, id="addition"),
        pytest.param("wrong_code", 1, id="wrong-code"),
        pytest.param("all_reports", 4, id="all-reports"),
    ],
)
def test_rules_per_action(action: Action, allowed: int) -> None:
    assert RULES.limit(action).allowed == allowed
    assert RULES.limit(action).window_s == HOUR


def test_default_rules() -> None:
    rules = LimitRules()
    assert [
        rules.limit(a).allowed for a in ("report", "addition", "wrong_code", "all_reports")
    ] == [
        5,
        20,
        10,
        300,
    ]


# (action, [(offset from T0 of each record)], offset asked at, allowed?)
@pytest.mark.parametrize(
    ("action", "recorded", "asked_at", "allowed"),
    [
        pytest.param("report", [], 0.0, True, id="nothing-yet"),
        pytest.param("report", [0.0], 1.0, True, id="one-of-two"),
        pytest.param("report", [0.0, 1.0], 2.0, False, id="at-limit"),
        pytest.param("report", [0.0, 1.0], HOUR - 0.001, False, id="just-before-window-ends"),
        pytest.param("report", [0.0, 1.0], HOUR, True, id="window-ends-at-start-plus-hour"),
        pytest.param("report", [0.0, 1.0], 5 * HOUR, True, id="long-after"),
        # Fixed window: it starts at the first record, not the last.
        pytest.param("report", [0.0, HOUR - 1.0], HOUR, True, id="fixed-not-sliding"),
        pytest.param("wrong_code", [0.0], 0.0, False, id="limit-one"),
        pytest.param("addition", [0.0, 0.0], 0.0, True, id="addition-under"),
        pytest.param("addition", [0.0, 0.0, 0.0], 0.0, False, id="addition-at"),
        pytest.param("all_reports", [0.0] * 3, 0.0, True, id="all-under"),
        pytest.param("all_reports", [0.0] * 4, 0.0, False, id="all-at"),
        # After the window, the count starts again from the new record.
        pytest.param("report", [0.0, 1.0, HOUR], HOUR + 1.0, True, id="new-window-one-of-two"),
        pytest.param(
            "report", [0.0, 1.0, HOUR, HOUR + 1.0], HOUR + 2.0, False, id="new-window-full"
        ),
    ],
)
def test_window(action: Action, recorded: list[float], asked_at: float, allowed: bool) -> None:
    counts = WindowCounts(RULES)
    for offset in recorded:
        counts.record(action, "k", T0 + offset)
    assert counts.would_allow(action, "k", T0 + asked_at) is allowed


def test_would_allow_does_not_count() -> None:
    counts = WindowCounts(RULES)
    for _ in range(10):
        assert counts.would_allow("report", "k", T0)
    assert counts.counts == {}


def test_actions_and_keys_are_independent() -> None:
    counts = WindowCounts(RULES)
    counts.record("report", "a", T0)
    counts.record("report", "a", T0)
    assert not counts.would_allow("report", "a", T0)
    assert counts.would_allow("report", "b", T0)  # another client
    assert counts.would_allow("addition", "a", T0)  # another action, same client
    assert counts.would_allow("all_reports", "a", T0)
    counts.record("wrong_code", "b", T0)
    assert not counts.would_allow("wrong_code", "b", T0)
    assert counts.would_allow("wrong_code", "a", T0)
    assert counts.would_allow("report", "b", T0)


def test_forget_older_than() -> None:
    counts = WindowCounts(RULES)
    counts.record("report", "old", T0)
    counts.record("report", "old", T0 + 10.0)  # same window: still started at T0
    counts.record("report", "edge", T0 + 100.0)
    counts.record("addition", "new", T0 + 200.0)
    counts.forget_older_than(T0 + 100.0)
    assert set(counts.counts) == {("report", "edge"), ("addition", "new")}
    assert counts.would_allow("report", "old", T0 + 20.0)  # forgotten: counts from zero
    counts.forget_older_than(T0 + 1000.0)
    assert counts.counts == {}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


MIDNIGHT = 20_000 * DAY_S  # a UTC midnight


def test_same_address_same_day_same_key() -> None:
    clock = Clock(MIDNIGHT + 10.0)
    keys = ClientKeys(clock)
    first = keys.key_for("203.0.113.7")
    clock.now = MIDNIGHT + DAY_S - 0.001  # the last moment of the same UTC day
    assert keys.key_for("203.0.113.7") == first
    assert keys.day == 20_000


def test_different_addresses_differ() -> None:
    keys = ClientKeys(Clock(MIDNIGHT))
    found = {keys.key_for(a) for a in ("203.0.113.7", "203.0.113.8", "2001:db8::1", "unknown")}
    assert len(found) == 4


def test_new_utc_day_new_key() -> None:
    clock = Clock(MIDNIGHT + DAY_S - 1.0)
    keys = ClientKeys(clock)
    before = keys.key_for("203.0.113.7")
    clock.now = MIDNIGHT + DAY_S  # midnight
    after = keys.key_for("203.0.113.7")
    assert after != before
    assert keys.day == 20_001
    assert keys.key_for("203.0.113.7") == after  # and stable again within the new day


def test_keys_not_linkable_across_processes() -> None:
    # The secret is drawn per process: two processes on the same day disagree.
    assert ClientKeys(Clock(MIDNIGHT)).key_for("203.0.113.7") != ClientKeys(
        Clock(MIDNIGHT)
    ).key_for("203.0.113.7")


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("203.0.113.7", id="ipv4"),
        pytest.param("2001:db8::1", id="ipv6"),
        pytest.param("deadbeef", id="hex-looking"),
    ],
)
def test_key_never_contains_the_address(address: str) -> None:
    key = ClientKeys(Clock(MIDNIGHT)).key_for(address)
    assert len(key) == 32
    assert address not in key
    # Keyed, not a bare hash (which anyone could reverse over the IPv4 space).
    bare = hashlib.sha256(address.encode()).hexdigest()
    assert key != bare[:32]
    assert key not in bare


# -- take and give back: checking and counting in one step ------------------------------------


@pytest.mark.parametrize(
    ("before", "wanted", "taken", "after"),
    [
        # All allowed: all counted.
        (
            {},
            [("report", "a"), ("all_reports", "*")],
            True,
            {("report", "a"): 1, ("all_reports", "*"): 1},
        ),
        # One at its limit: none counted (all or none).
        (
            {("report", "a"): 5},
            [("report", "a"), ("all_reports", "*")],
            False,
            {("report", "a"): 5, ("all_reports", "*"): 0},
        ),
        (
            {("all_reports", "*"): 300},
            [("report", "a"), ("all_reports", "*")],
            False,
            {("report", "a"): 0},
        ),
    ],
)
def test_take_is_all_or_none(
    before: dict[tuple[Action, str], int],
    wanted: list[tuple[Action, str]],
    taken: bool,
    after: dict[tuple[Action, str], int],
) -> None:
    counts = WindowCounts(LimitRules())
    for (action, key), n in before.items():
        for _ in range(n):
            counts.record(action, key, 100.0)
    assert counts.take(wanted, 101.0) is taken
    for (action, key), n in after.items():
        assert counts.counts.get((action, key), (0.0, 0))[1] == n


def test_a_burst_cannot_pass_one_check_before_any_is_counted() -> None:
    counts = WindowCounts(LimitRules(reports_per_hour=5))
    passed = [counts.take([("report", "a")], 10.0) for _ in range(20)]
    assert passed.count(True) == 5 and passed[:5] == [True] * 5


def test_give_back_returns_a_count_of_the_current_window_only() -> None:
    counts = WindowCounts(LimitRules(reports_per_hour=1))
    assert counts.take([("report", "a")], 10.0)
    assert not counts.would_allow("report", "a", 11.0)
    counts.give_back("report", "a", 12.0)
    assert counts.would_allow("report", "a", 13.0)
    counts.give_back("report", "a", 14.0)  # nothing left to give back: stays at zero
    assert counts.counts[("report", "a")][1] == 0
    assert counts.take([("report", "a")], 20.0)
    counts.give_back("report", "a", 20.0 + 3600.0)  # a later window: the old count is not touched
    assert counts.counts[("report", "a")][1] == 1


# -- behind a reverse proxy: who counts as the client ---------------------------------------------

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        pytest.param("198.51.100.7", None, [], "198.51.100.7", id="no-proxy-configured"),
        pytest.param("198.51.100.7", "203.0.113.9", [], "198.51.100.7", id="no-config"),
        pytest.param("198.51.100.7", "203.0.113.9", PROXIES, "198.51.100.7", id="peer-untrusted"),
        pytest.param("10.1.2.3", "203.0.113.9", PROXIES, "203.0.113.9", id="one-proxy"),
        pytest.param("10.1.2.3", "203.0.113.9, 10.9.9.9", PROXIES, "203.0.113.9", id="two-proxies"),
        pytest.param("10.1.2.3", "1.2.3.4, 203.0.113.9", PROXIES, "203.0.113.9", id="forged-left"),
        pytest.param("10.1.2.3", None, PROXIES, "10.1.2.3", id="proxy-without-header"),
        pytest.param("10.1.2.3", "10.4.4.4", PROXIES, "10.1.2.3", id="only-proxies-in-header"),
        pytest.param("10.1.2.3", "junk, , 203.0.113.9", PROXIES, "203.0.113.9", id="junk-hops"),
        pytest.param("2001:db8::1", "2001:db9::5", PROXIES, "2001:db9::5", id="ipv6"),
    ],
)  # fmt: skip
def test_the_client_behind_trusted_proxies(
    peer: str, forwarded: str | None, trusted: list[Any], client: str
) -> None:
    assert client_address(peer, forwarded, trusted) == client
