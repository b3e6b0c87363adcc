"""``/api/v1/incidents``: scoped by region, newest first, filters and pages; every view of an
incident audited; ack / resolve / note pre-checked by the lifecycle, then queued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleet_manager.store.schema import audit_log, console_requests
from tests.integration.fleet_seed import seed
from tests.support.console import ConsoleApp, console_app

EAST = ["inc-a-acked", "inc-a-drill", "inc-a-help", "inc-a-resolved"]  # newest first


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    base: Path = tmp_path_factory.mktemp("incident-api")
    with console_app(base / "system") as found:
        seed(found.engine)
        yield found


def signed_in(app: ConsoleApp, username: str) -> tuple[TestClient, dict[str, str]]:
    client = app.new_client()
    return client, app.headers(app.login(username, client))


def ids(body: dict[str, Any]) -> list[str]:
    return [item["incident_id"] for item in body["items"]]


def _requests(app: ConsoleApp, target: str) -> list[Any]:
    with app.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(console_requests).where(console_requests.c.target == target)
            ).all()
        )


def _audit(app: ConsoleApp, action: str, subject: str) -> list[Any]:
    with app.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log).where(
                    audit_log.c.action == action, audit_log.c.subject == subject
                )
            ).all()
        )


@pytest.mark.parametrize(
    ("username", "expected"),
    [("olga", ["inc-b-help", *EAST]), ("rita", EAST)],
)
def test_each_sees_the_incidents_of_their_scope_newest_first(
    app: ConsoleApp, username: str, expected: list[str]
) -> None:
    client, _ = signed_in(app, username)
    response = client.get("/api/v1/incidents")
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids(body) == expected
    assert (body["total"], body["total_capped"]) == (len(expected), False)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "resolved"}, ["inc-a-resolved"]),
        ({"state": "acknowledged"}, ["inc-a-acked"]),
        ({"drill": "true"}, ["inc-a-drill"]),
        ({"drill": "false", "region": "east"}, ["inc-a-acked", "inc-a-help", "inc-a-resolved"]),
        ({"kind": "drill"}, ["inc-a-drill"]),
        ({"region": "west"}, ["inc-b-help"]),
        ({"facility": "clinic-b"}, ["inc-b-help"]),
        ({"limit": 2}, ["inc-b-help", "inc-a-acked"]),
        ({"limit": 2, "offset": 2}, ["inc-a-drill", "inc-a-help"]),
    ],
)
def test_filters_and_pages(app: ConsoleApp, params: dict[str, Any], expected: list[str]) -> None:
    client, _ = signed_in(app, "olga")
    response = client.get("/api/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected


def test_since_keeps_the_recent_ones(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "olga")
    items = client.get("/api/v1/incidents").json()["items"]
    cut = next(i["opened_at"] for i in items if i["incident_id"] == "inc-a-drill")
    recent = client.get("/api/v1/incidents", params={"since": cut}).json()
    assert ids(recent) == ["inc-b-help", "inc-a-acked", "inc-a-drill"]


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        (None, "/api/v1/incidents", 401),
        ("fay", "/api/v1/incidents", 403),
        ("audra", "/api/v1/incidents", 403),
        ("olga", "/api/v1/incidents?state=lost", 400),
        ("olga", "/api/v1/incidents?limit=0", 400),
        ("olga", "/api/v1/incidents?kind=party", 400),
        ("olga", "/api/v1/incidents?facility=a%00b", 400),
        ("olga", "/api/v1/incidents/inc%00x", 400),
        ("fay", "/api/v1/incidents/inc-a-help", 403),
        ("rita", "/api/v1/incidents/inc-b-help", 404),
        ("rita", "/api/v1/incidents/inc-nope", 404),
    ],
)
def test_refusals(app: ConsoleApp, username: str | None, path: str, status: int) -> None:
    client = app.new_client() if username is None else signed_in(app, username)[0]
    response = client.get(path)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message"}


def test_every_view_of_an_incident_is_audited(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "rita")
    before = len(_audit(app, "incident.viewed", "inc-a-drill"))
    for _ in range(2):
        response = client.get("/api/v1/incidents/inc-a-drill")
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["incident"]["drill"] is True
    assert body["incident"]["state"] == "opened"
    assert body["incident"]["escalation_team"] == "east-onsite"
    assert [e["event"] for e in body["timeline"]] == ["opened", "routed"]
    entries = _audit(app, "incident.viewed", "inc-a-drill")
    assert len(entries) == before + 2
    assert {e.actor for e in entries[before:]} == {"user:rita"}
    # A refused look is not a view.
    assert client.get("/api/v1/incidents/inc-b-help").status_code == 404
    assert _audit(app, "incident.viewed", "inc-b-help") == []


def test_the_timeline_says_who_did_what(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "olga")
    timeline = client.get("/api/v1/incidents/inc-a-resolved").json()["timeline"]
    assert [(e["event"], e["actor"]) for e in timeline][-1] == ("resolved", "rita")
    assert timeline[-1]["detail"]["note"] == "done"


def test_ack_is_queued_with_its_note_and_audited_without_it(app: ConsoleApp) -> None:
    client, headers = signed_in(app, "rita")
    response = client.post(
        "/api/v1/incidents/inc-a-help/ack", json={"note": "on my way"}, headers=headers
    )
    assert response.status_code == 202, response.text
    request = response.json()["request"]
    assert (request["kind"], request["target"], request["actor"], request["state"]) == (
        "ack",
        "inc-a-help",
        "user:rita",
        "queued",
    )
    assert response.headers["location"] == f"/api/v1/requests/{request['request_id']}"
    (row,) = [r for r in _requests(app, "inc-a-help") if r.request_id == request["request_id"]]
    assert row.note == "on my way"
    (entry,) = [
        e
        for e in _audit(app, "incident.ack_requested", "inc-a-help")
        if e.detail["request_id"] == request["request_id"]
    ]
    assert entry.actor == "user:rita"
    assert entry.detail == {"request_id": request["request_id"], "with_note": True}
    assert client.get(response.headers["location"]).json()["state"] == "queued"


@pytest.mark.parametrize(
    ("incident_id", "action", "body", "status"),
    [
        ("inc-a-resolved", "ack", {}, 409),
        ("inc-a-resolved", "resolve", {"note": "again"}, 409),
        ("inc-a-help", "note", {}, 409),
        ("inc-a-help", "note", {"note": "   "}, 409),
        ("inc-a-acked", "ack", {}, 200),  # repeated: harmless, nothing queued
        ("inc-a-help", "note", {"note": "x" * 501}, 400),
        ("inc-a-help", "ack", {"other": 1}, 400),
        ("inc-a-help", "note", {"note": "nul \u0000 inside"}, 400),
        ("inc-b-help", "ack", {}, 404),
    ],
)
def test_actions_that_queue_nothing(
    app: ConsoleApp, incident_id: str, action: str, body: dict[str, Any], status: int
) -> None:
    client, headers = signed_in(app, "rita")
    before = len(_requests(app, incident_id))
    response = client.post(f"/api/v1/incidents/{incident_id}/{action}", json=body, headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["request"] is None
        assert "already acknowledged" in response.json()["message"]
    if status == 409:
        assert response.json()["error"] == "conflict"
    assert len(_requests(app, incident_id)) == before


def test_a_resolved_incident_still_takes_a_note(app: ConsoleApp) -> None:
    client, headers = signed_in(app, "rita")
    response = client.post(
        "/api/v1/incidents/inc-a-resolved/note", json={"note": "called back"}, headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["request"]["kind"] == "note"


@pytest.mark.parametrize(
    ("username", "with_csrf", "status"),
    [("fay", True, 403), ("rita", False, 401), ("audra", True, 403)],
)
def test_who_may_not_act(app: ConsoleApp, username: str, with_csrf: bool, status: int) -> None:
    client, headers = signed_in(app, username)
    before = len(_requests(app, "inc-a-drill"))
    response = client.post(
        "/api/v1/incidents/inc-a-drill/resolve", json={}, headers=headers if with_csrf else {}
    )
    assert response.status_code == status, response.text
    assert len(_requests(app, "inc-a-drill")) == before


def test_an_action_without_a_body_is_fine(app: ConsoleApp) -> None:
    client, headers = signed_in(app, "olga")
    response = client.post("/api/v1/incidents/inc-b-help/ack", headers=headers)
    assert response.status_code == 202, response.text
