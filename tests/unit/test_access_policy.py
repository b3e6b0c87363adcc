"""The access matrix: every action × every role × own/other facility, region and fleet-wide.

The expected answers are written out here independently of ``policy.ROLE_ACTIONS``, so a
change to the policy table must be made twice (here and there) to pass: on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_manager.accounts.policy import (
    ACTIONS,
    FLEET,
    ROLE_ACTIONS,
    ROLES,
    Action,
    Allow,
    Deny,
    Grant,
    GrantError,
    Principal,
    QueryScope,
    Resource,
    decide,
    grant_within,
    query_scope,
    refusal_status,
    visible_facilities,
)

# Who may do each action (within their scope). Fleet-wide roles: ops, auditor.
ALLOWED: dict[str, set[str]] = {
    "fleet.view": {"ops", "facility_admin"},
    "kiosk.identify": {"ops", "facility_admin"},
    "kiosk.drill": {"ops", "facility_admin"},
    "incident.view": {"ops", "responder"},
    "incident.ack": {"ops", "responder"},
    "routing.view": {"ops", "responder"},
    "routing.edit": {"ops"},
    "content.view": {"ops", "facility_admin"},
    "rollout.start": {"ops"},
    "rollout.pause": {"ops"},
    "rollout.resume": {"ops"},
    "rollout.abort": {"ops"},
    "registry.view": {"ops", "facility_admin"},
    "registry.edit": {"ops", "facility_admin"},
    "enrolment.token": {"ops", "facility_admin"},
    "enrolment.approve": {"ops", "facility_admin"},
    "device.revoke": {"ops", "facility_admin"},
    "engagement.view": {"ops", "facility_admin", "auditor"},
    "engagement.export": {"ops", "facility_admin", "auditor"},
    "audit.view": {"ops", "auditor"},
    "audit.export": {"ops", "auditor"},
    "audit.verify": {"ops", "auditor"},
    "users.manage": {"ops"},
    "tokens.manage": {"ops"},
    # Sealed reports: only the region's responders hold the key; ops see ciphertext at most.
    "report.read": {"ops", "responder"},
    "report.disclose": {"ops", "responder"},
    # Training: everyone who may train does so at their own facility; staff do nothing else.
    "training.self": {"ops", "facility_admin", "responder", "staff"},
    "training.view": {"ops", "facility_admin", "auditor"},
    "training.export": {"ops", "facility_admin", "auditor"},
    "training.invite": {"ops", "facility_admin"},
}

# fac-a and fac-b are both in region north; fac-c is in south.
RESOURCES: dict[str, Resource] = {
    "own_facility": Resource.facility("fac-a", "north"),
    "other_facility_same_region": Resource.facility("fac-b", "north"),
    "other_facility_other_region": Resource.facility("fac-c", "south"),
    "own_region": Resource.region_of("north"),
    "other_region": Resource.region_of("south"),
    "fleet_wide": FLEET,
}

GRANTS: dict[str, Grant] = {
    "ops": Grant("ops"),
    "auditor": Grant("auditor"),
    "facility_admin": Grant("facility_admin", facility_id="fac-a"),
    "responder": Grant("responder", region="north"),
    "staff": Grant("staff", facility_id="fac-a"),
}

# Where each role's scope reaches (for a role that has the action at all).
IN_SCOPE: dict[str, set[str]] = {
    "ops": set(RESOURCES),
    "auditor": set(RESOURCES),
    "facility_admin": {"own_facility"},
    "responder": {"own_facility", "other_facility_same_region", "own_region"},
    "staff": {"own_facility"},
}


def expected(action: str, role: str, place: str, kind: str) -> bool:
    if kind == "token" and action in {"users.manage", "tokens.manage", "training.self"}:
        return False
    return role in ALLOWED[action] and place in IN_SCOPE[role]


def test_the_table_here_names_every_action_and_role() -> None:
    assert set(ALLOWED) == set(ACTIONS)
    assert set(GRANTS) == set(ROLES)


MATRIX = [
    pytest.param(action, role, place, kind, id=f"{action}-{role}-{place}-{kind}")
    for action in ACTIONS
    for role in ROLES
    for place in RESOURCES
    for kind in ("user", "token")
]


@pytest.mark.parametrize(("action", "role", "place", "kind"), MATRIX)
def test_access_matrix(action: Action, role: str, place: str, kind: str) -> None:
    principal = Principal(kind, "p1", frozenset({GRANTS[role]}))  # type: ignore[arg-type]
    decision = decide(principal, action, RESOURCES[place])
    if expected(action, role, place, kind):
        assert decision == Allow(GRANTS[role])
    else:
        assert isinstance(decision, Deny)
        assert decision.reason


def test_role_actions_agree_with_the_matrix() -> None:
    for role in ROLES:
        assert ROLE_ACTIONS[role] == {a for a in ACTIONS if role in ALLOWED[a]}, role


@pytest.mark.parametrize(
    ("grants", "action", "resource", "allowed"),
    [
        pytest.param(
            {Grant("facility_admin", "fac-a"), Grant("facility_admin", "fac-b")},
            "kiosk.drill",
            Resource.facility("fac-b", "north"),
            True,
            id="admin-of-two-facilities-second",
        ),
        pytest.param(
            {Grant("facility_admin", "fac-a"), Grant("responder", region="south")},
            "incident.view",
            Resource.facility("fac-a", "north"),
            False,
            id="admin-role-does-not-lend-scope-to-responder-role",
        ),
        pytest.param(
            {Grant("facility_admin", "fac-a"), Grant("responder", region="south")},
            "incident.ack",
            Resource.facility("fac-c", "south"),
            True,
            id="responder-grant-of-a-mixed-principal",
        ),
        pytest.param(
            set(),
            "fleet.view",
            FLEET,
            False,
            id="no-grants",
        ),
        pytest.param(
            {Grant("facility_admin", "fac-a")},
            "fleet.view",
            Resource(facility_id=None, region="north"),
            False,
            id="facility-admin-region-only-resource",
        ),
        pytest.param(
            {Grant("responder", region="north")},
            "incident.view",
            Resource(facility_id="fac-a", region=None),
            False,
            id="responder-resource-without-region-fails-closed",
        ),
        pytest.param(
            {Grant("ops")},
            "no.such.action",
            FLEET,
            False,
            id="unknown-action",
        ),
    ],
)
def test_decide_edge_cases(
    grants: set[Grant], action: Action, resource: Resource, allowed: bool
) -> None:
    decision = decide(Principal("user", "u", frozenset(grants)), action, resource)
    assert isinstance(decision, Allow) is allowed


@pytest.mark.parametrize(
    ("role", "facility_id", "region", "message"),
    [
        pytest.param("ops", "fac-a", None, "fleet-wide", id="ops-with-facility"),
        pytest.param("auditor", None, "north", "fleet-wide", id="auditor-with-region"),
        pytest.param("facility_admin", None, None, "one facility", id="admin-without-facility"),
        pytest.param("facility_admin", "fac-a", "north", "one facility", id="admin-with-both"),
        pytest.param("responder", None, None, "one region", id="responder-without-region"),
        pytest.param("responder", "fac-a", None, "one region", id="responder-with-facility"),
        pytest.param("root", None, None, "unknown role", id="unknown-role"),
    ],
)
def test_invalid_grants_are_refused(
    role: str, facility_id: str | None, region: str | None, message: str
) -> None:
    with pytest.raises(GrantError, match=message):
        Grant(role, facility_id, region)  # type: ignore[arg-type]


FACILITIES = [("fac-a", "north"), ("fac-b", "north"), ("fac-c", "south")]


@pytest.mark.parametrize(
    ("grants", "action", "visible"),
    [
        pytest.param({Grant("ops")}, "fleet.view", ["fac-a", "fac-b", "fac-c"], id="ops"),
        pytest.param({Grant("facility_admin", "fac-b")}, "fleet.view", ["fac-b"], id="admin"),
        pytest.param(
            {Grant("responder", region="north")},
            "incident.view",
            ["fac-a", "fac-b"],
            id="responder-region",
        ),
        pytest.param({Grant("responder", region="north")}, "fleet.view", [], id="no-action"),
        pytest.param({Grant("auditor")}, "fleet.view", [], id="auditor-no-fleet"),
        pytest.param(
            {Grant("facility_admin", "fac-a"), Grant("facility_admin", "fac-c")},
            "registry.view",
            ["fac-a", "fac-c"],
            id="admin-of-two",
        ),
    ],
)
def test_visible_facilities_agrees_with_decide(
    grants: set[Grant], action: Action, visible: list[str]
) -> None:
    principal = Principal("user", "u", frozenset(grants))
    assert visible_facilities(principal, action, FACILITIES) == visible
    for facility_id, region in FACILITIES:
        allowed = isinstance(
            decide(principal, action, Resource.facility(facility_id, region)), Allow
        )
        assert allowed is (facility_id in visible)


def test_query_scope_of_a_token_for_user_management_is_empty() -> None:
    token = Principal("token", "tok-1", frozenset({Grant("ops")}))
    assert query_scope(token, "users.manage") == QueryScope(everything=False)
    assert query_scope(token, "fleet.view") == QueryScope(everything=True)


@pytest.mark.parametrize(
    ("requested", "held", "within"),
    [
        pytest.param(Grant("auditor"), {Grant("ops")}, True, id="ops-gives-anything"),
        pytest.param(
            Grant("facility_admin", "fac-a"),
            {Grant("facility_admin", "fac-a")},
            True,
            id="same-grant",
        ),
        pytest.param(
            Grant("facility_admin", "fac-b"),
            {Grant("facility_admin", "fac-a")},
            False,
            id="other-facility",
        ),
        pytest.param(Grant("ops"), {Grant("auditor")}, False, id="auditor-cannot-give-ops"),
        pytest.param(Grant("auditor"), set(), False, id="nothing-held"),
    ],
)
def test_grant_within(requested: Grant, held: set[Grant], within: bool) -> None:
    assert grant_within(requested, held) is within


def test_documentation_table_matches_the_policy() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "accounts.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if (
            len(cells) == len(ROLES) + 1
            and cells[0].startswith("`")
            and cells[0].strip("`") in ACTIONS
        ):
            rows[cells[0].strip("`")] = {
                r for r, c in zip(ROLES, cells[1:], strict=True) if c == "yes"
            }
    assert rows == {a: {r for r in ROLES if a in ROLE_ACTIONS[r]} for a in ACTIONS}


OPS, FAY = Grant("ops"), Grant("facility_admin", "clinic-a")
RITA = Grant("responder", region="east")
CLINIC_A, CLINIC_B = Resource.facility("clinic-a", "east"), Resource.facility("clinic-b", "west")


@pytest.mark.parametrize(
    ("grant", "action", "resource", "status"),
    [
        (OPS, "registry.edit", None, None),
        (FAY, "registry.edit", CLINIC_A, None),
        # Allowed elsewhere, not here: the other clinic's id looks unknown.
        (FAY, "registry.edit", CLINIC_B, 404),
        # A fleet-wide action (no object: None) has no id to hide.
        (FAY, "registry.edit", None, 403),
        # A kiosk placed nowhere is an id all the same: only fleet-wide grants see it.
        (FAY, "fleet.view", FLEET, 404),
        # No role allows it anywhere.
        (RITA, "registry.edit", CLINIC_A, 403),
        (RITA, "incident.view", Resource.region_of("west"), 404),
    ],
)  # fmt: skip
def test_refusal_status(
    grant: Grant, action: Action, resource: Resource | None, status: int | None
) -> None:
    assert refusal_status(Principal("user", "u", frozenset({grant})), action, resource) == status
