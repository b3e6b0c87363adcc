"""content.bundle and content.manifest: the sample loads; broken bundles name file and field."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from content.bundle import CALL_MSGID, TEXT_MSGID, BundleError, ContentBundle, load_bundle
from content.languages import LANGUAGES
from content.manifest import FORBIDDEN_WORDS, forbidden_words_in

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
LANGS = ("en", "es", "zh-Hans", "vi", "tl", "ko", "ar", "ru", "ht", "fr", "pt")


@pytest.fixture(scope="module")
def sample() -> ContentBundle:
    return load_bundle(SAMPLE)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(SAMPLE, root)
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(BundleError) as caught:
        load_bundle(root)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def edit_manifest(root: Path, old: str, new: str, count: int = 1) -> None:
    path = root / "manifest.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def replace_slides(root: Path, slides_toml: str) -> None:
    path = root / "manifest.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("[[slides]]")] + slides_toml, encoding="utf-8")


def edit_po(root: Path, lang: str, change: Callable[[Catalog], None]) -> None:
    path = root / "po" / f"{lang}.po"
    with path.open("rb") as f:
        catalog = read_po(f)
    change(catalog)
    with path.open("wb") as f:
        write_po(f, catalog, width=100)


def slide(sid: str, kind: str) -> str:
    if kind == "neutral":
        return (
            f'[[slides]]\nid = "{sid}"\nkind = "neutral"\n'
            f'title = "slide.{sid}.title"\nbody = "slide.{sid}.body"\n\n'
        )
    return (
        f'[[slides]]\nid = "{sid}"\nkind = "help"\n'
        f'message = "slide.{sid}.message"\nhotline = "us-nhth"\n\n'
    )


# -- the sample --------------------------------------------------------------------------


def test_sample_loads(sample: ContentBundle) -> None:
    assert sample.root == SAMPLE
    assert sample.version == "2026.11.1"
    assert sample.default_language == "en"
    assert sample.languages == LANGS
    assert (sample.rotation.slide_seconds, sample.rotation.idle_seconds) == (8.0, 45.0)
    assert sample.help_control.mode == "hold"
    assert sample.help_control.hold_seconds == 2.0
    assert sample.help_control.tap_window_seconds == 1.5
    assert sample.confirmation.message == "confirmation.message"
    assert sample.confirmation.seconds == 6.0
    assert sample.quick_hide.gesture == "swipe_down"
    assert [s.kind for s in sample.slides] == [
        "neutral",
        "help",
        "neutral",
        "neutral",
        "help",
        "neutral",
        "neutral",
        "help",
        "neutral",
    ]
    assert len(sample.neutral_slides()) == 6
    assert all(s.kind == "neutral" for s in sample.neutral_slides())
    assert [s.id for s in sample.help_slides()] == ["help-safe", "help-support", "help-talk"]


def test_sample_slides_and_hotline_fields(sample: ContentBundle) -> None:
    wash, help_safe = sample.slides[0], sample.slides[1]
    assert (wash.id, wash.title, wash.body) == (
        "wash-hands",
        "slide.wash-hands.title",
        "slide.wash-hands.body",
    )
    assert wash.message is None and wash.hotline is None
    assert (help_safe.message, help_safe.hotline) == ("slide.help-safe.message", "us-nhth")
    assert help_safe.title is None and help_safe.body is None
    hotline = sample.hotlines["us-nhth"]
    assert hotline.call == "1-888-373-7888"
    assert hotline.text == "233733"
    assert hotline.text_languages == ("en", "es")
    assert hotline.name == "hotline.us-nhth.name"
    assert hotline.call_note == "hotline.us-nhth.call_note"


def test_text_translates(sample: ContentBundle) -> None:
    msgid = "slide.help-safe.message"
    assert sample.text("en", msgid) == (
        "Do you feel safe? Confidential help, any language, 24/7. Scan or call."
    )
    assert sample.text("es", msgid).startswith("¿Se siente a salvo?")
    assert sample.text("ar", msgid).startswith("هل تشعر بالأمان؟")
    assert sample.text("zh-Hans", "confirmation.message") == "谢谢。工作人员很快会叫您。"
    # the cache gives the same answers
    assert sample.text("es", msgid) == sample.text("es", msgid)


def test_text_refuses_unknown_language_and_msgid(sample: ContentBundle) -> None:
    with pytest.raises(KeyError, match="'de' is not in bundle"):
        sample.text("de", "confirmation.message")
    with pytest.raises(KeyError, match="no msgid 'nope'"):
        sample.text("en", "nope")


@pytest.mark.parametrize(
    ("lang", "lines"),
    [
        ("en", ["National Confidential Helpline", "Call 1-888-373-7888", "Text 233733"]),
        (
            "es",
            [
                "Línea de ayuda nacional confidencial",
                "Llame al 1-888-373-7888",
                "Envíe un mensaje de texto al 233733",
            ],
        ),
        ("ar", ["خط المساعدة الوطني السري", "اتصل بالرقم 1-888-373-7888"]),  # no text line
        ("ko", ["전국 비밀 상담 전화", "전화: 1-888-373-7888"]),
    ],
)
def test_hotline_lines(sample: ContentBundle, lang: str, lines: list[str]) -> None:
    assert sample.hotline_lines(lang, "us-nhth") == lines


def test_language(sample: ContentBundle) -> None:
    assert sample.language("ar").direction == "rtl"
    assert sample.language("ar").native_name == "العربية"
    assert sample.language("zh-Hans").native_name == "简体中文"
    assert sample.language("ht").native_name == "Kreyòl ayisyen"
    with pytest.raises(KeyError):
        sample.language("de")


def test_every_language_is_known_and_has_a_catalog(sample: ContentBundle) -> None:
    assert set(LANGS) <= set(LANGUAGES)
    for lang in sample.languages:
        assert (SAMPLE / "po" / f"{lang}.po").is_file()


# -- broken manifests ----------------------------------------------------------------------

ALL = ", ".join(LANGUAGES)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'id = "sleep"\nkind = "neutral"',
            'id = "sleep"\nkind = "bogus"',
            'slides[3].kind: must be "neutral" or "help"',
        ),
        ("hold_seconds = 2.0", "hold_seconds = 0.5", "help_control.hold_seconds: must be >= 1.0"),
        ('mode = "hold"', 'mode = "press"', 'help_control.mode: must be "hold" or "triple_tap"'),
        (
            'gesture = "swipe_down"',
            'gesture = "shake"',
            'quick_hide.gesture: must be "swipe_down" or "two_finger_tap"',
        ),
        ("slide_seconds = 8.0", 'slide_seconds = "8"', "rotation.slide_seconds: must be a number"),
        ("slide_seconds = 8.0", "slide_seconds = 0", "rotation.slide_seconds: must be > 0.0"),
        (
            "slide_seconds = 8.0",
            "slide_seconds = inf",
            "rotation.slide_seconds: must be a finite number",
        ),
        ("idle_seconds = 45.0", "", "rotation.idle_seconds: is required"),
        ("[quick_hide]", 'colour = "red"\n[quick_hide]', "confirmation.colour: unknown key"),
        (
            'message = "confirmation.message"',
            'message = " "',
            "confirmation.message: must be a non-empty msgid",
        ),
        (
            'call = "1-888-373-7888"',
            "call = 18883737888",
            "hotlines[0].call: must be a string (in quotes)",
        ),
        (
            'call = "1-888-373-7888"',
            'call = "call us"',
            "hotlines[0].call: must be a phone number of digits, '-', '+' and spaces",
        ),
        (
            'text = "233733"',
            'text = "TEXT"',
            "hotlines[0].text: must be a number of digits (an SMS short code or number)",
        ),
        (
            'id = "us-nhth"',
            'id = "US NHTH"',
            "hotlines[0].id: must be lower-case letters, digits and '-'",
        ),
        (
            'version = "2026.11.1"',
            'version = "next week"',
            'version: must be a version such as "2026.11.1"',
        ),
    ],
)
def test_broken_manifest_field(copy: Path, old: str, new: str, problem: str) -> None:
    edit_manifest(copy, old, new)
    assert problems_of(copy) == [f"{copy}/manifest.toml: {problem}"]


@pytest.mark.parametrize(
    ("old", "new", "problems"),
    [
        (
            '"pt"]',
            '"pt", "xx"]',
            [f"languages[11]: unknown language 'xx' (known: {ALL})"],
        ),
        ('"pt"]', '"pt", "es"]', ["languages[11]: 'es' is listed twice"]),
        (
            'default_language = "en"',
            'default_language = "de"',
            [f"default_language: 'de' is not one of languages ({', '.join(LANGS)})"],
        ),
        (
            'text_languages = ["en", "es"]\n',
            "",
            [
                "hotlines[0].text_languages: is required with text "
                "(the languages the text line serves)"
            ],
        ),
        (
            'text_languages = ["en", "es"]',
            'text_languages = ["en", "klingon"]',
            [f"hotlines[0].text_languages[1]: unknown language 'klingon' (known: {ALL})"],
        ),
        (
            'id = "sleep"',
            'id = "drink-water"',
            ["slides[3].id: 'drink-water' is already used by slides[2]"],
        ),
        (
            'hotline = "us-nhth"',
            'hotline = "nowhere"',
            ["slides[1].hotline: no [[hotlines]] entry has id 'nowhere'"],
        ),
    ],
)
def test_broken_manifest_cross_checks(copy: Path, old: str, new: str, problems: list[str]) -> None:
    edit_manifest(copy, old, new)
    assert problems_of(copy) == [f"{copy}/manifest.toml: {p}" for p in problems]


def test_slide_fields_per_kind(copy: Path) -> None:
    replace_slides(
        copy,
        '[[slides]]\nid = "wash-hands"\nkind = "neutral"\ntitle = "slide.wash-hands.title"\n'
        'message = "slide.help-safe.message"\n\n'
        '[[slides]]\nid = "help-safe"\nkind = "help"\ntitle = "slide.sleep.title"\n\n'
        + slide("sleep", "neutral"),
    )
    m = f"{copy}/manifest.toml"
    assert problems_of(copy) == [
        f"{m}: slides[0].body: is required on a neutral slide",
        f"{m}: slides[0].message: not allowed on a neutral slide",
        f"{m}: slides[1].message: is required on a help slide",
        f"{m}: slides[1].hotline: is required on a help slide",
        f"{m}: slides[1].title: not allowed on a help slide",
    ]


@pytest.mark.parametrize(
    ("kinds", "problems"),
    [
        (
            [
                ("wash-hands", "neutral"),
                ("help-safe", "help"),
                ("help-talk", "help"),
                ("sleep", "neutral"),
            ],
            [
                "slides[2]: help slide 'help-talk' follows help slide 'help-safe'; "
                "put a neutral slide between them"
            ],
        ),
        (
            [
                ("help-safe", "help"),
                ("sleep", "neutral"),
                ("vaccines", "neutral"),
                ("help-talk", "help"),
            ],
            [
                "slides[0]: help slide 'help-safe' follows help slide 'help-talk' "
                "(the rotation wraps around); put a neutral slide between them"
            ],
        ),
        ([("sleep", "neutral"), ("help-safe", "help"), ("help-talk", "help")], []),  # one neutral
        (
            [("sleep", "neutral"), ("vaccines", "neutral")],
            ["slides: at least one help slide is required"],
        ),
        ([("help-safe", "help")], ["slides: at least one neutral slide is required"]),
        ([], ["slides: is required"]),  # no [[slides]] at all
    ],
)
def test_help_slides_are_interleaved(
    copy: Path, kinds: list[tuple[str, str]], problems: list[str]
) -> None:
    replace_slides(copy, "".join(slide(sid, kind) for sid, kind in kinds))
    if not problems:
        assert [s.id for s in load_bundle(copy).slides] == [sid for sid, _ in kinds]
        return
    assert problems_of(copy) == [f"{copy}/manifest.toml: {p}" for p in problems]


def test_schema_problems_are_all_reported(copy: Path) -> None:
    edit_manifest(copy, 'mode = "hold"', 'mode = "press"')
    edit_manifest(copy, 'id = "sleep"\nkind = "neutral"', 'id = "sleep"\nkind = "bogus"')
    edit_manifest(copy, "seconds = 6.0", "seconds = -1.0")
    m = f"{copy}/manifest.toml"
    assert problems_of(copy) == [
        f'{m}: help_control.mode: must be "hold" or "triple_tap"',
        f"{m}: confirmation.seconds: must be > 0.0",
        f'{m}: slides[3].kind: must be "neutral" or "help"',
    ]


def test_missing_or_unreadable_manifest(copy: Path, tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}/manifest.toml: file not found"]
    (copy / "manifest.toml").write_text("version = \n", encoding="utf-8")
    (problem,) = problems_of(copy)
    assert problem.startswith(f"{copy}/manifest.toml: not valid TOML: ")


# -- broken catalogs -----------------------------------------------------------------------


def _set(msgid: str, value: str) -> Callable[[Catalog], None]:
    def change(catalog: Catalog) -> None:
        message = catalog.get(msgid)
        assert message is not None
        message.string = value

    return change


def _delete(msgid: str) -> Callable[[Catalog], None]:
    def change(catalog: Catalog) -> None:
        catalog.delete(msgid)

    return change


def _fuzzy(msgid: str) -> Callable[[Catalog], None]:
    def change(catalog: Catalog) -> None:
        message = catalog.get(msgid)
        assert message is not None
        message.flags.add("fuzzy")

    return change


def _language(code: str) -> Callable[[Catalog], None]:
    def change(catalog: Catalog) -> None:
        catalog.locale = code

    return change


@pytest.mark.parametrize(
    ("lang", "change", "problem"),
    [
        (
            "es",
            _set("slide.sleep.body", ""),
            'msgid "slide.sleep.body": not translated (empty msgstr; used by slides[3].body)',
        ),
        (
            "ko",
            _delete("slide.help-talk.message"),
            'msgid "slide.help-talk.message": missing (used by slides[7].message)',
        ),
        (
            "fr",
            _delete("confirmation.message"),
            'msgid "confirmation.message": missing (used by confirmation.message)',
        ),
        (
            "vi",
            _delete("hotline.us-nhth.call_note"),
            'msgid "hotline.us-nhth.call_note": missing (used by hotlines[0].call_note)',
        ),
        ("ru", _delete(TEXT_MSGID), 'msgid "Text {number}": missing (used by hotline lines)'),
        (
            "pt",
            _fuzzy("slide.vaccines.title"),
            'msgid "slide.vaccines.title": marked fuzzy (review it, then remove the fuzzy flag)',
        ),
        ("es", _language("fr"), "header: Language is fr, expected es"),
        ("zh-Hans", _language("zh_CN"), "header: Language is zh_CN, expected zh_Hans"),
        (
            "ar",
            _set(CALL_MSGID, "اتصل بالرقم"),
            'msgid "Call {number}": msgstr must contain {number} exactly once',
        ),
        (
            "ht",
            _set(TEXT_MSGID, "{number} {number}"),
            'msgid "Text {number}": msgstr must contain {number} exactly once',
        ),
    ],
)
def test_broken_catalog(
    copy: Path, lang: str, change: Callable[[Catalog], None], problem: str
) -> None:
    edit_po(copy, lang, change)
    assert problems_of(copy) == [f"{copy}/po/{lang}.po: {problem}"]


def test_missing_catalog(copy: Path) -> None:
    (copy / "po" / "ko.po").unlink()
    assert problems_of(copy) == [
        f"{copy}/po/ko.po: file not found (every language in languages needs its catalog)"
    ]


def test_invalid_catalog(copy: Path) -> None:
    (copy / "po" / "ru.po").write_text('msgid "a"\nmsgfoo "b"\n', encoding="utf-8")
    assert problems_of(copy) == [
        f"{copy}/po/ru.po: not a valid gettext catalog: Unknown or misformatted keyword on 1"
    ]


def test_catalog_without_header(copy: Path) -> None:
    path = copy / "po" / "ru.po"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[text.index("#. Neutral slide title") :], encoding="utf-8")
    assert problems_of(copy) == [
        f'{copy}/po/ru.po: header: missing (the msgid "" entry with Language, Plural-Forms)'
    ]


def test_fuzzy_header(copy: Path) -> None:
    path = copy / "po" / "tl.po"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('msgid ""\n', '#, fuzzy\nmsgid ""\n', 1), encoding="utf-8")
    assert problems_of(copy) == [
        f"{copy}/po/tl.po: header: marked fuzzy (review it, then remove the fuzzy flag)"
    ]


def test_manifest_and_catalog_problems_are_reported_together(copy: Path) -> None:
    edit_manifest(copy, 'id = "sleep"', 'id = "drink-water"')
    edit_po(copy, "es", _set("slide.sleep.body", ""))
    edit_po(copy, "ar", _delete("slide.sleep.title"))
    assert problems_of(copy) == [
        f"{copy}/manifest.toml: slides[3].id: 'drink-water' is already used by slides[2]",
        f'{copy}/po/es.po: msgid "slide.sleep.body": not translated (empty msgstr; '
        "used by slides[3].body)",
        f'{copy}/po/ar.po: msgid "slide.sleep.title": missing (used by slides[3].title)',
    ]


# -- words that could betray the reader ------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "words"),
    [
        ("en", "Are you a victim of human trafficking? Call.", ["trafficking"]),
        ("en", "Traffickers lie. Call us.", ["trafficker"]),
        ("en", "Modern SLAVERY exists.", ["slavery", "slave"]),
        ("es", "¿Víctima de trata de personas?", ["trata de personas"]),
        ("es", "Trafico de personas", ["trafico de personas"]),
        ("fr", "Traite d’êtres humains", ["traite d'êtres humains"]),
        ("pt", "Escravidão moderna", ["escravidão"]),
        ("zh-Hans", "反对人口贩卖", ["人口贩卖"]),
        ("ko", "인신매매 신고", ["인신매매"]),
        ("vi", "Chống buôn người", ["buôn người"]),
        ("ar", "الاتجار بالبشر جريمة", ["اتجار", "الاتجار بالبشر"]),
        ("ru", "Торговля людьми", ["торговля людьми"]),
        ("ht", "Trafik moun", ["trafik moun"]),
        ("tl", "Pang-aalipin", ["alipin"]),
    ],
)
def test_forbidden_words_are_refused(copy: Path, lang: str, text: str, words: list[str]) -> None:
    edit_po(copy, lang, _set("slide.help-safe.message", text))
    quoted = ", ".join(f'"{w}"' for w in words)
    assert problems_of(copy) == [
        f'{copy}/po/{lang}.po: msgid "slide.help-safe.message": msgstr contains {quoted}, which '
        "could alert someone watching the screen (see FORBIDDEN_WORDS in content/manifest.py)"
    ]


def test_forbidden_words_in_an_unreferenced_msgstr_are_refused_too(copy: Path) -> None:
    def add(catalog: Catalog) -> None:
        catalog.add("spare", "Slavery is not over")

    edit_po(copy, "en", add)
    (problem,) = problems_of(copy)
    assert problem.startswith(f'{copy}/po/en.po: msgid "spare": msgstr contains "slavery"')


@pytest.mark.parametrize(
    "text",
    [
        "Se trata de su salud.",  # "trata" alone: "it is about"
        "اتصل بالرقم 1-888-373-7888",  # "الرقم" (the number) holds "الرق"
        "Есть вопросы о работе?",  # "работе" (work) holds "раб"
        "Le traitement des données",  # "traitement" holds "traite"
        "Traffic on the highway",
    ],
)
def test_everyday_words_are_not_refused(text: str) -> None:
    assert forbidden_words_in(text) == []


def test_forbidden_words_cover_every_language() -> None:
    assert set(FORBIDDEN_WORDS) == set(LANGUAGES)
    assert {"trafficking", "trafficker", "slavery"} <= set(FORBIDDEN_WORDS["en"])
