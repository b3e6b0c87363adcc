"""Pure rules of the console's registry area: what a form or request may ask, and how a
location's QR state and a revocation's outcome are told to people.

No clock, no database: the routes and pages pass ``now`` and the facts in. The registry's own
rules (ids, names, kinds, durations) stay in :mod:`fleet_manager.store.registry`; this module
adds only what the console needs on top (bounds for an enrolment token's life, reading
free-text form fields, the languages of a sticker sheet).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fleet_manager.store.registry import DAY, TokenRecord, parse_duration, token_status

# An enrolment token made in the console lives at least a minute (time to walk to the kiosk)
# and at most a week: a token is a bearer secret that claims a location, so it should not lie
# around. The CLI allows up to 30 days for boot profiles written long before installation.
MIN_TOKEN_TTL_S = 60.0
MAX_TOKEN_TTL_S = 7 * DAY
DEFAULT_TOKEN_TTL_S = DAY
DEFAULT_QR_GRACE_S = 30 * DAY
MAX_STICKER_LANGUAGES = 12
REASON_MAX = 200

_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class FormProblem(ValueError):
    """A form field or request value that cannot be used; the message is for people."""


def token_ttl_problem(ttl_s: float) -> str | None:
    """Why ``ttl_s`` cannot be an enrolment token's life, or None."""
    if not MIN_TOKEN_TTL_S <= ttl_s <= MAX_TOKEN_TTL_S:
        return (
            f"an enrolment token lives between {MIN_TOKEN_TTL_S:.0f} s and "
            f"{MAX_TOKEN_TTL_S / DAY:.0f} days, not {ttl_s:g} s"
        )
    return None


def parse_token_ttl(text: str) -> float:
    """A form's token life (``"24h"``, ``"30m"``, ``"2d"``, or seconds) within the bounds."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise FormProblem(str(exc)) from None
    problem = token_ttl_problem(seconds)
    if problem is not None:
        raise FormProblem(problem)
    return seconds


def parse_grace(text: str) -> float:
    """A form's grace period for the old QR token (``"30d"``, ``"0"`` …)."""
    try:
        return parse_duration(text or "30d")
    except ValueError as exc:
        raise FormProblem(str(exc)) from None


def optional_text(value: str | None) -> str | None:
    """An optional form field: missing or blank is None, anything else is kept as typed
    (the registry then refuses leading or trailing spaces with its own message)."""
    if value is None or not value.strip():
        return None
    return value


def clean_reason(text: str) -> str:
    """A free-text reason for the audit log: control and format characters (NUL, line breaks,
    bidi overrides) become spaces, runs of spaces one, at most :data:`REASON_MAX` characters."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return " ".join(kept.split())[:REASON_MAX]


def checked(value: str | None) -> bool:
    """An HTML checkbox: present with any value but "" / "0" / "off" / "false" is on."""
    return value is not None and value.strip().lower() not in ("", "0", "off", "false", "no")


def parse_sticker_languages(text: str, known: Sequence[str]) -> tuple[str, ...]:
    """``"en, es,ar"`` → ``("en", "es", "ar")`` (order kept, repeats dropped), each known to the
    content bundle; :class:`FormProblem` names every unusable code."""
    langs = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not langs:
        raise FormProblem("name at least one language, e.g. en")
    if len(langs) > MAX_STICKER_LANGUAGES:
        raise FormProblem(f"at most {MAX_STICKER_LANGUAGES} languages on one sheet")
    malformed = [lang for lang in langs if _LANGUAGE_CODE.fullmatch(lang) is None]
    if malformed:
        raise FormProblem(f"not a language code: {', '.join(repr(m[:20]) for m in malformed)}")
    unknown = [lang for lang in langs if lang not in known]
    if unknown:
        raise FormProblem(
            f"no sticker text in {', '.join(unknown)}; the content has {', '.join(known)}"
        )
    return langs


QrState = Literal["active", "rotating"]


@dataclass(frozen=True)
class QrSummary:
    """A location's QR tokens at a glance: since when the current one is printed, and whether
    old stickers still work (``rotating``: an old token is in its grace period)."""

    state: QrState
    current_since: float | None
    old_tokens_working: int
    old_working_until: float | None  # when the last old token stops resolving


def qr_summary(current_token: str, history: Sequence[TokenRecord], now: float) -> QrSummary:
    """Summarise ``history`` (every token of one location) at ``now``."""
    current = next((r for r in history if r.token == current_token), None)
    grace = [r for r in history if r.token != current_token and token_status(r, now) == "grace"]
    until = max((r.valid_until for r in grace if r.valid_until is not None), default=None)
    return QrSummary(
        state="rotating" if grace else "active",
        current_since=None if current is None else current.created_at,
        old_tokens_working=len(grace),
        old_working_until=until,
    )


@dataclass(frozen=True)
class CutOffFacts:
    """What the broker side of a revocation did (from a ``CutOffReport``)."""

    crl_number: int | None
    acl_changed: bool
    reloaded: bool
    kicked: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class RevocationOutcome:
    complete: bool
    summary: str  # one line for a flash message
    steps: tuple[tuple[str, bool], ...]  # (what, done) in the order they were tried


def revocation_outcome(device_id: str, lifecycle: str, facts: CutOffFacts) -> RevocationOutcome:
    """How a revocation went, for the person who asked: the database side always happened
    (it comes first); each broker step is done or not. A broker that is not running is not a
    failure of the request: the CRL is written, so the kiosk cannot reconnect once it starts."""
    steps = (
        (
            "certificates listed in a new CRL (reconnects refused at TLS)",
            facts.crl_number is not None,
        ),
        ("broker reloaded with the kiosk denied every topic", facts.reloaded),
        ("kiosk disconnected now (session taken over)", facts.kicked),
    )
    complete = not facts.problems
    if complete:
        summary = f"{device_id} is {lifecycle} and disconnected."
    else:
        missing = [what for what, done in steps if not done]
        summary = (
            f"{device_id} is {lifecycle} in the fleet database; not done: "
            f"{'; '.join(missing) or 'see problems'}. Revoke again once the broker runs."
        )
    return RevocationOutcome(complete, summary, steps)
