"""content.fonts: a Noto font per script with every glyph shown, and Arabic ready for SDL2_ttf."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from content.bundle import ContentBundle, load_bundle
from content.check import screen_strings
from content.fonts import (
    FONT_FAMILIES,
    FontMissingError,
    display_text,
    font_face_index,
    font_path,
    font_path_bold,
    has_presentation_forms,
    missing_glyphs,
)
from content.languages import LANGUAGES

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
NOTO_SANS = Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf")
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.fixture(scope="module")
def sample() -> ContentBundle:
    return load_bundle(SAMPLE)


@pytest.mark.parametrize(
    ("lang", "regular", "bold", "face"),
    [
        ("en", "truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf", 0),
        ("vi", "truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf", 0),
        ("ru", "truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf", 0),
        ("ht", "truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf", 0),
        (
            "ar",
            "truetype/noto/NotoSansArabic-Regular.ttf",
            "truetype/noto/NotoSansArabic-Bold.ttf",
            0,
        ),
        (
            "zh-Hans",
            "opentype/noto/NotoSansCJK-Regular.ttc",
            "opentype/noto/NotoSansCJK-Bold.ttc",
            2,
        ),
        ("ko", "opentype/noto/NotoSansCJK-Regular.ttc", "opentype/noto/NotoSansCJK-Bold.ttc", 1),
    ],
)
def test_font_per_script(lang: str, regular: str, bold: str, face: int) -> None:
    assert font_path(lang) == Path("/usr/share/fonts") / regular
    assert font_path_bold(lang) == Path("/usr/share/fonts") / bold
    assert font_face_index(lang) == face


def test_every_language_has_an_installed_font() -> None:
    for code, language in LANGUAGES.items():
        assert language.font in FONT_FAMILIES
        assert font_path(code).is_file()
        assert font_path_bold(code).is_file()


def test_unknown_language() -> None:
    with pytest.raises(KeyError, match="unknown language 'xx'"):
        font_path("xx")


def test_missing_font_names_the_file_and_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    family = replace(FONT_FAMILIES["noto-sans-cjk-kr"], directory=tmp_path)
    monkeypatch.setitem(FONT_FAMILIES, "noto-sans-cjk-kr", family)
    expected = (
        f"font file {tmp_path}/NotoSansCJK-Regular.ttc (for language 'ko') is missing: "
        "install the Debian package fonts-noto-cjk"
    )
    with pytest.raises(FontMissingError) as caught:
        font_path("ko")
    assert str(caught.value) == expected
    with pytest.raises(FontMissingError, match=r"NotoSansCJK-Bold\.ttc"):
        font_path_bold("ko")
    with pytest.raises(FontMissingError, match=r"nothing\.ttf is missing"):
        missing_glyphs("a", tmp_path / "nothing.ttf")


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_native_name_has_glyphs_in_its_font(lang: str) -> None:
    name = LANGUAGES[lang].native_name
    assert missing_glyphs(name, font_path(lang), face_index=font_face_index(lang)) == set()
    assert missing_glyphs(display_text(name, lang), font_path(lang)) == set()


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_sample_string_has_glyphs_in_its_font(sample: ContentBundle, lang: str) -> None:
    font, face = font_path(lang), font_face_index(lang)
    strings = list(screen_strings(sample, lang))
    assert len(strings) == (20 if lang in ("en", "es") else 19)
    for msgid, text in strings:
        assert missing_glyphs(text, font, face_index=face) == set(), msgid
        assert missing_glyphs(display_text(text, lang), font, face_index=face) == set(), msgid
        assert unicodedata.normalize("NFC", text) == text, msgid


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("Hello ก", {"ก"}),  # Thai
        ("Stay well 😀", {"😀"}),  # emoji
        ("简体中文 and 한국어", set("简体中文한국어")),
        ("العربية", set("العربية")),
        ("Tiếng Việt, Русский, Kreyòl, ¿Español?", set()),
        ("tabs\tand\nnew lines\r\x00\x1b", set()),  # whitespace and controls are ignored
    ],
)
def test_missing_glyphs_in_noto_sans(text: str, missing: set[str]) -> None:
    assert missing_glyphs(text, NOTO_SANS) == missing


@pytest.mark.parametrize("face", [0, 1, 2])
def test_missing_glyphs_in_a_collection_face(face: int) -> None:
    assert missing_glyphs("简体中文 한국어 ABC 123", CJK, face_index=face) == set()
    assert missing_glyphs("ก 😀", CJK, face_index=face) == {"ก", "😀"}


def test_arabic_fonts_lack_latin_letters_so_the_check_catches_them() -> None:
    assert missing_glyphs("SMS 1-888", font_path("ar")) == {"S", "M"}


# -- display_text -------------------------------------------------------------------------


def test_ltr_text_is_unchanged() -> None:
    for lang in ("en", "zh-Hans", "vi", "ko", "ru"):
        assert display_text("Call 1-888-373-7888 (24/7)", lang) == "Call 1-888-373-7888 (24/7)"


def test_arabic_is_shaped_and_reversed() -> None:
    # م ر ح ب ا: "marhaba", logical order right to left.
    shown = display_text("مرحبا", "ar")
    assert has_presentation_forms(shown)
    assert len(shown) == 5
    # Visual order: the word's last letter (alef, final form U+FE8E) comes first from the left,
    # its first letter (meem, initial form U+FEE3) last; reh does not join to the left, so hah
    # after it takes its initial form.
    assert shown == "\ufe8e\ufe92\ufea3\ufeae\ufee3"
    assert [unicodedata.name(c).split()[-2] for c in shown] == [
        "FINAL",
        "MEDIAL",
        "INITIAL",
        "FINAL",
        "INITIAL",
    ]


def test_arabic_native_name_is_shaped() -> None:
    shown = display_text("العربية", "ar")
    assert shown and has_presentation_forms(shown)
    assert not any("\u0600" <= c <= "\u06ff" for c in shown)  # no unshaped letters left


def test_phone_numbers_keep_dialling_order_in_arabic() -> None:
    shown = display_text("اتصل بالرقم 1-888-373-7888", "ar")
    # Right-to-left line: the number (at the logical end) is drawn at the left, in order.
    assert shown.startswith("1-888-373-7888 ")
    assert has_presentation_forms(shown)
    assert not any(c in shown for c in "\u2066\u2067\u2068\u2069\u200e\u200f\u202a\u202c")


def test_arabic_lines_are_reordered_one_by_one() -> None:
    first, second = display_text("مرحبا\nاتصل 233733", "ar").split("\n")
    assert first == display_text("مرحبا", "ar")
    assert second.startswith("233733 ")


def test_rtl_base_direction_even_when_a_line_starts_with_digits() -> None:
    shown = display_text("24 ساعة", "ar")
    assert shown.endswith("24")  # the number, first in reading order, is at the right


def test_sample_arabic_strings_are_shaped(sample: ContentBundle) -> None:
    for msgid, text in screen_strings(sample, "ar"):
        shown = display_text(text, "ar")
        assert shown.strip(), msgid
        assert has_presentation_forms(shown), msgid
