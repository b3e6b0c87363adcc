"""What each frame says, in which font and direction (pure: no Kivy).

The Kivy layer asks :func:`frame_content` for a :class:`FrameContent` and draws it; every
language decision (catalog lookup, hotline lines, QR target and its allow-list check, font and
right-to-left handling) is made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from content.bundle import ContentBundle
from content.fonts import display_text, font_path
from content.qr import check_origin, landing_url
from device.ui.screen_state import Frame, Playlist


@dataclass(frozen=True)
class QrPlacement:
    """Where the kiosk's QR codes point: its location's opaque token on an allowed origin."""

    origin: str
    location_token: str
    allowed_origins: tuple[str, ...]


@dataclass(frozen=True)
class FrameContent:
    kind: Literal["neutral", "help", "confirmation"]
    language: str
    font: Path
    rtl: bool
    title: str  # logical order; the view reorders right-to-left text per line
    body: str
    hotline_lines: tuple[str, ...] = ()
    qr_url: str | None = None


def playlist_for(bundle: ContentBundle) -> Playlist:
    return Playlist(
        slides=tuple((s.id, s.kind) for s in bundle.slides),
        languages=tuple(bundle.languages),
        slide_seconds=bundle.rotation.slide_seconds,
        idle_seconds=bundle.rotation.idle_seconds,
        confirmation_seconds=bundle.confirmation.seconds,
    )


def frame_content(bundle: ContentBundle, frame: Frame, qr: QrPlacement | None) -> FrameContent:
    """Everything needed to draw ``frame``. A QR target outside the allow-list raises
    (content.qr.QrTargetError): signed content must never send a victim elsewhere."""
    lang = frame.language
    font = font_path(lang)
    rtl = bundle.language(lang).direction == "rtl"
    if frame.kind == "confirmation":
        message = bundle.text(lang, bundle.confirmation.message)
        return FrameContent("confirmation", lang, font, rtl, title="", body=message)
    slide = next(s for s in bundle.slides if s.id == frame.slide_id)
    if slide.kind == "neutral":
        return FrameContent(
            "neutral",
            lang,
            font,
            rtl,
            title=bundle.text(lang, slide.title or ""),
            body=bundle.text(lang, slide.body or ""),
        )
    url = None
    if qr is not None:
        url = landing_url(qr.origin, qr.location_token, lang)
        check_origin(url, qr.allowed_origins)
    hotline = bundle.hotlines[slide.hotline or ""]
    lines = list(bundle.hotline_lines(lang, hotline.id))
    if hotline.call_note:
        lines.append(bundle.text(lang, hotline.call_note))
    return FrameContent(
        "help",
        lang,
        font,
        rtl,
        title=bundle.text(lang, slide.message or ""),
        body="",
        hotline_lines=tuple(lines),
        qr_url=url,
    )


def chip_label(bundle: ContentBundle, lang: str) -> tuple[str, Path]:
    """A language chip: the language's own name in its own script and font, ready to draw."""
    name = bundle.language(lang).native_name
    return display_text(name, lang), font_path(lang)
