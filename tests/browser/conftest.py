"""A running system (brokers, fleet manager, HTTPS API, kiosks) and a headless browser."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.store import create_user
from tests.support.browser import chromium
from tests.support.live import LiveSystem

PASSWORD = "correct horse battery staple 42"
USERS = {"olga": Grant("ops"), "rita": Grant("responder", region="east")}


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path_factory.mktemp("browser") / "system")
    try:
        live.start()
        with live.engine.begin() as conn:
            for name, grant in USERS.items():
                create_user(conn, name, PASSWORD, [grant], actor="test", now=time.time())
        live.running.start_api()
        yield live
    finally:
        live.running.api.stop()
        live.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found
