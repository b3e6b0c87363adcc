"""Load a content bundle (``manifest.toml`` + ``po/{lang}.po``) and serve its text to the UI.

    bundle = load_bundle(Path("content/sample"))   # BundleError(.problems) if anything is wrong
    for slide in bundle.slides: ...                 # neutral: title/body; help: message/hotline
    bundle.text("es", slide.title)                  # the translated string
    bundle.hotline_lines("es", slide.hotline)       # [name, "Llame al 1-888-…", "Envíe … 233733"]

Every catalog is validated when the bundle loads, so ``text`` never falls back to a msgid.
Strings are logical text: pass them through ``content.fonts.display_text`` before handing them
to a renderer that does not shape (Kivy's default text provider).
"""

from __future__ import annotations

import io
import re
import tomllib
from dataclasses import dataclass, field
from gettext import GNUTranslations
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

from content.languages import Language, get_language
from content.manifest import (
    Confirmation,
    HelpControl,
    Hotline,
    Manifest,
    QuickHide,
    Rotation,
    Slide,
    forbidden_words_in,
    parse_manifest,
)

__all__ = [
    "CALL_MSGID",
    "DOMAIN",
    "TEXT_MSGID",
    "BundleError",
    "Confirmation",
    "ContentBundle",
    "HelpControl",
    "Hotline",
    "QuickHide",
    "Rotation",
    "Slide",
    "load_bundle",
]

DOMAIN = "beacon"
NUMBER = "{number}"
# The hotline line labels are msgids of every catalog; each msgstr keeps "{number}" once.
CALL_MSGID = "Call {number}"
TEXT_MSGID = "Text {number}"
LABEL_MSGIDS = (CALL_MSGID, TEXT_MSGID)


class BundleError(ValueError):
    """A bundle that cannot be shown; ``problems`` lists every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class ContentBundle:
    root: Path
    version: str
    default_language: str
    languages: tuple[str, ...]
    rotation: Rotation
    help_control: HelpControl
    confirmation: Confirmation
    quick_hide: QuickHide
    hotlines: dict[str, Hotline]
    slides: tuple[Slide, ...]
    _catalogs: dict[str, Catalog] = field(default_factory=dict, repr=False, compare=False)
    _compiled: dict[str, GNUTranslations] = field(default_factory=dict, repr=False, compare=False)

    def catalog_path(self, lang: str) -> Path:
        return self.root / "po" / f"{lang}.po"

    def _translations(self, lang: str) -> GNUTranslations:
        compiled = self._compiled.get(lang)
        if compiled is None:
            buf = io.BytesIO()
            write_mo(buf, self._catalogs[lang], use_fuzzy=False)
            buf.seek(0)
            compiled = GNUTranslations(buf)
            self._compiled[lang] = compiled
        return compiled

    def text(self, lang: str, msgid: str) -> str:
        """The ``lang`` translation of ``msgid`` (``KeyError`` if either is unknown)."""
        if lang not in self.languages:
            raise KeyError(
                f"language {lang!r} is not in bundle {self.root} ({', '.join(self.languages)})"
            )
        if msgid not in self._catalogs[lang]:
            raise KeyError(f"{self.catalog_path(lang)}: no msgid {msgid!r}")
        return self._translations(lang).gettext(msgid)

    def neutral_slides(self) -> tuple[Slide, ...]:
        return tuple(s for s in self.slides if s.kind == "neutral")

    def help_slides(self) -> tuple[Slide, ...]:
        return tuple(s for s in self.slides if s.kind == "help")

    def hotline_lines(self, lang: str, hotline_id: str) -> list[str]:
        """The hotline's name, "Call {call}", and "Text {text}" if it serves ``lang`` by text."""
        hotline = self.hotlines[hotline_id]
        lines = [
            self.text(lang, hotline.name),
            self.text(lang, CALL_MSGID).replace(NUMBER, hotline.call),
        ]
        if hotline.text is not None and lang in hotline.text_languages:
            lines.append(self.text(lang, TEXT_MSGID).replace(NUMBER, hotline.text))
        return lines

    def language(self, lang: str) -> Language:
        """Code, native name, direction and font family of one of the bundle's languages."""
        if lang not in self.languages:
            raise KeyError(
                f"language {lang!r} is not in bundle {self.root} ({', '.join(self.languages)})"
            )
        return get_language(lang)


