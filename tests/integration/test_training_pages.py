"""Training in the console, end to end in process: an admin invites, the person accepts and
trains (sections, a failed and a passed quiz, a certificate), the admin sees them current and,
as of later days, due and then overdue; nobody sees another person's training without the
right role at that facility."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleet_manager.store.schema import audit_log, quiz_attempts
from fleet_manager.training import catalog
from tests.support.console import ConsoleApp, console_app

STAFF_PASSWORD = "a long passphrase for the ward 7"
TODAY = datetime.now(UTC).date()
RENEWAL = TODAY + timedelta(days=90)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    base: Path = tmp_path_factory.mktemp("training-pages")
    with console_app(base / "system") as found:
        yield found


def signed_in(app: ConsoleApp, username: str, password: str | None = None) -> TestClient:
    client = app.new_client()
    if password is None:
        app.login(username, client)
    else:
        answer = client.post("/api/v1/session", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
    return client


def invite(app: ConsoleApp, admin: str, facility: str, name: str) -> str:
    client = signed_in(app, admin)
    page = client.get(f"/console/compliance?facility={facility}")
    assert page.status_code == 200, page.text
    made = client.post(
        "/console/compliance/invites",
        data={"csrf_token": app.page_csrf(page.text), "facility": facility, "full_name": name},
    )
    assert made.status_code == 200, made.text
    link = re.search(r'id="invite-link">([^<]+)<', made.text)
    assert link is not None
    return link.group(1).split("/console/invite/")[1]


def accept(app: ConsoleApp, token: str, username: str) -> None:
    client = app.new_client()
    assert client.get(f"/console/invite/{token}").status_code == 200
    form = {"username": username, "password": STAFF_PASSWORD, "password_again": STAFF_PASSWORD}
    done = client.post(f"/console/invite/{token}", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text


def staff(app: ConsoleApp, admin: str, facility: str, username: str) -> TestClient:
    accept(app, invite(app, admin, facility, username.capitalize() + " Example"), username)
    return signed_in(app, username, STAFF_PASSWORD)


# Texas needs an hour: the first module; the facility's yearly rule needs legal obligations.
FIRST, PROTOCOL = "recognising-signs", "legal-obligations"


def complete_module(
    app: ConsoleApp, client: TestClient, module_id: str = FIRST, fresh: bool = True
) -> str:
    """Read every section, fail the quiz once, pass it; the certificate's path."""
    module = catalog.module(module_id)
    assert module is not None, f"module {module_id} is missing"
    page = client.get(f"/console/training/modules/{module.id}")
    csrf = app.page_csrf(page.text)
    if fresh:
        early = client.get(f"/console/training/modules/{module.id}/quiz")
        assert early.status_code == 409  # every section first
    for section in module.sections:
        read = client.post(
            f"/console/training/modules/{module.id}/sections/{section.id}",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert read.status_code == 303
    wrong = {q.id: str((q.answer + 1) % len(q.choices)) for q in module.quiz}
    failed = client.post(
        f"/console/training/modules/{module.id}/quiz", data={"csrf_token": csrf, **wrong}
    )
    assert "Not passed" in failed.text and "certificate" not in failed.text.lower()
    right = {q.id: str(q.answer) for q in module.quiz}
    passed = client.post(
        f"/console/training/modules/{module.id}/quiz", data={"csrf_token": csrf, **right}
    )
    assert "Passed" in passed.text, passed.text
    found = re.search(r'id="certificate" href="([^"]+)"', passed.text)
    assert found is not None
    return found.group(1)


def test_invite_train_certificate_and_compliance_over_time(app: ConsoleApp) -> None:
    nina = staff(app, "fay", "clinic-a", "nina")
    home = nina.get("/console/", follow_redirects=False)
    assert home.headers["location"] == "/console/training"  # staff see their training only
    page = nina.get("/console/training")
    nav = page.text[page.text.index("<nav") : page.text.index("</nav>")]
    assert "Training" in nav and "Compliance" not in nav and "Incidents" not in nav
    saved = nina.post(
        "/console/training/profile",
        data={
            "csrf_token": app.page_csrf(page.text),
            "profession": "registered nurse",
            "licence_state": "tx",
            "licence_renewal": RENEWAL.isoformat(),
            "email": "nina@example.org",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    certificate = complete_module(app, nina)
    pdf = nina.get(certificate)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    with app.engine.connect() as conn:
        tries = (
            conn.execute(
                sa.select(quiz_attempts.c.passed).where(quiz_attempts.c.username == "nina")
            )
            .scalars()
            .all()
        )
    assert list(tries) == [False, True]
    complete_module(app, nina, PROTOCOL)

    fay = signed_in(app, "fay")

    def status(as_of: date) -> str:
        page = fay.get(f"/console/compliance?facility=clinic-a&as_of={as_of}")
        assert page.status_code == 200
        row = page.text[page.text.index('id="person-nina"') :]
        found = re.search(r'data-status="(\w+)"', row)
        assert found is not None
        return found.group(1)

    # Texas (every renewal) and the facility's yearly rule both met today.
    assert status(TODAY) == "current"
    assert status(RENEWAL + timedelta(days=1)) == "due"  # a new licence period began
    assert status(RENEWAL + timedelta(days=31)) == "overdue"  # its grace has run out

    exported = fay.get(f"/console/compliance.csv?facility=clinic-a&as_of={TODAY}")
    assert exported.status_code == 200
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    mine = [row for row in lines if row["username"] == "nina"]
    assert mine and {row["overall_status"] for row in mine} == {"current"}
    assert {row["rule"] for row in mine} == {"tx-every-renewal", "facility-annual-protocol"}
    assert fay.get(f"/console/compliance.pdf?facility=clinic-a&as_of={TODAY}").content.startswith(
        b"%PDF"
    )
    with app.engine.connect() as conn:
        audited = (
            conn.execute(sa.select(audit_log.c.action).where(audit_log.c.subject == "nina"))
            .scalars()
            .all()
        )
    assert "training.completed" in audited and "training.profile_updated" in audited


def test_nobody_sees_another_persons_training_without_the_role_there(app: ConsoleApp) -> None:
    nina = (
        signed_in(app, "nina", STAFF_PASSWORD)
        if _exists(app, "nina")
        else staff(app, "fay", "clinic-a", "nina")
    )
    certificate = complete_module(app, nina, fresh=False)
    omar = staff(app, "fay", "clinic-a", "omar")
    # Another person's certificate: staff may view nobody's (403, as the policy answers for an
    # action a role has nowhere); the id is random, so it tells nothing about whose it is.
    assert omar.get(certificate).status_code == 403
    assert omar.get("/console/compliance").status_code == 403
    assert omar.get("/api/v1/training/compliance").status_code in (401, 403)
    assert "Nina" not in omar.get("/console/training").text
    finn = signed_in(app, "finn")  # admin of clinic-b
    assert finn.get(certificate).status_code == 404
    assert finn.get("/console/compliance?facility=clinic-a").status_code == 404
    assert "nina" not in finn.get("/console/compliance").text
    for who in ("fay", "audra", "olga"):  # clinic-a's admin, an auditor, ops
        assert signed_in(app, who).get(certificate).status_code == 200, who
    rita = signed_in(app, "rita")  # a responder: no training.view
    assert rita.get("/console/compliance").status_code == 403
    api = signed_in(app, "audra").get("/api/v1/training/compliance?facility=clinic-a")
    assert api.status_code == 200 and "nina" in {p["username"] for p in api.json()["people"]}


def test_an_invitation_is_used_once_and_refuses_a_weak_password(app: ConsoleApp) -> None:
    token = invite(app, "fay", "clinic-a", "Pat Example")
    client = app.new_client()
    weak = client.post(
        f"/console/invite/{token}",
        data={"username": "pat", "password": "short", "password_again": "short"},
    )
    assert weak.status_code == 400 and "password" in weak.text.lower()
    accept(app, token, "pat")
    assert app.new_client().get(f"/console/invite/{token}").status_code == 404
    assert app.new_client().get("/console/invite/not-a-real-token").status_code == 404
    finn = signed_in(app, "finn")
    refused = finn.post(
        "/console/compliance/invites",
        data={
            "csrf_token": app.page_csrf(finn.get("/console/compliance").text),
            "facility": "clinic-a",
            "full_name": "X",
        },
    )
    assert refused.status_code == 404  # clinic-a is not finn's


def _exists(app: ConsoleApp, username: str) -> bool:
    from fleet_manager.store.schema import users

    with app.engine.connect() as conn:
        return (
            conn.execute(sa.select(users.c.username).where(users.c.username == username)).first()
            is not None
        )
