"""Charts as SVG text, rendered on the server: pure functions, no JavaScript, no style attributes.

The console's Content-Security-Policy allows no inline styles, so every shape carries a class
(``svg.chart .bar``, ``.bar.<series key>``, ``.axis``, ``.grid`` in ``console.css`` and
``charts.css``) and the page includes the SVG inline. Every piece of text (title, labels, the
``<title>`` tooltips) is escaped here: a location name is data, never markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Series:
    """One stacked part of every bar: a class (``key``), a label and a value per category."""

    key: str
    label: str
    values: tuple[int, ...]

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"series key {self.key!r} is not a class name ([a-z][a-z0-9_]*)")
        if any(v < 0 for v in self.values):
            raise ValueError("chart values must not be negative")


@dataclass(frozen=True)
class Scale:
    top: int  # the value at the top of the plot
    step: int  # between grid lines

    @property
    def ticks(self) -> list[int]:
        return list(range(0, self.top + 1, self.step))


def nice_scale(largest: int, max_ticks: int = 5) -> Scale:
    """A y axis from 0 with round steps (1, 2, 5 × 10ⁿ) reaching at least ``largest``."""
    if largest <= 0:
        return Scale(top=1, step=1)
    raw = largest / max_ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return Scale(top=math.ceil(largest / step) * step, step=step)


def label_every(n: int, room: float, min_gap: float = 56.0) -> int:
    """Label every k-th category so that labels ``min_gap`` apart fit in ``room`` pixels."""
    if n <= 0:
        return 1
    fits = max(1, int(room // min_gap))
    return max(1, math.ceil(n / fits))


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    return (
        f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    tick_labels: Sequence[str] | None = None,
    width: int = 720,
    height: int = 260,
) -> str:
    """A bar per category, its series stacked in order, with a y axis, x labels, a legend and
    a ``<title>`` tooltip on each part (category, series label, value)."""
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"series {s.key!r} has {len(s.values)} values for {len(categories)}")
    labels = list(tick_labels) if tick_labels is not None else list(categories)
    if len(labels) != len(categories):
        raise ValueError("one tick label per category")
    left, right, top, bottom = 48.0, 12.0, 40.0, 36.0
    plot_w, plot_h = width - left - right, height - top - bottom
    base_y = top + plot_h
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
        _text(left, 16, title, "chart-title"),
    ]
    x = left
    for s in series:  # legend
        parts.append(f'<rect class="bar {s.key}" x="{_n(x)}" y="24" width="10" height="10"/>')
        parts.append(_text(x + 14, 33, s.label, "legend"))
        x += 24 + 7 * len(s.label)
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    if not categories or max(totals, default=0) == 0:
        parts.append(
            f'<rect class="plot" x="{_n(left)}" y="{_n(top)}" '
            f'width="{_n(plot_w)}" height="{_n(plot_h)}"/>'
        )
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, "No data", "empty", "middle"))
        parts.append("</svg>")
        return "".join(parts)
    scale = nice_scale(max(totals))
    for tick in scale.ticks:  # grid and y labels
        y = base_y - plot_h * tick / scale.top
        parts.append(
            f'<line class="grid" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" '
            f'y2="{_n(y)}"/>'
        )
        parts.append(_text(left - 6, y + 4, str(tick), "tick", "end"))
    slot = plot_w / len(categories)
    bar_w = max(1.0, slot * 0.8)
    every = label_every(len(categories), plot_w)
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        y = base_y
        for s in series:
            value = s.values[i]
            if value == 0:
                continue
            h = plot_h * value / scale.top
            y -= h
            tip = f"{category} · {s.label}: {value}"
            parts.append(
                f'<rect class="bar {s.key}" x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" '
                f'height="{_n(h)}"><title>{escape(tip)}</title></rect>'
            )
        if i % every == 0:
            parts.append(_text(x + bar_w / 2, base_y + 16, labels[i], "tick", "middle"))
    parts.append(
        f'<line class="axis" x1="{_n(left)}" y1="{_n(base_y)}" x2="{_n(left + plot_w)}" '
        f'y2="{_n(base_y)}"/>'
    )
    parts.append(
        f'<line class="axis" x1="{_n(left)}" y1="{_n(top)}" x2="{_n(left)}" y2="{_n(base_y)}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
