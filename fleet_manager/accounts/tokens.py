"""API tokens for automation: ``bct_`` + 256 random bits, shown once, stored as SHA-256.

A token carries its own grants (checked to be within its creator's when it is made, see the
store), so it is scoped like a user. Only the hash is stored: a copy of the database is not a
credential. The first characters (:data:`DISPLAY_LENGTH`) are kept in clear so people can
tell tokens apart in lists and revoke the right one; they are not enough to use one.

Recording ``last_used_at`` on every request would write on every API call; it is written at
most once per :data:`LAST_USED_RESOLUTION_S` (:func:`should_record_use`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

PREFIX = "bct_"
DISPLAY_LENGTH = len(PREFIX) + 8
LAST_USED_RESOLUTION_S = 60.0
_SHAPE = re.compile(r"bct_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class IssuedToken:
    secret: str  # shown once to the person who made it, never stored
    token_hash: str
    display_prefix: str


def new_token_id() -> str:
    return "tok-" + secrets.token_hex(6)


def issue_token() -> IssuedToken:
    secret = PREFIX + secrets.token_urlsafe(32)
    return IssuedToken(secret, hash_token(secret), secret[:DISPLAY_LENGTH])


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(secret: str) -> bool:
    """Whether ``secret`` has the shape of one of our tokens (cheap check before any lookup)."""
    return _SHAPE.fullmatch(secret) is not None


def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``Authorization: Bearer bct_…`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not looks_like_token(value):
        return None
    return value


def token_usable(revoked_at: float | None, expires_at: float | None, now: float) -> bool:
    return revoked_at is None and (expires_at is None or now < expires_at)


def should_record_use(last_used_at: float | None, now: float) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION_S
