"""The languages a kiosk can show: code, name in its own script, direction and font family.

The code is a BCP 47 tag (``zh-Hans``, not ``zh_CN``); it names the catalog (``po/{code}.po``)
and travels in the QR landing URL (``?l={code}``). ``font`` is a key of
``content.fonts.FONT_FAMILIES``: the Noto font that has every glyph the language needs.
The language chips row shows ``native_name`` in the language's own font.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["ltr", "rtl"]


@dataclass(frozen=True)
class Language:
    code: str
    native_name: str
    direction: Direction
    font: str


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "ltr", "noto-sans"),
        Language("es", "Español", "ltr", "noto-sans"),
        Language("zh-Hans", "简体中文", "ltr", "noto-sans-cjk-sc"),
        Language("vi", "Tiếng Việt", "ltr", "noto-sans"),
        Language("tl", "Tagalog", "ltr", "noto-sans"),
        Language("ko", "한국어", "ltr", "noto-sans-cjk-kr"),
        Language("ar", "العربية", "rtl", "noto-sans-arabic"),
        Language("ru", "Русский", "ltr", "noto-sans"),
        Language("ht", "Kreyòl ayisyen", "ltr", "noto-sans"),
        Language("fr", "Français", "ltr", "noto-sans"),
        Language("pt", "Português", "ltr", "noto-sans"),
    )
}


def get_language(code: str) -> Language:
    """The language for ``code``; ``KeyError`` naming the known codes if there is none."""
    try:
        return LANGUAGES[code]
    except KeyError:
        raise KeyError(
            f"unknown language {code!r} (known: {', '.join(sorted(LANGUAGES))})"
        ) from None
