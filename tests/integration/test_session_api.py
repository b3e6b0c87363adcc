"""Console sessions over the API (the real app, accounts store and policy): login sets a
``__Host-`` cookie with strict flags, changes need the CSRF token, failed logins are throttled,
logout ends the session, and a session is scoped like its user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from beacon.system import build_system
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.sessions import COOKIE_NAME, CSRF_HEADER
from fleet_manager.accounts.store import create_user
from fleet_manager.api.app import create_app
from fleet_manager.config import load_config
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.store import audit_log
from fleet_manager.store.database import open_engine
from tests.support.live import TEST_PLAN

PASSWORD = "correct horse battery staple 42"
START = {"channel": "stable", "version": "2026.11.1", "waves": "all"}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine]]:
    layout = build_system(tmp_path / "system", TEST_PLAN)
    config = load_config(layout.fleet_configs[0])
    engine = open_engine(config.database_url)
    with engine.begin() as conn:
        for name, grant in (("dana", Grant("ops")), ("fay", Grant("facility_admin", "clinic-a"))):
            create_user(conn, name, PASSWORD, [grant], actor="test", now=time.time())
    app = create_app(EnrolmentService.from_config(config, engine))
    # https: the session cookie is Secure, so a client only sends it back over TLS.
    with TestClient(app, base_url="https://testserver") as client:
        yield client, engine
    engine.dispose()


def login(client: TestClient, username: str = "dana") -> str:
    response = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_login_sets_a_strict_cookie_and_changes_need_the_csrf_token(
    setup: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = setup
    response = client.post("/api/v1/session", json={"username": "dana", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag.lower() in cookie.lower()
    csrf = response.json()["csrf_token"]
    assert client.get("/api/v1/session").json()["via"] == "session"
    # A forged cross-site request has the cookie but not the token.
    assert client.post("/api/v1/rollouts", json=START).status_code == 401
    started = client.post("/api/v1/rollouts", json=START, headers={CSRF_HEADER: csrf})
    assert started.status_code == 201, started.text
    with engine.connect() as conn:
        assert audit_log.entries(conn, action="rollout.started")[0].actor == "user:dana"


def test_a_session_is_scoped_like_its_user(setup: tuple[TestClient, sa.Engine]) -> None:
    client, _ = setup
    csrf = login(client, "fay")
    forbidden = client.post("/api/v1/rollouts", json=START, headers={CSRF_HEADER: csrf})
    assert forbidden.status_code == 403


def test_failed_logins_are_throttled(setup: tuple[TestClient, sa.Engine]) -> None:
    client, engine = setup
    wrong = {"username": "dana", "password": "not the password at all"}
    codes = [client.post("/api/v1/session", json=wrong).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    locked = client.post("/api/v1/session", json={"username": "dana", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
    with engine.connect() as conn:
        assert audit_log.verify_chain(conn) is None
        text = " ".join(str(e.detail) for e in audit_log.entries(conn))
    assert PASSWORD not in text and "not the password" not in text


def test_logout_needs_the_token_and_ends_the_session(setup: tuple[TestClient, sa.Engine]) -> None:
    client, _ = setup
    csrf = login(client)
    assert client.delete("/api/v1/session").status_code == 401
    assert client.delete("/api/v1/session", headers={CSRF_HEADER: csrf}).status_code == 200
    assert client.get("/api/v1/session").status_code == 401
    assert client.get("/api/v1/rollouts").status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "dana"}, {"username": "", "password": "x"}, {"username": "d", "password": 1}],
    ids=["empty", "no-password", "empty-username", "password-not-string"],
)
def test_malformed_logins_are_bad_requests(
    setup: tuple[TestClient, sa.Engine], body: dict[str, object]
) -> None:
    client, _ = setup
    response = client.post("/api/v1/session", json=body)
    assert response.status_code == 400 and response.json()["error"] == "bad_request"


def test_health_and_readiness(setup: tuple[TestClient, sa.Engine], tmp_path: Path) -> None:
    client, engine = setup
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    service = EnrolmentService.from_config(
        load_config(next((tmp_path / "system" / "fleet").glob("fleet-1.yaml"))), engine
    )
    with TestClient(create_app(service, tmp_path / "no-repo")) as broken:
        response = broken.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["content repository has no timestamp.json"]


@pytest.mark.parametrize(
    ("console", "idle", "problem"),
    [
        (None, 900.0, None),
        ({"session_idle_timeout_s": 300}, 300.0, None),
        ({"session_idle_timeout_s": 30}, None, "session_idle_timeout_s"),
        ({"session_timeout": 300}, None, "session_timeout"),
    ],
    ids=["default-15-min", "configured", "too-short", "unknown-key"],
)
def test_the_session_idle_timeout_is_configurable(
    tmp_path: Path, console: dict[str, object] | None, idle: float | None, problem: str | None
) -> None:
    import yaml

    from fleet_manager.config import ConfigError

    layout = build_system(tmp_path / "system", TEST_PLAN)
    path = layout.fleet_configs[0]
    data = yaml.safe_load(path.read_text())
    if console is not None:
        data["console"] = console
    path.write_text(yaml.safe_dump(data))
    if problem is not None:
        with pytest.raises(ConfigError, match=problem):
            load_config(path)
        return
    assert load_config(path).console.session_policy().idle_timeout_s == idle
