"""The console's frame: login and logout by form, the redirect to login, CSRF on forms, the
security headers, and menus that show only what a role may see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.store.schema import console_requests, console_sessions
from tests.support.console import PASSWORD, ConsoleApp, console_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ConsoleApp]:
    with console_app(tmp_path / "system") as found:
        yield found


def form_login(app: ConsoleApp, username: str, password: str = PASSWORD) -> int:
    response = app.client.post(
        "/console/login",
        data={"username": username, "password": password, "next": "/console/"},
        follow_redirects=False,
    )
    return response.status_code


def test_pages_need_a_login_and_come_back_after_it(app: ConsoleApp) -> None:
    response = app.client.get("/console/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")
    assert form_login(app, "olga", "wrong password") == 401
    assert form_login(app, "olga") == 303
    assert app.client.get("/console/", follow_redirects=False).status_code == 303


def test_logout_needs_the_form_token(app: ConsoleApp) -> None:
    form_login(app, "olga")
    page = app.client.get("/console/login")  # any page with the logout form would do
    assert page.status_code == 200
    # Without the token the session survives (a forged cross-site post).
    app.client.post("/console/logout", data={}, follow_redirects=False)
    assert app.client.get("/api/v1/session").status_code == 200
    whoami = app.client.get("/api/v1/session")
    assert whoami.json()["who"] == "user:olga"


def test_every_response_carries_the_security_headers(app: ConsoleApp) -> None:
    for path in ("/console/login", "/api/v1/session", "/console/static/console.css"):
        response = app.client.get(path)
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert app.client.get("/console/login").headers["cache-control"] == "no-store"


def test_an_open_redirect_after_login_is_not_possible(app: ConsoleApp) -> None:
    response = app.client.post(
        "/console/login",
        data={"username": "olga", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console/"


def test_the_framework_s_own_refusals_have_our_shape(app: ConsoleApp) -> None:
    unknown = app.client.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not_found", "message": "Not Found"}
    wrong_method = app.client.patch("/api/v1/session")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    unreadable = app.client.post(
        "/api/v1/session", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert unreadable.status_code in (400, 422)
    assert set(unreadable.json()) == {"error", "message"}
    page = app.client.get("/console/no-such-page")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


def test_an_idle_session_is_logged_off_everywhere(app: ConsoleApp) -> None:
    csrf = app.login("olga")
    assert app.client.get("/console/fleet").status_code == 200
    # Sixteen minutes without a request (the default idle timeout is fifteen).
    with app.engine.begin() as conn:
        conn.execute(
            console_sessions.update().values(last_seen_at=console_sessions.c.last_seen_at - 16 * 60)
        )
    page = app.client.get("/console/fleet", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
    assert app.client.get("/api/v1/session").status_code == 401
    changed = app.client.post("/api/v1/incidents/inc-x/ack", json={}, headers=app.headers(csrf))
    assert changed.status_code == 401
    with app.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(console_sessions)).scalar() == 0


def test_a_page_form_without_its_csrf_token_changes_nothing(app: ConsoleApp) -> None:
    app.login("olga")
    page = app.client.get("/console/routing")
    token = app.page_csrf(page.text)
    refused = app.client.post("/console/kiosks/kiosk-a1/identify", data={}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/console/login")
    with app.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(console_requests)).scalar() == 0
    allowed = app.client.post(
        "/console/kiosks/kiosk-a1/identify", data={"csrf_token": token}, follow_redirects=False
    )
    assert allowed.status_code == 303, allowed.text
    with app.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(console_requests)).scalar() == 1
