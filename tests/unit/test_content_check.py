"""content.check.check_bundle: QR round trips and glyph coverage, reported per file and msgid."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from content import check as check_module
from content.check import check_bundle

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(SAMPLE, root)
    return root


def set_msgstr(root: Path, lang: str, msgid: str, value: str) -> None:
    path = root / "po" / f"{lang}.po"
    with path.open("rb") as f:
        catalog = read_po(f)
    message = catalog.get(msgid)
    assert message is not None
    message.string = value
    with path.open("wb") as f:
        write_po(f, catalog, width=100)


def test_sample_is_good() -> None:
    assert check_bundle(SAMPLE) == []
    assert check_bundle(SAMPLE, allowed_origins=("help.example.org", "localhost:8443")) == []


def test_load_problems_are_returned(copy: Path) -> None:
    (copy / "po" / "vi.po").unlink()
    assert check_bundle(copy) == [
        f"{copy}/po/vi.po: file not found (every language in languages needs its catalog)"
    ]


def test_thai_in_a_latin_catalog_is_reported(copy: Path) -> None:
    set_msgstr(copy, "en", "slide.sleep.title", "Sleep helps ก")
    assert check_bundle(copy) == [
        f'{copy}/po/en.po: language en: msgid "slide.sleep.title": characters missing from '
        'NotoSans-Regular.ttf: "ก" U+0E01'
    ]


def test_latin_letters_in_arabic_are_reported(copy: Path) -> None:
    set_msgstr(copy, "ar", "Call {number}", "SMS {number}")
    assert check_bundle(copy) == [
        f'{copy}/po/ar.po: language ar: msgid "Call {{number}}": characters missing from '
        'NotoSansArabic-Regular.ttf: "M" U+004D, "S" U+0053'
    ]


def test_emoji_in_chinese_is_reported(copy: Path) -> None:
    set_msgstr(copy, "zh-Hans", "confirmation.message", "谢谢 😀")
    assert check_bundle(copy) == [
        f'{copy}/po/zh-Hans.po: language zh-Hans: msgid "confirmation.message": characters '
        'missing from NotoSansCJK-Regular.ttc: "😀" U+1F600'
    ]


def test_decomposed_vietnamese_is_reported(copy: Path) -> None:
    set_msgstr(copy, "vi", "slide.sleep.title", "Gia\u0302\u0301c ngu\u0309")  # NFD
    assert check_bundle(copy) == [
        f'{copy}/po/vi.po: language vi: msgid "slide.sleep.title": not in Unicode NFC form '
        "(accents may render apart); normalise the text"
    ]


def test_unshaped_arabic_is_reported(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_module, "display_text", lambda text, lang: text[::-1])
    problems = check_bundle(copy)
    assert len(problems) == 20  # 18 msgids and the hotline line shown in Arabic, native name
    assert problems[0] == (
        'content/languages.py: language ar: native name "العربية": display_text() did not shape '
        "the Arabic letters"
    )


def test_bad_allowed_origin_is_reported(copy: Path) -> None:
    assert check_bundle(copy, allowed_origins=("https://help.example.org",)) == [
        "allowed origin 'https://help.example.org': origin 'https://help.example.org' must be a "
        "lower-case host[:port] without scheme or path"
    ]


def test_bad_sample_token_is_reported(copy: Path) -> None:
    assert check_bundle(copy, sample_token="help") == [
        "sample token 'help': must be 16-64 characters of A-Z, a-z, 0-9, _ or -"
    ]


def test_qr_that_does_not_decode_is_reported(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        check_module, "_decoded_texts", lambda url: [url + "x"] if "l=ru" in url else [url]
    )
    url = "https://help.example.org/r/Xq3v9LmT2pR8sW4k?l=ru"
    assert check_bundle(copy) == [
        f"{copy}/manifest.toml: slides[{i}] ({sid}), language ru: QR code of {url} decodes to "
        f"{[url + 'x']!r}"
        for i, sid in ((1, "help-safe"), (4, "help-support"), (7, "help-talk"))
    ]


def test_missing_zxing_is_a_problem_not_a_pass(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    assert check_bundle(copy) == [
        f"{copy}/manifest.toml: cannot check that the QR codes scan: Python package zxingcpp is "
        "missing (install beacon[dev], which has zxing-cpp and pillow)"
    ]


def test_one_string_is_not_an_allow_list() -> None:
    with pytest.raises(TypeError):
        check_bundle(SAMPLE, allowed_origins="help.example.org")