_HEADER = re.compile(rb'^msgid ""[ \t]*\r?\nmsgstr\b', re.MULTILINE)


def _read_catalog(po: Path, lang: str) -> tuple[Catalog | None, list[str]]:
    try:
        raw = po.read_bytes()
    except FileNotFoundError:
        return None, [f"{po}: file not found (every language in languages needs its catalog)"]
    except OSError as exc:
        return None, [f"{po}: cannot read: {exc.strerror}"]
    try:
        catalog = read_po(io.BytesIO(raw), domain=DOMAIN, ignore_obsolete=True, abort_invalid=True)
    except (PoFileError, UnicodeDecodeError, ValueError) as exc:
        return None, [f"{po}: not a valid gettext catalog: {exc}"]
    expected = lang.replace("-", "_")
    if _HEADER.search(raw) is None:
        return catalog, [f'{po}: header: missing (the msgid "" entry with Language, Plural-Forms)']
    problems = []
    if catalog.locale_identifier is None:
        problems.append(f"{po}: header: Language is missing (expected {expected})")
    elif catalog.locale_identifier != expected:
        problems.append(
            f"{po}: header: Language is {catalog.locale_identifier}, expected {expected}"
        )
    if catalog.fuzzy:
        problems.append(f"{po}: header: marked fuzzy (review it, then remove the fuzzy flag)")
    return catalog, problems


def _msgstrs(string: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if string is None:
        return []
    if isinstance(string, str):
        return [string]
    return [s for s in string if s]


def _catalog_problems(po: Path, catalog: Catalog, manifest: Manifest) -> list[str]:
    problems: list[str] = []
    for message in catalog:
        if not message.id:
            continue  # the header
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if message.fuzzy:
            problems.append(
                f'{po}: msgid "{msgid}": marked fuzzy (review it, then remove the fuzzy flag)'
            )
        for string in _msgstrs(message.string):
            words = forbidden_words_in(string)
            if words:
                quoted = ", ".join(f'"{w}"' for w in words)
                problems.append(
                    f'{po}: msgid "{msgid}": msgstr contains {quoted}, which could alert someone '
                    "watching the screen (see FORBIDDEN_WORDS in content/manifest.py)"
                )

    uses: dict[str, list[str]] = {}
    for msgid, where in manifest.msgid_references():
        uses.setdefault(msgid, []).append(where)
    for msgid in LABEL_MSGIDS:
        uses.setdefault(msgid, []).append("hotline lines")
    for msgid, wheres in uses.items():
        used_by = ", ".join(wheres)
        found = catalog.get(msgid)
        if found is None:
            problems.append(f'{po}: msgid "{msgid}": missing (used by {used_by})')
            continue
        strings = _msgstrs(found.string)
        if not strings or not all(s.strip() for s in strings):
            problems.append(
                f'{po}: msgid "{msgid}": not translated (empty msgstr; used by {used_by})'
            )
            continue
        if msgid in LABEL_MSGIDS and any(s.count(NUMBER) != 1 for s in strings):
            problems.append(f'{po}: msgid "{msgid}": msgstr must contain {NUMBER} exactly once')
    return problems


def load_bundle(path: Path) -> ContentBundle:
    """Read and validate a bundle folder; :class:`BundleError` lists every problem found."""
    root = Path(path)
    source = root / "manifest.toml"
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError([f"{source}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError([f"{source}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise BundleError([f"{source}: not valid TOML: {exc}"]) from None

    manifest, problems = parse_manifest(data, str(source))
    if manifest is None:
        raise BundleError(problems)

    catalogs: dict[str, Catalog] = {}
    for lang in manifest.languages:
        po = root / "po" / f"{lang}.po"
        catalog, read_problems = _read_catalog(po, lang)
        problems += read_problems
        if catalog is not None:
            problems += _catalog_problems(po, catalog, manifest)
            catalogs[lang] = catalog
    if problems:
        raise BundleError(problems)

    return ContentBundle(
        root=root,
        version=manifest.version,
        default_language=manifest.default_language,
        languages=manifest.languages,
        rotation=manifest.rotation,
        help_control=manifest.help_control,
        confirmation=manifest.confirmation,
        quick_hide=manifest.quick_hide,
        hotlines=manifest.hotlines,
        slides=manifest.slides,
        _catalogs=catalogs,
    )
