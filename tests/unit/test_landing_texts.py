"""fleet_manager.landing.texts: the landing page's catalogs, loaded and checked at start."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from content.bundle import load_bundle
from fleet_manager.landing.serve import SAMPLE_BUNDLE
from fleet_manager.landing.texts import CATALOGS, LandingTexts, LandingTextsError, load_texts

EMERGENCY_ES = 'msgstr "¿Está en peligro ahora mismo? Llame al {number}."'
INTRO_ES = 'msgstr "Ayuda gratuita y privada en su idioma, a cualquier hora del día o de la noche."'
BUSY = re.compile(r'msgid "error\.busy"\nmsgstr (?:".*"\n)+')


def _msgids(po: Path) -> set[str]:
    return set(re.findall(r'^msgid "(.+)"$', po.read_text(encoding="utf-8"), re.MULTILINE))


def test_real_catalogs_load_for_every_bundle_language() -> None:
    bundle = load_bundle(SAMPLE_BUNDLE)
    texts = load_texts(languages=bundle.languages)
    assert texts.languages == bundle.languages
    english = _msgids(CATALOGS / "en.po")
    assert "page.title" in english
    for lang in bundle.languages:
        assert set(texts.messages[lang]) == english, lang
        for msgid, text in texts.messages[lang].items():
            assert text and text != msgid, (lang, msgid)


def test_real_catalogs_all_files() -> None:
    # Without a list, every catalog in the folder: there is none the bundle does not have.
    bundle = load_bundle(SAMPLE_BUNDLE)
    assert set(load_texts().languages) == set(bundle.languages)


def test_text_fills_placeholders() -> None:
    texts = load_texts(languages=("en", "es"))
    assert texts.text("es", "page.emergency", number="911") == (
        "¿Está en peligro ahora mismo? Llame al 911."
    )
    assert texts.text("en", "error.too_long", field="Message", limit=4000) == (
        "Message: too long. Please keep it under 4000 characters."
    )
    with pytest.raises(KeyError):
        texts.text("en", "no.such.message")
    with pytest.raises(KeyError):
        texts.text("de", "page.title")


def test_languages_property() -> None:
    assert LandingTexts({"en": {}, "ar": {}}).languages == ("en", "ar")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for lang in ("en", "es", "fr"):
        shutil.copy(CATALOGS / f"{lang}.po", tmp_path / f"{lang}.po")
    return tmp_path


def edit(folder: Path, lang: str, change: Callable[[str], str]) -> None:
    po = folder / f"{lang}.po"
    before = po.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, "the edit did not apply: the test would prove nothing"
    po.write_text(after, encoding="utf-8")


def drop_busy(text: str) -> str:
    return BUSY.sub("", text)


def change_placeholder(text: str) -> str:
    return text.replace(EMERGENCY_ES, 'msgstr "¿Está en peligro ahora mismo? Llame al {numero}."')


def drop_placeholder(text: str) -> str:
    return text.replace(EMERGENCY_ES, 'msgstr "¿Está en peligro ahora mismo? Llame al 911."')


def double_placeholder(text: str) -> str:
    return text.replace(EMERGENCY_ES, 'msgstr "¿Peligro? Llame al {number} o {number}."')


def forbidden_word(text: str) -> str:
    return text.replace(INTRO_ES, 'msgstr "Ayuda para víctimas de trata de personas."')


def forbidden_word_other_case(text: str) -> str:
    return text.replace(INTRO_ES, 'msgstr "Ayuda: TRATA DE PERSONAS."')


def empty_translation(text: str) -> str:
    return text.replace(INTRO_ES, 'msgstr ""')


def fuzzy_translation(text: str) -> str:
    return text.replace('msgid "page.intro"', '#, fuzzy\nmsgid "page.intro"')


def not_po(text: str) -> str:
    return 'msgid "page.title\nthis is not a catalog'


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param(drop_busy, r"es\.po: 'error\.busy' is not translated", id="missing-message"),
        pytest.param(
            change_placeholder,
            r"es\.po: 'page\.emergency' must keep the placeholders",
            id="changed-placeholder",
        ),
        pytest.param(
            drop_placeholder,
            r"es\.po: 'page\.emergency' must keep the placeholders",
            id="dropped-placeholder",
        ),
        pytest.param(
            double_placeholder,
            r"es\.po: 'page\.emergency' must keep the placeholders",
            id="doubled-placeholder",
        ),
        pytest.param(
            forbidden_word,
            r"es\.po: 'page\.intro' contains trata de personas",
            id="forbidden-word",
        ),
        pytest.param(
            forbidden_word_other_case,
            r"es\.po: 'page\.intro' contains trata de personas",
            id="forbidden-word-upper-case",
        ),
        pytest.param(
            empty_translation, r"es\.po: 'page\.intro' is not translated", id="empty-msgstr"
        ),
        pytest.param(
            fuzzy_translation, r"es\.po: 'page\.intro' is not translated", id="fuzzy-not-used"
        ),
        pytest.param(not_po, r"es\.po: cannot be read", id="unreadable"),
    ],
)
def test_one_problem(folder: Path, change: Callable[[str], str], problem: str) -> None:
    assert load_texts(folder, ("en", "es")).languages == ("en", "es")  # the copy is sound
    edit(folder, "es", change)
    with pytest.raises(LandingTextsError) as caught:
        load_texts(folder, ("en", "es"))
    assert any(re.search(problem, p) for p in caught.value.problems), caught.value.problems
    assert all("es.po" in p for p in caught.value.problems)


def test_missing_language_file(folder: Path) -> None:
    with pytest.raises(LandingTextsError) as caught:
        load_texts(folder, ("en", "es", "ko"))
    assert caught.value.problems == [
        f"{folder / 'ko.po'}: missing (the landing page needs every bundle language)"
    ]


def test_every_problem_listed_at_once(folder: Path) -> None:
    edit(folder, "es", lambda t: forbidden_word(change_placeholder(drop_busy(t))))
    edit(folder, "fr", lambda t: t.replace('msgid "page.title"', '#, fuzzy\nmsgid "page.title"'))
    with pytest.raises(LandingTextsError) as caught:
        load_texts(folder, ("en", "es", "fr", "ko"))
    problems = caught.value.problems
    expected = [
        r"es\.po: 'error\.busy' is not translated",
        r"es\.po: 'page\.emergency' must keep the placeholders",
        r"es\.po: 'page\.intro' contains trata de personas",
        r"fr\.po: 'page\.title' is not translated",
        r"ko\.po: missing",
    ]
    for pattern in expected:
        assert any(re.search(pattern, p) for p in problems), (pattern, problems)
    assert len(problems) == len(expected)
    # The error's text lists them too, one a line (it is what stops the start).
    assert str(caught.value).splitlines() == problems


def test_only_the_languages_asked_are_checked(folder: Path) -> None:
    edit(folder, "fr", drop_busy)
    assert load_texts(folder, ("en", "es")).languages == ("en", "es")
    with pytest.raises(LandingTextsError):
        load_texts(folder)  # every file in the folder, so fr too


def test_english_catalog_missing(folder: Path) -> None:
    (folder / "en.po").unlink()
    with pytest.raises(LandingTextsError) as caught:
        load_texts(folder, ("es",))
    assert any("en.po: cannot be read" in p for p in caught.value.problems)


def test_extra_message_in_a_translation_is_not_a_problem(folder: Path) -> None:
    edit(folder, "es", lambda t: t + '\nmsgid "only.in.spanish"\nmsgstr "Solo en español"\n')
    texts = load_texts(folder, ("en", "es"))
    assert texts.messages["es"]["page.title"] == "Recursos para pacientes"
