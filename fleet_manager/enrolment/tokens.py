"""Enrolment tokens: single-use, short-lived secrets that let one new kiosk claim one location.

A token is typed by facility staff on a kiosk without a keyboard worth the name, or scanned
from a QR code, so it is 20 characters of Crockford base32 in groups of four (100 random
bits): no 0/O or 1/I/L confusion, case and dashes ignored. Only its SHA-256 is stored; with
100 bits of entropy a plain hash is enough (nothing to brute-force), and a copy of the
database cannot enrol a kiosk.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

# Crockford's base32 alphabet: digits and letters without I, L, O, U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READS_AS = {"O": "0", "I": "1", "L": "1"}
TOKEN_CHARS = 20
GROUP = 4
DEFAULT_TTL_S = 24 * 3600.0
MAX_TTL_S = 30 * 24 * 3600.0

TokenState = Literal["valid", "unknown", "expired", "used"]


def new_token() -> str:
    """A fresh token as staff see it, e.g. ``7KQ2-M9XD-...``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(TOKEN_CHARS))
    return "-".join(raw[i : i + GROUP] for i in range(0, TOKEN_CHARS, GROUP))


def normalise(text: str) -> str | None:
    """The canonical form of a typed token, or None if it cannot be one (wrong length/letters)."""
    cleaned = "".join(ch for ch in text.upper() if ch not in "- \t")
    cleaned = "".join(_READS_AS.get(ch, ch) for ch in cleaned)
    if len(cleaned) != TOKEN_CHARS or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def token_hash(text: str) -> str | None:
    """What the database stores and looks up: SHA-256 of the canonical token."""
    canonical = normalise(text)
    if canonical is None:
        return None
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class TokenFacts:
    location_id: str
    expires_at: float
    used_at: float | None


def token_state(facts: TokenFacts | None, now: float) -> TokenState:
    """Whether a looked-up token may be used now. A used token stays used, even if expired."""
    if facts is None:
        return "unknown"
    if facts.used_at is not None:
        return "used"
    if now >= facts.expires_at:
        return "expired"
    return "valid"
