"""Wave sizes and which kiosks each wave holds (pure), for :mod:`fleet_manager.rollouts.plan`.

Waves are running totals (``1%,10%,50%,100%`` or ``5,50,all``). Kiosks are ranked by
``sha256(seed + device_id)``: the canary wave is a spread, not the alphabetically first, and
the kiosk side computes the same order (:func:`protocol.content_delivery.bucket`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

WaveKind = Literal["count", "percent", "all"]
_HINT = "use a count (50), a percentage (10%) or 'all'"


def exact(value: float) -> Fraction:
    """The decimal a person wrote (0.95, 12.5), so 19 of 20 kiosks is exactly 95%."""
    return Fraction(str(value))


@dataclass(frozen=True)
class WaveSize:
    """How many kiosks have been asked once this wave opens: ``count``, ``percent`` or ``all``."""

    kind: WaveKind
    value: float = 0

    def __str__(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "count":
            return str(int(self.value))
        return repr(float(self.value)).removesuffix(".0") + "%"

    @property
    def covers_all(self) -> bool:
        return self.kind == "all" or (self.kind == "percent" and self.value == 100)

    def total(self, device_count: int) -> int:
        if self.kind == "all":
            return device_count
        if self.kind == "count":
            return int(self.value)
        return math.ceil(device_count * exact(self.value) / 100)


def parse_waves(text: str) -> tuple[WaveSize, ...]:
    """``"1%,10%,50%,100%"`` or ``"5,50,all"`` as wave sizes; ValueError says what to fix."""
    if not text.strip():
        raise ValueError(f"no waves given; {_HINT}, e.g. '1%,10%,50%,100%' or '5,50,all'")
    waves = tuple(_parse_wave(token.strip()) for token in text.split(","))
    check_waves(waves)
    return waves


def wave_sizes(waves: Sequence[WaveSize], device_count: int) -> tuple[int, ...]:
    """How many kiosks each wave adds: percentages round up, at least one kiosk per wave while
    any remain, the last wave takes everyone left."""
    sizes: list[int] = []
    done = 0
    for i, wave in enumerate(waves):
        total = device_count if i == len(waves) - 1 else wave.total(device_count)
        total = min(device_count, max(total, done + 1))
        sizes.append(total - done)
        done = total
    return tuple(sizes)


def rank_key(seed: str, device_id: str) -> str:
    return hashlib.sha256((seed + device_id).encode()).hexdigest()


def assign_waves(
    devices: Iterable[str], waves: Sequence[WaveSize], seed: str
) -> tuple[tuple[str, ...], ...]:
    """The kiosks of each wave, in rank order. A kiosk's rank depends only on the seed and its own
    id, so the same inputs in any order give the same waves."""
    ranked = sorted(devices, key=lambda d: (rank_key(seed, d), d))
    out: list[tuple[str, ...]] = []
    start = 0
    for size in wave_sizes(waves, len(ranked)):
        out.append(tuple(ranked[start : start + size]))
        start += size
    return tuple(out)


def _parse_wave(token: str) -> WaveSize:
    if token.lower() == "all":
        return WaveSize("all")
    try:
        if token.endswith("%"):
            return WaveSize("percent", float(token[:-1]))
        return WaveSize("count", int(token))
    except ValueError:
        raise ValueError(f"{token!r} is not a wave size; {_HINT}") from None


def check_waves(waves: Sequence[WaveSize]) -> None:
    if not waves:
        raise ValueError(f"a rollout needs at least one wave; {_HINT}")
    last: dict[str, WaveSize] = {}
    for i, wave in enumerate(waves):
        if wave.kind == "count" and (wave.value < 1 or wave.value != int(wave.value)):
            raise ValueError(f"wave size {wave.value} must be a whole number of kiosks, from 1")
        if wave.kind == "percent" and not 0 < wave.value <= 100:
            raise ValueError(f"wave size {wave}: a percentage must be above 0% and at most 100%")
        if wave.covers_all and i < len(waves) - 1:
            raise ValueError(f"'{wave}' must be the last wave: it already covers every kiosk")
        before = last.get(wave.kind)
        if before is not None and wave.value <= before.value:
            raise ValueError(
                f"wave sizes are running totals and must grow: '{wave}' after '{before}'"
            )
        last[wave.kind] = wave
    if not waves[-1].covers_all:
        raise ValueError(f"the last wave must be 'all' or '100%', not '{waves[-1]}': every kiosk")
