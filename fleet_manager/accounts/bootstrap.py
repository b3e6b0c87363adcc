"""The first administrator: an ops account made once, when the fleet has no users at all.

``beacon demo`` (and a fresh install) calls :func:`ensure_first_admin` and shows the password
it returns, once. Several fleet managers starting at once are safe: the username is the
primary key, so at most one creates it and the others get None.
"""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa

from fleet_manager.accounts.passwords import password_problems
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.store import create_user
from fleet_manager.store.schema import users

FIRST_ADMIN = "admin"


def new_password(username: str = FIRST_ADMIN) -> str:
    """A random password (144 bits) that passes the rules for ``username``."""
    while True:
        password = secrets.token_urlsafe(18)
        if not password_problems(password, username):
            return password


def ensure_first_admin(
    engine: sa.Engine,
    *,
    username: str = FIRST_ADMIN,
    now: float | None = None,
    actor: str = "system:first-run",
) -> tuple[str, str] | None:
    """Create an ops user with a random password if there are no users; else None.

    Returns ``(username, password)``; the password is not stored anywhere but its hash.
    """
    password = new_password(username)
    try:
        with engine.begin() as conn:
            if conn.execute(sa.select(users.c.username).limit(1)).first() is not None:
                return None
            create_user(
                conn,
                username,
                password,
                [Grant("ops")],
                actor=actor,
                now=time.time() if now is None else now,
                display_name="First administrator",
            )
    except sa.exc.IntegrityError:
        return None  # another instance made it first
    return username, password
