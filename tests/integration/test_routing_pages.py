"""``/console/routing``: the policy page, its editor (validate, preview, save) and who sees what."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet_manager.routing import policy_store
from fleet_manager.store import audit_log
from tests.support.console import ConsoleApp, console_app
from tests.support.live import TEST_POLICY

EDITED = TEST_POLICY.replace("east-first, wait_s: 1.5", "east-first, wait_s: 45")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ConsoleApp]:
    with console_app(tmp_path / "system") as found:
        yield found


def browser(app: ConsoleApp, name: str) -> tuple[TestClient, str]:
    """A logged-in client of its own and the CSRF token its pages carry."""
    client = app.new_client()
    app.login(name, client)
    page = client.get("/console/routing")
    return client, app.page_csrf(page.text) if page.status_code == 200 else ""


def version(app: ConsoleApp) -> int:
    with app.engine.connect() as conn:
        return policy_store.current_version(conn)


def post(client: TestClient, csrf: str, **fields: str) -> tuple[int, str]:
    response = client.post(
        "/console/routing", data={"csrf_token": csrf, **fields}, follow_redirects=False
    )
    return response.status_code, html.unescape(response.text)


def test_nobody_is_sent_to_the_login_page(app: ConsoleApp) -> None:
    response = app.new_client().get("/console/routing", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/routing"


def test_a_facility_admin_gets_403(app: ConsoleApp) -> None:
    client = app.new_client()
    app.login("fay", client)
    page = client.get("/console/routing")
    assert page.status_code == 403
    assert 'href="/console/routing"' not in page.text  # not in the menu either


def test_a_responder_sees_the_policy_and_previews_kiosks_of_her_region(app: ConsoleApp) -> None:
    client, csrf = browser(app, "rita")
    page = client.get("/console/routing")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "east-help" in text and "region east; kind help or tamper" in text
    assert "east-first (1.5 s) → east-second (1.5 s)" in text
    assert "<textarea" not in text  # no editor for her
    assert "name: east-help" in text  # the YAML, read-only
    assert 'value="kiosk-a1"' in text and 'value="kiosk-a2"' in text
    assert "kiosk-b1" not in text  # another region's kiosk is not offered
    preview = client.get("/console/routing", params={"device_id": "kiosk-a1", "kind": "help"})
    assert preview.status_code == 200
    shown = html.unescape(preview.text)
    assert 'id="preview-route">east-help<' in shown
    assert "under version 0" in shown
    assert "Drills are handled differently here" in shown
    # Another region's kiosk is "not found", like one that does not exist.
    assert client.get("/console/routing?device_id=kiosk-b1&kind=help").status_code == 404
    assert client.get("/console/routing?device_id=kiosk-zz&kind=help").status_code == 404
    assert client.get("/console/routing?device_id=kiosk-a1%00&kind=help").status_code == 404
    # She may not edit, even with the right CSRF token.
    assert post(client, csrf, op="save", base_version="0", policy_yaml=EDITED)[0] == 403
    assert version(app) == 0


def test_ops_previews_the_default_route_and_drills(app: ConsoleApp) -> None:
    client, _csrf = browser(app, "olga")
    west = html.unescape(client.get("/console/routing?device_id=kiosk-b1&kind=help").text)
    assert 'id="preview-route">catch-all<' in west
    assert "no specific route matches, so the default (catch-all) route applies" in west
    drill = html.unescape(client.get("/console/routing?device_id=kiosk-b1&kind=drill").text)
    assert 'id="preview-route">drills<' in drill
    bad = client.get("/console/routing?device_id=kiosk-b1&kind=panic")
    assert bad.status_code == 422 and "unknown kind" in bad.text


def test_ops_checks_previews_and_saves_a_draft(app: ConsoleApp) -> None:
    client, csrf = browser(app, "olga")
    page = html.unescape(client.get("/console/routing").text)
    assert "<textarea" in page and "name: east-help" in page
    assert 'name="base_version" value="0"' in page

    status, text = post(client, csrf, op="check", base_version="0", policy_yaml=EDITED)
    assert status == 200 and "The policy is valid. It is not saved yet." in text

    status, text = post(
        client, csrf, op="preview", base_version="0", policy_yaml=EDITED,
        device_id="kiosk-a1", kind="help",
    )  # fmt: skip
    assert status == 200
    assert "<strong>draft</strong> below (not saved)" in text and "<td>45 s</td>" in text
    assert version(app) == 0

    status, _ = post(client, csrf, op="save", base_version="0", policy_yaml=EDITED)
    assert status == 303
    saved = client.get("/console/routing?saved=1")
    shown = html.unescape(saved.text)
    assert "Saved version 1 of the routing policy." in shown
    assert 'id="policy-version">1<' in shown and "user:olga" in shown
    assert "east-first (45 s)" in shown
    with app.engine.connect() as conn:
        entries = audit_log.entries(conn, action="routing.saved")
    assert [(e.actor, e.detail["new_version"]) for e in entries] == [("user:olga", 1)]


def test_an_invalid_draft_is_shown_inline_and_not_saved(app: ConsoleApp) -> None:
    client, csrf = browser(app, "olga")
    broken = EDITED.replace("drill-team, wait_s: 60", "drill-team, wait_s: soon")
    for op in ("check", "save"):
        status, text = post(client, csrf, op=op, base_version="0", policy_yaml=broken)
        assert status == 422
        assert "route 'drills'.chain.steps[0].wait_s" in text
        assert "wait_s: soon" in text  # the draft is kept in the editor
    assert version(app) == 0
    with app.engine.connect() as conn:
        assert audit_log.entries(conn, action="routing.saved") == []


def test_a_stale_edit_is_refused(app: ConsoleApp) -> None:
    client, csrf = browser(app, "olga")
    assert post(client, csrf, op="save", base_version="0", policy_yaml=EDITED)[0] == 303
    status, text = post(client, csrf, op="save", base_version="0", policy_yaml=TEST_POLICY)
    assert status == 409 and "saved as version 1 since you opened version 0" in text
    assert version(app) == 1


def test_posting_without_the_csrf_token_changes_nothing(app: ConsoleApp) -> None:
    client, _csrf = browser(app, "olga")
    status, _ = post(client, "", op="save", base_version="0", policy_yaml=EDITED)
    assert status == 303  # treated as nobody: back to the login page
    status, _ = post(client, "forged", op="save", base_version="0", policy_yaml=EDITED)
    assert status == 303
    assert version(app) == 0


@pytest.mark.parametrize(
    "fields",
    [{"op": "explode", "base_version": "0"}, {"op": "save", "base_version": "x"},
     {"op": "save", "base_version": "0", "device_id": "k" * 5000}],
)  # fmt: skip
def test_malformed_forms_are_400(app: ConsoleApp, fields: dict[str, str]) -> None:
    client, csrf = browser(app, "olga")
    status, _ = post(client, csrf, policy_yaml=EDITED, **fields)
    assert status == 400
    assert version(app) == 0


def test_a_long_policy_fits_the_editor(app: ConsoleApp) -> None:
    """Longer than the console's usual field limit (4000 characters)."""
    client, csrf = browser(app, "olga")
    padding = "".join(f"# comment line {i:04d} padding the policy out\n" for i in range(200))
    status, _ = post(client, csrf, op="save", base_version="0", policy_yaml=padding + EDITED)
    assert status == 303
    assert version(app) == 1
