"""A content bundle's ``manifest.toml``: schema, cross-checks, and the words never shown.

Every problem names the file and the field path (0-based indices), for example
``content/sample/manifest.toml: slides[3].kind: must be "neutral" or "help"``.
See ``content/README.md`` for the format.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from content.languages import LANGUAGES

# -- words that must never appear on screen ------------------------------------------------
#
# A kiosk stands in a waiting room where the person who controls a victim may be standing
# beside them, reading the same screen. A slide that names the crime ("trafficking",
# "slavery") tells that person what the victim is looking at and can put the victim in
# danger; it also keeps people who do not see themselves in those words from reaching out.
# Help slides therefore read like any general health and safety resource, and every string a
# bundle can put on screen (every msgstr of every catalog) is refused if it contains one of
# these words or phrases, in any of the bundle languages.
#
# Matching: case-insensitive (casefold), Unicode NFC, typographic apostrophes read as "'",
# by substring, so "trafficking" also catches "traffickings" and "slave" catches "enslaved".
# Entries are whole words or phrases rather than short stems where a stem is also an everyday
# word: Spanish "trata" alone also means "it is about", Arabic "الرق" is inside "الرقم" (the
# number), Russian "раб" is inside "работа" (work), French "traite" is inside "traitement".
# Accent-free spellings people type by mistake are listed explicitly. Extend the lists here.
FORBIDDEN_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("trafficking", "trafficker", "trafficked", "slavery", "slave"),
    "es": (
        "trata de personas",
        "trata de seres humanos",
        "trata de blancas",
        "tráfico de personas",
        "trafico de personas",
        "tráfico humano",
        "trafico humano",
        "traficante",
        "esclavitud",
        "esclavo",
        "esclava",
    ),
    "zh-Hans": ("人口贩卖", "贩卖人口", "人口贩运", "贩运人口", "拐卖", "人贩子", "奴役", "奴隶"),
    "vi": ("buôn người", "buôn bán người", "mua bán người", "nô lệ"),
    "tl": ("pangangalakal ng tao", "pagbebenta ng tao", "alipin"),
    "ko": ("인신매매", "노예"),
    "ar": (
        "اتجار",
        "إتجار",
        "الاتجار بالبشر",
        "تهريب البشر",
        "تجار البشر",
        "عبودية",
        "العبودية",
        "استعباد",
    ),
    "ru": (
        "торговля людьми",
        "торговли людьми",
        "торговлю людьми",
        "торговлей людьми",
        "торговец людьми",
        "торговцы людьми",
        "торговцев людьми",
        "работорговля",
        "рабств",
    ),
    "ht": ("trafik moun", "trafikan", "esklavaj", "esklav"),
    "fr": (
        "traite des êtres humains",
        "traite des etres humains",
        "traite des personnes",
        "traite d'êtres humains",
        "traite humaine",
        "trafic d'êtres humains",
        "trafic de personnes",
        "trafiquant",
        "esclavage",
        "esclave",
    ),
    "pt": (
        "tráfico de pessoas",
        "trafico de pessoas",
        "tráfico humano",
        "trafico humano",
        "tráfico de seres humanos",
        "traficante",
        "escravidão",
        "escravidao",
        "escravatura",
        "escravo",
        "escrava",
    ),
}


def _fold(text: str) -> str:
    return (
        unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u02bc", "'").casefold()
    )


_FOLDED_FORBIDDEN: tuple[tuple[str, str], ...] = tuple(
    dict.fromkeys(
        (_fold(word), word) for words in FORBIDDEN_WORDS.values() for word in words
    ).keys()
)


def forbidden_words_in(text: str) -> list[str]:
    """The entries of :data:`FORBIDDEN_WORDS` (any language) that occur in ``text``."""
    folded = _fold(text)
    return [word for key, word in _FOLDED_FORBIDDEN if key in folded]


# -- the parsed manifest -------------------------------------------------------------------

SlideKind = Literal["neutral", "help"]
HelpMode = Literal["hold", "triple_tap"]
QuickHideGesture = Literal["swipe_down", "two_finger_tap"]


@dataclass(frozen=True)
class Rotation:
    slide_seconds: float
    idle_seconds: float


@dataclass(frozen=True)
class HelpControl:
    mode: HelpMode
    hold_seconds: float
    tap_window_seconds: float


@dataclass(frozen=True)
class Confirmation:
    message: str  # msgid
    seconds: float


@dataclass(frozen=True)
class QuickHide:
    gesture: QuickHideGesture


@dataclass(frozen=True)
class Hotline:
    id: str
    name: str  # msgid
    call: str
    text: str | None
    text_languages: tuple[str, ...]
    call_note: str | None  # msgid


@dataclass(frozen=True)
class Slide:
    id: str
    kind: SlideKind
    title: str | None = None  # msgid, neutral slides
    body: str | None = None  # msgid, neutral slides
    message: str | None = None  # msgid, help slides
    hotline: str | None = None  # hotline id, help slides


@dataclass(frozen=True)
class Manifest:
    version: str
    default_language: str
    languages: tuple[str, ...]
    rotation: Rotation
    help_control: HelpControl
    confirmation: Confirmation
    quick_hide: QuickHide
    hotlines: dict[str, Hotline]
    slides: tuple[Slide, ...]
    hotline_fields: dict[str, int]  # hotline id -> its index in [[hotlines]], for messages

    def msgid_references(self) -> Iterator[tuple[str, str]]:
        """(msgid, field path) for every msgid the manifest puts on screen."""
        yield self.confirmation.message, "confirmation.message"
        for hotline in self.hotlines.values():
            i = self.hotline_fields[hotline.id]
            yield hotline.name, f"hotlines[{i}].name"
            if hotline.call_note is not None:
                yield hotline.call_note, f"hotlines[{i}].call_note"
        for i, slide in enumerate(self.slides):
            for key in ("title", "body", "message"):
                value = getattr(slide, key)
                if value is not None:
                    yield value, f"slides[{i}].{key}"


# -- schema (pydantic) ---------------------------------------------------------------------

_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def _check_id(value: str) -> str:
    if not value or not set(value) <= _ID_CHARS or value.startswith("-"):
        raise ValueError("must be lower-case letters, digits and '-'")
    return value


def _check_msgid(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a non-empty msgid")
    return value


Id = Annotated[str, AfterValidator(_check_id)]
MsgId = Annotated[str, AfterValidator(_check_msgid)]


_PHONE_CHARS = set("0123456789-+ ")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Rotation(_Model):
    slide_seconds: float = Field(gt=0, allow_inf_nan=False)
    idle_seconds: float = Field(gt=0, allow_inf_nan=False)


class _HelpControl(_Model):
    mode: HelpMode
    # At least a second: the control must need deliberate intent, never a brush or a lean.
    hold_seconds: float = Field(default=2.0, ge=1.0, le=10.0, allow_inf_nan=False)
    tap_window_seconds: float = Field(default=1.5, gt=0, le=5.0, allow_inf_nan=False)


class _Confirmation(_Model):
    message: MsgId
    seconds: float = Field(gt=0, allow_inf_nan=False)


class _QuickHide(_Model):
    gesture: QuickHideGesture


class _Hotline(_Model):
    id: Id
    name: MsgId
    call: str
    text: str | None = None
    text_languages: list[str] = Field(default_factory=list)
    call_note: MsgId | None = None

    @field_validator("call")
    @classmethod
    def _call(cls, value: str) -> str:
        if not set(value) <= _PHONE_CHARS or sum(c.isdigit() for c in value) < 3:
            raise ValueError("must be a phone number of digits, '-', '+' and spaces")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and (not value.isascii() or not value.isdigit()):
            raise ValueError("must be a number of digits (an SMS short code or number)")
        return value


class _Slide(_Model):
    id: Id
    kind: SlideKind
    title: MsgId | None = None
    body: MsgId | None = None
    message: MsgId | None = None
    hotline: str | None = None


class _Manifest(_Model):
    version: str
    default_language: str
    languages: list[str] = Field(min_length=1)
    rotation: _Rotation
    help_control: _HelpControl
    confirmation: _Confirmation
    quick_hide: _QuickHide
    hotlines: list[_Hotline] = Field(min_length=1)
    slides: list[_Slide]

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not value or not all(c.isascii() and (c.isalnum() or c in ".-+") for c in value):
            raise ValueError('must be a version such as "2026.11.1"')
        return value


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _describe(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return "must be " + str(ctx["expected"]).replace("'", '"')
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind in ("float_type", "float_parsing", "int_type"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "string_type":
        return "must be a string (in quotes)"
    if kind == "list_type":
        return "must be a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a table"
    if kind == "too_short":
        n = ctx["min_length"]
        return f"must have at least {n} {'entry' if n == 1 else 'entries'}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _language_problems(codes: list[str], field: str) -> list[str]:
    problems = []
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code not in LANGUAGES:
            problems.append(
                f"{field}[{i}]: unknown language {code!r} (known: {', '.join(LANGUAGES)})"
            )
        elif code in seen:
            problems.append(f"{field}[{i}]: {code!r} is listed twice")
        seen.add(code)
    return problems


def _slide_problems(model: _Manifest) -> list[str]:
    problems: list[str] = []
    hotline_ids = {h.id for h in model.hotlines}
    seen: dict[str, int] = {}
    for i, slide in enumerate(model.slides):
        if slide.id in seen:
            problems.append(
                f"slides[{i}].id: {slide.id!r} is already used by slides[{seen[slide.id]}]"
            )
        seen.setdefault(slide.id, i)
        required = ("title", "body") if slide.kind == "neutral" else ("message", "hotline")
        other = ("message", "hotline") if slide.kind == "neutral" else ("title", "body")
        for key in required:
            if getattr(slide, key) is None:
                problems.append(f"slides[{i}].{key}: is required on a {slide.kind} slide")
        for key in other:
            if getattr(slide, key) is not None:
                problems.append(f"slides[{i}].{key}: not allowed on a {slide.kind} slide")
        if slide.hotline is not None and slide.hotline not in hotline_ids:
            problems.append(f"slides[{i}].hotline: no [[hotlines]] entry has id {slide.hotline!r}")

    kinds = [s.kind for s in model.slides]
    neutral = kinds.count("neutral")
    if neutral == 0:
        problems.append("slides: at least one neutral slide is required")
    if "help" not in kinds:
        problems.append("slides: at least one help slide is required")
    # Help slides are interleaved with neutral ones so that the screen mostly shows ordinary
    # health content; with a single neutral slide there is no way to separate them.
    if neutral > 1:
        for i, slide in enumerate(model.slides):
            prev = model.slides[i - 1]
            if slide.kind == "help" and prev.kind == "help":
                wrap = " (the rotation wraps around)" if i == 0 else ""
                problems.append(
                    f"slides[{i}]: help slide {slide.id!r} follows help slide {prev.id!r}{wrap}; "
                    "put a neutral slide between them"
                )
    return problems


def _hotline_problems(model: _Manifest) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, hotline in enumerate(model.hotlines):
        if hotline.id in seen:
            problems.append(
                f"hotlines[{i}].id: {hotline.id!r} is already used by hotlines[{seen[hotline.id]}]"
            )
        seen.setdefault(hotline.id, i)
        problems += _language_problems(hotline.text_languages, f"hotlines[{i}].text_languages")
        if hotline.text is None and hotline.text_languages:
            problems.append(
                f"hotlines[{i}].text_languages: set, but the hotline has no text number"
            )
        if hotline.text is not None and not hotline.text_languages:
            problems.append(
                f"hotlines[{i}].text_languages: is required with text (the languages the text "
                "line serves)"
            )
    return problems


def parse_manifest(data: dict[str, Any], source: str) -> tuple[Manifest | None, list[str]]:
    """Validate a manifest's parsed TOML; ``source`` (the file) prefixes every problem.

    Returns the manifest (``None`` if its shape is wrong) and the list of problems.
    """
    try:
        model = _Manifest.model_validate(data)
    except ValidationError as exc:
        return None, [f"{source}: {_path(e['loc'])}: {_describe(e)}" for e in exc.errors()]

    problems = _language_problems(model.languages, "languages")
    if model.default_language not in model.languages:
        problems.append(
            f"default_language: {model.default_language!r} is not one of languages "
            f"({', '.join(model.languages)})"
        )
    problems += _hotline_problems(model)
    problems += _slide_problems(model)

    hotlines = {
        h.id: Hotline(h.id, h.name, h.call, h.text, tuple(h.text_languages), h.call_note)
        for h in reversed(model.hotlines)  # the first of duplicate ids wins
    }
    manifest = Manifest(
        version=model.version,
        default_language=model.default_language,
        languages=tuple(dict.fromkeys(c for c in model.languages if c in LANGUAGES)),
        rotation=Rotation(model.rotation.slide_seconds, model.rotation.idle_seconds),
        help_control=HelpControl(
            model.help_control.mode,
            model.help_control.hold_seconds,
            model.help_control.tap_window_seconds,
        ),
        confirmation=Confirmation(model.confirmation.message, model.confirmation.seconds),
        quick_hide=QuickHide(model.quick_hide.gesture),
        hotlines={k: hotlines[k] for k in dict.fromkeys(h.id for h in model.hotlines)},
        slides=tuple(
            Slide(s.id, s.kind, s.title, s.body, s.message, s.hotline) for s in model.slides
        ),
        hotline_fields={h.id: i for i, h in reversed(list(enumerate(model.hotlines)))},
    )
    return manifest, [f"{source}: {p}" for p in problems]
