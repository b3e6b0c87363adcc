"""The landing page's own texts: gettext catalogs in ``content/landing/po/{lang}.po``.

Loaded once at start and checked as a content bundle's catalogs are: every language has every
message of the English catalog, placeholders unchanged, and no word that names a crime
(``content.manifest.forbidden_words_in``). A problem stops the start with every problem listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from content.catalogs import read_messages
from content.manifest import forbidden_words_in

CATALOGS = Path(__file__).resolve().parents[2] / "content" / "landing" / "po"
SOURCE_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{\w+\}")


class LandingTextsError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class LandingTexts:
    """Language → every message, translated."""

    messages: dict[str, dict[str, str]]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.messages)

    def text(self, lang: str, msgid: str, **values: object) -> str:
        message = self.messages[lang][msgid]
        for name, value in values.items():
            message = message.replace("{" + name + "}", str(value))
        return message


def load_texts(folder: Path = CATALOGS, languages: tuple[str, ...] | None = None) -> LandingTexts:
    """Every catalog in ``folder`` (or just ``languages``), checked; :class:`LandingTextsError`
    lists every problem."""
    problems: list[str] = []
    source, problems_en = read_messages(folder / f"{SOURCE_LANGUAGE}.po")
    problems += problems_en
    wanted = languages or tuple(sorted(p.stem for p in folder.glob("*.po")))
    messages: dict[str, dict[str, str]] = {}
    for lang in wanted:
        po = folder / f"{lang}.po"
        if not po.is_file():
            problems.append(f"{po}: missing (the landing page needs every bundle language)")
            continue
        found, read_problems = read_messages(po)
        problems += read_problems
        for msgid, english in source.items():
            text = found.get(msgid, "")
            if not text or text == msgid:
                problems.append(f"{po}: {msgid!r} is not translated")
            elif sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(english)):
                problems.append(f"{po}: {msgid!r} must keep the placeholders of the English text")
            elif bad := forbidden_words_in(text):
                problems.append(f"{po}: {msgid!r} contains {', '.join(bad)} (never on screen)")
        messages[lang] = found
    if problems:
        raise LandingTextsError(problems)
    return LandingTexts(messages)
