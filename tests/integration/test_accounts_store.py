"""Accounts in the store (SQLite and PostgreSQL): users and grants, logins with throttling,
sessions with timeouts, API tokens, the first admin, and the audit trail of it all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.accounts import session_store, store, token_store
from fleet_manager.accounts.bootstrap import ensure_first_admin
from fleet_manager.accounts.passwords import WeakPasswordError
from fleet_manager.accounts.policy import Grant, Principal
from fleet_manager.accounts.sessions import SessionPolicy
from fleet_manager.accounts.store import LoginOk, LoginOutcome, LoginRefused
from fleet_manager.store import audit_log, registry
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.schema import users
from tests.support.postgres import temporary_database

T0 = 1_800_000_000.0
PW = "violet tractor hums"
OPS = "cli:tester"
POLICY = SessionPolicy()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fleet.db'}"
        return
    with temporary_database("beacon_accounts") as pg:
        yield pg


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = open_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        registry.add_facility(conn, "fac-a", "A", "north", T0)
        registry.add_facility(conn, "fac-b", "B", "north", T0)
        store.create_user(conn, "olga", PW, [Grant("ops")], actor=OPS, now=T0)
        store.create_user(conn, "alice", PW, [Grant("facility_admin", "fac-a")], actor=OPS, now=T0)
    yield engine
    engine.dispose()


def _login(
    engine: sa.Engine, username: str, password: str, now: float, client: str = "10.0.0.1"
) -> LoginOutcome:
    with engine.begin() as conn:
        return store.authenticate(conn, username, password, client=client, now=now)


def _all_audit_text(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return json.dumps([e.__dict__ for e in audit_log.entries(conn)])


# -- users and grants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "grants", "error", "message"),
    [
        pytest.param("alice", PW, [Grant("ops")], store.AccountError, "already exists", id="dup"),
        pytest.param("Bob", PW, [Grant("ops")], store.AccountError, "not valid", id="upper-case"),
        pytest.param("bob", "short", [Grant("ops")], WeakPasswordError, "12", id="weak-password"),
        pytest.param("bob", PW, [], store.AccountError, "at least one role", id="no-role"),
        pytest.param(
            "bob",
            PW,
            [Grant("facility_admin", "fac-zz")],
            store.AccountError,
            "fac-zz",
            id="unknown-facility",
        ),
    ],
)
def test_create_user_refusals(
    engine: sa.Engine,
    username: str,
    password: str,
    grants: list[Grant],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message), engine.begin() as conn:
        store.create_user(conn, username, password, grants, actor=OPS, now=T0)


def test_grants_change_and_are_audited(engine: sa.Engine) -> None:
    admin_b = Grant("facility_admin", "fac-b")
    with engine.begin() as conn:
        assert store.grant_role(conn, "alice", admin_b, actor=OPS, now=T0 + 1)
        assert not store.grant_role(conn, "alice", admin_b, actor=OPS, now=T0 + 2)
        user = store.get_user(conn, "alice")
        assert user is not None
        assert set(user.grants) == {Grant("facility_admin", "fac-a"), admin_b}
        assert store.revoke_role(
            conn, "alice", Grant("facility_admin", "fac-a"), actor=OPS, now=T0 + 3
        )
        user = store.get_user(conn, "alice")
        assert user is not None and user.grants == (admin_b,)
        actions = [e.action for e in audit_log.entries(conn, subject="alice")]
    assert actions == ["user.created", "user.role_granted", "user.role_revoked"]


def test_the_last_ops_user_cannot_be_removed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(store.LastOpsError):
            store.revoke_role(conn, "olga", Grant("ops"), actor=OPS, now=T0)
        with pytest.raises(store.LastOpsError):
            store.set_disabled(conn, "olga", True, actor=OPS, now=T0)
        store.grant_role(conn, "alice", Grant("ops"), actor=OPS, now=T0)
        assert store.set_disabled(conn, "olga", True, actor=OPS, now=T0)


# -- logging in -------------------------------------------------------------------------------


def test_login_ok_records_last_login_and_audit(engine: sa.Engine) -> None:
    outcome = _login(engine, "alice", PW, T0 + 10)
    assert isinstance(outcome, LoginOk)
    assert outcome.user.last_login_at == T0 + 10
    assert outcome.user.principal == Principal(
        "user", "alice", frozenset({Grant("facility_admin", "fac-a")})
    )
    with engine.connect() as conn:
        [entry] = audit_log.entries(conn, action="login.ok")
    assert (entry.actor, entry.subject, entry.detail) == (
        "user:alice",
        "alice",
        {"client": "10.0.0.1"},
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("alice", PW + "x", id="wrong-password"),
        pytest.param("nobody", PW, id="unknown-user"),
    ],
)
def test_failed_logins_lock_the_username_after_five(
    engine: sa.Engine, username: str, password: str
) -> None:
    for i in range(5):
        assert _login(engine, username, password, T0 + i) == LoginRefused("bad_credentials")
    # Locked: even the right password is not checked.
    assert _login(engine, username, PW, T0 + 5) == LoginRefused("throttled", 59.0)
    # Another username from the same address is not locked (the address limit is 20).
    assert isinstance(_login(engine, "olga", PW, T0 + 5), LoginOk)
    with engine.connect() as conn:
        assert len(audit_log.entries(conn, action="login.failed")) == 5
        assert len(audit_log.entries(conn, action="login.throttled")) == 1
    if username == "alice":
        assert isinstance(_login(engine, "alice", PW, T0 + 64), LoginOk)


def test_many_usernames_from_one_address_lock_the_address(engine: sa.Engine) -> None:
    for i in range(20):
        _login(engine, f"guess{i}", PW, T0 + i, client="203.0.113.9")
    assert _login(engine, "alice", PW, T0 + 20, client="203.0.113.9") == LoginRefused(
        "throttled", 59.0
    )
    assert isinstance(_login(engine, "alice", PW, T0 + 20, client="10.0.0.2"), LoginOk)


def test_disabled_user_is_refused_like_a_wrong_password(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        store.set_disabled(conn, "alice", True, actor=OPS, now=T0)
    assert _login(engine, "alice", PW, T0 + 1) == LoginRefused("bad_credentials")


def test_passwords_and_secrets_never_reach_the_audit_log(engine: sa.Engine) -> None:
    _login(engine, "alice", PW + "typo", T0)
    _login(engine, "alice", PW, T0 + 1)
    with engine.begin() as conn:
        store.set_password(conn, "alice", "new sturdy passphrase", actor=OPS, now=T0 + 2)
        session_id, _ = session_store.start_session(
            conn, "olga", now=T0, policy=POLICY, client=None
        )
        secret, _ = token_store.create_api_token(
            conn, "ci", [Grant("auditor")], creator=None, owner=None, actor=OPS, now=T0
        )
        assert audit_log.verify_chain(conn) is None
    text = _all_audit_text(engine)
    for forbidden in (PW, "new sturdy passphrase", session_id, secret, "argon2"):
        assert forbidden not in text


def test_new_password_works_and_ends_sessions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        session_id, _ = session_store.start_session(
            conn, "alice", now=T0, policy=POLICY, client=None
        )
        store.set_password(conn, "alice", "new sturdy passphrase", actor=OPS, now=T0 + 1)
        assert session_store.resume_session(conn, session_id, now=T0 + 2, policy=POLICY) is None
    assert _login(engine, "alice", PW, T0 + 3) == LoginRefused("bad_credentials")
    assert isinstance(_login(engine, "alice", "new sturdy passphrase", T0 + 4), LoginOk)


# -- sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests_at", "resumed"),
    [
        pytest.param([100], True, id="within-idle"),
        pytest.param([900], False, id="idle-15-min"),
        pytest.param([800, 1600, 2400], True, id="kept-alive-by-requests"),
        pytest.param([800, 1700], False, id="one-gap-too-long"),
        pytest.param([i * 800 for i in range(1, 55)], False, id="absolute-12h-end"),
    ],
)
def test_session_idle_and_absolute_timeouts(
    engine: sa.Engine, requests_at: list[float], resumed: bool
) -> None:
    with engine.begin() as conn:
        session_id, started = session_store.start_session(
            conn, "alice", now=T0, policy=POLICY, client="10.0.0.1"
        )
    result = None
    for offset in requests_at:
        with engine.begin() as conn:
            result = session_store.resume_session(conn, session_id, now=T0 + offset, policy=POLICY)
        if result is None:
            break
    assert (result is not None) is resumed
    if result is not None:
        session, principal = result
        assert session.csrf_token == started.csrf_token
        assert principal.id == "alice"


def test_logout_and_disabling_end_sessions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first, _ = session_store.start_session(conn, "alice", now=T0, policy=POLICY, client=None)
        second, _ = session_store.start_session(conn, "alice", now=T0, policy=POLICY, client=None)
        assert session_store.end_session(conn, first, now=T0 + 1)
        assert not session_store.end_session(conn, first, now=T0 + 2)
        assert session_store.resume_session(conn, first, now=T0 + 3, policy=POLICY) is None
        assert session_store.resume_session(conn, second, now=T0 + 3, policy=POLICY) is not None
        store.set_disabled(conn, "alice", True, actor=OPS, now=T0 + 4)
        assert session_store.resume_session(conn, second, now=T0 + 5, policy=POLICY) is None
        assert session_store.resume_session(conn, "made-up", now=T0 + 5, policy=POLICY) is None


def test_purge_removes_only_dead_sessions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        session_store.start_session(conn, "alice", now=T0, policy=POLICY, client=None)
        live, _ = session_store.start_session(
            conn, "olga", now=T0 + 800, policy=POLICY, client=None
        )
        assert session_store.purge_sessions(conn, now=T0 + 1000, policy=POLICY) == 1
        assert session_store.resume_session(conn, live, now=T0 + 1000, policy=POLICY) is not None


# -- API tokens -------------------------------------------------------------------------------


def test_token_lifecycle(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        secret, token = token_store.create_api_token(
            conn,
            "exporter",
            [Grant("facility_admin", "fac-a")],
            creator=None,
            owner="alice",
            actor=OPS,
            now=T0,
        )
        assert secret.startswith("bct_") and token.display_prefix == secret[:12]
        principal = token_store.verify_api_token(conn, secret, now=T0 + 10)
        assert principal == Principal(
            "token", token.token_id, frozenset({Grant("facility_admin", "fac-a")})
        )
        altered = secret[:-1] + ("B" if secret.endswith("A") else "A")
        assert token_store.verify_api_token(conn, altered, now=T0) is None
        used = token_store.get_api_token(conn, token.token_id)
        assert used is not None and used.last_used_at == T0 + 10
        assert token_store.revoke_api_token(conn, token.token_id, actor=OPS, now=T0 + 20)
        assert not token_store.revoke_api_token(conn, token.token_id, actor=OPS, now=T0 + 21)
        assert token_store.verify_api_token(conn, secret, now=T0 + 22) is None
        assert token_store.list_api_tokens(conn) == []
        assert len(token_store.list_api_tokens(conn, include_revoked=True)) == 1


def test_token_follows_its_owner(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        secret, _ = token_store.create_api_token(
            conn,
            "x",
            [Grant("facility_admin", "fac-a")],
            creator=None,
            owner="alice",
            actor=OPS,
            now=T0,
        )
        store.grant_role(conn, "alice", Grant("facility_admin", "fac-b"), actor=OPS, now=T0)
        store.revoke_role(conn, "alice", Grant("facility_admin", "fac-a"), actor=OPS, now=T0)
        principal = token_store.verify_api_token(conn, secret, now=T0 + 100)
        assert principal is not None and principal.grants == frozenset()
        store.set_disabled(conn, "alice", True, actor=OPS, now=T0)
        assert token_store.verify_api_token(conn, secret, now=T0 + 200) is None


@pytest.mark.parametrize(
    ("creator_grants", "owner", "grants", "message"),
    [
        pytest.param(
            {Grant("facility_admin", "fac-a")},
            None,
            [Grant("facility_admin", "fac-b")],
            "more than you hold",
            id="beyond-creator",
        ),
        pytest.param(None, "alice", [Grant("ops")], "does not hold", id="beyond-owner"),
        pytest.param(None, "nobody", [Grant("ops")], "no user", id="unknown-owner"),
        pytest.param(None, None, [], "at least one role", id="no-role"),
    ],
)
def test_token_creation_refusals(
    engine: sa.Engine,
    creator_grants: set[Grant] | None,
    owner: str | None,
    grants: list[Grant],
    message: str,
) -> None:
    creator = None if creator_grants is None else Principal("user", "c", frozenset(creator_grants))
    with pytest.raises(store.AccountError, match=message), engine.begin() as conn:
        token_store.create_api_token(
            conn, "t", grants, creator=creator, owner=owner, actor=OPS, now=T0
        )


def test_expired_token_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        secret, _ = token_store.create_api_token(
            conn,
            "t",
            [Grant("auditor")],
            creator=None,
            owner=None,
            actor=OPS,
            now=T0,
            expires_at=T0 + 60,
        )
        assert token_store.verify_api_token(conn, secret, now=T0 + 59) is not None
        assert token_store.verify_api_token(conn, secret, now=T0 + 60) is None


# -- first admin ------------------------------------------------------------------------------


def test_first_admin_only_on_an_empty_fleet(url: str) -> None:
    engine = open_engine(url)
    try:
        migrate(engine)
        created = ensure_first_admin(engine, now=T0)
        assert created is not None
        username, password = created
        assert ensure_first_admin(engine, now=T0 + 1) is None
        with engine.begin() as conn:
            outcome = store.authenticate(conn, username, password, client="local", now=T0 + 2)
            assert isinstance(outcome, LoginOk)
            assert outcome.user.grants == (Grant("ops"),)
            assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 1
    finally:
        engine.dispose()
