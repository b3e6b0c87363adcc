"""Capped exponential backoff with jitter, as a small pure object.

Jitter spreads reconnects so a fleet of kiosks does not hammer a broker that just came back.
Half of each delay is fixed and half random ("equal jitter"), so no retry is ever immediate.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float = 0.5
    cap_s: float = 30.0
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def next_delay(self) -> float:
        # The exponent is bounded so a kiosk offline for days never overflows a float.
        ceiling = min(self.cap_s, self.base_s * float(2 ** min(self.attempts, 40)))
        self.attempts += 1
        return ceiling / 2 + self.rand() * ceiling / 2

    def reset(self) -> None:
        self.attempts = 0
