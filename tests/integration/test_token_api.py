"""API tokens over the API and the console: made by ops users only, the secret shown once and
working at once, grants checked, revocation immediate and audited; a token (even ops) can
never manage tokens."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import Grant
from fleet_manager.store import audit_log
from tests.support.console import ConsoleApp, console_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    with console_app(tmp_path_factory.mktemp("tokens") / "system") as found:
        yield found


def logged_in(app: ConsoleApp, who: str) -> tuple[TestClient, dict[str, str]]:
    client = app.new_client()
    return client, app.headers(app.login(who, client))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_ops_makes_lists_and_revokes_a_token(app: ConsoleApp) -> None:
    client, csrf = logged_in(app, "olga")
    made = client.post(
        "/api/v1/tokens",
        json={"name": "nightly", "grants": [{"role": "auditor"}], "ttl_s": 3600},
        headers=csrf,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    secret, token_id = body["secret"], body["token_id"]
    assert secret.startswith(body["display_prefix"]) and body["grants"] == [
        {"role": "auditor", "facility_id": None, "region": None}
    ]
    assert body["expires_at"] == pytest.approx(time.time() + 3600, abs=60)
    # The secret works at once, with the token's own grants (auditor: the audit log).
    anonymous = app.new_client()
    assert anonymous.get("/api/v1/audit?limit=1", headers=bearer(secret)).status_code == 200
    listed = client.get("/api/v1/tokens").json()
    assert [t["token_id"] for t in listed if t["token_id"] == token_id] == [token_id]
    assert all("secret" not in t for t in listed)
    gone = client.delete(f"/api/v1/tokens/{token_id}", headers=csrf)
    assert gone.status_code == 200 and gone.json()["already"] is False
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=csrf).json()["already"] is True
    assert anonymous.get("/api/v1/audit?limit=1", headers=bearer(secret)).status_code == 401
    assert token_id not in [t["token_id"] for t in client.get("/api/v1/tokens").json()]
    assert token_id in [t["token_id"] for t in client.get("/api/v1/tokens?all=true").json()]
    with app.engine.connect() as conn:
        actions = [(e.action, e.actor) for e in audit_log.entries(conn, subject=token_id)]
    assert actions == [("api_token.created", "user:olga"), ("api_token.revoked", "user:olga")]
    assert client.delete("/api/v1/tokens/tok-000000000000", headers=csrf).status_code == 404


def test_a_scoped_token_is_scoped(app: ConsoleApp) -> None:
    client, csrf = logged_in(app, "olga")
    made = client.post(
        "/api/v1/tokens",
        json={
            "name": "clinic-a",
            "grants": [{"role": "facility_admin", "facility_id": "clinic-a"}],
        },
        headers=csrf,
    ).json()
    robot = app.new_client()
    assert (
        robot.get(
            "/api/v1/engagement?facility=clinic-a", headers=bearer(made["secret"])
        ).status_code
        == 200
    )
    assert (
        robot.get(
            "/api/v1/engagement?facility=clinic-b", headers=bearer(made["secret"])
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("grants", "problem"),
    [
        ([{"role": "facility_admin"}], "exactly one facility"),
        ([{"role": "responder", "facility_id": "clinic-a"}], "exactly one region"),
        ([{"role": "ops", "region": "east"}], "fleet-wide"),
        ([{"role": "facility_admin", "facility_id": "clinic-zz"}], "no such facility clinic-zz"),
        ([{"role": "responder", "region": "north"}], "no such region north"),
    ],
)
def test_bad_grants_are_refused(
    app: ConsoleApp, grants: list[dict[str, str]], problem: str
) -> None:
    client, csrf = logged_in(app, "olga")
    refused = client.post("/api/v1/tokens", json={"name": "x", "grants": grants}, headers=csrf)
    assert refused.status_code == 422
    assert problem in refused.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "grants": [{"role": "ops"}]},
        {"name": "x", "grants": []},
        {"name": "x", "grants": [{"role": "king"}]},
        {"name": "x", "grants": [{"role": "ops"}], "ttl_s": 0},
        {"name": "x", "grants": [{"role": "ops"}], "extra": 1},
        {"name": "line\nbreak", "grants": [{"role": "ops"}]},
        {"name": "x", "grants": [{"role": "facility_admin", "facility_id": "Clinic A"}]},
    ],
)
def test_malformed_requests_are_400(app: ConsoleApp, body: dict[str, object]) -> None:
    client, csrf = logged_in(app, "olga")
    assert client.post("/api/v1/tokens", json=body, headers=csrf).status_code == 400


@pytest.mark.parametrize("who", ["fay", "rita", "audra"])
def test_only_ops_users_manage_tokens(app: ConsoleApp, who: str) -> None:
    client, csrf = logged_in(app, who)
    assert client.get("/api/v1/tokens").status_code == 403
    body = {"name": "mine", "grants": [{"role": "auditor"}]}
    assert client.post("/api/v1/tokens", json=body, headers=csrf).status_code == 403
    assert client.get("/console/tokens").status_code == 403
    assert app.new_client().get("/api/v1/tokens").status_code == 401


def test_a_token_can_never_manage_tokens_even_with_ops(app: ConsoleApp) -> None:
    with app.engine.begin() as conn:
        secret, token = token_store.create_api_token(
            conn,
            "root-robot",
            [Grant("ops")],
            creator=None,
            owner=None,
            actor="test",
            now=time.time(),
        )
    robot = app.new_client()
    assert robot.get("/api/v1/audit?limit=1", headers=bearer(secret)).status_code == 200  # ops
    assert robot.get("/api/v1/tokens", headers=bearer(secret)).status_code == 403
    body = {"name": "successor", "grants": [{"role": "ops"}]}
    assert robot.post("/api/v1/tokens", json=body, headers=bearer(secret)).status_code == 403
    assert (
        robot.delete(f"/api/v1/tokens/{token.token_id}", headers=bearer(secret)).status_code == 403
    )
    with app.engine.connect() as conn:
        assert [t.name for t in token_store.list_api_tokens(conn)].count("successor") == 0


def test_a_session_change_needs_the_csrf_token(app: ConsoleApp) -> None:
    client, _csrf = logged_in(app, "olga")
    body = {"name": "x", "grants": [{"role": "auditor"}]}
    assert client.post("/api/v1/tokens", json=body).status_code == 401


def test_the_page_makes_shows_once_and_revokes(app: ConsoleApp) -> None:
    client, _ = logged_in(app, "olga")
    page = client.get("/console/tokens")
    assert page.status_code == 200 and "Make token" in page.text
    csrf = app.page_csrf(page.text)
    made = client.post(
        "/console/tokens",
        data={
            "csrf_token": csrf,
            "name": "<b>page-made</b>",
            "role": "responder",
            "region": "east",
            "ttl": "30d",
        },
    )
    assert made.status_code == 201
    secret = re.search(r"bct_[A-Za-z0-9_-]{43}", made.text)
    assert secret is not None
    assert "&lt;b&gt;page-made&lt;/b&gt;" in made.text and "<b>page-made" not in made.text
    again = client.get("/console/tokens")
    assert secret.group(0) not in again.text  # shown once
    assert "responder@region:east" in again.text
    with app.engine.connect() as conn:
        token = next(t for t in token_store.list_api_tokens(conn) if t.name == "<b>page-made</b>")
    assert token.expires_at is not None
    done = client.post(
        f"/console/tokens/{token.token_id}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"])
    assert f"Token {token.token_id} revoked" in shown.text
    assert (
        app.new_client().get("/api/v1/session", headers=bearer(secret.group(0))).status_code == 401
    )
    unknown = client.post("/console/tokens/tok-ffffffffffff/revoke", data={"csrf_token": csrf})
    assert unknown.status_code == 404
    # Without the form's token nothing happens.
    forged = client.post(
        "/console/tokens", data={"name": "forged", "role": "ops"}, follow_redirects=False
    )
    assert forged.status_code == 303 and "/console/login" in forged.headers["location"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"name": "x", "role": "facility_admin"}, "exactly one facility"),
        ({"name": "", "role": "ops"}, "needs a name"),
        ({"name": "x", "role": "ops", "ttl": "soon"}, "not a number with a unit"),
        ({"name": "x", "role": "ops", "ttl": "0"}, "above 0"),
        ({"name": "a\x00b", "role": "ops"}, "control characters"),
    ],
)
def test_the_page_explains_what_is_wrong(
    app: ConsoleApp, fields: dict[str, str], problem: str
) -> None:
    client, _ = logged_in(app, "olga")
    csrf = app.page_csrf(client.get("/console/tokens").text)
    answer = client.post("/console/tokens", data={"csrf_token": csrf, **fields})
    assert answer.status_code == 400
    assert problem in answer.text
