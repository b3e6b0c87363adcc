"""Accounts in the fleet store: users, their roles, logins and console sessions.

The imperative shell around the pure rules of this package. Every function works inside the
caller's transaction (``conn``) and writes what it changes to the audit log; passwords, session
ids and tokens are never logged or audited (usernames and client addresses are).

Throttling state lives in the ``login_throttle`` table, one row per username and per client
address, rather than in the users row: unknown usernames must be throttled too (else an
attacker learns which exist), and addresses are not users. :func:`authenticate` returns an
outcome instead of raising, so a failed login's throttle update and audit entry commit.
Console sessions are in ``session_store``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from fleet_manager.accounts import passwords, throttle
from fleet_manager.accounts.policy import Grant, Principal, grant_sort_key
from fleet_manager.store import audit_log
from fleet_manager.store.schema import (
    console_sessions,
    facilities,
    login_throttle,
    role_grants,
    users,
)

_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
ANONYMOUS = "anonymous"


class AccountError(ValueError):
    """An account change that cannot be done; the message is for people."""


class UnknownUserError(AccountError):
    pass


class LastOpsError(AccountError):
    """The change would leave no enabled user with the ops role: nobody could fix anything."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    disabled: bool
    created_at: float
    password_changed_at: float
    last_login_at: float | None
    grants: tuple[Grant, ...]

    @property
    def principal(self) -> Principal:
        return Principal("user", self.username, frozenset(self.grants))


@dataclass(frozen=True)
class LoginOk:
    user: User


@dataclass(frozen=True)
class LoginRefused:
    """Show the person one message for every reason (no hint whether the username exists)."""

    reason: Literal["bad_credentials", "throttled"]
    retry_after_s: float = 0.0


LoginOutcome = LoginOk | LoginRefused


def username_problem(username: str) -> str | None:
    if _USERNAME.fullmatch(username):
        return None
    return (
        f"username {username!r} is not valid: use 2-64 lower-case letters, digits, '.', '-' or"
        " '_', starting with a letter"
    )


# -- reading ----------------------------------------------------------------------------------


def _grants(conn: sa.Connection, username: str) -> tuple[Grant, ...]:
    rows = conn.execute(
        sa.select(role_grants.c.role, role_grants.c.facility_id, role_grants.c.region).where(
            role_grants.c.username == username
        )
    )
    return tuple(sorted((Grant(r.role, r.facility_id, r.region) for r in rows), key=grant_sort_key))


def _user(conn: sa.Connection, row: sa.Row[tuple[object, ...]]) -> User:
    m = row._mapping
    return User(
        username=m["username"],
        display_name=m["display_name"],
        disabled=bool(m["disabled"]),
        created_at=m["created_at"],
        password_changed_at=m["password_changed_at"],
        last_login_at=m["last_login_at"],
        grants=_grants(conn, m["username"]),
    )


def get_user(conn: sa.Connection, username: str) -> User | None:
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    return None if row is None else _user(conn, row)


def list_users(conn: sa.Connection) -> list[User]:
    return [_user(conn, r) for r in conn.execute(sa.select(users).order_by(users.c.username))]


def _require(conn: sa.Connection, username: str) -> User:
    user = get_user(conn, username)
    if user is None:
        raise UnknownUserError(f"no user {username!r} (see `beacon fleet user list`)")
    return user


def _ops_users(conn: sa.Connection) -> set[str]:
    rows = conn.execute(
        sa.select(users.c.username)
        .join(role_grants, role_grants.c.username == users.c.username)
        .where(role_grants.c.role == "ops", users.c.disabled == sa.false())
    )
    return set(rows.scalars())


# -- writing ----------------------------------------------------------------------------------


def _check_facility(conn: sa.Connection, grant: Grant) -> None:
    if grant.facility_id is None:
        return
    found = conn.execute(
        sa.select(facilities.c.facility_id).where(facilities.c.facility_id == grant.facility_id)
    ).first()
    if found is None:
        raise AccountError(f"facility {grant.facility_id!r} does not exist")


def create_user(
    conn: sa.Connection,
    username: str,
    password: str,
    grants: Iterable[Grant],
    *,
    actor: str,
    now: float,
    display_name: str | None = None,
) -> User:
    """Validate and add a user with its grants. :class:`AccountError` or
    :class:`passwords.WeakPasswordError` say what is wrong."""
    problem = username_problem(username)
    if problem:
        raise AccountError(problem)
    if get_user(conn, username) is not None:
        raise AccountError(f"user {username!r} already exists")
    grants = tuple(dict.fromkeys(grants))
    if not grants:
        raise AccountError("give the user at least one role")
    for grant in grants:
        _check_facility(conn, grant)
    password_hash = passwords.hash_password(password, username)
    conn.execute(
        users.insert().values(
            username=username,
            display_name=display_name or username,
            password_hash=password_hash,
            disabled=False,
            created_at=now,
            password_changed_at=now,
        )
    )
    for grant in grants:
        _insert_grant(conn, username, grant, now)
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="user.created",
        subject=username,
        outcome="ok",
        detail={"grants": [g.describe() for g in grants]},
    )
    return _require(conn, username)


def _insert_grant(conn: sa.Connection, username: str, grant: Grant, now: float) -> None:
    conn.execute(
        role_grants.insert().values(
            username=username,
            role=grant.role,
            facility_id=grant.facility_id,
            region=grant.region,
            created_at=now,
        )
    )


