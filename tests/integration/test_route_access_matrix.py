"""Every route × every role × own/other facility → allowed or refused as designed.

The table (:mod:`tests.integration.access_matrix_routes`) says, for each route, which policy
action it needs and how its target resolves; the answer each caller must get is computed here
from :mod:`fleet_manager.accounts.policy` alone (``decide`` and ``query_scope``), not from the
routes, and compared with what the real app answers:

- allowed → the guard let it through: anything but 401, 403 or 404 (200, 201, 202, 303, 409,
  422 … are the route's own business), never a 5xx, never the login page;
- refused on a facility's resource → 403 if the caller may take the action nowhere, else 404
  (exactly as an unknown id, so ids cannot be probed); refused on a list or a fleet-wide
  action → 403;
- nobody (no session, no token) → 401 from the JSON API, the login redirect from a page, a
  ``logout`` event from a live feed; an API token opens no page (pages are for people).

Callers: the users of :mod:`tests.support.console` (olga ops, fay facility admin of clinic-a,
finn of clinic-b, rita responder of east, audra auditor) by session (CSRF header for JSON,
form field for pages), API tokens with ops, facility-admin (clinic-a) and responder (east)
grants (tokens never manage tokens), and nobody. One app for the module; each request that
changes something gets its own target where it matters (see the table's ``fresh``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import (
    FLEET,
    Deny,
    Grant,
    Principal,
    Resource,
    decide,
    query_scope,
)
from fleet_manager.brokers import revocation as broker_revocation
from fleet_manager.console import live_feed
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from fleet_manager.store import enrolment_store, registry
from protocol.content_delivery import RolloutScope
from tests.integration.access_matrix_routes import (
    EXEMPT,
    EXEMPT_PREFIXES,
    ROUTES,
    Fresh,
    RouteCase,
    Sample,
)
from tests.integration.fleet_seed import seed, seed_reports, seed_training
from tests.support.console import USERS, ConsoleApp, console_app

Side = Literal["own", "other", "any"]
# (facility, region, a location of it) of the caller's own place and of another.
PLACES: dict[str, tuple[str, str, str]] = {
    "own": ("clinic-a", "east", "a-waiting"),
    "other": ("clinic-b", "west", "b-exam"),
}
# The requester target: own is a request fay made, other one finn made.
REQUESTERS = {"own": "fay", "other": "finn"}


@dataclass(frozen=True)
class Who:
    name: str
    via: Literal["session", "token", "nobody"]
    grant: Grant | None = None

    def principal(self) -> Principal | None:
        if self.grant is None:
            return None
        kind: Literal["user", "token"] = "user" if self.via == "session" else "token"
        return Principal(kind, self.name, frozenset({self.grant}))


PEOPLE = tuple(Who(name, "session", grant) for name, grant in USERS.items())
TOKENS = (
    Who("token-ops", "token", Grant("ops")),
    Who("token-fay", "token", Grant("facility_admin", "clinic-a")),
    Who("token-rita", "token", Grant("responder", region="east")),
)
NOBODY = Who("nobody", "nobody")


@dataclass(frozen=True)
class Check:
    case: RouteCase
    who: Who
    side: Side

    @property
    def id(self) -> str:
        return f"{self.case.label} · {self.who.name} · {self.side}"

    @property
    def sample(self) -> Sample:
        if self.side == "other":
            assert self.case.other is not None
            return self.case.other
        return self.case.own


def checks() -> list[Check]:
    """Every route × caller × side. Callers refused before any lookup (nobody, and tokens on
    pages) are asked about the own side only."""
    found = []
    for case in ROUTES:
        page = case.kind in ("page", "stream")
        sides: tuple[Side, ...] = (
            ("own", "other") if case.target in ("facility", "requester") else ("any",)
        )
        callers = (*PEOPLE, *(TOKENS[:1] if page else TOKENS), NOBODY)
        for who in callers:
            unknown = who.via == "nobody" or (page and who.via == "token")
            for side in sides[:1] if unknown else sides:
                found.append(Check(case, who, side))
    return found


# -- what the policy says ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    outcome: Literal["allowed", "refused", "nobody"]
    status: int | None = None  # the status of a refusal


def expected(check: Check) -> Expect:
    """The answer :mod:`fleet_manager.accounts.policy` implies (pure)."""
    case, who = check.case, check.who
    principal = who.principal()
    if principal is None or (case.kind in ("page", "stream") and who.via == "token"):
        return Expect("nobody")
    if case.target == "requester":
        made_it = who.via == "session" and who.name == REQUESTERS[check.side]
        return Expect("allowed") if made_it or who.grant == Grant("ops") else Expect("refused", 404)
    assert case.action is not None
    somewhere = not query_scope(principal, case.action).is_empty()
    if case.target == "anywhere":
        allowed = somewhere
    else:
        if case.target == "fleet":
            resource = FLEET
        else:
            facility, region, _location = PLACES[check.side]
            resource = Resource.facility(facility, region)
        allowed = not isinstance(decide(principal, case.action, resource), Deny)
    if allowed:
        return Expect("allowed")
    return Expect("refused", 404 if case.target == "facility" and somewhere else 403)


# -- the app ----------------------------------------------------------------------------------


@dataclass
class Matrix:
    app: ConsoleApp
    clients: dict[str, TestClient]
    csrf: dict[str, str]
    seeded: dict[str, str]
    serial: Iterator[int] = field(default_factory=itertools.count)

    def fresh(
        self, what: Fresh, side: Side, params: dict[str, str], body: dict[str, Any] | None
    ) -> tuple[dict[str, str], dict[str, Any] | None]:
        """A throwaway target for one request: its path parameters and body."""
        n = next(self.serial)
        facility, _region, location = PLACES["other" if side == "other" else "own"]
        now = time.time()
        if what == "location":
            return params, {**(body or {}), "location_id": f"matrix-{n}"}
        if what == "token":
            with self.app.engine.begin() as conn:
                _secret, token = token_store.create_api_token(
                    conn, f"matrix {n}", [Grant("auditor")], creator=None, owner=None,
                    actor="test", now=now,
                )  # fmt: skip
            return {**params, "token_id": token.token_id}, body
        with self.app.engine.begin() as conn:
            if what == "kiosk":
                registry.register_device(conn, f"kiosk-m{n}", location, now)
                return {**params, "device_id": f"kiosk-m{n}"}, body
            enrolment_store.add_enrolment(
                conn,
                enrolment_id=f"enr-matrix-{n}",
                device_id=f"kiosk-p{n}",
                location_id=location,
                csr_pem="-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----",
                state="pending",
                now=now,
            )
        return {**params, "ref": f"enr-matrix-{n}", "facility_id": facility}, body


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str


def token_client(app: ConsoleApp, who: Who) -> TestClient:
    assert who.grant is not None
    with app.engine.begin() as conn:
        secret, _token = token_store.create_api_token(
            conn, who.name, [who.grant], creator=None, owner=None, actor="test", now=time.time()
        )
    client = app.new_client()
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def start_rollout(app: ConsoleApp) -> str:
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
    return row.rollout_id


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with (
        pytest.MonkeyPatch.context() as patch,
        console_app(tmp_path_factory.mktemp("access-matrix") / "system") as app,
    ):
        patch.setattr(live_feed, "MAX_DURATION_S", 0.0)  # a live feed answers one cycle
        # No broker runs here: revoking a kiosk would wait 10 s for its takeover connection.
        patch.setattr(broker_revocation, "kick_client", lambda *_args, **_kwargs: False)
        seed(app.engine)
        seed_reports(app.engine)
        clients: dict[str, TestClient] = {}
        csrf: dict[str, str] = {}
        for who in PEOPLE:
            clients[who.name] = app.new_client()
            csrf[who.name] = app.login(who.name, clients[who.name])
        for who in TOKENS:
            clients[who.name] = token_client(app, who)
        clients[NOBODY.name] = app.new_client()
        seeded = {"@rollout": start_rollout(app), **seed_training(app.engine)}
        for side, name in REQUESTERS.items():
            device = "kiosk-a1" if side == "own" else "kiosk-b1"
            made = clients[name].post(
                f"/api/v1/kiosks/{device}/identify", headers=app.headers(csrf[name])
            )
            assert made.status_code == 202, made.text
            seeded[f"@request-{side}"] = made.json()["request"]["request_id"]
        yield Matrix(app, clients, csrf, seeded)


def send(matrix: Matrix, check: Check) -> Answer:
    case, who, sample = check.case, check.who, check.sample
    params = {k: matrix.seeded.get(v, v) for k, v in sample.params.items()}
    body = None if sample.body is None else dict(sample.body)
    if case.fresh is not None:
        params, body = matrix.fresh(case.fresh, check.side, params, body)
    url = case.path.format(**params)
    client = matrix.clients[who.name]
    query: Mapping[str, str] = sample.query
    if case.kind == "stream":
        with client.stream("GET", url, params=query) as response:
            text = "".join(response.iter_text())
        return Answer(response.status_code, response.headers.get("location", ""), text)
    if case.kind == "page" and case.method == "POST":
        form = dict(body or {})
        if who.via == "session":
            form["csrf_token"] = matrix.csrf[who.name]
        response = client.post(url, params=query, data=form, follow_redirects=False)
    else:
        headers = matrix.app.headers(matrix.csrf[who.name]) if who.via == "session" else {}
        response = client.request(
            case.method, url, params=query, json=body, headers=headers, follow_redirects=False
        )
    return Answer(response.status_code, response.headers.get("location", ""), response.text)


CHECKS = checks()


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_route_access(matrix: Matrix, check: Check) -> None:
    got, want = send(matrix, check), expected(check)
    shown = f"{got.status} {got.location} {got.text[:300]!r}"
    assert got.status < 500, shown
    to_login = got.status == 303 and got.location.startswith("/console/login")
    kind = check.case.kind
    if want.outcome == "nobody":
        if kind in ("json", "metrics"):
            assert got.status == 401, shown
        elif kind == "page":
            assert to_login, shown
        else:
            assert got.status == 200 and "event: logout" in got.text, shown
    elif want.outcome == "allowed":
        assert got.status not in (401, 403, 404) and not to_login, shown
        if kind == "stream":
            assert "event: logout" not in got.text, shown
    else:
        assert got.status == want.status, shown


# -- the table covers the app -----------------------------------------------------------------


def app_routes(app: ConsoleApp) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves. FastAPI 0.165 keeps included
    routers as such in ``app.routes``; ``iter_route_contexts`` flattens them."""
    found = set()
    served: Any = app.client.app  # the FastAPI app (typed as any ASGI app by TestClient)
    for route in iter_route_contexts(served.routes):
        path = str(route.path)
        if path.startswith(EXEMPT_PREFIXES):
            continue
        methods = set(route.methods or ()) - {"HEAD"}
        found |= {(m, path) for m in methods} if methods else {("MOUNT", path)}
    return found


def test_the_table_names_every_route_of_the_app_and_no_other(matrix: Matrix) -> None:
    served = app_routes(matrix.app)
    tabled = {(c.method, c.path) for c in ROUTES}
    assert sorted(served - tabled - set(EXEMPT)) == [], "routes missing from the access matrix"
    assert sorted(tabled - served) == [], "the access matrix names routes the app lacks"
    assert sorted(set(EXEMPT) - served) == [], "exempt routes the app lacks"
    assert sorted(tabled & set(EXEMPT)) == [], "routes both tabled and exempt"


def test_the_matrix_allows_and_refuses_every_caller_something() -> None:
    """The expectations are not vacuous: each caller is allowed some routes, and each but an
    ops user is refused some (so a policy that allowed everything, or nothing, would not
    pass unnoticed); refusals are both 403 and 404."""
    for who in (*PEOPLE, *TOKENS):
        outcomes = {expected(c).outcome for c in CHECKS if c.who == who}
        wanted = {"allowed"} if who.name == "olga" else {"allowed", "refused"}
        assert wanted <= outcomes, who.name
    assert {expected(c).status for c in CHECKS} >= {403, 404}
