"""Console sessions: ids, timeouts, CSRF tokens and cookie attributes, as pure rules.

- The session id is 256 random bits, sent only in the cookie; the store keeps its SHA-256,
  so a copy of the database (or a backup) cannot be replayed as a login.
- A session ends after ``idle_timeout_s`` without a request (default 15 minutes, for shared
  screens at clinics) and in any case ``absolute_lifetime_s`` after login (12 hours).
- CSRF: a random token per session, stored with the session, put in every form (and the
  ``X-CSRF-Token`` header for scripts), checked with a constant-time comparison. It is bound
  to the session because it is stored with it: a token from another session is useless, and
  logging in makes a new session and so a new token. A stored token needs no server secret
  shared between fleet manager instances (they already share the database).
- The cookie is ``__Host-``-prefixed (browsers then insist on Secure, Path=/ and no Domain),
  HttpOnly, SameSite=Strict. No Max-Age beyond the absolute lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Any, Literal

DEFAULT_IDLE_TIMEOUT_S = 900.0
DEFAULT_ABSOLUTE_LIFETIME_S = 12 * 3600.0
COOKIE_NAME = "__Host-beacon_session"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Requests that change nothing need no CSRF token; every other method does.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SessionState = Literal["active", "idle", "expired"]


class SessionPolicyError(ValueError):
    """Timeouts that make no sense (the message says which)."""


@dataclass(frozen=True)
class SessionPolicy:
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    absolute_lifetime_s: float = DEFAULT_ABSOLUTE_LIFETIME_S

    def __post_init__(self) -> None:
        if not 60 <= self.idle_timeout_s <= self.absolute_lifetime_s:
            raise SessionPolicyError(
                "the session idle timeout must be at least 60 s and at most the absolute"
                f" lifetime ({self.absolute_lifetime_s:.0f} s); it is {self.idle_timeout_s:.0f} s"
            )


@dataclass(frozen=True)
class Session:
    """One login. ``id_hash`` is the SHA-256 of the cookie's value; the value is not kept."""

    id_hash: str
    username: str
    created_at: float
    last_seen_at: float
    expires_at: float  # the absolute end, whatever the activity
    csrf_token: str
    client: str | None = None


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def open_session(
    username: str, now: float, policy: SessionPolicy, client: str | None = None
) -> tuple[str, Session]:
    """A new session: the id for the cookie (shown once) and the record to store."""
    session_id = new_session_id()
    return session_id, Session(
        id_hash=session_id_hash(session_id),
        username=username,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute_lifetime_s,
        csrf_token=new_csrf_token(),
        client=client,
    )


def session_state(session: Session, now: float, policy: SessionPolicy) -> SessionState:
    """``expired`` past the absolute end; ``idle`` after the idle timeout; else ``active``.

    Both limits are exclusive: at exactly ``last_seen_at + idle_timeout_s`` the session is idle.
    A clock that went backwards (now before last_seen_at) leaves the session active.
    """
    if now >= session.expires_at:
        return "expired"
    if now - session.last_seen_at >= policy.idle_timeout_s:
        return "idle"
    return "active"


# A session's "last seen" is written at most this often: every request writing (and syncing)
# the database would cost more than the page itself. The idle timeout may so run up to this
# much early, never late.
TOUCH_GRANULARITY_S = 15.0


def needs_touch(session: Session, now: float) -> bool:
    """Whether a request at ``now`` should be written as the session's last activity."""
    return now - session.last_seen_at >= TOUCH_GRANULARITY_S


def touch(session: Session, now: float) -> Session:
    """The session after a request at ``now`` (last seen never moves backwards)."""
    return replace(session, last_seen_at=max(session.last_seen_at, now))


def csrf_required(method: str) -> bool:
    return method.upper() not in SAFE_METHODS


def csrf_ok(session: Session, submitted: str | None) -> bool:
    """Whether the submitted token is this session's (constant-time; None or empty: False)."""
    if not submitted:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())


def cookie_attributes(session_id: str, policy: SessionPolicy) -> dict[str, Any]:
    """Keyword arguments for Starlette's ``Response.set_cookie`` for the session cookie."""
    return {
        "key": COOKIE_NAME,
        "value": session_id,
        "max_age": int(policy.absolute_lifetime_s),
        "path": "/",
        "secure": True,
        "httponly": True,
        "samesite": "strict",
    }


def cleared_cookie_attributes() -> dict[str, Any]:
    """Keyword arguments for ``Response.delete_cookie`` at logout (same flags, or it stays)."""
    return {
        "key": COOKIE_NAME,
        "path": "/",
        "secure": True,
        "httponly": True,
        "samesite": "strict",
    }
