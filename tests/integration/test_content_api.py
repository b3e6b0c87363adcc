"""``/api/v1/content``: bundles, channels, rollouts by wave and what kiosks run, for whom."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beacon.system import build_system
from fleet_manager.api.app import create_app
from fleet_manager.config import load_config
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from fleet_manager.store.database import open_engine
from fleet_manager.store.schema import devices
from protocol.content_delivery import RolloutScope
from tests.support.console import ConsoleApp, console_app, create_users
from tests.support.live import TEST_PLAN

PUBLISHED = "2026.11.1"  # the sample bundle, published on "stable" by build_system


@contextmanager
def content_console_app(base: Path) -> Iterator[ConsoleApp]:
    """As :func:`tests.support.console.console_app`, with a signed content repository."""
    layout = build_system(base, dataclasses.replace(TEST_PLAN, content_repository=True))
    config = load_config(layout.fleet_configs[0])
    assert config.content is not None
    engine = open_engine(config.database_url)
    create_users(engine)
    service = EnrolmentService.from_config(config, engine)
    app = create_app(service, config.content.repository, config.console.session_policy(), config)
    with TestClient(app, base_url="https://testserver") as client:
        yield ConsoleApp(layout, config, engine, client)
    engine.dispose()


def start(app: ConsoleApp, waves: str = "1,all") -> str:
    row = rollouts.start(
        app.engine,
        channel="stable",
        version=PUBLISHED,
        baseline=None,
        scope=RolloutScope(),
        waves=plan.parse_waves(waves),
        success_threshold=0.95,
        error_threshold=0.05,
        timeout_s=900.0,
        actor="user:olga",
        now=time.time(),
    )
    return row.rollout_id


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    """One system with a repository, a rollout and kiosk versions; only read by the tests."""
    with content_console_app(tmp_path_factory.mktemp("content-api") / "system") as app:
        start(app)
        rollouts.tick(app.engine, time.time())  # opens the first wave
        with app.engine.begin() as conn:
            conn.execute(
                devices.update()
                .where(devices.c.device_id.in_(["kiosk-a1", "kiosk-b1"]))
                .values(content_version=PUBLISHED)
            )
        yield app


def get(app: ConsoleApp, user: str | None) -> tuple[int, dict[str, Any]]:
    client = app.new_client()
    if user is not None:
        app.login(user, client)
    response = client.get("/api/v1/content")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("user", "status"),
    [("olga", 200), ("fay", 200), ("finn", 200), ("rita", 403), ("audra", 403), (None, 401)],
)
def test_who_may_see_content(shared: ConsoleApp, user: str | None, status: int) -> None:
    assert get(shared, user)[0] == status


def test_bundles_channels_and_rollouts_by_wave(shared: ConsoleApp) -> None:
    status, body = get(shared, "olga")
    assert status == 200
    assert body["repository"] is True and body["problem"] is None
    assert body["bundles"] == [PUBLISHED]
    assert body["channels"] == {"stable": PUBLISHED}
    [rollout] = body["rollouts"]
    assert (rollout["channel"], rollout["version"], rollout["state"]) == (
        "stable", PUBLISHED, "running",
    )  # fmt: skip
    assert rollout["current_wave"] == 0
    waves = rollout["waves"]
    assert [(w["size"], w["devices"], w["opened"]) for w in waves] == [
        ("1", 1, True),
        ("all", 2, False),
    ]
    assert waves[0]["counts"]["notified"] == 1
    assert rollout["created_by"] == "user:olga"


def test_what_kiosks_run_is_scoped(shared: ConsoleApp) -> None:
    def running(user: str) -> list[tuple[str, str | None, int]]:
        body = get(shared, user)[1]
        return [(r["channel"], r["version"], r["kiosks"]) for r in body["running"]]

    assert running("olga") == [("stable", None, 1), ("stable", PUBLISHED, 2)]
    assert running("fay") == [("stable", None, 1), ("stable", PUBLISHED, 1)]  # clinic-a only
    assert running("finn") == [("stable", PUBLISHED, 1)]  # clinic-b only


def test_without_a_repository_the_lists_are_empty(tmp_path: Path) -> None:
    with console_app(tmp_path / "system") as app:
        status, body = get(app, "olga")
    assert status == 200
    assert (body["repository"], body["bundles"], body["channels"], body["rollouts"]) == (
        False, [], {}, [],
    )  # fmt: skip
