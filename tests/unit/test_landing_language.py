"""fleet_manager.landing.language: Accept-Language parsing and which language the page speaks."""

from __future__ import annotations

import pytest

from fleet_manager.landing.language import (
    MAX_PREFERENCES,
    accepted_languages,
    choose_language,
)

# The sample bundle's languages, in its order (en first, as in content/sample/manifest.toml).
BUNDLE = ("en", "es", "zh-Hans", "vi", "tl", "ko", "ar", "ru", "ht", "fr", "pt")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, [], id="no-header"),
        pytest.param("", [], id="empty"),
        pytest.param("es", ["es"], id="one"),
        pytest.param("fr, es, en", ["fr", "es", "en"], id="same-q-keeps-order"),
        pytest.param("en;q=0.5, es;q=0.9, fr", ["fr", "es", "en"], id="q-ordering"),
        pytest.param("en;q=0.5,es;q=0.5,fr;q=0.5", ["en", "es", "fr"], id="q-tie-keeps-order"),
        pytest.param("en;q=0, es", ["es"], id="q0-dropped"),
        pytest.param("en;q=0.000, es;q=0.001", ["es"], id="q0-decimals-dropped"),
        pytest.param("en;q=1.0, es;q=1", ["en", "es"], id="q1"),
        pytest.param("en;q=1.5, es", ["es"], id="q-above-1-dropped"),
        pytest.param("en;q=-0.5, es", ["es"], id="negative-q-dropped"),
        pytest.param("en;q=high, es;q=, fr", ["fr"], id="unreadable-q-dropped"),
        pytest.param("*, es;q=0.8", ["es"], id="star-ignored"),
        pytest.param("*;q=0.1", [], id="only-star"),
        pytest.param(",,  , es ,", ["es"], id="empty-parts-ignored"),
        pytest.param(";q=0.9, es", ["es"], id="no-tag-ignored"),
        pytest.param("x" * 36 + ", es", ["es"], id="overlong-tag-ignored"),
        pytest.param("x" * 35, ["x" * 35], id="longest-tag-kept"),
        pytest.param("es-MX ; q=0.7 , en-US;q=0.3", ["es-MX", "en-US"], id="spaces"),
    ],
)
def test_accepted_languages(header: str | None, expected: list[str]) -> None:
    assert accepted_languages(header) == expected


def test_accepted_languages_caps_preferences() -> None:
    tags = [f"l{i}" for i in range(MAX_PREFERENCES * 3)]
    assert accepted_languages(", ".join(tags)) == tags[:MAX_PREFERENCES]


def test_accepted_languages_reads_only_the_first_parts() -> None:
    # A flood of junk parts before a real tag: the page does not hunt through all of it.
    header = ", ".join(["*"] * (MAX_PREFERENCES * 2) + ["es"])
    assert accepted_languages(header) == []


def test_accepted_languages_nan_quality_is_dropped() -> None:
    assert accepted_languages("de;q=0.1, fr;q=nan, en;q=0.9") == ["en", "de"]


@pytest.mark.parametrize(
    ("asked", "accept", "expected"),
    [
        pytest.param(None, None, "en", id="nothing-english"),
        pytest.param("", "", "en", id="empty-english"),
        pytest.param("es", None, "es", id="asked"),
        pytest.param("ar", "es, en", "ar", id="asked-wins-over-browser"),
        pytest.param(None, "ko, en", "ko", id="browser"),
        pytest.param("xx", "ru, en", "ru", id="unknown-asked-falls-to-browser"),
        pytest.param("xx", "yy, zz", "en", id="unknown-everything-english"),
        pytest.param(None, "de, it;q=0.5", "en", id="unserved-browser-english"),
        pytest.param(None, "de, vi;q=0.2", "vi", id="first-served-browser-tag"),
        pytest.param(None, "fr;q=0.3, pt;q=0.8", "pt", id="browser-q-order"),
        pytest.param(None, "pt;q=0, fr;q=0.1", "fr", id="browser-q0-refused"),
        pytest.param("ES", None, "es", id="case-insensitive"),
        pytest.param("zh-hans", None, "zh-Hans", id="case-insensitive-script"),
        pytest.param("ZH-HANS", None, "zh-Hans", id="upper-script"),
        pytest.param("es-MX", None, "es", id="region-to-primary"),
        pytest.param(None, "es-419", "es", id="browser-region-to-primary"),
        pytest.param(None, "pt-BR, en", "pt", id="pt-BR"),
        pytest.param("zh-CN", None, "zh-Hans", id="zh-CN"),
        pytest.param("zh-cn", None, "zh-Hans", id="zh-cn-lower"),
        pytest.param("zh-SG", None, "zh-Hans", id="zh-SG"),
        pytest.param("zh", None, "zh-Hans", id="bare-zh"),
        pytest.param("zh-Hans-CN", None, "zh-Hans", id="zh-Hans-CN"),
        pytest.param("zh-TW", None, "en", id="zh-TW-not-simplified"),
        pytest.param("zh-Hant", None, "en", id="zh-Hant-not-simplified"),
        pytest.param("zh-Hant-HK", None, "en", id="zh-Hant-HK-not-simplified"),
        pytest.param("zh-HK", None, "en", id="zh-HK-not-simplified"),
        pytest.param("zh-MO", None, "en", id="zh-MO-not-simplified"),
        pytest.param("zh-TW", "zh-TW, ko;q=0.5", "ko", id="zh-TW-falls-through"),
        pytest.param(None, "zh-Hant, zh-CN;q=0.5", "zh-Hans", id="hant-then-hans"),
        pytest.param("fil", None, "tl", id="fil-is-tagalog"),
        pytest.param(None, "fil-PH", "tl", id="fil-PH"),
        pytest.param("tl-PH", None, "tl", id="tl-PH"),
        pytest.param("filx", None, "en", id="fil-prefix-is-not-alias"),
    ],
)
def test_choose_language(asked: str | None, accept: str | None, expected: str) -> None:
    assert choose_language(asked, accept, BUNDLE) == expected


@pytest.mark.parametrize(
    ("asked", "accept", "available", "expected"),
    [
        pytest.param("fil", None, ("en", "es"), "en", id="alias-target-not-available"),
        pytest.param("zh", None, ("en", "es"), "en", id="zh-not-available"),
        pytest.param("xx", None, ("es", "fr"), "es", id="no-english-first-available"),
        pytest.param("fr", None, ("es", "fr"), "fr", id="found-without-english"),
        pytest.param("zh-TW", None, ("en", "zh-TW"), "zh-TW", id="exact-wins-over-not-simplified"),
    ],
)
def test_choose_language_other_sets(
    asked: str | None, accept: str | None, available: tuple[str, ...], expected: str
) -> None:
    assert choose_language(asked, accept, available) == expected
