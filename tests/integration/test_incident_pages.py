"""The incident pages: the live list (drills marked), one incident with its timeline (each
view audited), and the acknowledge / resolve / note forms (CSRF, pre-check, queued)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleet_manager.store.schema import audit_log, console_requests
from tests.integration.fleet_seed import incident, insert_incident, seed
from tests.support.console import ConsoleApp, console_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    base: Path = tmp_path_factory.mktemp("incident-pages")
    with console_app(base / "system") as found:
        seed(found.engine)
        yield found


def signed_in(app: ConsoleApp, username: str) -> TestClient:
    client = app.new_client()
    app.login(username, client)
    return client


def _requests(app: ConsoleApp, target: str) -> list[Any]:
    with app.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(console_requests).where(console_requests.c.target == target)
            ).all()
        )


def _views(app: ConsoleApp, incident_id: str) -> list[Any]:
    with app.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log).where(
                    audit_log.c.action == "incident.viewed", audit_log.c.subject == incident_id
                )
            ).all()
        )


def test_the_list_shows_the_region_newest_first_with_drills_marked(app: ConsoleApp) -> None:
    page = signed_in(app, "rita").get("/console/incidents")
    assert page.status_code == 200
    html = page.text
    order = [html.index(f'id="incident-{i}"') for i in ("inc-a-acked", "inc-a-drill", "inc-a-help")]
    assert order == sorted(order)
    assert "inc-b-help" not in html
    drill_row = html[html.index('id="incident-inc-a-drill"') :]
    drill_row = drill_row[: drill_row.index("</tr>")]
    assert "DRILL" in drill_row
    help_row = html[html.index('id="incident-inc-a-help"') :]
    assert "DRILL" not in help_row[: help_row.index("</tr>")]
    assert 'data-live-url="/console/incidents/live?' in html
    assert "data-live-state" in html


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("state=resolved", ["inc-a-resolved"], ["inc-a-help"]),
        ("drill=yes", ["inc-a-drill"], ["inc-a-help"]),
        ("drill=no", ["inc-a-help"], ["inc-a-drill"]),
        ("state=nonsense", ["inc-a-help", "inc-a-drill"], []),
    ],
)
def test_list_filters(app: ConsoleApp, query: str, present: list[str], absent: list[str]) -> None:
    html = signed_in(app, "rita").get(f"/console/incidents?{query}").text
    for text in present:
        assert f'id="incident-{text}"' in html
    for text in absent:
        assert f'id="incident-{text}"' not in html


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("fay", "/console/incidents", 403),
        ("audra", "/console/incidents", 403),
        ("fay", "/console/incidents/inc-a-help", 403),
        ("rita", "/console/incidents/inc-b-help", 404),
        ("rita", "/console/incidents/inc-nope", 404),
        ("rita", "/console/incidents/INC%00", 404),
        ("rita", "/console/incidents?region=%00", 200),
    ],
)
def test_pages_refused(app: ConsoleApp, username: str, path: str, status: int) -> None:
    assert signed_in(app, username).get(path).status_code == status


def test_the_incident_page_is_audited_and_shows_who_did_what(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    before = len(_views(app, "inc-a-resolved"))
    page = client.get("/console/incidents/inc-a-resolved")
    assert page.status_code == 200
    views = _views(app, "inc-a-resolved")
    assert len(views) == before + 1
    assert (views[-1].actor, views[-1].detail) == ("user:rita", {"via": "console"})
    html = page.text
    assert "resolved" in html and "rita" in html and "note: done" in html
    # Resolved: only a note can still be added.
    assert "/console/incidents/inc-a-resolved/note" in html
    assert "/console/incidents/inc-a-resolved/ack" not in html
    assert "/console/incidents/inc-a-resolved/resolve" not in html


def test_a_drill_is_clearly_marked(app: ConsoleApp) -> None:
    html = signed_in(app, "rita").get("/console/incidents/inc-a-drill").text
    assert "This is a drill" in html
    assert "<title>DRILL" in html


def test_acknowledge_by_form(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    page = client.get("/console/incidents/inc-a-help").text
    assert "/console/incidents/inc-a-help/ack" in page
    csrf = app.page_csrf(page)
    before = len(_requests(app, "inc-a-help"))
    response = client.post(
        "/console/incidents/inc-a-help/ack",
        data={"csrf_token": csrf, "note": "coming"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/incidents/inc-a-help?done=ack"
    rows = _requests(app, "inc-a-help")
    assert len(rows) == before + 1
    assert (rows[-1].kind, rows[-1].actor, rows[-1].note) == ("ack", "user:rita", "coming")
    assert "Acknowledgement sent" in client.get(response.headers["location"]).text


def test_forms_need_the_csrf_token(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    before = len(_requests(app, "inc-a-drill"))
    response = client.post(
        "/console/incidents/inc-a-drill/resolve", data={"note": "x"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    assert len(_requests(app, "inc-a-drill")) == before


@pytest.mark.parametrize(
    ("incident_id", "action", "note", "status", "says"),
    [
        ("inc-a-resolved", "resolve", "", 409, "already resolved"),
        ("inc-a-drill", "note", "", 409, "a note needs text"),
        ("inc-a-drill", "note", "y" * 501, 409, "at most 500"),
        ("inc-a-acked", "ack", "", 200, "Already acknowledged"),
    ],
)
def test_forms_that_queue_nothing(
    app: ConsoleApp, incident_id: str, action: str, note: str, status: int, says: str
) -> None:
    client = signed_in(app, "rita")
    csrf = app.page_csrf(client.get(f"/console/incidents/{incident_id}").text)
    before = len(_requests(app, incident_id))
    response = client.post(
        f"/console/incidents/{incident_id}/{action}", data={"csrf_token": csrf, "note": note}
    )
    assert response.status_code == status
    assert says in response.text
    assert len(_requests(app, incident_id)) == before


def test_another_regions_incident_cannot_be_acted_on(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    csrf = app.page_csrf(client.get("/console/incidents").text)
    response = client.post("/console/incidents/inc-b-help/ack", data={"csrf_token": csrf})
    assert response.status_code == 404
    assert _requests(app, "inc-b-help") == []


def test_a_report_incident_says_how_to_read_it_and_shows_no_kiosk(app: ConsoleApp) -> None:
    record, timeline = incident("inc-a-report", "kiosk-a1", time.time() - 30, kind="report")
    insert_incident(
        app.engine, replace(record, device_id="landing-page", report_entries=2), timeline
    )
    page = signed_in(app, "rita").get("/console/incidents/inc-a-report")
    assert page.status_code == 200
    assert "Encrypted report" in page.text and "2 entries" in page.text
    assert "beacon responder decrypt inc-a-report" in page.text
    assert "<dt>Kiosk</dt>" not in page.text
    api = signed_in(app, "rita").get("/api/v1/incidents/inc-a-report")
    assert api.json()["incident"]["report_entries"] == 2
