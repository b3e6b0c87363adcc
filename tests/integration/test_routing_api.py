"""``/api/v1/routing``: who may read, edit, validate and preview the routing policy; versions,
conflicts, invalid policies and the preview's scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet_manager.store import audit_log
from tests.support.console import ConsoleApp, console_app
from tests.support.live import TEST_POLICY

EDITED = TEST_POLICY.replace("east-first, wait_s: 1.5", "east-first, wait_s: 45")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ConsoleApp]:
    """A system of its own, for tests that save."""
    with console_app(tmp_path / "system") as found:
        yield found


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    """One system for the tests that only read or are refused (building one takes seconds)."""
    with console_app(tmp_path_factory.mktemp("routing-api") / "system") as found:
        yield found


def as_(app: ConsoleApp, name: str) -> dict[str, str]:
    return app.headers(app.login(name))


def browser(app: ConsoleApp, name: str | None) -> tuple[TestClient, dict[str, str]]:
    """A client of its own (own cookies), logged in as ``name`` (or nobody), and its headers."""
    client = app.new_client()
    return client, ({} if name is None else app.headers(app.login(name, client)))


@pytest.mark.parametrize(
    ("user", "status"),
    [("olga", 200), ("rita", 200), ("fay", 403), ("finn", 403), ("audra", 403), (None, 401)],
)
def test_who_may_read_the_policy(shared: ConsoleApp, user: str | None, status: int) -> None:
    client, headers = browser(shared, user)
    response = client.get("/api/v1/routing", headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        body = response.json()
        assert (body["version"], body["saved_by"], body["problem"]) == (0, "file", None)
        assert body["policy_yaml"] == TEST_POLICY
        assert [r["name"] for r in body["routes"]] == ["drills", "east-help", "catch-all"]
        east = body["routes"][1]
        assert east["regions"] == ["east"] and east["kinds"] == ["help", "tamper"]
        assert [s["team"] for s in east["steps"]] == ["east-first", "east-second"]
        assert body["routes"][2]["catch_all"] is True


@pytest.mark.parametrize(("user", "status"), [("rita", 403), ("fay", 403), ("audra", 403)])
def test_only_ops_may_save(shared: ConsoleApp, user: str, status: int) -> None:
    client, headers = browser(shared, user)
    response = client.put(
        "/api/v1/routing", json={"policy_yaml": EDITED, "base_version": 0}, headers=headers
    )
    assert response.status_code == status
    client, headers = browser(shared, "olga")
    assert client.get("/api/v1/routing", headers=headers).json()["version"] == 0


def test_saves_increment_versions_refuse_conflicts_and_are_audited(app: ConsoleApp) -> None:
    ops = as_(app, "olga")
    first = app.client.put(
        "/api/v1/routing", json={"policy_yaml": EDITED, "base_version": 0}, headers=ops
    )
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["saved_by"]) == (1, "user:olga")
    second = app.client.put(
        "/api/v1/routing", json={"policy_yaml": TEST_POLICY, "base_version": 1}, headers=ops
    )
    assert second.json()["version"] == 2
    stale = app.client.put(
        "/api/v1/routing", json={"policy_yaml": EDITED, "base_version": 1}, headers=ops
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "conflict" and "version 2" in stale.json()["message"]
    now = app.client.get("/api/v1/routing", headers=ops).json()
    assert (now["version"], now["policy_yaml"]) == (2, TEST_POLICY)
    with app.engine.connect() as conn:
        saved = audit_log.entries(conn, action="routing.saved")
    assert [(e.actor, e.detail["old_version"], e.detail["new_version"]) for e in saved] == [
        ("user:olga", 0, 1),
        ("user:olga", 1, 2),
    ]


def test_an_invalid_policy_is_422_with_what_and_where_and_nothing_is_saved(
    app: ConsoleApp,
) -> None:
    ops = as_(app, "olga")
    broken = TEST_POLICY.replace("drill-team, wait_s: 60", "drill-team, wait_s: soon")
    assert broken != TEST_POLICY
    response = app.client.put(
        "/api/v1/routing", json={"policy_yaml": broken, "base_version": 0}, headers=ops
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_policy"
    assert "route 'drills'.chain.steps[0].wait_s" in response.json()["message"]
    not_yaml = app.client.put(
        "/api/v1/routing", json={"policy_yaml": "routes: [", "base_version": 0}, headers=ops
    )
    assert not_yaml.status_code == 422 and "not valid YAML" in not_yaml.json()["message"]
    assert app.client.get("/api/v1/routing", headers=ops).json()["version"] == 0
    with app.engine.connect() as conn:
        assert audit_log.entries(conn, action="routing.saved") == []


@pytest.mark.parametrize(
    "body",
    [
        {"policy_yaml": "routes: []"},
        {"policy_yaml": TEST_POLICY, "base_version": -1},
        {"policy_yaml": TEST_POLICY, "base_version": 0, "extra": 1},
        {"policy_yaml": "x" * (64 * 1024 + 1), "base_version": 0},
    ],
)
def test_malformed_save_requests_are_4xx(shared: ConsoleApp, body: dict[str, object]) -> None:
    client, headers = browser(shared, "olga")
    response = client.put("/api/v1/routing", json=body, headers=headers)
    assert 400 <= response.status_code < 500


def test_a_session_change_needs_the_csrf_token(shared: ConsoleApp) -> None:
    client, _headers = browser(shared, "olga")
    response = client.put("/api/v1/routing", json={"policy_yaml": EDITED, "base_version": 0})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("text", "ok", "says"),
    [(TEST_POLICY, True, None), ("routes: []", False, "has no routes"),
     ("routes:\n  - name: Bad Name\n", False, "routes[0].name")],
)  # fmt: skip
def test_validate(shared: ConsoleApp, text: str, ok: bool, says: str | None) -> None:
    client, headers = browser(shared, "rita")
    response = client.post("/api/v1/routing/validate", json={"policy_yaml": text}, headers=headers)
    assert response.status_code == 200
    assert response.json()["ok"] is ok
    if says is None:
        assert response.json()["problem"] is None
    else:
        assert says in response.json()["problem"]


@pytest.mark.parametrize(
    ("user", "place", "status"),
    [
        ("olga", {"device_id": "kiosk-b1"}, 200),
        ("rita", {"device_id": "kiosk-a1"}, 200),
        ("rita", {"location_id": "a-restroom"}, 200),
        ("rita", {"device_id": "kiosk-b1"}, 404),
        ("rita", {"location_id": "b-exam"}, 404),
        ("rita", {"device_id": "kiosk-none"}, 404),
        ("olga", {"location_id": "nowhere"}, 404),
        ("fay", {"device_id": "kiosk-a1"}, 403),
        ("audra", {"device_id": "kiosk-a1"}, 403),
        (None, {"device_id": "kiosk-a1"}, 401),
    ],
)
def test_preview_is_scoped_to_the_place(
    shared: ConsoleApp, user: str | None, place: dict[str, str], status: int
) -> None:
    client, headers = browser(shared, user)
    response = client.post(
        "/api/v1/routing/preview", json={**place, "kind": "help"}, headers=headers
    )
    assert response.status_code == status, response.text
    if status == 404:
        # An existing kiosk out of scope looks exactly like one that does not exist.
        assert response.json() == {"error": "not_found", "message": "no such kiosk or location"}


def test_preview_shows_the_route_and_the_timeline(shared: ConsoleApp) -> None:
    client, ops = browser(shared, "olga")
    east = client.post(
        "/api/v1/routing/preview", json={"device_id": "kiosk-a1", "kind": "help"}, headers=ops
    ).json()
    assert (east["route"], east["default_route"], east["draft"], east["policy_version"]) == (
        "east-help", False, False, 0,
    )  # fmt: skip
    assert [(c["team"], c["called_at_s"]) for c in east["calls"]] == [
        ("east-first", 0.0),
        ("east-second", 1.5),
    ]
    assert east["exhausted_at_s"] == 3.0
    assert (east["help_route"], east["drill_route"], east["drills_differ"]) == (
        "east-help", "drills", True,
    )  # fmt: skip
    west = client.post(
        "/api/v1/routing/preview", json={"device_id": "kiosk-b1", "kind": "help"}, headers=ops
    ).json()
    assert (west["route"], west["default_route"], west["region"]) == ("catch-all", True, "west")
    drill = client.post(
        "/api/v1/routing/preview", json={"device_id": "kiosk-b1", "kind": "drill"}, headers=ops
    ).json()
    assert (drill["route"], drill["drill"]) == ("drills", True)


def test_preview_of_a_draft(shared: ConsoleApp) -> None:
    client, ops = browser(shared, "olga")
    draft = client.post(
        "/api/v1/routing/preview",
        json={"device_id": "kiosk-a1", "kind": "help", "policy_yaml": EDITED},
        headers=ops,
    ).json()
    assert (draft["draft"], draft["policy_version"]) == (True, None)
    assert [c["called_at_s"] for c in draft["calls"]] == [0.0, 45.0]
    broken = client.post(
        "/api/v1/routing/preview",
        json={"device_id": "kiosk-a1", "kind": "help", "policy_yaml": "routes: []"},
        headers=ops,
    )
    assert broken.status_code == 422 and "draft: has no routes" in broken.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "help"},
        {"device_id": "kiosk-a1", "location_id": "a-waiting", "kind": "help"},
        {"device_id": "kiosk-a1", "kind": "panic"},
        {"device_id": "k" * 65, "kind": "help"},
        {"device_id": "kiosk-a1\u0000", "kind": "help"},
        {"location_id": "", "kind": "help"},
    ],
)
def test_malformed_previews_are_400(shared: ConsoleApp, body: dict[str, str]) -> None:
    client, headers = browser(shared, "olga")
    response = client.post("/api/v1/routing/preview", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
