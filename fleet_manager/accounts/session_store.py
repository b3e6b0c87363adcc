"""Console sessions in the fleet store: start after a login, resume on each request, end.

The rules (ids, timeouts, CSRF tokens) are in ``sessions``; this stores them. The session
id itself is never stored or logged, only its SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa

from fleet_manager.accounts.policy import Principal
from fleet_manager.accounts.sessions import (
    Session,
    SessionPolicy,
    needs_touch,
    open_session,
    session_id_hash,
    session_state,
    touch,
)
from fleet_manager.accounts.store import get_user
from fleet_manager.store import audit_log
from fleet_manager.store.schema import console_sessions


def start_session(
    conn: sa.Connection, username: str, *, now: float, policy: SessionPolicy, client: str | None
) -> tuple[str, Session]:
    """Store a new session after a successful login; the id (for the cookie only) and record."""
    session_id, session = open_session(username, now, policy, client)
    conn.execute(
        console_sessions.insert().values(
            id_hash=session.id_hash,
            username=username,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
            csrf_token=session.csrf_token,
            client=None if client is None else client[:64],
        )
    )
    return session_id, session


def resume_session(
    conn: sa.Connection,
    session_id: str,
    *,
    now: float,
    policy: SessionPolicy,
    activity: bool = True,
) -> tuple[Session, Principal] | None:
    """The session and who it is, marking it seen at ``now`` if this is the person's own
    ``activity`` (not a live feed polling by itself); None (and the session deleted) if it is
    unknown, idle, expired or its user is disabled."""
    id_hash = session_id_hash(session_id)
    row = conn.execute(
        sa.select(console_sessions).where(console_sessions.c.id_hash == id_hash)
    ).first()
    if row is None:
        return None
    session = Session(**row._mapping)
    user = get_user(conn, session.username)
    if session_state(session, now, policy) != "active" or user is None or user.disabled:
        conn.execute(console_sessions.delete().where(console_sessions.c.id_hash == id_hash))
        return None
    if not activity or not needs_touch(session, now):
        return session, user.principal
    session = touch(session, now)
    conn.execute(
        console_sessions.update()
        .where(console_sessions.c.id_hash == id_hash)
        .values(last_seen_at=session.last_seen_at)
    )
    return session, user.principal


def end_session(conn: sa.Connection, session_id: str, *, now: float) -> bool:
    """Log out: delete the session; False if it was already gone."""
    id_hash = session_id_hash(session_id)
    username = conn.execute(
        sa.select(console_sessions.c.username).where(console_sessions.c.id_hash == id_hash)
    ).scalar()
    if username is None:
        return False
    conn.execute(console_sessions.delete().where(console_sessions.c.id_hash == id_hash))
    audit_log.record(
        conn, at=now, actor=f"user:{username}", action="logout", subject=username, outcome="ok"
    )
    return True


def purge_sessions(conn: sa.Connection, *, now: float, policy: SessionPolicy) -> int:
    """Delete sessions past their absolute end or idle timeout (housekeeping)."""
    return conn.execute(
        console_sessions.delete().where(
            sa.or_(
                console_sessions.c.expires_at <= now,
                console_sessions.c.last_seen_at <= now - policy.idle_timeout_s,
            )
        )
    ).rowcount
