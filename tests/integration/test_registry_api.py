"""``/api/v1`` facilities, locations, enrolment tokens, approvals, stickers and revocation over
a built system: scoping (fay of clinic-a sees nothing of clinic-b; a responder is refused),
what each change writes (rows and audit entries), and bad input answered with 4xx."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleet_manager.api.app import create_app
from fleet_manager.enrolment import tokens
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.store import enrolment_store
from fleet_manager.store.schema import audit_log, devices, enrolment_tokens, facilities
from tests.support.console import ConsoleApp, console_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ConsoleApp]:
    with console_app(tmp_path / "system") as found:
        yield found


def as_user(app: ConsoleApp, name: str) -> TestClient:
    client = app.new_client()
    client.headers.update(app.headers(app.login(name, client)))
    return client


def audited(app: ConsoleApp, action: str) -> list[tuple[str, str, dict[str, object]]]:
    with app.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.subject, audit_log.c.detail)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.seq)
        )
        return [(r[0], r[1], r[2]) for r in rows]


def add_pending(app: ConsoleApp, enrolment_id: str, device_id: str, location_id: str) -> None:
    with app.engine.begin() as conn:
        enrolment_store.add_enrolment(
            conn,
            enrolment_id=enrolment_id,
            device_id=device_id,
            location_id=location_id,
            csr_pem="-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----",
            state="pending",
            now=time.time(),
        )


def test_facility_lists_are_scoped(app: ConsoleApp) -> None:
    assert app.client.get("/api/v1/facilities").status_code == 401
    olga = as_user(app, "olga").get("/api/v1/facilities").json()
    assert [f["facility_id"] for f in olga] == ["clinic-a", "clinic-b"]
    a = olga[0]
    assert (a["locations"], a["kiosks"], a["kiosks_online"]) == (2, 2, 0)
    fay = as_user(app, "fay").get("/api/v1/facilities").json()
    assert [f["facility_id"] for f in fay] == ["clinic-a"]
    assert as_user(app, "rita").get("/api/v1/facilities").status_code == 403
    assert as_user(app, "audra").get("/api/v1/facilities").status_code == 403


def test_a_facility_outside_the_scope_is_not_found(app: ConsoleApp) -> None:
    fay = as_user(app, "fay")
    detail = fay.get("/api/v1/facilities/clinic-a")
    assert detail.status_code == 200
    body = detail.json()
    assert [loc["location_id"] for loc in body["locations"]] == ["a-restroom", "a-waiting"]
    assert body["locations"][0]["qr_state"] == "active"
    assert [k["device_id"] for k in body["kiosks"]] == ["kiosk-a1", "kiosk-a2"]
    other, unknown = fay.get("/api/v1/facilities/clinic-b"), fay.get("/api/v1/facilities/nope")
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()
    assert as_user(app, "rita").get("/api/v1/facilities/clinic-a").status_code == 403
    for path, body_ in (
        (
            "/api/v1/facilities/clinic-b/locations",
            {"location_id": "x", "name": "X", "kind": "other"},
        ),
        ("/api/v1/locations/b-exam/rotate-qr", {}),
        ("/api/v1/locations/b-exam/enrolment-tokens", {"ttl_s": 3600}),
        ("/api/v1/kiosks/kiosk-b1/revoke", {"reason": "probe"}),
    ):
        assert fay.post(path, json=body_).status_code == 404, path
    assert (
        fay.patch("/api/v1/facilities/clinic-b", json={"require_approval": True}).status_code == 404
    )
    assert fay.get("/api/v1/facilities/clinic-b/stickers.pdf").status_code == 404


def test_only_ops_adds_facilities(app: ConsoleApp) -> None:
    new = {"facility_id": "clinic-c", "name": "Clinic C", "region": "east"}
    refused = as_user(app, "fay").post("/api/v1/facilities", json=new)
    assert refused.status_code == 403
    assert as_user(app, "rita").post("/api/v1/facilities", json=new).status_code == 403
    olga = as_user(app, "olga")
    made = olga.post("/api/v1/facilities", json={**new, "require_approval": True})
    assert made.status_code == 201, made.text
    assert made.json()["require_approval"] is True
    assert olga.post("/api/v1/facilities", json=new).status_code == 409
    bad = olga.post("/api/v1/facilities", json={**new, "facility_id": "Bad Id"})
    assert bad.status_code == 400 and "facility_id" in bad.json()["message"]
    # What the schema cannot say, the registry refuses with its own message.
    hidden = olga.post("/api/v1/facilities", json={**new, "facility_id": "c-d", "name": "C\u00adD"})
    assert hidden.status_code == 422 and "control characters" in hidden.json()["message"]
    assert audited(app, "facility.created") == [
        ("user:olga", "clinic-c", {"region": "east", "require_approval": True})
    ]


def test_require_approval_is_changed_and_audited(app: ConsoleApp) -> None:
    fay = as_user(app, "fay")
    changed = fay.patch("/api/v1/facilities/clinic-a", json={"require_approval": True})
    assert changed.status_code == 200
    assert changed.json()["require_approval"] is True
    with app.engine.connect() as conn:
        value = conn.execute(
            sa.select(facilities.c.require_approval).where(facilities.c.facility_id == "clinic-a")
        ).scalar()
    assert value is True
    assert audited(app, "facility.require_approval") == [
        ("user:fay", "clinic-a", {"required": True})
    ]


def test_locations_are_added_and_their_qr_token_rotated(app: ConsoleApp) -> None:
    fay = as_user(app, "fay")
    new = {"location_id": "a-exam-2", "name": "Exam 2", "kind": "exam_room", "floor": "2"}
    made = fay.post("/api/v1/facilities/clinic-a/locations", json=new)
    assert made.status_code == 201, made.text
    old_token = made.json()["qr_token"]
    assert fay.post("/api/v1/facilities/clinic-a/locations", json=new).status_code == 409
    bad = fay.post(
        "/api/v1/facilities/clinic-a/locations",
        json={**new, "location_id": "a-x", "kind": "closet"},
    )
    assert bad.status_code == 400 and "kind" in bad.json()["message"]
    rotated = fay.post("/api/v1/locations/a-exam-2/rotate-qr", json={"grace_s": 3600})
    assert rotated.status_code == 200
    assert rotated.json()["old_token"] == old_token
    assert rotated.json()["new_token"] != old_token
    detail = fay.get("/api/v1/facilities/clinic-a").json()
    row = next(loc for loc in detail["locations"] if loc["location_id"] == "a-exam-2")
    assert row["qr_state"] == "rotating" and row["old_qr_tokens_working"] == 1
    assert [s for _, s, _ in audited(app, "location.created")] == ["a-exam-2"]
    assert [s for _, s, _ in audited(app, "location.token_rotated")] == ["a-exam-2"]


def test_an_enrolment_token_is_shown_once_and_only_its_hash_is_kept(app: ConsoleApp) -> None:
    fay = as_user(app, "fay")
    made = fay.post("/api/v1/locations/a-waiting/enrolment-tokens", json={"ttl_s": 3600})
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert body["qr_svg"].startswith("<svg") and "style=" not in body["qr_svg"]
    assert "<script" not in body["qr_svg"]
    with app.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(enrolment_tokens))]
    assert len(rows) == 1
    assert all(token not in str(value) for value in rows[0])
    assert rows[0][0] == hashlib.sha256(tokens.normalise(token).encode()).hexdigest()  # type: ignore[union-attr]
    with app.engine.connect() as conn:
        facts = enrolment_store.token_facts(conn, rows[0][0])
    assert tokens.token_state(facts, time.time()) == "valid"
    detail = fay.get("/api/v1/facilities/clinic-a").json()
    assert token not in str(detail)
    assert (
        next(loc for loc in detail["locations"] if loc["location_id"] == "a-waiting")[
            "open_enrolment_tokens"
        ]
        == 1
    )
    for ttl in (10, 8 * 86400, "soon"):
        refused = fay.post("/api/v1/locations/a-waiting/enrolment-tokens", json={"ttl_s": ttl})
        assert 400 <= refused.status_code < 500
    entries = audited(app, "enrolment_token.created")
    assert [(a, s) for a, s, _ in entries] == [("user:fay", "a-waiting")]


def test_pending_kiosks_are_approved_or_rejected_in_scope(app: ConsoleApp) -> None:
    add_pending(app, "enr-a", "kiosk-new-a", "a-waiting")
    add_pending(app, "enr-a2", "kiosk-new-a2", "a-restroom")
    add_pending(app, "enr-b", "kiosk-new-b", "b-exam")
    fay, finn = as_user(app, "fay"), as_user(app, "finn")
    assert [p["enrolment_id"] for p in fay.get("/api/v1/approvals").json()] == ["enr-a", "enr-a2"]
    assert [p["enrolment_id"] for p in finn.get("/api/v1/approvals").json()] == ["enr-b"]
    assert as_user(app, "rita").get("/api/v1/approvals").status_code == 403
    assert finn.post("/api/v1/approvals/enr-a/approve").status_code == 404
    approved = fay.post("/api/v1/approvals/enr-a/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["decided_by"] == "user:fay"
    assert fay.post("/api/v1/approvals/enr-a/reject").status_code == 409
    rejected = fay.post("/api/v1/approvals/kiosk-new-a2/reject", json={"reason": "not ours"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert fay.get("/api/v1/approvals").json() == []
    assert [s for _, s, _ in audited(app, "enrolment.approved")] == ["kiosk-new-a"]
    assert [s for _, s, _ in audited(app, "enrolment.rejected")] == ["kiosk-new-a2"]
    assert audited(app, "enrolment.decision_reason")[0][2] == {
        "decision": "rejected",
        "reason": "not ours",
    }


def test_the_sticker_sheet_is_a_pdf_and_is_audited(app: ConsoleApp) -> None:
    fay = as_user(app, "fay")
    sheet = fay.get(
        "/api/v1/facilities/clinic-a/stickers.pdf", params=[("language", "en"), ("language", "es")]
    )
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"] == "application/pdf"
    assert sheet.content.startswith(b"%PDF")
    assert audited(app, "stickers.printed") == [
        (
            "user:fay",
            "clinic-a",
            {"languages": ["en", "es"], "sheet": "avery-5163", "stickers": 4, "pages": 1},
        )
    ]
    unknown = fay.get("/api/v1/facilities/clinic-a/stickers.pdf", params={"language": "xx"})
    assert unknown.status_code == 422 and "xx" in unknown.json()["message"]
    assert (
        fay.get("/api/v1/facilities/clinic-a/stickers.pdf", params={"sheet": "napkin"}).status_code
        == 400
    )
    assert as_user(app, "rita").get("/api/v1/facilities/clinic-a/stickers.pdf").status_code == 403


def test_features_needing_the_fleet_config_say_so_without_it(app: ConsoleApp) -> None:
    service = EnrolmentService.from_config(app.config, app.engine)
    bare = TestClient(create_app(service, None, None, None), base_url="https://testserver")
    ops = app.login("olga", bare)
    bare.headers.update(app.headers(ops))
    sheet = bare.get("/api/v1/facilities/clinic-a/stickers.pdf")
    assert sheet.status_code == 409 and "qr_origin" in sheet.json()["message"]
    revoke = bare.post("/api/v1/kiosks/kiosk-a1/revoke", json={})
    assert revoke.status_code == 409 and "revocation" in revoke.json()["message"]


def test_revoking_a_kiosk_without_a_running_broker(app: ConsoleApp) -> None:
    fay = as_user(app, "fay")
    assert as_user(app, "rita").post("/api/v1/kiosks/kiosk-a1/revoke", json={}).status_code == 403
    assert fay.post("/api/v1/kiosks/nope/revoke", json={}).status_code == 404
    answer = fay.post("/api/v1/kiosks/kiosk-a1/revoke", json={"reason": "stolen"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["lifecycle"] == "revoked"
    assert body["crl_number"] is not None  # the CRL is written even with the broker down
    assert body["acl_changed"] is True
    assert body["broker_reloaded"] is False and body["disconnected"] is False
    assert body["complete"] is False and body["problems"]
    assert "kiosk-a1 is revoked" in body["summary"]
    with app.engine.connect() as conn:
        lifecycle = conn.execute(
            sa.select(devices.c.lifecycle).where(devices.c.device_id == "kiosk-a1")
        ).scalar()
    assert lifecycle == "revoked"
    assert audited(app, "device.revoked")[0][:2] == ("user:fay", "kiosk-a1")
    assert audited(app, "device.revoked")[0][2]["reason"] == "stolen"
    assert [s for _, s, _ in audited(app, "device.cut_off")] == ["kiosk-a1"]
    acl = app.config.revocation.acl_file.read_text()  # type: ignore[union-attr]
    assert "user kiosk-a1" in acl


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/facilities", {"facility_id": "x"}),
        ("post", "/api/v1/facilities", {"facility_id": "x", "name": "X", "region": "e", "z": 1}),
        ("post", "/api/v1/facilities", {"facility_id": "x" * 65, "name": "X", "region": "e"}),
        ("post", "/api/v1/facilities", {"facility_id": "x", "name": "\u0000", "region": "e"}),
        ("post", "/api/v1/facilities", [1, 2]),
        ("patch", "/api/v1/facilities/clinic-a", {"require_approval": "maybe"}),
        (
            "post",
            "/api/v1/facilities/clinic-a/locations",
            {"location_id": "", "name": "n", "kind": "other"},
        ),
        (
            "post",
            "/api/v1/facilities/clinic-a/locations",
            {"location_id": "l", "name": " n", "kind": "other"},
        ),
        ("post", "/api/v1/facilities/clinic-a/locations", {"location_id": "l", "kind": "o"}),
        ("post", "/api/v1/facilities", {"facility_id": "x", "region": "e", "name": 7}),
        ("patch", "/api/v1/facilities/clinic-a", {"require_approval": 0}),
        ("post", "/api/v1/locations/a-waiting/enrolment-tokens", {"ttl_s": "3600"}),
        ("post", "/api/v1/locations/a-waiting/rotate-qr", {"grace_s": -1}),
        ("post", "/api/v1/locations/a-waiting/rotate-qr", {"grace_s": 1e300}),
        ("post", "/api/v1/locations/a-waiting/enrolment-tokens", {"ttl_s": float("nan")}),
        ("post", "/api/v1/approvals/enr/maybe", {}),
        ("post", "/api/v1/approvals/nope/approve", {"reason": "x" * 201}),
        ("post", "/api/v1/kiosks/kiosk-a1/revoke", {"decommission": "perhaps"}),
        ("get", "/api/v1/facilities/clinic-a/stickers.pdf?language=" + "e," * 150, None),
        ("get", "/api/v1/facilities/clinic-a/stickers.pdf?language=%00", None),
        ("get", "/api/v1/facilities/clinic-a/stickers.pdf?" + "&".join(["language=en"] * 13), None),
        ("get", "/api/v1/facilities/" + "f" * 65, None),
    ],
)
def test_bad_input_is_a_4xx(app: ConsoleApp, method: str, path: str, body: object) -> None:
    olga = as_user(app, "olga")
    if body is None:
        response = olga.request(method, path)
    else:
        response = olga.request(
            method, path, content=_json(body), headers={"content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500, response.text
    assert {"error", "message"} <= set(response.json())


def _json(body: object) -> str:
    import json

    return json.dumps(body, allow_nan=True)


def test_a_session_change_without_the_csrf_token_is_refused(app: ConsoleApp) -> None:
    client = app.new_client()
    app.login("olga", client)  # cookie, but no X-CSRF-Token header
    made = client.post(
        "/api/v1/facilities", json={"facility_id": "clinic-c", "name": "C", "region": "east"}
    )
    assert made.status_code == 401
    assert client.get("/api/v1/facilities").status_code == 200
