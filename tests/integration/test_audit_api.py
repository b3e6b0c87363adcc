"""The audit log over the API and the console: filters and paging (newest first), the chain
check (a row changed in the database is found, by seq), CSV export, and who may see it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleet_manager.store import audit_log
from tests.support.console import ConsoleApp, console_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    with console_app(tmp_path_factory.mktemp("audit") / "system") as found:
        with found.engine.begin() as conn:
            for i in range(5):
                audit_log.record(
                    conn,
                    at=1_700_000_000 + i,
                    actor="user:test",
                    action="thing.changed",
                    subject=f"thing-{i}" if i else "=cmd|' /C calc'!A0",
                    outcome="ok",
                    detail={"i": i},
                )
        yield found


def logged_in(app: ConsoleApp, who: str) -> tuple[TestClient, str]:
    client = app.new_client()
    return client, app.login(who, client)


@contextmanager
def tampered(app: ConsoleApp, subject: str) -> Iterator[int]:
    """Change one entry's subject directly in the database (and put it back afterwards)."""
    seq = seq_of(app, subject)
    update = sa.text("UPDATE audit_log SET subject = :s WHERE seq = :seq")
    with app.engine.begin() as conn:
        conn.execute(update, {"s": "nothing to see", "seq": seq})
    try:
        yield seq
    finally:
        with app.engine.begin() as conn:
            conn.execute(update, {"s": subject, "seq": seq})


def seq_of(app: ConsoleApp, subject: str) -> int:
    with app.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT seq FROM audit_log WHERE subject = :s"), {"s": subject}
            ).scalar_one()
        )


def test_lists_newest_first_with_filters_and_paging(app: ConsoleApp) -> None:
    client = app.new_client()
    app.login("audra", client)
    body = client.get("/api/v1/audit?action=thing.changed&limit=2").json()
    assert body["total"] == 5
    assert [e["subject"] for e in body["entries"]] == ["thing-4", "thing-3"]
    second = client.get("/api/v1/audit?action=thing.changed&limit=2&offset=2").json()
    assert [e["subject"] for e in second["entries"]] == ["thing-2", "thing-1"]
    logins = client.get("/api/v1/audit?action=login.*").json()
    assert logins["total"] >= 1 and all(e["action"].startswith("login.") for e in logins["entries"])
    ranged = client.get("/api/v1/audit?since=1700000001&until=1700000003").json()
    assert [e["detail"]["i"] for e in ranged["entries"]] == [2, 1]
    assert client.get("/api/v1/audit?subject=thing-3").json()["entries"][0]["detail"] == {"i": 3}
    assert client.get("/api/v1/audit?limit=0").status_code == 400
    assert client.get("/api/v1/audit?limit=501").status_code == 400
    assert client.get("/api/v1/audit?actor=user%00olga").status_code == 400
    assert client.get("/api/v1/audit?since=nan").status_code == 400


@pytest.mark.parametrize(
    ("who", "status"), [("olga", 200), ("audra", 200), ("fay", 403), ("rita", 403)]
)
def test_only_ops_and_auditors_see_the_log(app: ConsoleApp, who: str, status: int) -> None:
    client, csrf = logged_in(app, who)
    assert client.get("/api/v1/audit").status_code == status
    assert client.get("/api/v1/audit.csv").status_code == status
    verify = client.post("/api/v1/audit/verify", headers=app.headers(csrf))
    assert verify.status_code == status
    assert client.get("/console/audit").status_code == status


def test_nobody_gets_401_and_a_session_post_needs_its_csrf_token(app: ConsoleApp) -> None:
    anonymous = app.new_client()
    assert anonymous.get("/api/v1/audit").status_code == 401
    assert anonymous.post("/api/v1/audit/verify").status_code == 401
    client, _csrf = logged_in(app, "olga")
    assert client.post("/api/v1/audit/verify").status_code == 401


def test_verify_finds_a_changed_row_and_is_itself_audited(app: ConsoleApp) -> None:
    client, csrf = logged_in(app, "audra")
    ok = client.post("/api/v1/audit/verify", headers=app.headers(csrf)).json()
    assert ok["ok"] is True and ok["first_bad_seq"] is None and ok["entries"] >= 5
    with tampered(app, "thing-2") as seq:
        broken = client.post("/api/v1/audit/verify", headers=app.headers(csrf)).json()
    assert broken == {"ok": False, "entries": ok["entries"] + 1, "first_bad_seq": seq}
    with app.engine.connect() as conn:
        checks = audit_log.entries(conn, action="audit.verified")
    assert [(c.actor, c.outcome) for c in checks[-2:]] == [
        ("user:audra", "ok"),
        ("user:audra", "broken"),
    ]
    assert checks[-1].detail["first_bad_seq"] == seq
    # Put back as it was, the chain verifies again.
    assert client.post("/api/v1/audit/verify", headers=app.headers(csrf)).json()["ok"] is True


def test_the_page_verifies_and_shows_the_broken_seq(app: ConsoleApp) -> None:
    client, _ = logged_in(app, "olga")
    page = client.get("/console/audit")
    assert page.status_code == 200
    assert "Verify chain" in page.text and "Export CSV" in page.text
    form_csrf = app.page_csrf(page.text)
    refused = client.post("/console/audit/verify", data={}, follow_redirects=False)
    assert refused.status_code == 303 and "/console/login" in refused.headers["location"]
    with tampered(app, "thing-3") as seq:
        done = client.post(
            "/console/audit/verify", data={"csrf_token": form_csrf}, follow_redirects=False
        )
    assert done.status_code == 303
    shown = client.get(done.headers["location"])
    assert "Chain broken" in shown.text
    assert f"entry {seq} does not chain" in shown.text
    # A link naming an entry that is not a verification shows no result.
    other = client.get(f"/console/audit?verified={seq}")
    assert other.status_code == 200 and 'class="verify-result"' not in other.text
    fine = client.post(
        "/console/audit/verify", data={"csrf_token": form_csrf}, follow_redirects=True
    )
    assert "Chain verified" in fine.text


def test_the_page_filters_and_escapes(app: ConsoleApp) -> None:
    client, _ = logged_in(app, "audra")
    page = client.get("/console/audit?action=thing.changed&since=2023-11-14&until=2023-11-14")
    assert page.status_code == 200
    assert "5 matching entries" in page.text
    assert "thing-4" in page.text
    assert "Verify chain" in page.text
    assert client.get("/console/audit?since=yesterday").status_code == 400
    assert "<script" not in page.text


def test_csv_export_is_audited_and_formula_safe(app: ConsoleApp) -> None:
    client, _ = logged_in(app, "audra")
    response = client.get("/api/v1/audit.csv?action=thing.changed")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0][:5] == ["seq", "at", "at_utc", "actor", "action"]
    assert [row[5] for row in table[1:]] == [
        "'=cmd|' /C calc'!A0",
        "thing-1",
        "thing-2",
        "thing-3",
        "thing-4",
    ]
    with app.engine.connect() as conn:
        exported = audit_log.entries(conn, action="audit.exported")
    assert exported[-1].actor == "user:audra"
    assert exported[-1].detail == {"action": "thing.changed"}
