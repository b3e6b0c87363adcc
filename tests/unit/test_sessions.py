"""Session rules: timeouts, CSRF binding, cookie attributes."""

from __future__ import annotations

import pytest

from fleet_manager.accounts.sessions import (
    COOKIE_NAME,
    Session,
    SessionPolicy,
    SessionPolicyError,
    SessionState,
    cleared_cookie_attributes,
    cookie_attributes,
    csrf_ok,
    csrf_required,
    needs_touch,
    open_session,
    session_id_hash,
    session_state,
    touch,
)

T0 = 1_800_000_000.0
POLICY = SessionPolicy()


def _session(last_seen: float = T0) -> Session:
    _, session = open_session("alice", T0, POLICY, client="10.0.0.5")
    return touch(session, last_seen)


def test_new_session_stores_only_the_hash_of_its_id() -> None:
    session_id, session = open_session("alice", T0, POLICY)
    assert session.id_hash == session_id_hash(session_id) != session_id
    assert len(session_id) >= 43  # 256 bits, URL-safe base64
    assert session.expires_at == T0 + 12 * 3600
    other_id, other = open_session("alice", T0, POLICY)
    assert other_id != session_id and other.csrf_token != session.csrf_token


@pytest.mark.parametrize(
    ("last_seen", "now", "policy", "state"),
    [
        pytest.param(T0, T0, POLICY, "active", id="just-opened"),
        pytest.param(T0, T0 + 899, POLICY, "active", id="idle-just-under-15-min"),
        pytest.param(T0, T0 + 900, POLICY, "idle", id="idle-at-15-min"),
        pytest.param(T0 + 11 * 3600, T0 + 11 * 3600 + 600, POLICY, "active", id="kept-alive"),
        pytest.param(T0 + 12 * 3600 - 1, T0 + 12 * 3600, POLICY, "expired", id="absolute-end"),
        pytest.param(T0, T0 + 299, SessionPolicy(idle_timeout_s=300), "active", id="custom-under"),
        pytest.param(T0, T0 + 300, SessionPolicy(idle_timeout_s=300), "idle", id="custom-idle"),
        pytest.param(T0 + 100, T0 + 50, POLICY, "active", id="clock-went-backwards"),
    ],
)
def test_session_state(
    last_seen: float, now: float, policy: SessionPolicy, state: SessionState
) -> None:
    assert session_state(_session(last_seen), now, policy) == state


def test_touch_never_moves_backwards() -> None:
    session = _session(T0 + 100)
    assert touch(session, T0 + 50).last_seen_at == T0 + 100
    assert touch(session, T0 + 150).last_seen_at == T0 + 150


@pytest.mark.parametrize(
    ("idle", "absolute"),
    [
        pytest.param(59, 3600, id="idle-too-short"),
        pytest.param(7200, 3600, id="idle-beyond-absolute"),
    ],
)
def test_unreasonable_policies_are_refused(idle: float, absolute: float) -> None:
    with pytest.raises(SessionPolicyError, match="idle timeout"):
        SessionPolicy(idle_timeout_s=idle, absolute_lifetime_s=absolute)


@pytest.mark.parametrize(
    ("submitted", "ok"),
    [
        pytest.param("own", True, id="own-token"),
        pytest.param("other", False, id="another-sessions-token"),
        pytest.param(None, False, id="missing"),
        pytest.param("", False, id="empty"),
        pytest.param("own-but-longer", False, id="prefix-match-is-not-enough"),
    ],
)
def test_csrf_token_is_bound_to_its_session(submitted: str | None, ok: bool) -> None:
    own, other = _session(), _session()
    token = {"own": own.csrf_token, "other": other.csrf_token}.get(submitted or "", submitted)
    if submitted == "own-but-longer":
        token = own.csrf_token + "x"
    assert csrf_ok(own, token) is ok


@pytest.mark.parametrize(
    ("method", "required"),
    [
        pytest.param("GET", False, id="get"),
        pytest.param("head", False, id="head-lower-case"),
        pytest.param("OPTIONS", False, id="options"),
        pytest.param("POST", True, id="post"),
        pytest.param("PUT", True, id="put"),
        pytest.param("PATCH", True, id="patch"),
        pytest.param("DELETE", True, id="delete"),
    ],
)
def test_csrf_required_for_every_changing_method(method: str, required: bool) -> None:
    assert csrf_required(method) is required


def test_cookie_attributes_are_host_prefixed_secure_httponly_strict() -> None:
    attributes = cookie_attributes("sid", POLICY)
    assert attributes == {
        "key": COOKIE_NAME,
        "value": "sid",
        "max_age": 12 * 3600,
        "path": "/",
        "secure": True,
        "httponly": True,
        "samesite": "strict",
    }
    assert COOKIE_NAME.startswith("__Host-")
    assert "domain" not in attributes  # a __Host- cookie must not name a domain
    cleared = cleared_cookie_attributes()
    assert {k: attributes[k] for k in cleared} == cleared


@pytest.mark.parametrize(
    ("since_last_seen", "written"),
    [(0.0, False), (5.0, False), (14.9, False), (15.0, True), (600.0, True)],
)
def test_last_activity_is_written_at_most_every_15_seconds(
    since_last_seen: float, written: bool
) -> None:
    session = _session(T0)
    assert needs_touch(session, T0 + since_last_seen) is written
