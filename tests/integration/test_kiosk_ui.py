"""The kiosk screen under Xvfb, seen and touched from outside as a person would: screenshots of
every slide in every language (QR codes decoded from the pixels), press-and-hold, short taps,
quick hide, and the staff panel's PIN."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp

from content.bundle import load_bundle
from content.qr import landing_url
from device.agent.control import ControlError, control_request
from device.agent.identity import load_profile
from device.ui.run import SAMPLE_BUNDLE
from tests.support.live import LiveSystem
from tests.support.ui_kiosk import PIN, UiKiosk
from tests.support.xvfb import VirtualDisplay

BUNDLE = load_bundle(SAMPLE_BUNDLE)
# 30 mm on a 7" 800x480 panel (about 5.25 px/mm): the smallest QR code that scans from 1 m.
MIN_QR_PX = 158


@pytest.fixture(scope="module")
def display() -> Iterator[VirtualDisplay]:
    d = VirtualDisplay()
    yield d
    d.close()


@pytest.fixture(scope="module")
def ui_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    system = LiveSystem(tmp_path_factory.mktemp("ui") / "system")
    try:
        system.start(kiosks=False)
        yield system
    finally:
        system.stop()


def expected_url(live: LiveSystem, device_id: str, language: str) -> str:
    profile = load_profile(live.layout.kiosk_dirs[device_id])
    return landing_url(profile.qr_origin, profile.location_token, language)


def decode(image: Any) -> list[Any]:
    return [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


@pytest.mark.parametrize("size", [(800, 480), (1080, 1920)], ids=["800x480", "1080x1920-portrait"])
def test_every_slide_in_every_language_renders_and_every_qr_scans(
    ui_live: LiveSystem, display: VirtualDisplay, size: tuple[int, int], tmp_path: Path
) -> None:
    kiosk = UiKiosk(ui_live, display, "kiosk-a1", size)
    try:
        for slide in BUNDLE.slides:
            for lang in BUNDLE.languages:
                kiosk.show(slide.id, lang)
                image = kiosk.screenshot(tmp_path / f"{slide.id}-{lang}.png")
                colours = image.convert("L").getextrema()
                assert colours[1] - colours[0] > 100, f"{slide.id}/{lang} looks blank"
                codes = decode(image)
                if slide.kind == "help":
                    assert [c.text for c in codes] == [expected_url(ui_live, "kiosk-a1", lang)], (
                        f"{slide.id}/{lang}"
                    )
                    token = load_profile(kiosk.state_dir).location_token
                    assert token in codes[0].text and codes[0].text.endswith(f"?l={lang}")
                else:
                    assert codes == [], f"neutral slide {slide.id}/{lang} shows a QR code"
    finally:
        kiosk.stop()


SIZES = [
    (800, 480),
    (480, 800),
    (1024, 600),
    (600, 1024),
    (1280, 800),
    (800, 1280),
    (1920, 1080),
    (1080, 1920),
]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_layout_at_every_panel_size_keeps_the_qr_large_and_scannable(
    ui_live: LiveSystem, display: VirtualDisplay, size: tuple[int, int], tmp_path: Path
) -> None:
    kiosk = UiKiosk(ui_live, display, "kiosk-a2", size)
    help_slide = next(s for s in BUNDLE.slides if s.kind == "help")
    try:
        for lang in ("en", "ar", "zh-Hans"):
            kiosk.show(help_slide.id, lang)
            codes = decode(kiosk.screenshot(tmp_path / f"{lang}.png"))
            assert [c.text for c in codes] == [expected_url(ui_live, "kiosk-a2", lang)]
            pos = codes[0].position
            side = max(pos.top_right.x - pos.top_left.x, pos.bottom_left.y - pos.top_left.y)
            assert side >= MIN_QR_PX * 0.8  # the finder-pattern span, just inside the quiet zone
            for corner in (pos.top_left, pos.bottom_right):
                assert 0 <= corner.x < size[0] and 0 <= corner.y < size[1]
        widgets = kiosk.widgets()
        x, y = widgets["help_control"]
        assert 0 < x < size[0] and 0 < y < size[1]
    finally:
        kiosk.stop()


@pytest.fixture(scope="module")
def kiosk_b1(ui_live: LiveSystem, display: VirtualDisplay) -> Iterator[UiKiosk]:
    kiosk = UiKiosk(ui_live, display, "kiosk-b1", (800, 480))
    yield kiosk
    kiosk.stop()


def incidents_from(live: LiveSystem, device_id: str) -> list[str]:
    return sorted(
        {i.incident_id for i in live.recorders["west"].received if i.device_id == device_id}
    )


def test_press_and_hold_raises_exactly_one_alert(ui_live: LiveSystem, kiosk_b1: UiKiosk) -> None:
    before = incidents_from(ui_live, "kiosk-b1")
    x, y = kiosk_b1.widgets()["help_control"]
    kiosk_b1.display.hold(x, y, BUNDLE.help_control.hold_seconds + 1.0)
    ui = kiosk_b1.ui()
    assert ui["mode"] == "confirming"
    assert ui["frame"]["kind"] == "confirmation"
    alert_id = ui["alerts_raised"][-1]
    incident = ui_live.recorders["west"].wait_for_alert(alert_id)
    assert incident.kind == "help"
    time.sleep(1.5)
    assert len(incidents_from(ui_live, "kiosk-b1")) == len(before) + 1


def test_a_short_tap_raises_nothing(ui_live: LiveSystem, kiosk_b1: UiKiosk) -> None:
    before = incidents_from(ui_live, "kiosk-b1")
    raised = len(kiosk_b1.ui()["alerts_raised"])
    x, y = kiosk_b1.widgets()["help_control"]
    kiosk_b1.display.hold(x, y, 0.3)
    kiosk_b1.display.click(x, y)
    time.sleep(2.0)
    assert len(kiosk_b1.ui()["alerts_raised"]) == raised
    assert incidents_from(ui_live, "kiosk-b1") == before


def test_quick_hide_shows_neutral_content_at_once(kiosk_b1: UiKiosk) -> None:
    help_slide = next(s for s in BUNDLE.slides if s.kind == "help")
    kiosk_b1.show(help_slide.id, "es")
    assert kiosk_b1.ui()["frame"]["kind"] == "help"
    kiosk_b1.display.swipe(400, 60, 380)
    # The UI takes input on its own frame clock: give it a moment to see the finger lift.
    deadline = time.monotonic() + 3
    ui = kiosk_b1.ui()
    while ui["mode"] != "hidden" and time.monotonic() < deadline:
        time.sleep(0.1)
        ui = kiosk_b1.ui()
    assert ui["mode"] == "hidden"
    assert ui["frame"]["kind"] == "neutral"
    assert decode(kiosk_b1.screenshot(Path("/tmp") / "beacon-hidden.png")) == []


def _enter_pin(kiosk: UiKiosk, pin: str) -> None:
    widgets = kiosk.widgets()
    for digit in pin:
        kiosk.display.click(*widgets[f"button:{digit}"])
    kiosk.display.click(*widgets["button:OK"])
    time.sleep(0.5)


def _open_pin_pad(kiosk: UiKiosk) -> None:
    for _ in range(5):
        kiosk.display.click(20, 20)
    deadline = time.monotonic() + 5
    while not kiosk.ui()["staff_open"]:
        assert time.monotonic() < deadline, "the PIN pad did not open"
        time.sleep(0.1)


def test_staff_panel_opens_with_the_right_pin_and_sends_a_drill(
    ui_live: LiveSystem, kiosk_b1: UiKiosk
) -> None:
    _open_pin_pad(kiosk_b1)
    _enter_pin(kiosk_b1, PIN)
    widgets = kiosk_b1.widgets()
    assert "button:Send drill alert" in widgets, widgets
    kiosk_b1.display.click(*widgets["button:Send drill alert"])
    time.sleep(0.5)
    drill = ui_live.recorders["west"].wait_for(lambda i: i.device_id == "kiosk-b1" and i.drill)
    assert drill.kind == "drill"
    kiosk_b1.display.click(*kiosk_b1.widgets()["button:Close"])
    time.sleep(0.3)
    assert not kiosk_b1.ui()["staff_open"]


def test_staff_panel_refuses_a_wrong_pin_and_locks_out(kiosk_b1: UiKiosk) -> None:
    _open_pin_pad(kiosk_b1)
    for _ in range(5):
        _enter_pin(kiosk_b1, "0000")
    _enter_pin(kiosk_b1, PIN)  # locked: even the right PIN is refused now
    widgets = kiosk_b1.widgets()
    assert "button:Send drill alert" not in widgets
    log = kiosk_b1.process.log_text()
    outcomes = [
        json.loads(line)["outcome"] for line in log.splitlines() if "staff_pin_attempt" in line
    ]
    assert outcomes[-6:] == ["denied", "denied", "denied", "denied", "locked", "locked"]


def test_demo_shows_one_kiosk_screen_when_a_display_is_available(
    display: VirtualDisplay, tmp_path: Path
) -> None:
    import subprocess
    import sys

    base = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "beacon", "demo", "--duration", "15", "--base", str(base)],
        env=display.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        state_dir = base / "kiosks" / "kiosk-stmarys-wait"
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = control_request(state_dir, {"cmd": "ui-state"}, timeout=5)
                break
            except (ControlError, ValueError):
                assert time.monotonic() < deadline, "the demo's screen kiosk never answered"
                time.sleep(0.3)
        assert reply["ok"] and reply["ui"]["window"] == [1024, 600]
        image = display.screenshot(1024, 600, tmp_path / "demo.png")
        low, high = image.convert("L").getextrema()
        assert isinstance(low, int) and isinstance(high, int)
        assert high - low > 100
    finally:
        out, _ = proc.communicate(timeout=90)
    assert "shows its screen in a window" in out
    assert proc.returncode == 0
