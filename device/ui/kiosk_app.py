"""The Kivy touch UI: draws frames from the pure core and feeds it touches. No decisions here.

Import this module only after :func:`device.ui.run.prepare_kivy` has configured Kivy (window
size, no argument parsing, a private KIVY_HOME): Kivy reads its configuration at import time.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.core.window import Window
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from content.bundle import ContentBundle
from content.fonts import display_text, font_path
from content.qr import qr_png
from device.ui import gestures, screen_state
from device.ui.screen_state import Frame, ScreenState
from device.ui.staff_access import PinGate, attempt, check_pin, is_locked
from device.ui.text_layout import chars_per_line, rtl_lines
from device.ui.view_model import FrameContent, QrPlacement, chip_label, frame_content, playlist_for
from transport.log import get_logger

log = get_logger("device.ui")

BACKGROUND = (0.96, 0.97, 0.95, 1)
INK = (0.09, 0.22, 0.27, 1)
SOFT = (0.80, 0.86, 0.85, 1)
STAFF_CORNER_TAPS = 5
STAFF_CORNER_WINDOW_S = 4.0
STAFF_IDLE_CLOSE_S = 60.0
IDENTIFY_S = 10.0


class AlertPort(Protocol):
    """What the UI needs from the device agent."""

    def raise_alert(self, kind: Any, source: Any) -> str: ...

    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class KioskIdentity:
    device_id: str
    facility: str
    location: str
    location_name: str
    qr: QrPlacement | None


def _label(
    text: str, content: FrameContent | None, font_px: float, width_px: float, **kw: Any
) -> Label:
    """A wrapped, centred label in the frame's font; right-to-left text is laid out per line."""
    font = str(content.font) if content else None
    if content is not None and content.rtl:
        lang = content.language
        text = rtl_lines(text, chars_per_line(width_px, font_px), lambda s: display_text(s, lang))
    label = Label(
        text=text,
        font_size=ladder_size(font_px),
        color=kw.pop("color", INK),
        halign="center",
        valign="middle",
        **({"font_name": font} if font else {}),
        **kw,
    )
    label.bind(size=lambda w, s: setattr(w, "text_size", (s[0], None)))
    label.bind(texture_size=_shrink_to_fit, size=_shrink_to_fit)
    return label


# Font sizes come from this ladder only: every distinct size opens another font face (the CJK
# collection is 20 MB), so a free choice of sizes costs memory for nothing a reader would see.
FONT_LADDER = (11, 13, 15, 18, 21, 25, 30, 36, 43, 52, 62, 74, 89)


def ladder_size(px: float) -> int:
    """The largest ladder size not above ``px`` (at least the smallest)."""
    return max((size for size in FONT_LADDER if size <= px), default=FONT_LADDER[0])


def _shrink_to_fit(label: Label, *_: Any) -> None:
    """Long translations get a smaller font (one ladder step) rather than running off their box."""
    if label.height > 1 and label.texture_size[1] > label.height and label.font_size > 11:
        label.font_size = ladder_size(label.font_size - 1)


class HelpControl(Widget):
    """A small, calm round control. It needs deliberate intent (hold or triple tap, as the
    bundle says); it never flashes and makes no sound. While held, a thin ring fills."""

    def __init__(self, app: KioskApp, **kw: Any) -> None:
        super().__init__(**kw)
        self.app_ref = app
        self.progress = 0.0
        self.bind(pos=self.redraw, size=self.redraw)

    def redraw(self, *_: Any) -> None:
        self.canvas.clear()
        x, y = self.pos
        w, h = self.size
        with self.canvas:
            Color(*SOFT)
            Ellipse(pos=(x, y), size=(w, h))
            Color(*INK)
            Line(points=[x + w / 2, y + h * 0.28, x + w / 2, y + h * 0.72], width=max(1.5, w / 24))
            Line(points=[x + w * 0.28, y + h / 2, x + w * 0.72, y + h / 2], width=max(1.5, w / 24))
            if self.progress > 0:
                Line(circle=(x + w / 2, y + h / 2, w / 2 - 2, 0, 360 * self.progress), width=2)

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        self.app_ref.help_pressed()
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        # How long the finger was really down, as the input provider timed it.
        held = touch.time_end - touch.time_start if touch.time_end > 0 else None
        self.app_ref.help_released(held)
        return True


