"""fleet_manager.landing.page: dial links and the page's view model, on the real sample bundle
and the real landing catalogs."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from content.bundle import ContentBundle, load_bundle
from fleet_manager.landing.page import PageView, dial_href, page_view
from fleet_manager.landing.serve import SAMPLE_BUNDLE
from fleet_manager.landing.texts import LandingTexts, load_texts


@pytest.mark.parametrize(
    ("number", "scheme", "href"),
    [
        pytest.param("1-888-373-7888", "tel", "tel:+18883737888", id="north-american"),
        pytest.param("1 (888) 373 7888", "tel", "tel:+18883737888", id="brackets-spaces"),
        pytest.param("+1-888-373-7888", "tel", "tel:+18883737888", id="already-plus-one"),
        pytest.param("888-373-7888", "tel", "tel:8883737888", id="ten-digits-left-alone"),
        pytest.param("233733", "sms", "sms:233733", id="short-code-sms"),
        pytest.param("1-888-373-7888", "sms", "sms:18883737888", id="sms-no-plus"),
        pytest.param("911", "tel", "tel:911", id="emergency"),
        pytest.param("112", "tel", "tel:112", id="emergency-eu"),
        pytest.param("21234567890", "tel", "tel:21234567890", id="eleven-not-starting-1"),
    ],
)
def test_dial_href(number: str, scheme: str, href: str) -> None:
    assert dial_href(number, scheme) == href


def test_dial_href_keeps_international_plus() -> None:
    assert dial_href("+44 808 801 0323") == "tel:+448088010323"


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_bundle(SAMPLE_BUNDLE)


@pytest.fixture(scope="module")
def texts(bundle: ContentBundle) -> LandingTexts:
    return load_texts(languages=bundle.languages)


def view(bundle: ContentBundle, texts: LandingTexts, **overrides: Any) -> PageView:
    args: dict[str, Any] = {
        "bundle": bundle,
        "texts": texts,
        "lang": "en",
        "token": "tok123",
        "hotline_ids": ("us-nhth",),
        "emergency_number": "911",
        "exit_url": "https://www.weather.gov/",
        "languages": bundle.languages,
    }
    args.update(overrides)
    return page_view(**args)


@pytest.mark.parametrize(
    ("lang", "direction", "has_text_line"),
    [
        pytest.param("en", "ltr", True, id="en"),
        pytest.param("es", "ltr", True, id="es"),
        pytest.param("ar", "rtl", False, id="ar"),
        pytest.param("zh-Hans", "ltr", False, id="zh-Hans"),
        pytest.param("ko", "ltr", False, id="ko"),
    ],
)
def test_language_direction_and_text_line(
    bundle: ContentBundle, texts: LandingTexts, lang: str, direction: str, has_text_line: bool
) -> None:
    v = view(bundle, texts, lang=lang)
    assert v.lang == lang
    assert v.direction == direction
    assert v.t == texts.messages[lang]
    (hotline,) = v.hotlines
    assert hotline.name == bundle.text(lang, "hotline.us-nhth.name")
    assert hotline.call_href == "tel:+18883737888"
    assert "1-888-373-7888" in hotline.call_label
    assert "1-888-373-7888" in hotline.remember
    assert "{number}" not in hotline.call_label + hotline.remember
    assert hotline.note == bundle.text(lang, "hotline.us-nhth.call_note")
    if has_text_line:
        assert hotline.text_href == "sms:233733"
        assert hotline.text_label is not None and "233733" in hotline.text_label
    else:
        assert hotline.text_href is None
        assert hotline.text_label is None


def test_texts_are_in_the_language(bundle: ContentBundle, texts: LandingTexts) -> None:
    en, es = view(bundle, texts, lang="en"), view(bundle, texts, lang="es")
    assert en.t["page.title"] != es.t["page.title"]
    assert en.hotlines[0].call_label != es.hotlines[0].call_label
    assert en.emergency != es.emergency


def test_emergency(bundle: ContentBundle, texts: LandingTexts) -> None:
    v = view(bundle, texts, emergency_number="911")
    assert v.emergency_href == "tel:911"
    assert "911" in v.emergency and "{number}" not in v.emergency


@pytest.mark.parametrize("lang", ["en", "es", "ar", "zh-Hans"])
def test_language_links(bundle: ContentBundle, texts: LandingTexts, lang: str) -> None:
    v = view(bundle, texts, lang=lang)
    assert [link.code for link in v.languages] == list(bundle.languages)
    assert [link.code for link in v.languages if link.current] == [lang]
    for link in v.languages:
        assert link.href == f"/r/tok123?l={link.code}"
    native = {link.code: link.native_name for link in v.languages}
    assert native["ar"] == "العربية"
    assert native["es"] == "Español"


def test_only_the_languages_given(bundle: ContentBundle, texts: LandingTexts) -> None:
    v = view(bundle, texts, lang="es", languages=("en", "es"))
    assert [(link.code, link.current) for link in v.languages] == [("en", False), ("es", True)]


@pytest.mark.parametrize(
    ("token", "base"),
    [
        pytest.param("tok123", "/r/tok123", id="plain"),
        pytest.param("a/b", "/r/a%2Fb", id="slash"),
        pytest.param("a?l=ar&x", "/r/a%3Fl%3Dar%26x", id="query-characters"),
        pytest.param('"><script>', "/r/%22%3E%3Cscript%3E", id="markup"),
        pytest.param("a b#c", "/r/a%20b%23c", id="space-and-hash"),
        pytest.param("ñ", "/r/%C3%B1", id="non-ascii"),
    ],
)
def test_token_is_quoted_in_every_link(
    bundle: ContentBundle, texts: LandingTexts, token: str, base: str
) -> None:
    v = view(bundle, texts, lang="es", token=token)
    assert v.report_action == f"{base}/report?l=es"
    assert v.add_action == f"{base}/add?l=es"
    assert all(link.href == f"{base}?l={link.code}" for link in v.languages)
    assert unquote(base.removeprefix("/r/")) == token


def test_state_and_credentials_passed_through(bundle: ContentBundle, texts: LandingTexts) -> None:
    v = view(
        bundle,
        texts,
        state="sent",
        code="ABCD-EFGH",
        passphrase="1234 5678 9012",
        exit_url="https://example.org/",
    )
    assert (v.state, v.code, v.passphrase, v.problem) == (
        "sent",
        "ABCD-EFGH",
        "1234 5678 9012",
        None,
    )
    assert v.exit_url == "https://example.org/"
    assert view(bundle, texts).state == "form"


def test_no_hotlines(bundle: ContentBundle, texts: LandingTexts) -> None:
    assert view(bundle, texts, hotline_ids=()).hotlines == ()
