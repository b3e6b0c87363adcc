"""``/console/content``: bundles, channels, rollouts by wave; pause, resume, abort and start
from the page, for those allowed, with the form's CSRF token."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet_manager.rollouts import service as rollouts
from fleet_manager.store import audit_log
from tests.integration.test_content_api import PUBLISHED, content_console_app, start
from tests.support.console import ConsoleApp


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ConsoleApp]:
    with content_console_app(tmp_path / "system") as found:
        yield found


def browser(app: ConsoleApp, name: str) -> tuple[TestClient, str, int, str]:
    """A logged-in client, its CSRF token, and the content page's status and text."""
    client = app.new_client()
    csrf = app.login(name, client)
    page = client.get("/console/content")
    return client, csrf, page.status_code, html.unescape(page.text)


def state(app: ConsoleApp, rollout_id: str) -> str:
    with app.engine.connect() as conn:
        row = rollouts.get(conn, rollout_id)
    assert row is not None
    return row.rollout.state


def test_a_facility_admin_sees_content_but_no_buttons(app: ConsoleApp) -> None:
    rollout_id = start(app)
    client, csrf, status, text = browser(app, "fay")
    assert status == 200
    assert PUBLISHED in text and "stable" in text and rollout_id in text
    assert "<progress" in text and "<meter" in text
    assert f"/console/content/rollouts/{rollout_id}/pause" not in text
    assert "Start a rollout" not in text
    # Posting anyway is refused, and nothing changes.
    response = client.post(
        f"/console/content/rollouts/{rollout_id}/pause",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert state(app, rollout_id) == "running"


def test_a_responder_gets_403(app: ConsoleApp) -> None:
    assert browser(app, "rita")[2] == 403


def test_ops_pauses_resumes_and_aborts_from_the_page(app: ConsoleApp) -> None:
    rollout_id = start(app, "1,all")
    client, _csrf, status, text = browser(app, "olga")
    assert status == 200
    assert f"/console/content/rollouts/{rollout_id}/pause" in text
    assert f"/console/content/rollouts/{rollout_id}/resume" not in text  # running: no resume
    assert "1 of 2" in text and "2 of 2" in text  # waves
    csrf = app.page_csrf(text)

    def act(action: str) -> tuple[int, str]:
        response = client.post(
            f"/console/content/rollouts/{rollout_id}/{action}",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        return response.status_code, response.headers.get("location", "")

    assert act("pause") == (303, f"/console/content?done=pause&rollout={rollout_id}")
    assert state(app, rollout_id) == "paused"
    shown = html.unescape(client.get(f"/console/content?done=pause&rollout={rollout_id}").text)
    assert f"Rollout {rollout_id} paused." in shown
    assert f"/console/content/rollouts/{rollout_id}/resume" in shown
    assert "Paused by user:olga (operator)" in shown
    assert act("pause")[0] == 409  # already paused: refused, the page says why
    assert act("resume")[0] == 303 and state(app, rollout_id) == "running"
    assert act("abort")[0] == 303 and state(app, rollout_id) == "aborted"
    assert act("explode")[0] == 404
    with app.engine.connect() as conn:
        done = [
            (e.action, e.actor, e.outcome)
            for e in audit_log.entries(conn)
            if e.action.startswith("rollout.") and e.subject == rollout_id
        ]
    assert done == [
        ("rollout.started", "user:olga", "ok"),
        ("rollout.pause", "user:olga", "ok"),
        ("rollout.pause", "user:olga", "refused"),
        ("rollout.resume", "user:olga", "ok"),
        ("rollout.abort", "user:olga", "ok"),
    ]


def test_actions_need_the_csrf_token(app: ConsoleApp) -> None:
    rollout_id = start(app)
    client, _csrf, _status, _text = browser(app, "olga")
    for token in ("", "forged"):
        response = client.post(
            f"/console/content/rollouts/{rollout_id}/abort",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login")
    assert state(app, rollout_id) == "running"


def test_unknown_rollouts_are_404(app: ConsoleApp) -> None:
    client, csrf, _status, _text = browser(app, "olga")
    for rollout_id in ("ro-0123456789ab", "not-a-rollout"):
        response = client.post(
            f"/console/content/rollouts/{rollout_id}/pause", data={"csrf_token": csrf}
        )
        assert response.status_code == 404


def test_ops_starts_a_rollout_from_the_page(app: ConsoleApp) -> None:
    client, csrf, status, text = browser(app, "olga")
    assert "Start a rollout" in text and f'<option value="{PUBLISHED}"' in text

    def start_form(**fields: str) -> tuple[int, str]:
        response = client.post(
            "/console/content/rollouts",
            data={"csrf_token": csrf, "channel": "stable", "version": PUBLISHED, **fields},
            follow_redirects=False,
        )
        return response.status_code, html.unescape(response.text)

    assert start_form(waves="1,all")[0] == 303
    with app.engine.connect() as conn:
        [row] = rollouts.list_rollouts(conn)
    assert (row.channel, row.version, row.created_by) == ("stable", PUBLISHED, "user:olga")
    status, text = start_form(waves="1,all")
    assert status == 409 and "still running" in text
    status, text = start_form(waves="lots")
    assert status == 422 and "Not started" in text
    status, text = start_form(waves="1,all", version="2099.1.1")
    assert status == 422 and "2099.1.1 is not published" in text
    status, text = start_form(waves="1,all", channel="Not A Channel")
    assert status == 422 and "is not a channel name" in text
    with app.engine.connect() as conn:
        assert len(rollouts.list_rollouts(conn)) == 1
