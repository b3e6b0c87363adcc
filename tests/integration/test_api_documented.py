"""The OpenAPI document declares what the API answers: every guarded operation its 400 (input
that does not fit) and 401, and a success with a schema; the session and rollout routes answer
bodies of the models they declare (found by the schemathesis run: they declared neither)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import Grant
from fleet_manager.api.auth import LoggedOut, SessionStarted, WhoAmI
from fleet_manager.api.content_routes import RolloutView
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from protocol.content_delivery import RolloutScope
from protocol.enrolment import ENROL_PATH, Refusal
from tests.support.console import ConsoleApp, console_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    with console_app(tmp_path_factory.mktemp("documented") / "system") as found:
        yield found


@pytest.fixture(scope="module")
def ops(app: ConsoleApp) -> TestClient:
    with app.engine.begin() as conn:
        secret, _token = token_store.create_api_token(
            conn, "documented", [Grant("ops")], creator=None, owner=None, actor="test",
            now=time.time(),
        )  # fmt: skip
    client = app.new_client()
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def operations(app: ConsoleApp) -> list[tuple[str, str, dict[str, Any]]]:
    doc = app.client.get("/api/v1/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def test_every_guarded_operation_declares_its_refusals_and_success(app: ConsoleApp) -> None:
    missing = []
    for method, path, op in operations(app):
        if path.startswith(ENROL_PATH):
            continue  # the kiosks' own enrolment (an enrolment token, no caller to refuse)
        codes = set(op["responses"])
        wanted = {"401"} | ({"400"} if op.get("parameters") or op.get("requestBody") else set())
        if not wanted <= codes:
            missing.append(f"{method} {path}: {sorted(wanted - codes)}")
        successes = [op["responses"][c] for c in codes if c.startswith("2")]
        schemas = [s for r in successes for s in r.get("content", {}).values()]
        if not schemas or any(s.get("schema") in (None, {}) for s in schemas if s):
            missing.append(f"{method} {path}: a success without a schema")
    assert missing == []


def test_session_answers_are_their_models(app: ConsoleApp) -> None:
    client = app.new_client()
    bad = client.post("/api/v1/session", json={"username": "olga"})
    assert bad.status_code == 400
    Refusal.model_validate(bad.json())
    login = client.post(
        "/api/v1/session",
        json={"username": "olga", "password": "correct horse battery staple 42"},
    )
    started = SessionStarted.model_validate(login.json())
    me = WhoAmI.model_validate(client.get("/api/v1/session").json())
    assert (me.who, me.via, [g.role for g in me.grants]) == ("user:olga", "session", ["ops"])
    out = client.delete("/api/v1/session", headers=app.headers(started.csrf_token))
    assert LoggedOut.model_validate(out.json()).logged_out is True
    Refusal.model_validate(client.get("/api/v1/session").json())


def test_rollout_answers_are_their_models(app: ConsoleApp, ops: TestClient) -> None:
    row = rollouts.start(
        app.engine,
        channel="stable",
        version="2026.11.1",
        baseline=None,
        scope=RolloutScope(),
        waves=plan.parse_waves("1,all"),
        success_threshold=0.95,
        error_threshold=0.05,
        timeout_s=900.0,
        actor="user:olga",
        now=time.time(),
    )
    listed = ops.get("/api/v1/rollouts")
    assert [RolloutView.model_validate(r).rollout_id for r in listed.json()] == [row.rollout_id]
    one = RolloutView.model_validate(ops.get(f"/api/v1/rollouts/{row.rollout_id}").json())
    assert (one.channel, one.created_by) == ("stable", "user:olga")
    paused = ops.post(f"/api/v1/rollouts/{row.rollout_id}/pause")
    assert RolloutView.model_validate(paused.json()).state == "paused"
    for refused in (
        ops.get("/api/v1/rollouts", params={"channel": "x" * 33}),
        ops.post(f"/api/v1/rollouts/{row.rollout_id}/explode"),
        ops.post("/api/v1/rollouts", json={"channel": "stable"}),
    ):
        assert refused.status_code == 400
        Refusal.model_validate(refused.json())
