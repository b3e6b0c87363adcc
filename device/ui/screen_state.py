"""What the kiosk screen shows, as a pure state machine (no Kivy, no clock).

The screen rotates through the bundle's slides; each step shows the next slide in the next
language, so over time every help slide appears in every language. Four modes:

- ``rotate``: the normal cycle.
- ``pinned``: someone tapped a language chip; every slide shows in that language until the
  screen has been idle for ``idle_seconds``.
- ``hidden``: the quick-hide gesture; only neutral health slides show, at once, until idle.
- ``confirming``: a help request was just made; the calm confirmation shows for its time, then
  rotation resumes *at a neutral slide*, so the screen does not linger on help content.

Every transition takes ``now`` and returns a new :class:`ScreenState`; the Kivy layer only
renders :func:`current_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Mode = Literal["rotate", "pinned", "hidden", "confirming"]


@dataclass(frozen=True)
class Playlist:
    slides: tuple[tuple[str, Literal["neutral", "help"]], ...]  # (slide id, kind) in order
    languages: tuple[str, ...]
    slide_seconds: float
    idle_seconds: float
    confirmation_seconds: float

    def __post_init__(self) -> None:
        if not any(kind == "neutral" for _, kind in self.slides):
            raise ValueError("a playlist needs at least one neutral slide")
        if not self.languages:
            raise ValueError("a playlist needs at least one language")


@dataclass(frozen=True)
class Frame:
    """One screenful: a slide (or the confirmation) in one language."""

    slide_id: str  # "confirmation" while confirming
    kind: Literal["neutral", "help", "confirmation"]
    language: str


@dataclass(frozen=True)
class ScreenState:
    mode: Mode = "rotate"
    step: int = 0
    shown_at: float = 0.0
    language: str | None = None  # the pinned language, or the language kept while hidden/confirming
    until: float | None = None  # when pinned/hidden/confirming ends


def start(now: float) -> ScreenState:
    return ScreenState(shown_at=now)


def _rotation_language(playlist: Playlist, step: int) -> str:
    return playlist.languages[step % len(playlist.languages)]


def _neutral_steps(playlist: Playlist) -> list[int]:
    return [i for i, (_, kind) in enumerate(playlist.slides) if kind == "neutral"]


def current_frame(playlist: Playlist, state: ScreenState) -> Frame:
    if state.mode == "confirming":
        return Frame("confirmation", "confirmation", state.language or playlist.languages[0])
    if state.mode == "hidden":
        neutral = _neutral_steps(playlist)
        slide_id, _ = playlist.slides[neutral[state.step % len(neutral)]]
        return Frame(slide_id, "neutral", state.language or playlist.languages[0])
    slide_id, kind = playlist.slides[state.step % len(playlist.slides)]
    language = state.language if state.mode == "pinned" and state.language else None
    return Frame(slide_id, kind, language or _rotation_language(playlist, state.step))


def _next_neutral_step(playlist: Playlist, step: int) -> int:
    """The first step after ``step`` whose slide is neutral."""
    count = len(playlist.slides)
    for offset in range(1, count + 1):
        if playlist.slides[(step + offset) % count][1] == "neutral":
            return step + offset
    return step + 1


def tick(playlist: Playlist, state: ScreenState, now: float) -> ScreenState:
    """Advance time: end a mode whose time is up, or move to the next slide when due."""
    if state.until is not None and now >= state.until:
        if state.mode == "confirming":
            step = _next_neutral_step(playlist, state.step)
        elif state.mode == "hidden":
            # Leave hiding on the neutral slide it showed, counted in the full playlist.
            step = _neutral_steps(playlist)[state.step % len(_neutral_steps(playlist))]
        else:
            step = state.step + 1
        return ScreenState(mode="rotate", step=step, shown_at=now)
    if state.mode != "confirming" and now - state.shown_at >= playlist.slide_seconds:
        return replace(state, step=state.step + 1, shown_at=now)
    return state


def pin_language(playlist: Playlist, state: ScreenState, language: str, now: float) -> ScreenState:
    """A language chip was tapped: show this language until the screen is idle."""
    if language not in playlist.languages or state.mode == "confirming":
        return state
    if state.mode == "hidden":
        return replace(state, language=language, until=now + playlist.idle_seconds)
    return ScreenState(
        mode="pinned",
        step=state.step,
        shown_at=now,
        language=language,
        until=now + playlist.idle_seconds,
    )


def touched(playlist: Playlist, state: ScreenState, now: float) -> ScreenState:
    """Any touch keeps a pinned or hidden screen as it is for another idle period."""
    if state.mode in ("pinned", "hidden"):
        return replace(state, until=now + playlist.idle_seconds)
    return state


def quick_hide(playlist: Playlist, state: ScreenState, now: float) -> ScreenState:
    """Switch at once to neutral health content, and stay there until idle."""
    language = current_frame(playlist, state).language
    neutral = _neutral_steps(playlist)
    return ScreenState(
        mode="hidden",
        step=state.step % len(neutral),
        shown_at=now,
        language=language,
        until=now + playlist.idle_seconds,
    )


def help_requested(playlist: Playlist, state: ScreenState, now: float) -> ScreenState:
    """Show the calm confirmation, in the language the person was reading."""
    language = current_frame(playlist, state).language
    return ScreenState(
        mode="confirming",
        step=state.step,
        shown_at=now,
        language=language,
        until=now + playlist.confirmation_seconds,
    )


def show(
    playlist: Playlist, state: ScreenState, slide_id: str, language: str, now: float
) -> ScreenState:
    """Show one slide in one language, pinned until idle (staff preview and tests)."""
    ids = [sid for sid, _ in playlist.slides]
    if slide_id not in ids or language not in playlist.languages:
        raise ValueError(f"no slide {slide_id!r} in language {language!r}")
    return ScreenState(
        mode="pinned",
        step=ids.index(slide_id),
        shown_at=now,
        language=language,
        until=now + playlist.idle_seconds,
    )
