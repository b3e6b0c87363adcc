"""device/ui/screen_state.py: rotation, pinning, quick hide and confirmation as tables."""

from __future__ import annotations

import pytest

from device.ui import screen_state as ss

PLAYLIST = ss.Playlist(
    slides=(("wash", "neutral"), ("help-1", "help"), ("water", "neutral"), ("sleep", "neutral")),
    languages=("en", "es", "ar"),
    slide_seconds=8.0,
    idle_seconds=45.0,
    confirmation_seconds=6.0,
)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, ss.Frame("wash", "neutral", "en")),
        (1, ss.Frame("help-1", "help", "es")),
        (2, ss.Frame("water", "neutral", "ar")),
        (3, ss.Frame("sleep", "neutral", "en")),
        (4, ss.Frame("wash", "neutral", "es")),
        (5, ss.Frame("help-1", "help", "ar")),  # the help slide comes back in another language
        (9, ss.Frame("help-1", "help", "en")),
    ],
)
def test_rotation_shows_each_slide_in_turning_languages(step: int, expected: ss.Frame) -> None:
    assert ss.current_frame(PLAYLIST, ss.ScreenState(step=step)) == expected


@pytest.mark.parametrize(
    ("elapsed", "step"),
    [(0.0, 0), (7.99, 0), (8.0, 1)],
)
def test_tick_moves_on_when_the_slide_time_is_up(elapsed: float, step: int) -> None:
    assert ss.tick(PLAYLIST, ss.start(100.0), 100.0 + elapsed).step == step


def test_language_chip_pins_until_idle_then_rotation_resumes() -> None:
    s = ss.pin_language(PLAYLIST, ss.start(0.0), "ar", 1.0)
    assert s.mode == "pinned"
    for t in (9.0, 17.0, 25.0):  # slides keep changing, the language stays
        s = ss.tick(PLAYLIST, s, t)
        assert ss.current_frame(PLAYLIST, s).language == "ar"
    s = ss.touched(PLAYLIST, s, 40.0)  # a touch extends the pin
    assert ss.tick(PLAYLIST, s, 60.0).mode == "pinned"
    s = ss.tick(PLAYLIST, s, 85.0)
    assert s.mode == "rotate"


def test_unknown_language_chip_changes_nothing() -> None:
    s = ss.start(0.0)
    assert ss.pin_language(PLAYLIST, s, "xx", 1.0) == s


@pytest.mark.parametrize("step", range(8))
def test_quick_hide_shows_neutral_content_at_once_from_any_slide(step: int) -> None:
    s = ss.ScreenState(step=step, shown_at=0.0)
    hidden = ss.quick_hide(PLAYLIST, s, 3.0)
    assert ss.current_frame(PLAYLIST, hidden).kind == "neutral"
    for t in (11.0, 19.0, 27.0, 35.0, 43.0):  # no help slide while hidden
        hidden = ss.tick(PLAYLIST, hidden, t)
        assert ss.current_frame(PLAYLIST, hidden).kind == "neutral"
    back = ss.tick(PLAYLIST, hidden, 48.1)
    assert back.mode == "rotate"
    assert ss.current_frame(PLAYLIST, back).kind == "neutral"


def test_help_request_shows_confirmation_in_the_same_language_then_a_neutral_slide() -> None:
    s = ss.ScreenState(step=1, shown_at=0.0)  # help-1 in Spanish
    confirming = ss.help_requested(PLAYLIST, s, 2.0)
    assert ss.current_frame(PLAYLIST, confirming) == ss.Frame("confirmation", "confirmation", "es")
    assert ss.tick(PLAYLIST, confirming, 7.9) == confirming  # no slide change while confirming
    assert ss.pin_language(PLAYLIST, confirming, "ar", 3.0) == confirming
    after = ss.tick(PLAYLIST, confirming, 8.0)
    assert after.mode == "rotate"
    assert ss.current_frame(PLAYLIST, after).kind == "neutral"


def test_playlist_without_neutral_slides_is_refused() -> None:
    with pytest.raises(ValueError, match="neutral"):
        ss.Playlist((("h", "help"),), ("en",), 8.0, 45.0, 6.0)
