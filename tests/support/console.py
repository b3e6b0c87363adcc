"""The fleet app (API + console) over a freshly built system, with one user per role.

Users (password :data:`PASSWORD`):

- ``olga``  ops (fleet-wide)
- ``fay``   facility admin of clinic-a (region east)
- ``finn``  facility admin of clinic-b (region west)
- ``rita``  responder of region east
- ``audra`` auditor

``ConsoleApp.login(name)`` logs a :class:`TestClient` in and returns its CSRF token. The client
uses https (the session cookie is Secure). Nothing runs in the background: requests to the fleet
manager stay queued unless a test starts one.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from beacon.system import SystemLayout, build_system
from fleet_manager.accounts import passwords
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.sessions import CSRF_HEADER
from fleet_manager.api.app import create_app
from fleet_manager.config import FleetConfig, load_config
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.store.database import open_engine
from fleet_manager.store.schema import role_grants, users
from tests.support.live import TEST_PLAN

PASSWORD = "correct horse battery staple 42"

USERS: dict[str, Grant] = {
    "olga": Grant("ops"),
    "fay": Grant("facility_admin", "clinic-a"),
    "finn": Grant("facility_admin", "clinic-b"),
    "rita": Grant("responder", region="east"),
    "audra": Grant("auditor"),
}


@dataclass
class ConsoleApp:
    layout: SystemLayout
    config: FleetConfig
    engine: sa.Engine
    client: TestClient

    def login(self, username: str, client: TestClient | None = None) -> str:
        """Log ``client`` (default: the shared one) in over the JSON API; its CSRF token."""
        c = client or self.client
        response = c.post("/api/v1/session", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["csrf_token"])

    def new_client(self) -> TestClient:
        """Another browser: its own cookies."""
        return TestClient(self.client.app, base_url="https://testserver")

    @staticmethod
    def headers(csrf: str) -> dict[str, str]:
        return {CSRF_HEADER: csrf}

    @staticmethod
    def page_csrf(html: str) -> str:
        """The CSRF token a rendered page put in its forms."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found is not None, "no form with a CSRF token on the page"
        return found.group(1)


@functools.cache
def password_hash() -> str:
    """One real Argon2 hash of :data:`PASSWORD` (production parameters) per test process:
    hashing it again for each user of each test cost more than most tests themselves."""
    return passwords.hash_password(PASSWORD, "seed-user")


def create_users(engine: sa.Engine) -> None:
    """The users above, stored as ``accounts.store.create_user`` stores them (without its
    audit entry), with the shared hash; logging in verifies it for real."""
    now = time.time()
    with engine.begin() as conn:
        for name, grant in USERS.items():
            conn.execute(
                users.insert().values(
                    username=name,
                    display_name=name,
                    password_hash=password_hash(),
                    disabled=False,
                    created_at=now,
                    password_changed_at=now,
                )
            )
            conn.execute(
                role_grants.insert().values(
                    username=name,
                    role=grant.role,
                    facility_id=grant.facility_id,
                    region=grant.region,
                    created_at=now,
                )
            )


@contextmanager
def console_app(base: Path) -> Iterator[ConsoleApp]:
    layout = build_system(base, TEST_PLAN)
    config = load_config(layout.fleet_configs[0])
    engine = open_engine(config.database_url)
    create_users(engine)
    service = EnrolmentService.from_config(config, engine)
    repository = config.content.repository if config.content is not None else None
    app = create_app(service, repository, config.console.session_policy(), config)
    with TestClient(app, base_url="https://testserver") as client:
        yield ConsoleApp(layout, config, engine, client)
    engine.dispose()
