"""``/api/v1/kiosks`` and ``/api/v1/requests``: scoping, filters, pagination, and identify /
drill queued as console requests with an audit entry."""

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


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    base: Path = tmp_path_factory.mktemp("fleet-api")
    with console_app(base / "system") as found:
        seed(found.engine)
        yield found


def signed_in(app: ConsoleApp, username: str) -> tuple[TestClient, dict[str, str]]:
    client = app.new_client()
    return client, app.headers(app.login(username, client))


def ids(body: dict[str, Any]) -> list[str]:
    return [item["device_id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("olga", ["kiosk-a1", "kiosk-a2", "kiosk-a3", "kiosk-b1", "kiosk-x"]),
        ("fay", ["kiosk-a1", "kiosk-a2", "kiosk-a3"]),
        ("finn", ["kiosk-b1"]),
    ],
)
def test_each_sees_the_kiosks_of_their_scope(
    app: ConsoleApp, username: str, expected: list[str]
) -> None:
    client, _ = signed_in(app, username)
    response = client.get("/api/v1/kiosks")
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected
    assert response.json()["total"] == len(expected)


def test_a_kiosk_row_says_where_it_is_and_how_it_is(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "fay")
    (a1,) = client.get("/api/v1/kiosks", params={"q": "kiosk-a1"}).json()["items"]
    assert a1["online"] is True
    assert a1["content_version"] == "c-7"
    assert a1["app_version"] == "1.4.0"
    assert a1["location_id"] == "a-waiting"
    assert a1["location_name"] == "A waiting room"
    assert (a1["facility_id"], a1["facility_name"], a1["region"]) == (
        "clinic-a",
        "Clinic A",
        "east",
    )
    assert a1["lifecycle"] == "active"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "online"}, ["kiosk-a1", "kiosk-b1"]),
        ({"status": "offline"}, ["kiosk-a2", "kiosk-a3", "kiosk-x"]),
        ({"region": "west"}, ["kiosk-b1"]),
        ({"facility": "clinic-a", "status": "offline"}, ["kiosk-a2", "kiosk-a3"]),
        ({"lifecycle": "revoked"}, ["kiosk-a3"]),
        ({"q": "restroom"}, ["kiosk-a2"]),
        ({"q": "%"}, []),
        ({"limit": 2, "offset": 1}, ["kiosk-a2", "kiosk-a3"]),
        ({"limit": 2, "offset": 4}, ["kiosk-x"]),
    ],
)
def test_filters_and_pages(app: ConsoleApp, params: dict[str, Any], expected: list[str]) -> None:
    client, _ = signed_in(app, "olga")
    response = client.get("/api/v1/kiosks", params=params)
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected


def test_the_total_counts_every_page(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "olga")
    body = client.get("/api/v1/kiosks", params={"limit": 1}).json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (5, 1, 0, 1)


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        (None, "/api/v1/kiosks", 401),
        ("rita", "/api/v1/kiosks", 403),
        ("audra", "/api/v1/kiosks", 403),
        ("olga", "/api/v1/kiosks?limit=5000", 400),
        ("olga", "/api/v1/kiosks?status=sleeping", 400),
        ("olga", "/api/v1/kiosks?lifecycle=zombie", 400),
        ("olga", "/api/v1/kiosks?region=east%00", 400),
        ("olga", "/api/v1/kiosks?q=a%00b", 400),
        ("olga", "/api/v1/kiosks/kiosk%00a1", 400),
        ("olga", "/api/v1/kiosks/Kiosk-A1", 400),
        ("olga", "/api/v1/requests/not-a-request", 400),
        ("rita", "/api/v1/kiosks/kiosk-a1", 403),
        ("fay", "/api/v1/kiosks/kiosk-b1", 404),
        ("fay", "/api/v1/kiosks/kiosk-x", 404),
        ("fay", "/api/v1/kiosks/kiosk-nope", 404),
        ("finn", "/api/v1/kiosks/kiosk-a1", 404),
    ],
)
def test_refusals(app: ConsoleApp, username: str | None, path: str, status: int) -> None:
    client = app.new_client() if username is None else signed_in(app, username)[0]
    response = client.get(path)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message"}


