"""Server-rendered SVG charts: scaling, empty data, escaping, and no style attributes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from fleet_manager.console.charts import Scale, Series, label_every, nice_scale, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [
        (0, 1, 1),
        (1, 1, 1),
        (3, 3, 1),
        (5, 5, 1),
        (7, 8, 2),
        (10, 10, 2),
        (11, 15, 5),
        (42, 50, 10),
        (99, 100, 20),
        (101, 150, 50),
        (1234, 1500, 500),
    ],
)
def test_nice_scale(largest: int, top: int, step: int) -> None:
    assert nice_scale(largest) == Scale(top, step)
    assert nice_scale(largest).top >= largest


@pytest.mark.parametrize(
    ("n", "room", "every"), [(0, 600, 1), (7, 600, 1), (30, 660, 3), (366, 660, 34), (5, 10, 5)]
)
def test_label_every(n: int, room: float, every: int) -> None:
    assert label_every(n, room) == every


def bars(svg: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter(SVG + "rect") if e.find(SVG + "title") is not None]


def test_bars_stack_and_scale_to_the_plot() -> None:
    svg = stacked_bars(
        ["d1", "d2", "d3"],
        [Series("help", "Help", (2, 0, 10)), Series("qr_scan", "QR", (3, 1, 0))],
        title="t",
        width=400,
        height=200,
    )
    found = bars(svg)
    assert [e.get("class") for e in found] == ["bar help", "bar qr_scan", "bar qr_scan", "bar help"]
    heights = [float(e.get("height", "0")) for e in found]
    plot_h = 200 - 40 - 36
    assert heights[3] == pytest.approx(plot_h)  # 10 is the top of the scale
    assert heights[0] == pytest.approx(plot_h * 2 / 10, abs=0.1)
    # The second part sits on the first.
    assert float(found[1].get("y", "0")) + heights[1] == pytest.approx(
        float(found[0].get("y", "0")), abs=0.1
    )
    tips = [e.findtext(SVG + "title") for e in found]
    assert tips[0] == "d1 · Help: 2"
    assert "10" in {t.text for t in ET.fromstring(svg).iter(SVG + "text")}


@pytest.mark.parametrize(
    "categories, values", [([], ()), (["a", "b"], (0, 0))], ids=["no days", "all zero"]
)
def test_empty_data_says_so(categories: list[str], values: tuple[int, ...]) -> None:
    svg = stacked_bars(categories, [Series("help", "Help", values)], title="Empty")
    assert bars(svg) == []
    assert "No data" in svg
    ET.fromstring(svg)  # well-formed


def test_every_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>&'
    svg = stacked_bars([evil], [Series("help", evil, (1,))], title=evil, tick_labels=[evil])
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # parses: nothing broke out of its element or attribute
    assert root.get("aria-label") == evil
    assert root.findtext(SVG + "title") == evil
    assert bars(svg)[0].findtext(SVG + "title") == f"{evil} · {evil}: 1"


def test_no_style_attributes_only_classes() -> None:
    svg = stacked_bars(["a"], [Series("help", "Help", (4,))], title="t")
    assert "style" not in svg
    assert re.search(r"\bfill=", svg) is None


@pytest.mark.parametrize(
    "series",
    [
        lambda: Series("Help Me", "x", (1,)),
        lambda: Series('a"b', "x", (1,)),
        lambda: Series("help", "x", (-1,)),
    ],
)
def test_bad_series_are_refused(series: object) -> None:
    with pytest.raises(ValueError):
        series()  # type: ignore[operator]


def test_a_series_must_have_a_value_per_category() -> None:
    with pytest.raises(ValueError):
        stacked_bars(["a", "b"], [Series("help", "Help", (1,))], title="t")
