"""The facilities pages over a built system: scoped lists and 404s, forms with CSRF, the
enrolment token shown once with its QR code, approvals, the sticker sheet and revoking a
kiosk through its confirmation page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleet_manager.brokers import revocation
from fleet_manager.store import enrolment_store
from fleet_manager.store.schema import audit_log, devices, enrolment_tokens, facilities, locations
from tests.support.console import ConsoleApp, console_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ConsoleApp]:
    with console_app(tmp_path / "system") as found:
        yield found


def browser(app: ConsoleApp, name: str) -> TestClient:
    client = app.new_client()
    app.login(name, client)
    return client


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return ConsoleApp.page_csrf(page.text)


def actions_of(app: ConsoleApp, action: str) -> list[str]:
    with app.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log.c.subject).where(audit_log.c.action == action)
            ).scalars()
        )


def assert_csp_clean(html: str) -> None:
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_the_list_shows_only_the_viewers_facilities(app: ConsoleApp) -> None:
    anonymous = app.new_client().get("/console/facilities", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/login")
    fay = browser(app, "fay").get("/console/facilities")
    assert fay.status_code == 200
    assert "Clinic A" in fay.text and "Clinic B" not in fay.text
    assert "New facility" not in fay.text
    assert_csp_clean(fay.text)
    olga = browser(app, "olga").get("/console/facilities")
    assert "Clinic B" in olga.text and "New facility" in olga.text
    assert browser(app, "rita").get("/console/facilities").status_code == 403


def test_another_facilitys_pages_are_not_found(app: ConsoleApp) -> None:
    fay = browser(app, "fay")
    page = fay.get("/console/facilities/clinic-a")
    assert page.status_code == 200
    assert_csp_clean(page.text)
    assert "A waiting room" in page.text and "kiosk-a1" in page.text
    assert "Download sticker sheet (PDF)" in page.text
    assert fay.get("/console/facilities/clinic-b").status_code == 404
    assert fay.get("/console/facilities/nope").status_code == 404
    assert fay.get("/console/facilities/clinic-b/kiosks/kiosk-b1/revoke").status_code == 404
    # A kiosk of clinic-b named under clinic-a is not found either.
    assert fay.get("/console/facilities/clinic-a/kiosks/kiosk-b1/revoke").status_code == 404
    assert fay.get("/console/facilities/clinic-b/stickers.pdf").status_code == 404
    csrf = ConsoleApp.page_csrf(page.text)
    wrong_place = fay.post(
        "/console/facilities/clinic-a/locations/b-exam/enrolment-token",
        data={"csrf_token": csrf, "ttl": "1h"},
    )
    assert wrong_place.status_code == 404


def test_ops_add_a_facility_by_form_and_csrf_is_required(app: ConsoleApp) -> None:
    olga = browser(app, "olga")
    csrf = csrf_of(olga, "/console/facilities")
    fields = {"facility_id": "clinic-c", "name": "Clinic C", "region": "east"}
    forged = olga.post("/console/facilities", data=fields, follow_redirects=False)
    assert forged.status_code == 303 and "/console/login" in forged.headers["location"]
    bad = olga.post("/console/facilities", data={**fields, "facility_id": "C!", "csrf_token": csrf})
    assert bad.status_code == 422 and "not a valid id" in bad.text
    assert 'value="Clinic C"' in bad.text  # the form keeps what was typed
    made = olga.post(
        "/console/facilities",
        data={**fields, "require_approval": "on", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/console/facilities/clinic-c?done=facility_added"
    assert "Facility added." in olga.get(made.headers["location"]).text
    with app.engine.connect() as conn:
        approval = conn.execute(
            sa.select(facilities.c.require_approval).where(facilities.c.facility_id == "clinic-c")
        ).scalar()
    assert approval is True
    assert actions_of(app, "facility.created") == ["clinic-c"]
    fay = browser(app, "fay")
    fay_csrf = csrf_of(fay, "/console/facilities")
    refused = fay.post(
        "/console/facilities", data={**fields, "facility_id": "d", "csrf_token": fay_csrf}
    )
    assert refused.status_code == 403


def test_locations_are_added_and_get_new_qr_tokens_by_form(app: ConsoleApp) -> None:
    fay = browser(app, "fay")
    csrf = csrf_of(fay, "/console/facilities/clinic-a")
    base = "/console/facilities/clinic-a"
    made = fay.post(
        f"{base}/locations",
        data={
            "csrf_token": csrf,
            "location_id": "a-exam",
            "name": "Exam",
            "kind": "exam_room",
            "floor": "",
            "room": "12",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    with app.engine.connect() as conn:
        row = conn.execute(
            sa.select(locations.c.floor, locations.c.room, locations.c.qr_token).where(
                locations.c.location_id == "a-exam"
            )
        ).one()
    assert (row[0], row[1]) == (None, "12")
    bad = fay.post(
        f"{base}/locations",
        data={"csrf_token": csrf, "location_id": "a-x", "name": "X", "kind": "closet"},
    )
    assert bad.status_code == 422 and "location kind" in bad.text
    rotated = fay.post(
        f"{base}/locations/a-exam/rotate-qr",
        data={"csrf_token": csrf, "grace": "7d"},
        follow_redirects=False,
    )
    assert rotated.status_code == 303
    page = fay.get(rotated.headers["location"]).text
    assert "rotating" in page and "old stickers work until" in page
    assert actions_of(app, "location.token_rotated") == ["a-exam"]


def test_an_enrolment_token_is_shown_once_with_its_qr_code(app: ConsoleApp) -> None:
    fay = browser(app, "fay")
    csrf = csrf_of(fay, "/console/facilities/clinic-a")
    path = "/console/facilities/clinic-a/locations/a-waiting/enrolment-token"
    shown = fay.post(path, data={"csrf_token": csrf, "ttl": "1h"})
    assert shown.status_code == 200
    assert_csp_clean(shown.text)
    token = re.search(r'<p class="token" id="token">([0-9A-Z-]+)</p>', shown.text)
    assert token is not None
    assert "<svg" in shown.text and "shown once" in shown.text
    with app.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.select(enrolment_tokens))]
    assert len(stored) == 1 and all(token.group(1) not in str(v) for v in stored[0])
    assert token.group(1) not in fay.get("/console/facilities/clinic-a").text
    too_long = fay.post(path, data={"csrf_token": csrf, "ttl": "30d"})
    assert too_long.status_code == 422 and "7 days" in too_long.text
    no_csrf = fay.post(path, data={"ttl": "1h"}, follow_redirects=False)
    assert no_csrf.status_code == 303
    with app.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(enrolment_tokens)).scalar() == 1


def test_pending_kiosks_are_approved_and_rejected_by_form(app: ConsoleApp) -> None:
    with app.engine.begin() as conn:
        for enrolment_id, device_id in (("enr-1", "kiosk-new-1"), ("enr-2", "kiosk-new-2")):
            enrolment_store.add_enrolment(
                conn,
                enrolment_id=enrolment_id,
                device_id=device_id,
                location_id="a-waiting",
                csr_pem="-",
                state="pending",
                now=time.time(),
            )
    fay = browser(app, "fay")
    listing = fay.get("/console/facilities").text
    assert "kiosk-new-1" in listing
    assert "kiosk-new-1" not in browser(app, "finn").get("/console/facilities").text
    csrf = csrf_of(fay, "/console/facilities/clinic-a")
    base = "/console/facilities/clinic-a/approvals"
    approved = fay.post(f"{base}/enr-1/approve", data={"csrf_token": csrf}, follow_redirects=False)
    assert approved.headers["location"].endswith("?done=approved")
    rejected = fay.post(
        f"{base}/enr-2/reject",
        data={"csrf_token": csrf, "reason": "unknown box"},
        follow_redirects=False,
    )
    assert rejected.headers["location"].endswith("?done=rejected")
    again = fay.post(f"{base}/enr-1/reject", data={"csrf_token": csrf})
    assert again.status_code == 422 and "not pending" in again.text
    assert fay.post(f"{base}/enr-1/maybe", data={"csrf_token": csrf}).status_code == 404
    finn = browser(app, "finn")
    finn_csrf = csrf_of(finn, "/console/facilities/clinic-b")
    assert (
        finn.post(
            "/console/facilities/clinic-b/approvals/enr-1/approve", data={"csrf_token": finn_csrf}
        ).status_code
        == 404
    )
    assert actions_of(app, "enrolment.approved") == ["kiosk-new-1"]
    assert actions_of(app, "enrolment.rejected") == ["kiosk-new-2"]


def test_the_sticker_sheet_downloads_as_a_pdf(app: ConsoleApp) -> None:
    fay = browser(app, "fay")
    sheet = fay.get(
        "/console/facilities/clinic-a/stickers.pdf",
        params=[("language", "en"), ("language", "ar"), ("sheet", "a4-l7165")],
    )
    assert sheet.status_code == 200
    assert sheet.content.startswith(b"%PDF")
    assert "attachment" in sheet.headers["content-disposition"]
    assert actions_of(app, "stickers.printed") == ["clinic-a"]
    bad = fay.get("/console/facilities/clinic-a/stickers.pdf", params={"language": "qq"})
    assert bad.status_code == 422 and "qq" in bad.text


def test_revoking_asks_first_then_cuts_the_kiosk_off(
    app: ConsoleApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No broker runs here: skip the takeover's ten-second wait (the API test goes through it).
    monkeypatch.setattr(revocation, "kick_client", lambda *_a, **_k: False)
    fay = browser(app, "fay")
    confirm = fay.get("/console/facilities/clinic-a/kiosks/kiosk-a2/revoke")
    assert confirm.status_code == 200
    assert "Revoke kiosk kiosk-a2?" in confirm.text and "This disconnects it now" in confirm.text
    assert_csp_clean(confirm.text)
    csrf = ConsoleApp.page_csrf(confirm.text)
    path = "/console/facilities/clinic-a/kiosks/kiosk-a2/revoke"
    forged = fay.post(path, data={"reason": "x"}, follow_redirects=False)
    assert forged.status_code == 303

    def lifecycle() -> str:
        with app.engine.connect() as conn:
            return str(
                conn.execute(
                    sa.select(devices.c.lifecycle).where(devices.c.device_id == "kiosk-a2")
                ).scalar()
            )

    assert lifecycle() == "active"
    done = fay.post(
        path, data={"csrf_token": csrf, "reason": "screen smashed", "decommission": "on"}
    )
    assert done.status_code == 200
    assert "kiosk-a2 is decommissioned" in done.text
    assert "Not done" in done.text  # no broker to reload here: said plainly, not a 500
    assert lifecycle() == "decommissioned"
    assert actions_of(app, "device.decommissioned") == ["kiosk-a2"]
    assert "Revoke again" in fay.get("/console/facilities/clinic-a").text
    assert browser(app, "rita").get(path).status_code == 403