class StaffPanel(BoxLayout):
    """An opaque overlay: its own buttons get touches, nothing underneath does."""

    def on_touch_down(self, touch: Any) -> bool:
        super().on_touch_down(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        super().on_touch_up(touch)
        return True


class KioskApp(App):
    def __init__(
        self,
        bundle: ContentBundle,
        identity: KioskIdentity,
        agent: AlertPort,
        pin_hash: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.title = "Health information"
        self.bundle = bundle
        self.identity = identity
        self.agent = agent
        self.pin_hash = pin_hash
        self.clock = clock
        self.playlist = playlist_for(bundle)
        self.state: ScreenState = screen_state.start(clock())
        hc = bundle.help_control
        self.hold = gestures.Hold(hold_s=hc.hold_seconds)
        self.taps = gestures.Taps(count=3, window_s=hc.tap_window_seconds)
        self.corner = gestures.Taps(count=STAFF_CORNER_TAPS, window_s=STAFF_CORNER_WINDOW_S)
        self.pin_gate = PinGate()
        self.pin_entry = ""
        self.staff_view: Widget | None = None
        self.staff_until = 0.0
        self.identify_until = 0.0
        self._drawn: tuple[Frame, tuple[int, int]] | None = None
        self._textures: dict[str, Texture] = {}
        self._swipe: dict[int, tuple[tuple[float, float], float]] = {}
        self.frames_drawn = 0
        self.first_qr_at: float | None = None
        self.alerts_raised: list[str] = []

    # -- building ---------------------------------------------------------------------------

    def build(self) -> Widget:
        Window.clearcolor = BACKGROUND
        root = FloatLayout()
        root.bind(on_touch_down=self._root_touch_down, on_touch_up=self._root_touch_up)
        self.slide_area = BoxLayout(size_hint=(1, 0.86), pos_hint={"x": 0, "top": 1})
        self.chips = BoxLayout(size_hint=(0.88, 0.12), pos_hint={"x": 0.01, "y": 0.01}, spacing=4)
        self._add_chips()
        side = max(48.0, min(Window.width, Window.height) * 0.10)
        self.help_control = HelpControl(
            self, size_hint=(None, None), size=(side, side), pos_hint={"right": 0.985, "y": 0.015}
        )
        root.add_widget(self.slide_area)
        root.add_widget(self.chips)
        root.add_widget(self.help_control)
        self.root_layout = root
        Window.bind(size=lambda *_: self._invalidate())
        Clock.schedule_interval(self._tick, 0.1)
        self._render()
        return root

    def _add_chips(self) -> None:
        for lang in self.bundle.languages:
            text, font = chip_label(self.bundle, lang)
            chip = Button(
                text=text,
                font_name=str(font),
                font_size="13sp",
                background_normal="",
                background_color=SOFT,
                color=INK,
            )
            # Long names ("Kreyòl ayisyen") wrap inside their chip instead of spilling over.
            chip.bind(size=lambda w, s: setattr(w, "text_size", (s[0] - 4, None)))
            chip.halign = "center"
            chip.bind(on_release=lambda _b, lang=lang: self.language_chosen(lang))
            self.chips.add_widget(chip)

    def replace_content(self, bundle: ContentBundle) -> None:
        """Show another bundle from now on (a verified content update): new slides, languages
        and help-control settings; the rotation starts again."""
        self.bundle = bundle
        self.playlist = playlist_for(bundle)
        self.state = screen_state.start(self.clock())
        hc = bundle.help_control
        self.hold = gestures.Hold(hold_s=hc.hold_seconds)
        self.taps = gestures.Taps(count=3, window_s=hc.tap_window_seconds)
        self._textures.clear()
        self.chips.clear_widgets()
        self._add_chips()
        self._drawn = None
        self._render()

    # -- time -------------------------------------------------------------------------------

    def _tick(self, _dt: float) -> None:
        now = self.clock()
        if self.hold.pressed_at is not None:
            self.hold, fired = gestures.hold_poll(self.hold, now)
            held = now - self.hold.pressed_at if self.hold.pressed_at is not None else 0.0
            self.help_control.progress = min(1.0, held / self.hold.hold_s)
            self.help_control.redraw()
            if fired:
                self._help_fired()
        if self.staff_view is not None and now >= self.staff_until:
            self.close_staff()
        self.state = screen_state.tick(self.playlist, self.state, now)
        self._render()

    def _invalidate(self) -> None:
        self._drawn = None
        self._render()

    # -- drawing ----------------------------------------------------------------------------

    def relocate(self, identity: KioskIdentity) -> None:
        """Show another location's QR codes from now on (the kiosk was moved)."""
        self.identity = identity
        self._drawn = None
        self._render()

    def current_frame(self) -> Frame:
        return screen_state.current_frame(self.playlist, self.state)

    def _render(self) -> None:
        frame = self.current_frame()
        size = (int(Window.width), int(Window.height))
        if self._drawn == (frame, size):
            return
        self._drawn = (frame, size)
        content = frame_content(self.bundle, frame, self.identity.qr)
        self.slide_area.clear_widgets()
        self.slide_area.add_widget(self._frame_widget(content, size))
        self.frames_drawn += 1
        if content.qr_url and self.first_qr_at is None:
            self.first_qr_at = time.monotonic()

    def _frame_widget(self, content: FrameContent, size: tuple[int, int]) -> Widget:
        width, height = size
        landscape = width >= height
        unit = min(width, height)
        pad = unit * 0.04
        if content.kind == "confirmation":
            box = BoxLayout(padding=pad * 2)
            box.add_widget(_label(content.body, content, unit * 0.07, width - pad * 4))
            return box
        if content.kind == "neutral":
            box = BoxLayout(orientation="vertical", padding=pad, spacing=pad)
            box.add_widget(
                _label(content.title, content, unit * 0.085, width - 2 * pad, size_hint_y=0.35)
            )
            box.add_widget(_label(content.body, content, unit * 0.055, width - 2 * pad))
            return box
        qr_side = int(max(160, unit * (0.62 if landscape else 0.55)))
        box = BoxLayout(
            orientation="horizontal" if landscape else "vertical", padding=pad, spacing=pad
        )
        text_width = (width - qr_side - 3 * pad) if landscape else (width - 2 * pad)
        words = BoxLayout(orientation="vertical", spacing=pad / 2)
        words.add_widget(_label(content.title, content, unit * 0.06, text_width, size_hint_y=1.4))
        for line in content.hotline_lines:
            words.add_widget(_label(line, content, unit * 0.05, text_width, bold=True))
        qr_box = BoxLayout(size_hint=(None, None) if landscape else (1, None), height=qr_side)
        if landscape:
            qr_box.width = qr_side
        if content.qr_url:
            qr_box.add_widget(
                Image(
                    texture=self._qr_texture(content.qr_url),
                    size_hint=(None, None),
                    size=(qr_side, qr_side),
                    fit_mode="contain",
                )
            )
        if landscape:
            box.add_widget(words)
            box.add_widget(qr_box)
        else:
            box.add_widget(words)
            anchor = BoxLayout(
                size_hint=(1, None), height=qr_side, padding=((width - qr_side) / 2 - pad, 0)
            )
            anchor.add_widget(qr_box)
            box.add_widget(anchor)
        return box

    def _qr_texture(self, url: str) -> Texture:
        texture = self._textures.get(url)
        if texture is None:
            data = io.BytesIO(qr_png(url, scale=10))
            texture = CoreImage(data, ext="png").texture
            texture.mag_filter = "nearest"  # crisp modules: scanners need sharp edges
            texture.min_filter = "nearest"
            self._textures[url] = texture
        return texture

    # -- people -----------------------------------------------------------------------------

    def language_chosen(self, lang: str) -> None:
        self.state = screen_state.pin_language(self.playlist, self.state, lang, self.clock())
        self._render()

    def help_pressed(self) -> None:
        now = self.clock()
        if self.bundle.help_control.mode == "triple_tap":
            self.taps, fired = gestures.tap(self.taps, now)
            if fired:
                self._help_fired()
            return
        self.hold = gestures.hold_press(self.hold, now)

    def help_released(self, held_s: float | None = None) -> None:
        """``held_s`` is the touch's own duration; a UI that stalled between press and release
        must not turn a short tap into a hold."""
        if self.bundle.help_control.mode == "triple_tap":
            return
        now = self.clock()
        if held_s is not None and self.hold.pressed_at is not None:
            now = min(now, self.hold.pressed_at + held_s)
        self.hold, fired = gestures.hold_release(self.hold, now)
        self.help_control.progress = 0.0
        self.help_control.redraw()
        if fired:
            self._help_fired()

    def _help_fired(self) -> None:
        """The same durable path as every other alert: the agent's outbox, then MQTT."""
        self.help_control.progress = 0.0
        self.help_control.redraw()
        alert_id = self.agent.raise_alert("help", "touch")
        self.alerts_raised.append(alert_id)
        self.state = screen_state.help_requested(self.playlist, self.state, self.clock())
        self._render()

    def quick_hide(self) -> None:
        self.state = screen_state.quick_hide(self.playlist, self.state, self.clock())
        self._render()

    def _root_touch_down(self, _root: Widget, touch: Any) -> bool:
        now = self.clock()
        self.state = screen_state.touched(self.playlist, self.state, now)
        self._swipe[touch.uid] = ((touch.x, touch.y), now)
        if self.bundle.quick_hide.gesture == "two_finger_tap" and len(self._swipe) >= 2:
            self.quick_hide()
            return True
        if gestures.in_corner((touch.x, touch.y), (Window.width, Window.height), 80):
            self.corner, opened = gestures.tap(self.corner, now)
            if opened:
                self.open_pin_pad()
                return True
        return False

    def _root_touch_up(self, _root: Widget, touch: Any) -> bool:
        start = self._swipe.pop(touch.uid, None)
        if start is None or self.bundle.quick_hide.gesture != "swipe_down":
            return False
        (x0, y0), t0 = start
        # The stroke's own duration, as the input provider timed it: a busy frame must not
        # turn a quick swipe into a slow one.
        took = touch.time_end - touch.time_start if touch.time_end > 0 else self.clock() - t0
        if gestures.is_swipe_down((x0, y0), (touch.x, touch.y), took, Window.height):
            self.quick_hide()
            return True
        return False

    # -- staff ------------------------------------------------------------------------------

    def open_pin_pad(self) -> None:
        self.pin_entry = ""
        self._show_staff(self._pin_pad())

    def _show_staff(self, view: Widget) -> None:
        self.close_staff()
        self.staff_view = view
        self.staff_until = self.clock() + STAFF_IDLE_CLOSE_S
        self.root_layout.add_widget(view)

    def close_staff(self) -> None:
        if self.staff_view is not None:
            self.root_layout.remove_widget(self.staff_view)
            self.staff_view = None

    def _panel(self) -> BoxLayout:
        panel = StaffPanel(orientation="vertical", padding=16, spacing=8)
        with panel.canvas.before:
            Color(1, 1, 1, 1)
            rect = Rectangle(pos=panel.pos, size=panel.size)
        panel.bind(
            pos=lambda w, p: setattr(rect, "pos", p), size=lambda w, s: setattr(rect, "size", s)
        )
        return panel

    def _pin_pad(self) -> Widget:
        panel = self._panel()
        self.pin_message = Label(text="Staff PIN", color=INK, font_size="20sp", size_hint_y=0.18)
        panel.add_widget(self.pin_message)
        keys = [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["Close", "0", "OK"]]
        for row in keys:
            line = BoxLayout(spacing=8)
            for key in row:
                button = Button(text=key, font_size="20sp")
                button.bind(on_release=lambda _b, key=key: self.pin_key(key))
                line.add_widget(button)
            panel.add_widget(line)
        return panel

    def pin_key(self, key: str) -> None:
        self.staff_until = self.clock() + STAFF_IDLE_CLOSE_S
        if key == "Close":
            self.close_staff()
        elif key == "OK":
            self.submit_pin(self.pin_entry)
        elif len(self.pin_entry) < 12:
            self.pin_entry += key
            self.pin_message.text = "•" * len(self.pin_entry)

    def submit_pin(self, pin: str) -> str:
        now = self.clock()
        ok = (not is_locked(self.pin_gate, now)) and check_pin(self.pin_hash, pin)
        self.pin_gate, outcome = attempt(self.pin_gate, ok, now)
        self.pin_entry = ""
        log.info("staff_pin_attempt", outcome=outcome)
        if outcome == "open":
            self._show_staff(self._staff_panel())
        elif self.staff_view is not None:
            self.pin_message.text = "Locked. Try later." if outcome == "locked" else "Wrong PIN"
        return outcome

    def _staff_panel(self) -> Widget:
        panel = self._panel()
        status = self.agent.status()
        heartbeat = status.get("last_heartbeat_at")
        link_state = "connected" if status.get("connected") else "NOT connected"
        rows = [
            ("Device", self.identity.device_id),
            ("Facility", self.identity.facility),
            ("Location", f"{self.identity.location_name} ({self.identity.location})"),
            (
                "Broker",
                f"{status.get('broker')} — {link_state}",
            ),
            (
                "Last heartbeat",
                time.strftime("%H:%M:%S", time.localtime(heartbeat)) if heartbeat else "none yet",
            ),
            ("Content", f"{self.bundle.version}"),
            ("Outbox", f"{len(status.get('outbox_pending', []))} alert(s) awaiting confirmation"),
        ]
        for name, value in rows:
            line = BoxLayout()
            line.add_widget(Label(text=name, color=INK, bold=True, size_hint_x=0.3))
            line.add_widget(Label(text=str(value), color=INK))
            panel.add_widget(line)
        self.staff_message = Label(text="", color=INK)
        panel.add_widget(self.staff_message)
        buttons = BoxLayout(spacing=8)
        for text, action in (
            ("Send drill alert", self.send_drill),
            ("Identify", self.identify),
            ("Close", self.close_staff),
        ):
            button = Button(text=text)
            button.bind(on_release=lambda _b, action=action: action())
            buttons.add_widget(button)
        panel.add_widget(buttons)
        return panel

    def send_drill(self) -> None:
        alert_id = self.agent.raise_alert("drill", "staff")
        self.staff_message.text = f"Drill alert sent ({alert_id[:8]})"

    def identify(self) -> None:
        """Show who this kiosk is, large, for a few seconds (to find it in a building)."""
        self.close_staff()
        panel = self._panel()
        panel.add_widget(Label(text=self.identity.device_id, color=INK, font_size="40sp"))
        panel.add_widget(Label(text=self.identity.location_name, color=INK, font_size="28sp"))
        self.staff_view = panel
        self.staff_until = self.clock() + IDENTIFY_S
        self.root_layout.add_widget(panel)

    # -- for the control socket (called on the Kivy thread) ---------------------------------

    def show(self, slide_id: str, language: str) -> Frame:
        self.state = screen_state.show(self.playlist, self.state, slide_id, language, self.clock())
        self._render()
        return self.current_frame()

    def widget_positions(self) -> dict[str, list[int]]:
        """Screen positions (X11 convention: origin top-left) of what a test may touch."""
        height = int(Window.height)
        found: dict[str, list[int]] = {}

        def at(widget: Widget) -> list[int]:
            x, y = widget.to_window(*widget.center)
            return [int(x), int(height - y)]

        found["help_control"] = at(self.help_control)
        for chip, lang in zip(reversed(self.chips.children), self.bundle.languages, strict=True):
            found[f"chip:{lang}"] = at(chip)
        if self.staff_view is not None:
            for widget in self.staff_view.walk():
                if isinstance(widget, Button):
                    found[f"button:{widget.text}"] = at(widget)
        found["staff_corner"] = [20, 20]
        return found

    def snapshot(self) -> dict[str, Any]:
        frame = self.current_frame()
        return {
            "frame": {"slide_id": frame.slide_id, "kind": frame.kind, "language": frame.language},
            "mode": self.state.mode,
            "staff_open": self.staff_view is not None,
            "frames_drawn": self.frames_drawn,
            "window": [int(Window.width), int(Window.height)],
            "help_control": [*map(int, self.help_control.center)],
            "alerts_raised": list(self.alerts_raised),
            "content": self.bundle.version,
        }


def on_kivy_thread(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Run ``fn`` on the Kivy main thread from another thread and wait for its result,
    after the next frame has been drawn (so a screenshot taken afterwards shows it)."""
    done = threading.Event()
    result: dict[str, Any] = {}

    def run(_dt: float) -> None:
        try:
            result["value"] = fn()
        except Exception as exc:  # handed back to the caller, which reports it
            result["error"] = exc
        Clock.schedule_once(lambda _dt: done.set(), 0.15)

    Clock.schedule_once(run, 0)
    if not done.wait(timeout):
        raise TimeoutError("the UI did not answer in time")
    if "error" in result:
        raise result["error"]
    return result["value"]


__all__ = ["AlertPort", "KioskApp", "KioskIdentity", "font_path", "on_kivy_thread"]
