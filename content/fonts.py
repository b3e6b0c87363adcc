"""Fonts per script, glyph coverage, and text prepared for a renderer that does not shape.

Every font comes from a Debian package, so a kiosk image only needs ``fonts-noto-core`` and
``fonts-noto-cjk``:

=======================  ===============================  ====  =================
family key               file (regular / bold)            face  package
=======================  ===============================  ====  =================
``noto-sans``            NotoSans-Regular.ttf / -Bold     0     fonts-noto-core
``noto-sans-arabic``     NotoSansArabic-Regular.ttf       0     fonts-noto-core
``noto-sans-cjk-sc``     NotoSansCJK-Regular.ttc / -Bold  2     fonts-noto-cjk
``noto-sans-cjk-kr``     NotoSansCJK-Regular.ttc / -Bold  1     fonts-noto-cjk
=======================  ===============================  ====  =================

The CJK collection holds ten faces (0 JP, 1 KR, 2 SC, 3 TC, 4 HK, then the Mono ones) with the
same character coverage; they differ in the regional shape of some Han characters. A renderer
that can only open face 0 (Kivy's SDL2 text provider) shows every character, with Japanese
shapes for a few Simplified Chinese ones.

Kivy's default SDL2_ttf text provider neither joins Arabic letters nor orders right-to-left
text. :func:`display_text` does both ahead of time for right-to-left languages: it reshapes the
letters into their joined presentation forms (arabic-reshaper) and reorders the line into
visual order (python-bidi). Feed the result to a label as is; keep right-to-left captions to
single lines (each line is reordered on its own).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import arabic_reshaper  # type: ignore[import-untyped]
from bidi import get_display  # type: ignore[import-untyped]

from content.languages import get_language

TRUETYPE_NOTO = Path("/usr/share/fonts/truetype/noto")
OPENTYPE_NOTO = Path("/usr/share/fonts/opentype/noto")


@dataclass(frozen=True)
class FontFamily:
    key: str
    directory: Path
    regular: str
    bold: str
    face_index: int  # the face to use in a .ttc collection; 0 for single-font files
    package: str  # the Debian package that installs the files


FONT_FAMILIES: dict[str, FontFamily] = {
    family.key: family
    for family in (
        FontFamily(
            "noto-sans",
            TRUETYPE_NOTO,
            "NotoSans-Regular.ttf",
            "NotoSans-Bold.ttf",
            0,
            "fonts-noto-core",
        ),
        # Not Noto Naskh Arabic: it has no U+002D HYPHEN-MINUS, so "1-888-373-7888" would show a
        # box. Neither Arabic font has Latin letters or "/": Arabic strings must not use them
        # (`beacon content check` reports any character the font lacks).
        FontFamily(
            "noto-sans-arabic",
            TRUETYPE_NOTO,
            "NotoSansArabic-Regular.ttf",
            "NotoSansArabic-Bold.ttf",
            0,
            "fonts-noto-core",
        ),
        FontFamily(
            "noto-sans-cjk-sc",
            OPENTYPE_NOTO,
            "NotoSansCJK-Regular.ttc",
            "NotoSansCJK-Bold.ttc",
            2,
            "fonts-noto-cjk",
        ),
        FontFamily(
            "noto-sans-cjk-kr",
            OPENTYPE_NOTO,
            "NotoSansCJK-Regular.ttc",
            "NotoSansCJK-Bold.ttc",
            1,
            "fonts-noto-cjk",
        ),
    )
}


class FontMissingError(FileNotFoundError):
    """The font a language needs is not installed; the message names the file and package."""


def font_family(language_code: str) -> FontFamily:
    """The font family of a language (``KeyError`` for an unknown language)."""
    return FONT_FAMILIES[get_language(language_code).font]


def _existing(family: FontFamily, file_name: str, language_code: str) -> Path:
    path = family.directory / file_name
    if not path.is_file():
        raise FontMissingError(
            f"font file {path} (for language {language_code!r}) is missing: "
            f"install the Debian package {family.package}"
        )
    return path


def font_path(language_code: str) -> Path:
    """The regular font file for a language; :class:`FontMissingError` if not installed."""
    family = font_family(language_code)
    return _existing(family, family.regular, language_code)


def font_path_bold(language_code: str) -> Path:
    """The bold font file for a language; :class:`FontMissingError` if not installed."""
    family = font_family(language_code)
    return _existing(family, family.bold, language_code)


def font_face_index(language_code: str) -> int:
    """The face of :func:`font_path` to use when it is a collection (.ttc); 0 otherwise."""
    return font_family(language_code).face_index


@functools.lru_cache(maxsize=16)
def _code_points(path: Path, face_index: int) -> frozenset[int]:
    if not path.is_file():
        raise FontMissingError(f"font file {path} is missing")
    # Imported here: only content checks need fontTools, and the kiosk starts faster without.
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    font = TTFont(path, fontNumber=face_index, lazy=True)
    try:
        cmap = font.getBestCmap()
    finally:
        font.close()
    if cmap is None:
        raise ValueError(f"{path}: font has no Unicode character map")
    return frozenset(cmap)


def _ignored(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cc"


def missing_glyphs(text: str, font: Path, *, face_index: int = 0) -> set[str]:
    """The characters of ``text`` that ``font`` has no glyph for (whitespace and controls aside).

    For a collection (.ttc), ``face_index`` picks the face whose character map is read.
    """
    available = _code_points(font, face_index)
    return {c for c in text if not _ignored(c) and ord(c) not in available}


# Directional formatting characters: used to steer python-bidi, then removed, because fonts
# have no glyphs for most of them and a renderer without shaping would draw boxes.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Digit groups joined by separators (phone numbers, 24/7, times): inside Arabic text the bidi
# algorithm would turn "1-888-373-7888" into "7888-373-888-1"; isolating them as left-to-right
# keeps the digits in the order people dial them.
_NUMBER_RUN = re.compile(r"\+?\d+(?:[-./:]\d+)+")
_LRI, _PDI = "\u2066", "\u2069"
_ARABIC_LETTER = re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f]")


def _visual_rtl_line(line: str) -> str:
    isolated = _NUMBER_RUN.sub(lambda m: f"{_LRI}{m.group(0)}{_PDI}", line)
    shaped = str(arabic_reshaper.reshape(isolated))
    visual = str(get_display(shaped, base_dir="R"))
    return _BIDI_CONTROLS.sub("", visual)


def display_text(text: str, language_code: str) -> str:
    """``text`` ready for a renderer without shaping or bidi support.

    Right-to-left languages: each line reshaped (joined presentation forms) and reordered into
    visual order, with a right-to-left base direction, phone numbers kept left-to-right.
    Left-to-right languages: unchanged.
    """
    if get_language(language_code).direction == "ltr":
        return text
    return "\n".join(_visual_rtl_line(line) for line in text.split("\n"))


def has_arabic_letters(text: str) -> bool:
    return _ARABIC_LETTER.search(text) is not None


def has_presentation_forms(text: str) -> bool:
    """Whether ``text`` holds Arabic presentation forms (what :func:`display_text` produces)."""
    return any(0xFB50 <= ord(c) <= 0xFDFF or 0xFE70 <= ord(c) <= 0xFEFF for c in text)