def set_password(
    conn: sa.Connection, username: str, password: str, *, actor: str, now: float
) -> None:
    """Replace the password and end every session of the user (they log in again)."""
    _require(conn, username)
    password_hash = passwords.hash_password(password, username)
    conn.execute(
        users.update()
        .where(users.c.username == username)
        .values(password_hash=password_hash, password_changed_at=now)
    )
    ended = end_sessions_of(conn, username)
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="user.password_changed",
        subject=username,
        outcome="ok",
        detail={"sessions_ended": ended},
    )


def set_disabled(
    conn: sa.Connection, username: str, disabled: bool, *, actor: str, now: float
) -> bool:
    """Disable (ending sessions; tokens it owns stop working) or enable; False if unchanged."""
    user = _require(conn, username)
    if user.disabled == disabled:
        return False
    if disabled and _ops_users(conn) == {username}:
        raise LastOpsError(f"{username!r} is the last enabled ops user: add another first")
    conn.execute(users.update().where(users.c.username == username).values(disabled=disabled))
    ended = end_sessions_of(conn, username) if disabled else 0
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="user.disabled" if disabled else "user.enabled",
        subject=username,
        outcome="ok",
        detail={"sessions_ended": ended},
    )
    return True


def grant_role(conn: sa.Connection, username: str, grant: Grant, *, actor: str, now: float) -> bool:
    """Add a grant; False if the user already had it."""
    user = _require(conn, username)
    if grant in user.grants:
        return False
    _check_facility(conn, grant)
    _insert_grant(conn, username, grant, now)
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="user.role_granted",
        subject=username,
        outcome="ok",
        detail={"grant": grant.describe()},
    )
    return True


def revoke_role(
    conn: sa.Connection, username: str, grant: Grant, *, actor: str, now: float
) -> bool:
    """Remove a grant; False if the user did not have it. Sessions stay, with fewer rights
    (grants are read on every request)."""
    user = _require(conn, username)
    if grant not in user.grants:
        return False
    if grant.role == "ops" and not user.disabled and _ops_users(conn) == {username}:
        raise LastOpsError(f"{username!r} is the last enabled ops user: add another first")
    conn.execute(
        role_grants.delete().where(
            role_grants.c.username == username,
            role_grants.c.role == grant.role,
            role_grants.c.facility_id.is_(None)
            if grant.facility_id is None
            else role_grants.c.facility_id == grant.facility_id,
            role_grants.c.region.is_(None)
            if grant.region is None
            else role_grants.c.region == grant.region,
        )
    )
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="user.role_revoked",
        subject=username,
        outcome="ok",
        detail={"grant": grant.describe()},
    )
    return True


# -- logging in -------------------------------------------------------------------------------


def _throttle_state(conn: sa.Connection, key: str) -> throttle.ThrottleState:
    row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == key)).first()
    if row is None:
        return throttle.CLEAR
    return throttle.ThrottleState(row.failures, row.last_failure_at, row.locked_until)


def _save_throttle(conn: sa.Connection, key: str, state: throttle.ThrottleState) -> None:
    conn.execute(login_throttle.delete().where(login_throttle.c.key == key))
    if state != throttle.CLEAR:
        conn.execute(
            login_throttle.insert().values(
                key=key,
                failures=state.failures,
                last_failure_at=state.last_failure_at,
                locked_until=state.locked_until,
            )
        )


def authenticate(
    conn: sa.Connection, username: str, password: str, *, client: str, now: float
) -> LoginOutcome:
    """Check a login, with throttling per username and per client address; audit the outcome.

    While either key is locked the password is not checked at all. An unknown username costs
    the same Argon2 verification as a wrong password. A disabled user is refused as if the
    password were wrong. A hash made with older parameters is upgraded on success.
    """
    user_key = f"user:{username[:64]}"
    address_key = f"addr:{client[:64]}"
    by_user = _throttle_state(conn, user_key)
    by_address = _throttle_state(conn, address_key)
    gate = throttle.login_gate(by_user, by_address, now)
    subject = username[:64]
    if not gate.open:
        audit_log.record(
            conn,
            at=now,
            actor=ANONYMOUS,
            action="login.throttled",
            subject=subject,
            outcome="refused",
            detail={"client": client[:64], "retry_after_s": round(gate.retry_after_s)},
        )
        return LoginRefused("throttled", gate.retry_after_s)
    row = conn.execute(
        sa.select(users.c.password_hash, users.c.disabled).where(users.c.username == username)
    ).first()
    if row is None:
        passwords.burn_verification(password)
        ok = False
    else:
        ok = passwords.verify_password(row.password_hash, password) and not row.disabled
    if not ok:
        _save_throttle(
            conn, user_key, throttle.record_failure(by_user, now, throttle.USERNAME_POLICY)
        )
        _save_throttle(
            conn, address_key, throttle.record_failure(by_address, now, throttle.ADDRESS_POLICY)
        )
        audit_log.record(
            conn,
            at=now,
            actor=ANONYMOUS,
            action="login.failed",
            subject=subject,
            outcome="refused",
            detail={"client": client[:64]},
        )
        return LoginRefused("bad_credentials")
    assert row is not None
    _save_throttle(conn, user_key, throttle.CLEAR)
    values: dict[str, object] = {"last_login_at": now}
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.rehash(password)
    conn.execute(users.update().where(users.c.username == username).values(**values))
    audit_log.record(
        conn,
        at=now,
        actor=f"user:{username}",
        action="login.ok",
        subject=username,
        outcome="ok",
        detail={"client": client[:64]},
    )
    return LoginOk(_require(conn, username))


def end_sessions_of(conn: sa.Connection, username: str) -> int:
    """Delete every console session of the user; how many there were."""
    return conn.execute(
        console_sessions.delete().where(console_sessions.c.username == username)
    ).rowcount
