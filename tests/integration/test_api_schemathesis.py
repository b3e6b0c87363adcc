"""schemathesis against the fleet API's own OpenAPI document (``/api/v1/openapi.json``),
in-process over ASGI: no input yields a 5xx, and every answer (status, content type, body)
is one the document declares.

Three runs over one throwaway system (fleet_seed's kiosks and incidents), each deterministic
(a fixed seed, derandomized generation, no example database) and bounded:

- as an ops API token: every operation is exercised past the guard (mutating ones too: the
  database is this module's own). ``DELETE /api/v1/tokens/{id}`` cannot revoke the run's own
  token: no token may manage tokens (403), and ``DELETE /api/v1/session`` has no session to
  end (401). The kiosks' ``POST /api/v1/enrolments`` is included: made-up enrolment tokens
  are refused before any certificate is signed, so it is quick;
- as olga's console session (cookie + CSRF header), only the operations a token may never
  take (tag ``tokens``), so that they too are exercised past the guard (made-up token ids
  are unknown: nothing the runs use is revoked);
- unauthenticated: every operation answers 400 or 401 (405 for a method the path lacks).

Not checked: ``positive_data_acceptance`` (a well-formed but semantically invalid policy, or a
facility id that names no facility, is rightly refused with 409/422).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.sessions import CSRF_HEADER
from tests.integration.fleet_seed import seed
from tests.support.console import ConsoleApp, console_app

OPENAPI = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
SEED = 20261127
# Examples per operation: bounded in `make test`; `make test-slow` runs 200.
EXAMPLES = int(os.environ.get("BEACON_SCHEMATHESIS_EXAMPLES", "10"))


def config(max_examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["too_slow"],  # a busy 2-core machine is not a failure
            "generation": {
                "mode": "all",
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )


@pytest.fixture(autouse=True)
def node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32.5's lazy loader reads and rewrites ``Node._nodeid`` (to name each
    operation in reports), an attribute pytest 9 no longer has: give it one."""
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    with console_app(tmp_path_factory.mktemp("schemathesis") / "system") as app:
        seed(app.engine)
        yield app


@pytest.fixture(scope="module")
def olga_session(system: ConsoleApp) -> dict[str, str]:
    """Cookie and CSRF header of a session of olga (ops), for the operations tokens may not use.
    Requested by the first run: the runs' own failed logins (POST /api/v1/session with made-up
    names) soon throttle this client."""
    client = system.new_client()
    csrf = system.login("olga", client)
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return {"Cookie": cookies, CSRF_HEADER: csrf}


@pytest.fixture(scope="module")
def ops_token(system: ConsoleApp) -> str:
    with system.engine.begin() as conn:
        secret, _token = token_store.create_api_token(
            conn,
            "schemathesis ops",
            [Grant("ops")],
            creator=None,
            owner=None,
            actor="test",
            now=time.time(),
        )
    return secret


@pytest.fixture(scope="module")
def api_schema(system: ConsoleApp) -> Any:
    return schemathesis.openapi.from_asgi(OPENAPI, system.client.app, config=config(EXAMPLES))


@pytest.fixture(scope="module")
def anonymous_schema(system: ConsoleApp) -> Any:
    return schemathesis.openapi.from_asgi(OPENAPI, system.client.app, config=config(5))


as_ops = schemathesis.pytest.from_fixture("api_schema")
as_session = schemathesis.pytest.from_fixture("api_schema").include(tag="tokens")
anonymous = schemathesis.pytest.from_fixture("anonymous_schema")


@as_ops.parametrize()
def test_as_an_ops_token(
    case: schemathesis.Case[Any], ops_token: str, olga_session: dict[str, str]
) -> None:
    # olga_session: logged in before this run's made-up logins throttle the test client.
    case.call_and_validate(headers={"Authorization": f"Bearer {ops_token}"}, checks=CHECKS)


@as_session.parametrize()
def test_as_an_ops_session(case: schemathesis.Case[Any], olga_session: dict[str, str]) -> None:
    case.call_and_validate(headers=olga_session, checks=CHECKS)


@anonymous.parametrize()
def test_unauthenticated(case: schemathesis.Case[Any]) -> None:
    response = case.call_and_validate(checks=CHECKS)
    if not case.operation.path.startswith(("/api/v1/session", "/api/v1/enrolments")):
        # 405: the coverage phase also sends methods the path does not have.
        assert response.status_code in (400, 401, 405, 413), response.text[:200]
