"""The live feeds (Server-Sent Events): a new incident arrives as a ``row`` event with the
page's own row HTML, only within the viewer's scope; a gone session gets ``logout``; the
fleet feed sends kiosks whose status changed. The streams end by themselves after the
module's maximum duration, set small here."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleet_manager.console import live_feed
from fleet_manager.store import fleet_state
from fleet_manager.store.schema import console_sessions
from tests.integration.fleet_seed import incident, insert_incident, seed
from tests.support.console import ConsoleApp, console_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    base: Path = tmp_path_factory.mktemp("live-feed")
    with console_app(base / "system") as found:
        seed(found.engine)
        yield found


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_feed, "POLL_INTERVAL_S", 0.05)
    monkeypatch.setattr(live_feed, "MAX_DURATION_S", 3.0)
    monkeypatch.setattr(live_feed, "KEEPALIVE_S", 0.5)


def signed_in(app: ConsoleApp, username: str) -> TestClient:
    client = app.new_client()
    app.login(username, client)
    return client


def events(client: TestClient, url: str, **kwargs: Any) -> Iterator[tuple[str, str]]:
    """(event name, data) of each event, and ("comment", text) of each comment line."""
    with client.stream("GET", url, **kwargs) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = "message", ""
        for line in response.iter_lines():
            if line.startswith(":"):
                yield "comment", line
            elif line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif line == "":
                if data:
                    yield name, data
                name, data = "message", ""


def test_a_new_incident_arrives_as_a_row_within_the_scope(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    since = time.time() - 1
    insert_incident(app.engine, *incident("inc-live-west", "kiosk-b1", time.time()))
    insert_incident(app.engine, *incident("inc-live-east", "kiosk-a1", time.time(), drill=True))
    rows = [
        json.loads(data)
        for name, data in events(client, f"/console/incidents/live?since={since}")
        if name == "row"
    ]
    assert [r["id"] for r in rows] == ["incident-inc-live-east"]  # once; west is not rita's
    html = rows[0]["html"]
    assert html.startswith('<tr id="incident-inc-live-east"')
    assert "DRILL" in html


def test_a_row_inserted_while_the_stream_is_open_arrives(app: ConsoleApp) -> None:
    client = signed_in(app, "olga")
    seen: list[str] = []
    for name, data in events(client, f"/console/incidents/live?since={time.time()}"):
        if name == "comment" and not seen:
            insert_incident(app.engine, *incident("inc-live-later", "kiosk-b1", time.time()))
            seen.append("inserted")
        if name == "row":
            seen.append(json.loads(data)["id"])
            break
    assert seen == ["inserted", "incident-inc-live-later"]


def test_a_reconnect_resumes_from_the_last_event_id(app: ConsoleApp) -> None:
    client = signed_in(app, "olga")
    record, timeline = incident("inc-live-resume", "kiosk-a2", time.time())
    insert_incident(app.engine, record, timeline)
    resumed = [
        json.loads(data)["id"]
        for name, data in events(
            client,
            f"/console/incidents/live?since={time.time()}",
            headers={"Last-Event-ID": repr(record.updated_at - 0.001)},
        )
        if name == "row"
    ]
    assert "incident-inc-live-resume" in resumed


def test_a_session_that_ends_gets_logout(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    got: list[str] = []
    for name, _data in events(client, f"/console/incidents/live?since={time.time()}"):
        got.append(name)
        if name == "comment" and "logout" not in got:
            with app.engine.begin() as conn:  # the session times out (or is ended elsewhere)
                conn.execute(console_sessions.delete())
    assert got[-1] == "logout"


def test_no_session_at_all_gets_logout_at_once(app: ConsoleApp) -> None:
    got = [name for name, _ in events(app.new_client(), "/console/incidents/live")]
    assert got == ["logout"]


def test_the_stream_does_not_extend_the_session(app: ConsoleApp) -> None:
    client = signed_in(app, "rita")
    with app.engine.begin() as conn:  # last active two minutes ago: a request would touch it
        conn.execute(
            console_sessions.update().values(last_seen_at=console_sessions.c.last_seen_at - 120)
        )
        before = {r.id_hash: r.last_seen_at for r in conn.execute(console_sessions.select())}
    assert [name for name, _ in events(client, "/console/incidents/live")][-1] != "logout"
    with app.engine.connect() as conn:
        after = {r.id_hash: r.last_seen_at for r in conn.execute(console_sessions.select())}
    assert after == before
    client.get("/console/incidents")  # a page the person asked for does extend it
    with app.engine.connect() as conn:
        touched = {r.id_hash: r.last_seen_at for r in conn.execute(console_sessions.select())}
    assert touched != before


@pytest.mark.parametrize(
    ("username", "path"),
    [("fay", "/console/incidents/live"), ("rita", "/console/fleet/live")],
)
def test_a_feed_the_role_does_not_allow_is_403(app: ConsoleApp, username: str, path: str) -> None:
    assert signed_in(app, username).get(path).status_code == 403


def test_the_fleet_feed_sends_kiosks_whose_status_changed(app: ConsoleApp) -> None:
    client = signed_in(app, "fay")
    since = time.time() - 1
    with app.engine.begin() as conn:
        fleet_state.record_status(conn, "kiosk-a2", True, "s-a2b", time.time(), "1.4.0", "c-7")
        fleet_state.record_status(conn, "kiosk-b1", False, "s-b1", time.time(), None, None)
    rows = [
        json.loads(data)
        for name, data in events(client, f"/console/fleet/live?since={since}")
        if name == "row"
    ]
    assert [r["id"] for r in rows] == ["kiosk-kiosk-a2"]  # kiosk-b1 is finn's
    assert "online" in rows[0]["html"]
