"""``beacon content check``: everything that must hold before a bundle goes to kiosks.

1. The manifest and every catalog are valid (:func:`content.bundle.load_bundle`).
2. Every help slide's QR target, in every language, is https on an allowed origin, and its QR
   code (segno PNG) decodes back to exactly that URL (zxing-cpp).
3. Every character a language puts on screen (slides, confirmation, hotline lines, and the
   language's own name on the chips row) has a glyph in that language's font; right-to-left
   text is shaped (Arabic presentation forms) and its shaped form has glyphs too.

Each problem is one line naming the file, and where it applies the language and msgid.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

from content.bundle import CALL_MSGID, TEXT_MSGID, BundleError, ContentBundle, load_bundle
from content.fonts import (
    FontMissingError,
    display_text,
    font_face_index,
    font_path,
    has_arabic_letters,
    has_presentation_forms,
    missing_glyphs,
)
from content.languages import LANGUAGES
from content.qr import TOKEN_PATTERN, check_origin, landing_url, qr_png

DEFAULT_ALLOWED_ORIGINS = ("help.example.org",)
SAMPLE_TOKEN = "Xq3v9LmT2pR8sW4k"
LANGUAGES_SOURCE = "content/languages.py"


def _chars(chars: set[str]) -> str:
    return ", ".join(f'"{c}" U+{ord(c):04X}' for c in sorted(chars))


def screen_strings(bundle: ContentBundle, lang: str) -> Iterator[tuple[str, str]]:
    """(msgid, text as shown) for every string the bundle can put on screen in ``lang``."""
    seen: set[str] = set()

    def once(msgid: str) -> Iterator[tuple[str, str]]:
        if msgid not in seen:
            seen.add(msgid)
            yield msgid, bundle.text(lang, msgid)

    yield from once(bundle.confirmation.message)
    for slide in bundle.slides:
        for msgid in (slide.title, slide.body, slide.message):
            if msgid is not None:
                yield from once(msgid)
    for hotline in bundle.hotlines.values():
        yield from once(hotline.name)
        if hotline.call_note is not None:
            yield from once(hotline.call_note)
        lines = bundle.hotline_lines(lang, hotline.id)
        yield CALL_MSGID, lines[1]
        if len(lines) > 2:
            yield TEXT_MSGID, lines[2]


def _text_problems(text: str, lang: str, font: Path, where: str) -> list[str]:
    problems = []
    face = font_face_index(lang)
    missing = missing_glyphs(text, font, face_index=face)
    if missing:
        problems.append(f"{where}: characters missing from {font.name}: {_chars(missing)}")
    if unicodedata.normalize("NFC", text) != text:
        problems.append(
            f"{where}: not in Unicode NFC form (accents may render apart); normalise the text"
        )
    if LANGUAGES[lang].direction == "rtl":
        shown = display_text(text, lang)
        if not shown.strip():
            problems.append(f"{where}: display_text() gives empty text")
        elif has_arabic_letters(text) and not has_presentation_forms(shown):
            problems.append(f"{where}: display_text() did not shape the Arabic letters")
        else:
            after = missing_glyphs(shown, font, face_index=face) - missing
            if after:
                problems.append(
                    f"{where}: after shaping, characters missing from {font.name}: {_chars(after)}"
                )
    return problems


def glyph_problems(bundle: ContentBundle) -> list[str]:
    """Missing glyphs, unnormalised text and unshaped right-to-left text, per language."""
    problems: list[str] = []
    for lang in bundle.languages:
        po = bundle.root / "po" / f"{lang}.po"
        try:
            font = font_path(lang)
        except FontMissingError as exc:
            problems.append(f"{po}: language {lang}: {exc}")
            continue
        native = LANGUAGES[lang].native_name
        problems += _text_problems(
            native, lang, font, f'{LANGUAGES_SOURCE}: language {lang}: native name "{native}"'
        )
        for msgid, text in screen_strings(bundle, lang):
            problems += _text_problems(text, lang, font, f'{po}: language {lang}: msgid "{msgid}"')
    return problems


def _decoded_texts(url: str) -> list[str]:
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(qr_png(url, scale=4)))
    return [result.text for result in zxingcpp.read_barcodes(image)]


def qr_problems(
    bundle: ContentBundle, allowed_origins: Sequence[str], sample_token: str
) -> list[str]:
    """Every help slide's QR target in every language: allowed, and scannable back to itself."""
    source = bundle.root / "manifest.toml"
    try:
        import zxingcpp  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError as exc:
        return [
            f"{source}: cannot check that the QR codes scan: Python package {exc.name} is "
            "missing (install beacon[dev], which has zxing-cpp and pillow)"
        ]
    # The origin and location token come from each kiosk's device profile, not the bundle: the
    # check builds the targets on every allowed origin with a sample token.
    if not allowed_origins:
        return ["no allowed origin to build QR targets with"]
    if TOKEN_PATTERN.fullmatch(sample_token) is None:
        return [f"sample token {sample_token!r}: must be 16-64 characters of A-Z, a-z, 0-9, _ or -"]

    problems: list[str] = []
    help_slides = [(i, s) for i, s in enumerate(bundle.slides) if s.kind == "help"]
    for origin in allowed_origins:
        for lang in bundle.languages:
            try:
                url = landing_url(origin, sample_token, lang)
                check_origin(url, allowed_origins)
            except ValueError as exc:  # QrTargetError included
                problems.append(f"allowed origin {origin!r}: {exc}")
                break  # the same origin fails in every language
            decoded = _decoded_texts(url)
            if decoded != [url]:
                for i, slide in help_slides:
                    problems.append(
                        f"{source}: slides[{i}] ({slide.id}), language {lang}: QR code of {url} "
                        f"decodes to {decoded!r}"
                    )
    return problems


def check_bundle(
    path: Path,
    *,
    allowed_origins: Sequence[str] = DEFAULT_ALLOWED_ORIGINS,
    sample_token: str = SAMPLE_TOKEN,
) -> list[str]:
    """Every problem of the bundle at ``path``, one line each; an empty list means good."""
    if isinstance(allowed_origins, str):
        raise TypeError("allowed_origins must be a sequence of origins, not one string")
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        return exc.problems
    return qr_problems(bundle, allowed_origins, sample_token) + glyph_problems(bundle)
