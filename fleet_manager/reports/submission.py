"""What a reporter sends, read from the landing page's form (pure).

Every field is optional. A form that does not fit (a field too long, a value that is not one of
the choices, a field given twice) is refused with the field named; nothing is cut short
silently. The plaintext that gets sealed is :class:`ReportContent` as JSON: it never leaves
this process unencrypted and is never logged.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal, get_args

Share = Literal["yes", "no", "unsure", "unanswered"]
SHARES: tuple[Share, ...] = get_args(Share)
EntryKind = Literal["report", "addition"]

TEXT_LIMIT = 4000
SHORT_LIMIT = 200
# Field name → longest value accepted, in characters.
REPORT_FIELDS: dict[str, int] = {
    "what": TEXT_LIMIT,
    "contact_method": SHORT_LIMIT,
    "contact_time": SHORT_LIMIT,
    "do_not_contact": 8,
    "share": 16,
    "l": 16,
}
ADDITION_FIELDS: dict[str, int] = {"code": 32, "passphrase": 40, "text": TEXT_LIMIT, "l": 16}


@dataclass(frozen=True)
class ReportContent:
    """One entry of a report, as sealed: the first report or an addition to it."""

    kind: EntryKind
    language: str
    submitted_at: float
    what: str = ""
    contact_method: str = ""
    contact_time: str = ""
    do_not_contact: bool = False
    share_with_law_enforcement: Share = "unanswered"

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReportContent:
        """The entry, or ValueError: unknown keys are ignored (a newer landing page may add
        some), missing or mistyped ones are refused."""
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"a report entry is not JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ValueError("a report entry must be a JSON object")
        kinds: dict[str, type | tuple[type, ...]] = {
            "kind": str,
            "language": str,
            "submitted_at": (int, float),
            "what": str,
            "contact_method": str,
            "contact_time": str,
            "do_not_contact": bool,
            "share_with_law_enforcement": str,
        }
        for name in ("kind", "language", "submitted_at"):
            if name not in raw:
                raise ValueError(f"a report entry has no {name!r}")
        for name, wanted in kinds.items():
            if name in raw and not isinstance(raw[name], wanted):
                raise ValueError(f"a report entry's {name!r} has the wrong type")
        if raw["kind"] not in ("report", "addition"):
            raise ValueError("a report entry's kind must be report or addition")
        if raw.get("share_with_law_enforcement", "unanswered") not in SHARES:
            raise ValueError("a report entry's share_with_law_enforcement is not a known answer")
        known = {k: v for k, v in raw.items() if k in kinds}
        return cls(**known)


@dataclass(frozen=True)
class AdditionRequest:
    code: str
    passphrase: str
    text: str


@dataclass(frozen=True)
class FormProblem:
    """Why a form was refused: ``reason`` picks the message shown, ``field`` names the field."""

    reason: Literal["too_long", "bad_form", "empty"]
    field: str | None = None
    limit: int | None = None

    def describe(self) -> str:
        if self.reason == "too_long":
            return f"field {self.field!r} is longer than {self.limit} characters"
        if self.reason == "empty":
            return "nothing to add"
        return f"field {self.field!r} cannot be read" if self.field else "the form cannot be read"


FormData = Mapping[str, Sequence[str]]


def _clean(text: str) -> str:
    """Line breaks kept as \\n; other control characters (never typed by a person) dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs")
    ).strip()


def _fields(form: FormData, limits: Mapping[str, int]) -> dict[str, str] | FormProblem:
    values: dict[str, str] = {}
    for name, items in form.items():
        if name not in limits:
            continue  # unknown fields are ignored, like unknown payload fields elsewhere
        if len(items) != 1:
            return FormProblem("bad_form", name)
        value = _clean(items[0])
        if len(value) > limits[name]:
            return FormProblem("too_long", name, limits[name])
        values[name] = value
    return values


def parse_report(form: FormData, language: str, now: float) -> ReportContent | FormProblem:
    """The report a form describes. An empty report is accepted: it still says someone at
    this place asked for help."""
    values = _fields(form, REPORT_FIELDS)
    if isinstance(values, FormProblem):
        return values
    share = values.get("share", "unanswered") or "unanswered"
    if share not in SHARES:
        return FormProblem("bad_form", "share")
    do_not_contact = values.get("do_not_contact", "")
    if do_not_contact not in ("", "on", "yes", "1"):
        return FormProblem("bad_form", "do_not_contact")
    return ReportContent(
        kind="report",
        language=language,
        submitted_at=now,
        what=values.get("what", ""),
        contact_method=values.get("contact_method", ""),
        contact_time=values.get("contact_time", ""),
        do_not_contact=bool(do_not_contact),
        share_with_law_enforcement=share,
    )


def parse_addition(form: FormData) -> AdditionRequest | FormProblem:
    values = _fields(form, ADDITION_FIELDS)
    if isinstance(values, FormProblem):
        return values
    text = values.get("text", "")
    if not text:
        return FormProblem("empty", "text")
    return AdditionRequest(values.get("code", ""), values.get("passphrase", ""), text)


def addition_content(text: str, language: str, now: float) -> ReportContent:
    return ReportContent(kind="addition", language=language, submitted_at=now, what=text)
