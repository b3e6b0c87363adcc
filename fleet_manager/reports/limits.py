"""Abuse limits for the landing page without keeping anyone's address (pure, plus a clock).

A client is known only by an HMAC of its address under a secret that lives in memory and is
replaced at each UTC midnight: the keys cannot be reversed, cannot be linked across days, and
are gone when the process stops. Counts are fixed windows per (action, client); a global window
caps new reports from everyone together, so a flood cannot bury responders.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["report", "addition", "wrong_code", "all_reports"]
DAY_S = 86400
MAX_HOPS = 16
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limit:
    allowed: int
    window_s: float


@dataclass(frozen=True)
class LimitRules:
    reports_per_hour: int = 5
    additions_per_hour: int = 20
    wrong_codes_per_hour: int = 10
    all_reports_per_hour: int = 300

    def limit(self, action: Action) -> Limit:
        allowed = {
            "report": self.reports_per_hour,
            "addition": self.additions_per_hour,
            "wrong_code": self.wrong_codes_per_hour,
            "all_reports": self.all_reports_per_hour,
        }[action]
        return Limit(allowed, 3600.0)


@dataclass
class WindowCounts:
    """Counts per (action, key) in fixed windows. ``would_allow`` asks; ``record`` counts;
    ``take`` does both at once for several counts (all or none), so requests arriving together
    cannot all pass one check before any of them is counted; ``give_back`` returns a count
    taken for work that then did not happen."""

    rules: LimitRules
    counts: dict[tuple[Action, str], tuple[float, int]] = field(default_factory=dict)

    def _current(self, action: Action, key: str, now: float) -> int:
        start, n = self.counts.get((action, key), (now, 0))
        return 0 if now - start >= self.rules.limit(action).window_s else n

    def would_allow(self, action: Action, key: str, now: float) -> bool:
        return self._current(action, key, now) < self.rules.limit(action).allowed

    def record(self, action: Action, key: str, now: float) -> None:
        start, n = self.counts.get((action, key), (now, 0))
        if now - start >= self.rules.limit(action).window_s:
            start, n = now, 0
        self.counts[(action, key)] = (start, n + 1)

    def take(self, wanted: list[tuple[Action, str]], now: float) -> bool:
        if not all(self.would_allow(action, key, now) for action, key in wanted):
            return False
        for action, key in wanted:
            self.record(action, key, now)
        return True

    def give_back(self, action: Action, key: str, now: float) -> None:
        start, n = self.counts.get((action, key), (now, 0))
        if n > 0 and now - start < self.rules.limit(action).window_s:
            self.counts[(action, key)] = (start, n - 1)

    def forget_older_than(self, cutoff: float) -> None:
        for k in [k for k, (start, _) in self.counts.items() if start < cutoff]:
            del self.counts[k]


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """Who the limits should count (pure): the TCP peer, or, when the peer is a trusted proxy,
    the nearest address in X-Forwarded-For that is not itself a trusted proxy (what a client
    puts at the far left can be forged; what the proxies append cannot)."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not trusted or not is_trusted(peer) or not forwarded_for:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",")][-MAX_HOPS:]
    for hop in reversed(hops):
        if hop and not is_trusted(hop):
            return hop
    return peer


@dataclass
class ClientKeys:
    """The day's secret and the keyed hash of an address under it."""

    clock: Callable[[], float]
    _day: int = -1
    _secret: bytes = b""

    def key_for(self, address: str) -> str:
        day = int(self.clock() // DAY_S)
        if day != self._day:
            self._day, self._secret = day, secrets.token_bytes(32)
        return hmac.new(self._secret, address.encode(), hashlib.sha256).hexdigest()[:32]

    @property
    def day(self) -> int:
        return self._day
