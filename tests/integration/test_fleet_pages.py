"""The fleet pages: /console/fleet and /console/kiosks/{id}, scoped like the API; identify and
send-drill forms need the CSRF token and queue the same requests as the API."""

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
    base: Path = tmp_path_factory.mktemp("fleet-pages")
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


def test_the_fleet_page_shows_the_kiosks_of_the_viewer(app: ConsoleApp) -> None:
    page = signed_in(app, "fay").get("/console/fleet")
    assert page.status_code == 200
    html = page.text
    assert 'id="kiosk-kiosk-a1"' in html and 'id="kiosk-kiosk-a2"' in html
    assert "kiosk-b1" not in html and "kiosk-x" not in html
    assert "Clinic B" not in html  # not even in the filter form
    assert 'data-live-url="/console/fleet/live?' in html
    assert "/console/static/live.js" in html
    assert '<div class="n online">1</div>' in html  # a1 online; a2, a3 offline
    assert '<div class="n offline">2</div>' in html


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("status=offline", ["kiosk-a2", "kiosk-x"], ["kiosk-kiosk-a1", "kiosk-kiosk-b1"]),
        ("region=west", ["kiosk-b1"], ["kiosk-kiosk-a1"]),
        ("q=restroom", ["kiosk-a2"], ["kiosk-kiosk-a1"]),
        ("status=bogus&offset=-3", ["kiosk-a1", "kiosk-b1"], []),  # ignored, not a 400
    ],
)
def test_fleet_filters(app: ConsoleApp, query: str, present: list[str], absent: list[str]) -> None:
    page = signed_in(app, "olga").get(f"/console/fleet?{query}")
    assert page.status_code == 200
    for text in present:
        assert text in page.text
    for text in absent:
        assert text not in page.text


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("rita", "/console/fleet", 403),
        ("audra", "/console/fleet", 403),
        ("rita", "/console/kiosks/kiosk-a1", 403),
        ("fay", "/console/kiosks/kiosk-b1", 404),
        ("fay", "/console/kiosks/kiosk-x", 404),
        ("finn", "/console/kiosks/kiosk-a1", 404),
        ("olga", "/console/kiosks/kiosk%00a1", 404),
        ("olga", "/console/fleet?region=east%00&q=%00", 200),
    ],
)
def test_pages_refused(app: ConsoleApp, username: str, path: str, status: int) -> None:
    assert signed_in(app, username).get(path).status_code == status


def test_without_a_login_the_pages_go_to_the_login_page(app: ConsoleApp) -> None:
    response = app.new_client().get("/console/fleet", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


def test_the_kiosk_page_has_its_timeline_and_the_forms_the_viewer_may_use(
    app: ConsoleApp,
) -> None:
    page = signed_in(app, "fay").get("/console/kiosks/kiosk-a1")
    assert page.status_code == 200
    html = page.text
    assert "A waiting room" in html and "Clinic A" in html
    assert 'action="/console/kiosks/kiosk-a1/identify"' in html
    assert 'action="/console/kiosks/kiosk-a1/drill"' in html
    assert "inc-a-help" in html  # in the alert's timeline detail
    assert "Recent incidents" not in html  # facility admins do not see incidents
    olga = signed_in(app, "olga").get("/console/kiosks/kiosk-a1").text
    assert "Recent incidents" in olga
    assert 'href="/console/incidents/inc-a-help"' in olga


def test_identify_by_form_is_queued_and_comes_back_with_a_message(app: ConsoleApp) -> None:
    client = signed_in(app, "fay")
    csrf = app.page_csrf(client.get("/console/kiosks/kiosk-a1").text)
    before = len(_requests(app, "kiosk-a1"))
    response = client.post(
        "/console/kiosks/kiosk-a1/identify", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/kiosks/kiosk-a1?done=identify"
    rows = _requests(app, "kiosk-a1")
    assert len(rows) == before + 1
    assert (rows[-1].kind, rows[-1].actor, rows[-1].state) == ("identify", "user:fay", "queued")
    with app.engine.connect() as conn:
        audited = conn.execute(
            sa.select(sa.func.count())
            .select_from(audit_log)
            .where(audit_log.c.action == "kiosk.identify_requested")
        ).scalar()
    assert audited
    followed = client.get(response.headers["location"])
    assert "Identify sent" in followed.text


def test_a_form_without_the_csrf_token_changes_nothing(app: ConsoleApp) -> None:
    client = signed_in(app, "fay")
    before = len(_requests(app, "kiosk-a1"))
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post("/console/kiosks/kiosk-a1/drill", data=data, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login")
    assert len(_requests(app, "kiosk-a1")) == before


def test_a_revoked_kiosk_takes_no_command(app: ConsoleApp) -> None:
    client = signed_in(app, "fay")
    csrf = app.page_csrf(client.get("/console/kiosks/kiosk-a3").text)
    response = client.post("/console/kiosks/kiosk-a3/drill", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert "revoked" in response.text
    assert _requests(app, "kiosk-a3") == []


def test_another_facilitys_kiosk_cannot_be_commanded_by_form(app: ConsoleApp) -> None:
    client = signed_in(app, "fay")
    csrf = app.page_csrf(client.get("/console/fleet").text)
    response = client.post("/console/kiosks/kiosk-b1/identify", data={"csrf_token": csrf})
    assert response.status_code == 404
    assert _requests(app, "kiosk-b1") == []
