"""What the landing page shows (pure): texts in one language, the hotlines, the picker.

The same page for a known token and for an unknown or retired one, apart from which hotlines
a region adds: nothing on it says whether a token existed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from content.bundle import CALL_MSGID, NUMBER, TEXT_MSGID, ContentBundle
from content.languages import get_language
from fleet_manager.landing.texts import LandingTexts

State = Literal["form", "sent", "added", "refused"]


@dataclass(frozen=True)
class HotlineView:
    name: str
    call_label: str
    call_href: str
    remember: str
    note: str | None
    text_label: str | None
    text_href: str | None


@dataclass(frozen=True)
class LanguageLink:
    code: str
    native_name: str
    href: str
    current: bool


@dataclass(frozen=True)
class PageView:
    lang: str
    direction: str
    t: dict[str, str]  # msgid → text in ``lang``
    hotlines: tuple[HotlineView, ...]
    languages: tuple[LanguageLink, ...]
    emergency: str
    emergency_href: str
    exit_url: str
    report_action: str
    add_action: str
    state: State = "form"
    code: str | None = None
    passphrase: str | None = None
    problem: str | None = None


def dial_href(number: str, scheme: str = "tel") -> str:
    """``tel:`` / ``sms:`` link for a number as shown ("1-888-373-7888" → "tel:+18883737888")."""
    digits = re.sub(r"[^0-9]", "", number)
    if number.strip().startswith("+"):
        digits = "+" + digits  # already international
    elif scheme == "tel" and len(digits) == 11 and digits.startswith("1"):
        digits = "+" + digits  # a North American number dialled from anywhere
    return f"{scheme}:{digits}"


def hotline_views(
    bundle: ContentBundle, texts: LandingTexts, lang: str, hotline_ids: Sequence[str]
) -> tuple[HotlineView, ...]:
    views = []
    for hotline_id in hotline_ids:
        h = bundle.hotlines[hotline_id]
        serves_text = h.text is not None and lang in h.text_languages
        views.append(
            HotlineView(
                name=bundle.text(lang, h.name),
                call_label=bundle.text(lang, CALL_MSGID).replace(NUMBER, h.call),
                call_href=dial_href(h.call),
                remember=texts.text(lang, "hotline.remember", number=h.call),
                note=bundle.text(lang, h.call_note) if h.call_note else None,
                text_label=bundle.text(lang, TEXT_MSGID).replace(NUMBER, h.text or "")
                if serves_text
                else None,
                text_href=dial_href(h.text or "", "sms") if serves_text else None,
            )
        )
    return tuple(views)


def page_view(
    *,
    bundle: ContentBundle,
    texts: LandingTexts,
    lang: str,
    token: str,
    hotline_ids: Sequence[str],
    emergency_number: str,
    exit_url: str,
    languages: Sequence[str],
    state: State = "form",
    code: str | None = None,
    passphrase: str | None = None,
    problem: str | None = None,
) -> PageView:
    base = "/r/" + quote(token, safe="")
    return PageView(
        lang=lang,
        direction=get_language(lang).direction,
        t=texts.messages[lang],
        hotlines=hotline_views(bundle, texts, lang, hotline_ids),
        languages=tuple(
            LanguageLink(code, get_language(code).native_name, f"{base}?l={code}", code == lang)
            for code in languages
        ),
        emergency=texts.text(lang, "page.emergency", number=emergency_number),
        emergency_href=dial_href(emergency_number),
        exit_url=exit_url,
        report_action=f"{base}/report?l={lang}",
        add_action=f"{base}/add?l={lang}",
        state=state,
        code=code,
        passphrase=passphrase,
        problem=problem,
    )
