"""``/api/v1/rollouts`` in process (the real app, store, repository and access policy): who may
see, start, pause, resume and abort rollouts with an API token, and every bad request."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from beacon.system import build_system
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.token_store import create_api_token, revoke_api_token
from fleet_manager.api.app import create_app
from fleet_manager.config import load_config
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.store import audit_log
from fleet_manager.store.database import open_engine
from tests.support.live import TEST_PLAN

PUBLISHED = "2026.11.1"  # the sample bundle, published on "stable" by build_system
GRANTS = {
    "ops": Grant("ops"),
    "facility_admin": Grant("facility_admin", facility_id="clinic-a"),
    "responder": Grant("responder", region="east"),
    "auditor": Grant("auditor"),
}


@dataclass
class Api:
    client: TestClient
    engine: sa.Engine
    tokens: dict[str, str]
    token_ids: dict[str, str]

    def as_(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    layout = build_system(
        tmp_path / "system", dataclasses.replace(TEST_PLAN, content_repository=True)
    )
    config = load_config(layout.fleet_configs[0])
    assert config.content is not None
    engine = open_engine(config.database_url)
    tokens, token_ids = {}, {}
    with engine.begin() as conn:
        for role, grant in GRANTS.items():
            secret, record = create_api_token(
                conn, f"{role}-bot", [grant], creator=None, owner=None, actor="test",
                now=time.time(),
            )  # fmt: skip
            tokens[role] = secret
            token_ids[role] = record.token_id
    service = EnrolmentService.from_config(config, engine)
    with TestClient(create_app(service, config.content.repository)) as client:
        yield Api(client, engine, tokens, token_ids)
    engine.dispose()


START = {"channel": "stable", "version": PUBLISHED, "waves": "1,all"}


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("facility_admin", 403), ("responder", 403), ("auditor", 403), ("ops", 201)],
)
def test_only_ops_may_start_a_rollout(api: Api, role: str | None, status: int) -> None:
    response = api.client.post("/api/v1/rollouts", json=START, headers=api.as_(role))
    assert response.status_code == status, response.text
    if status == 201:
        body = response.json()
        assert (body["channel"], body["version"], body["state"]) == ("stable", PUBLISHED, "running")
        with api.engine.connect() as conn:
            started = audit_log.entries(conn, action="rollout.started")
        assert [e.actor.split(":")[0] for e in started] == ["token"]
    else:
        assert response.json()["error"] in ("unauthenticated", "forbidden")


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("responder", 403), ("auditor", 403), ("facility_admin", 200), ("ops", 200)],
)
def test_who_may_see_rollouts(api: Api, role: str | None, status: int) -> None:
    response = api.client.get("/api/v1/rollouts", headers=api.as_(role))
    assert response.status_code == status


def test_operator_actions_and_conflicts(api: Api) -> None:
    ops = api.as_("ops")
    rollout_id = api.client.post("/api/v1/rollouts", json=START, headers=ops).json()["rollout_id"]
    again = api.client.post("/api/v1/rollouts", json=START, headers=ops)
    assert again.status_code == 409 and "still running" in again.json()["message"]
    assert api.client.post(f"/api/v1/rollouts/{rollout_id}/resume", headers=ops).status_code == 409
    paused = api.client.post(f"/api/v1/rollouts/{rollout_id}/pause", headers=ops)
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    one = api.client.get(f"/api/v1/rollouts/{rollout_id}", headers=ops).json()
    assert one["pause"]["by"] == "operator"
    aborted = api.client.post(f"/api/v1/rollouts/{rollout_id}/abort", headers=ops)
    assert aborted.json()["state"] == "aborted"
    assert api.client.post(f"/api/v1/rollouts/{rollout_id}/pause", headers=ops).status_code == 409
    assert api.client.post("/api/v1/rollouts/ro-none/pause", headers=ops).status_code == 404
    assert api.client.get("/api/v1/rollouts/ro-none", headers=ops).status_code == 404
    assert api.client.post(f"/api/v1/rollouts/{rollout_id}/explode", headers=ops).status_code in (
        400,
        404,
        422,
    )


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({**START, "version": "2099.1.1"}, 422, "unpublished"),
        ({**START, "version": "twelve"}, 422, "bad_request"),
        ({**START, "waves": "10%,5%"}, 422, "bad_request"),
        ({**START, "waves": "50%"}, 422, "bad_request"),
        ({**START, "success_threshold": 2}, 400, "bad_request"),
        ({**START, "unexpected": 1}, 400, "bad_request"),
        ({"channel": "stable"}, 400, "bad_request"),
    ],
    ids=["unpublished", "bad-version", "shrinking-waves", "no-last-wave", "threshold", "extra",
         "missing"],
)  # fmt: skip
def test_bad_requests_are_refused_clearly(
    api: Api, body: dict[str, object], status: int, error: str
) -> None:
    response = api.client.post("/api/v1/rollouts", json=body, headers=api.as_("ops"))
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["message"]


def test_a_revoked_or_garbled_token_is_refused(api: Api) -> None:
    with api.engine.begin() as conn:
        revoke_api_token(conn, api.token_ids["ops"], actor="test", now=time.time())
    assert api.client.get("/api/v1/rollouts", headers=api.as_("ops")).status_code == 401
    for header in ("Bearer nonsense", "Basic abc", "Bearer bct_" + "x" * 43):
        response = api.client.get("/api/v1/rollouts", headers={"Authorization": header})
        assert response.status_code == 401