def test_the_404_for_another_facility_equals_the_404_for_nothing(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "fay")
    other = client.get("/api/v1/kiosks/kiosk-b1")
    unknown = client.get("/api/v1/kiosks/kiosk-zz")
    assert other.json() == unknown.json()


def test_kiosk_detail_has_its_timeline_and_the_incidents_the_caller_may_see(
    app: ConsoleApp,
) -> None:
    client, _ = signed_in(app, "olga")
    body = client.get("/api/v1/kiosks/kiosk-a1").json()
    assert body["kiosk"]["device_id"] == "kiosk-a1"
    assert [e["event"] for e in body["timeline"]] == ["alert", "online"]  # newest first
    assert body["timeline"][0]["detail"]["incident_id"] == "inc-a-help"
    assert [i["incident_id"] for i in body["incidents"]] == ["inc-a-help", "inc-a-resolved"]
    # A facility admin sees the kiosk, not its incidents (those are for responders).
    fay, _ = signed_in(app, "fay")
    detail = fay.get("/api/v1/kiosks/kiosk-a1").json()
    assert detail["incidents"] == []
    assert len(detail["timeline"]) == 2


def test_a_kiosk_without_location_is_for_fleet_wide_grants(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "olga")
    body = client.get("/api/v1/kiosks/kiosk-x").json()
    assert body["kiosk"]["facility_id"] is None
    assert body["kiosk"]["region"] is None


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


@pytest.mark.parametrize("command", ["identify", "drill"])
def test_identify_and_drill_are_queued_audited_and_visible_to_their_actor(
    app: ConsoleApp, command: str
) -> None:
    client, headers = signed_in(app, "fay")
    before = len(_requests(app, "kiosk-a2"))
    response = client.post(f"/api/v1/kiosks/kiosk-a2/{command}", headers=headers)
    assert response.status_code == 202, response.text
    request = response.json()["request"]
    assert request["kind"] == command
    assert request["target"] == "kiosk-a2"
    assert request["actor"] == "user:fay"
    assert request["state"] == "queued"
    assert response.headers["location"] == f"/api/v1/requests/{request['request_id']}"

    rows = _requests(app, "kiosk-a2")
    assert len(rows) == before + 1
    assert any(r.request_id == request["request_id"] and r.state == "queued" for r in rows)
    entries = _audit(app, f"kiosk.{command}_requested", "kiosk-a2")
    assert any(e.detail == {"request_id": request["request_id"]} for e in entries)
    assert all(e.actor == "user:fay" for e in entries)

    location = response.headers["location"]
    assert client.get(location).json()["request_id"] == request["request_id"]
    olga, _ = signed_in(app, "olga")
    assert olga.get(location).status_code == 200
    finn, _ = signed_in(app, "finn")
    assert finn.get(location).status_code == 404
    assert app.new_client().get(location).status_code == 401


@pytest.mark.parametrize(
    ("username", "path", "with_csrf", "status"),
    [
        ("fay", "/api/v1/kiosks/kiosk-a1/identify", False, 401),
        ("fay", "/api/v1/kiosks/kiosk-b1/identify", True, 404),
        ("fay", "/api/v1/kiosks/kiosk-x/drill", True, 404),
        ("rita", "/api/v1/kiosks/kiosk-a1/drill", True, 403),
        ("fay", "/api/v1/kiosks/kiosk-a3/identify", True, 409),
    ],
)
def test_commands_refused(
    app: ConsoleApp, username: str, path: str, with_csrf: bool, status: int
) -> None:
    client, headers = signed_in(app, username)
    target = path.split("/")[4]
    before = len(_requests(app, target))
    response = client.post(path, headers=headers if with_csrf else {})
    assert response.status_code == status, response.text
    assert len(_requests(app, target)) == before


def test_an_unknown_request_is_404(app: ConsoleApp) -> None:
    client, _ = signed_in(app, "olga")
    assert client.get("/api/v1/requests/" + "0" * 32).status_code == 404
