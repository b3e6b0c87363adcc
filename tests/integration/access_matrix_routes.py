"""The access matrix's table: for every route of the fleet app (JSON under ``/api/v1``, pages
under ``/console``, and ``/metrics``), the policy action it needs, how its target resolves,
and a valid sample request for a target in the caller's own place (clinic-a, region east)
and in another (clinic-b, region west).

Targets:

- ``fleet``: a fleet-wide action (``decide`` on FLEET); a caller it does not allow gets 403;
- ``anywhere``: a list or a fleet-wide document read by whoever may take the action somewhere
  (``query_scope`` not empty); 403 otherwise;
- ``facility``: one facility's resource (``decide`` on ``Resource.facility(f, region)``);
  403 if the caller may take the action nowhere, else 404 (as an unknown id);
- ``requester``: a queued console request, visible to whoever made it and to ops; 404
  otherwise (own: one fay made, other: one finn made).

Sample values starting with ``@`` name something the test seeds (``@rollout``,
``@request-own``, ``@request-other``); ``fresh`` names a throwaway target the test makes for
each request (a kiosk to revoke, a pending enrolment, a token to revoke, a new location id),
so that no request's side effect changes another's answer.

A route may appear more than once (e.g. the engagement report for all the caller's places,
and filtered to one facility). The test fails if the app has a route this table lacks, or the
table names one the app does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fleet_manager.accounts.policy import Action

Target = Literal["fleet", "anywhere", "facility", "requester"]
Kind = Literal["json", "page", "stream", "metrics"]
Fresh = Literal["kiosk", "enrolment", "token", "location"]

# Routes the matrix does not cover, and why.
EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/openapi.json"): "the API's own description, public",
    ("POST", "/api/v1/session"): "logging in (tests/integration/test_session_api.py)",
    ("GET", "/api/v1/session"): "who am I: anyone with a session or token",
    ("DELETE", "/api/v1/session"): "logging out (test_session_api.py)",
    ("GET", "/console"): "the landing redirect to the first section the viewer may see",
    ("GET", "/console/"): "the landing redirect to the first section the viewer may see",
    ("GET", "/console/login"): "the login page",
    ("POST", "/console/login"): "logging in (test_console_base.py)",
    ("POST", "/console/logout"): "logging out (test_console_base.py)",
    ("GET", "/healthz"): "liveness, public",
    ("GET", "/readyz"): "readiness, public",
    ("POST", "/api/v1/enrolments"): "kiosks enrol with an enrolment token, not a principal",
    ("GET", "/api/v1/enrolments/{enrolment_id}"): "kiosks poll their own enrolment",
    ("GET", "/console/invite/{token}"): "an invitation: the link is the key (test_training_pages)",
    ("POST", "/console/invite/{token}"): "an invitation: the link is the key (test_training_pages)",
    # A person's own training: the viewer's profile decides; no id of anyone else to probe.
    ("POST", "/console/training/profile"): "one's own profile (test_training_pages)",
    ("POST", "/console/training/self-certify"): "one's own record (test_training_pages)",
    ("GET", "/console/training/modules/{module_id}"): "one's own progress (test_training_pages)",
    ("POST", "/console/training/modules/{module_id}/sections/{section_id}"): "one's own progress",
    ("GET", "/console/training/modules/{module_id}/quiz"): "one's own quiz (test_training_pages)",
    ("POST", "/console/training/modules/{module_id}/quiz"): "one's own quiz (test_training_pages)",
}
EXEMPT_PREFIXES: tuple[str, ...] = ("/console/static", "/tuf")


@dataclass(frozen=True)
class Sample:
    """One request: path parameters, query, and a JSON body (or, for a page, form fields)."""

    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    action: Action | None  # None: the requester rule, not an action
    target: Target
    own: Sample = Sample()  # clinic-a / east (the only sample for fleet and anywhere)
    other: Sample | None = None  # clinic-b / west (facility and requester targets)
    kind: Kind = "json"
    fresh: Fresh | None = None
    variant: str = ""  # names a second entry for the same route

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}" + (f" {self.variant}" if self.variant else "")


def kiosk(device: str) -> Sample:
    return Sample(params={"device_id": device})


def incident(incident_id: str, body: Mapping[str, Any] | None = None) -> Sample:
    return Sample(params={"incident_id": incident_id}, body=body)


def facility(facility_id: str, body: Mapping[str, Any] | None = None, **params: str) -> Sample:
    return Sample(params={"facility_id": facility_id, **params}, body=body)


def location(location_id: str, body: Mapping[str, Any] | None = None) -> Sample:
    return Sample(params={"location_id": location_id}, body=body)


NOTE = {"note": "checked by the access matrix"}
POLICY = {"policy_yaml": "routes: [not a policy", "base_version": 0}
ROLLOUT = {"rollout_id": "@rollout", "action": "pause"}
NEW_LOCATION = {"name": "Matrix room", "kind": "other"}  # location_id: fresh
DECRYPTION = {"entries": [1], "key_id": "0123456789abcdef"}
DISCLOSURE = {
    "entries": [1],
    "recipient_kind": "victim_services",
    "recipient": "Matrix shelter",
    "purpose": "checked by the access matrix",
    "consent": "unanswered",
}

API: tuple[RouteCase, ...] = (
    # -- fleet ------------------------------------------------------------------------------
    RouteCase("GET", "/api/v1/kiosks", "fleet.view", "anywhere"),
    RouteCase(
        "GET", "/api/v1/kiosks/{device_id}", "fleet.view", "facility",
        kiosk("kiosk-a1"), kiosk("kiosk-b1"),
    ),
    RouteCase(
        "POST", "/api/v1/kiosks/{device_id}/identify", "kiosk.identify", "facility",
        kiosk("kiosk-a1"), kiosk("kiosk-b1"),
    ),
    RouteCase(
        "POST", "/api/v1/kiosks/{device_id}/drill", "kiosk.drill", "facility",
        kiosk("kiosk-a1"), kiosk("kiosk-b1"),
    ),
    RouteCase(
        "GET", "/api/v1/requests/{request_id}", None, "requester",
        Sample(params={"request_id": "@request-own"}),
        Sample(params={"request_id": "@request-other"}),
    ),
    # -- incidents --------------------------------------------------------------------------
    RouteCase("GET", "/api/v1/incidents", "incident.view", "anywhere"),
    RouteCase(
        "GET", "/api/v1/incidents/{incident_id}", "incident.view", "facility",
        incident("inc-a-help"), incident("inc-b-help"),
    ),
    *(
        RouteCase(
            "POST", f"/api/v1/incidents/{{incident_id}}/{verb}", "incident.ack", "facility",
            incident("inc-a-help", NOTE), incident("inc-b-help", NOTE),
        )
        for verb in ("ack", "resolve", "note")
    ),
    # -- reports (sealed; rows seeded by fleet_seed.seed_reports) ----------------------------
    RouteCase(
        "GET", "/api/v1/incidents/{incident_id}/report", "report.read", "facility",
        incident("inc-a-help"), incident("inc-b-help"),
    ),
    RouteCase(
        "POST", "/api/v1/incidents/{incident_id}/report/decryptions", "report.read", "facility",
        incident("inc-a-help", DECRYPTION), incident("inc-b-help", DECRYPTION),
    ),
    RouteCase(
        "POST", "/api/v1/incidents/{incident_id}/report/disclosures", "report.disclose",
        "facility", incident("inc-a-help", DISCLOSURE), incident("inc-b-help", DISCLOSURE),
    ),
    # -- routing ----------------------------------------------------------------------------
    RouteCase("GET", "/api/v1/routing", "routing.view", "anywhere"),
    RouteCase("PUT", "/api/v1/routing", "routing.edit", "fleet", Sample(body=POLICY)),
    RouteCase(
        "POST", "/api/v1/routing/validate", "routing.view", "anywhere",
        Sample(body={"policy_yaml": POLICY["policy_yaml"]}),
    ),
    RouteCase(
        "POST", "/api/v1/routing/preview", "routing.view", "facility",
        Sample(body={"device_id": "kiosk-a1", "kind": "help"}),
        Sample(body={"device_id": "kiosk-b1", "kind": "help"}),
    ),
    # -- content and rollouts ---------------------------------------------------------------
    RouteCase("GET", "/api/v1/content", "content.view", "anywhere"),
    RouteCase("GET", "/api/v1/rollouts", "content.view", "anywhere"),
    RouteCase(
        "GET", "/api/v1/rollouts/{rollout_id}", "content.view", "anywhere",
        Sample(params={"rollout_id": "@rollout"}),
    ),
    RouteCase(
        "POST", "/api/v1/rollouts", "rollout.start", "fleet",
        Sample(body={"channel": "stable", "version": "2026.11.1"}),
    ),
    RouteCase(
        "POST", "/api/v1/rollouts/{rollout_id}/{action}", "rollout.pause", "fleet",
        Sample(params=ROLLOUT),
    ),
    # -- registry ---------------------------------------------------------------------------
    RouteCase("GET", "/api/v1/facilities", "registry.view", "anywhere"),
    RouteCase(
        "POST", "/api/v1/facilities", "registry.edit", "fleet",
        Sample(body={"facility_id": "clinic-m", "name": "Clinic M", "region": "east"}),
    ),
    RouteCase(
        "GET", "/api/v1/facilities/{facility_id}", "registry.view", "facility",
        facility("clinic-a"), facility("clinic-b"),
    ),
    RouteCase(
        "PATCH", "/api/v1/facilities/{facility_id}", "registry.edit", "facility",
        facility("clinic-a", {"require_approval": False}),
        facility("clinic-b", {"require_approval": False}),
    ),
    RouteCase(
        "POST", "/api/v1/facilities/{facility_id}/locations", "registry.edit", "facility",
        facility("clinic-a", NEW_LOCATION), facility("clinic-b", NEW_LOCATION),
        fresh="location",
    ),
    RouteCase(
        "GET", "/api/v1/facilities/{facility_id}/stickers.pdf", "registry.edit", "facility",
        facility("clinic-a"), facility("clinic-b"),
    ),
    RouteCase(
        "POST", "/api/v1/locations/{location_id}/rotate-qr", "registry.edit", "facility",
        location("a-waiting", {}), location("b-exam", {}),
    ),
    RouteCase(
        "POST", "/api/v1/locations/{location_id}/enrolment-tokens", "enrolment.token",
        "facility", location("a-waiting", {"ttl_s": 3600}), location("b-exam", {"ttl_s": 3600}),
    ),
    RouteCase("GET", "/api/v1/approvals", "enrolment.approve", "anywhere"),
    RouteCase(
        "POST", "/api/v1/approvals/{ref}/{decision}", "enrolment.approve", "facility",
        Sample(params={"decision": "reject"}, body={"reason": "matrix"}),
        Sample(params={"decision": "reject"}, body={"reason": "matrix"}),
        fresh="enrolment",
    ),
    RouteCase(
        "POST", "/api/v1/kiosks/{device_id}/revoke", "device.revoke", "facility",
        Sample(body={"reason": "matrix"}), Sample(body={"reason": "matrix"}), fresh="kiosk",
    ),
    # -- engagement -------------------------------------------------------------------------
    RouteCase("GET", "/api/v1/engagement", "engagement.view", "anywhere"),
    RouteCase(
        "GET", "/api/v1/engagement", "engagement.view", "facility",
        Sample(query={"facility": "clinic-a"}), Sample(query={"facility": "clinic-b"}),
        variant="?facility=",
    ),
    RouteCase("GET", "/api/v1/engagement.csv", "engagement.export", "anywhere"),
    RouteCase(
        "GET", "/api/v1/engagement.csv", "engagement.export", "facility",
        Sample(query={"facility": "clinic-a"}), Sample(query={"facility": "clinic-b"}),
        variant="?facility=",
    ),
    # -- audit, tokens, metrics -------------------------------------------------------------
    RouteCase("GET", "/api/v1/audit", "audit.view", "fleet"),
    RouteCase("POST", "/api/v1/audit/verify", "audit.verify", "fleet"),
    RouteCase("GET", "/api/v1/audit.csv", "audit.export", "fleet"),
    RouteCase("GET", "/api/v1/tokens", "tokens.manage", "fleet"),
    RouteCase(
        "POST", "/api/v1/tokens", "tokens.manage", "fleet",
        Sample(body={"name": "matrix", "grants": [{"role": "auditor"}]}),
    ),
    RouteCase("DELETE", "/api/v1/tokens/{token_id}", "tokens.manage", "fleet", fresh="token"),
    RouteCase("GET", "/metrics", "fleet.view", "fleet", kind="metrics"),
    # -- training ---------------------------------------------------------------------------
    RouteCase("GET", "/api/v1/training/compliance", "training.view", "anywhere"),
    RouteCase(
        "GET", "/api/v1/training/compliance", "training.view", "facility",
        Sample(query={"facility": "clinic-a"}), Sample(query={"facility": "clinic-b"}),
        variant="?facility=",
    ),
)  # fmt: skip

FORM_LOCATION = {"name": "Matrix room", "kind": "other"}  # location_id: fresh

PAGES: tuple[RouteCase, ...] = (
    # -- fleet ------------------------------------------------------------------------------
    RouteCase("GET", "/console/fleet", "fleet.view", "anywhere", kind="page"),
    RouteCase("GET", "/console/fleet/live", "fleet.view", "anywhere", kind="stream"),
    RouteCase(
        "GET", "/console/kiosks/{device_id}", "fleet.view", "facility",
        kiosk("kiosk-a1"), kiosk("kiosk-b1"), kind="page",
    ),
    RouteCase(
        "POST", "/console/kiosks/{device_id}/identify", "kiosk.identify", "facility",
        kiosk("kiosk-a1"), kiosk("kiosk-b1"), kind="page",
    ),
    RouteCase(
        "POST", "/console/kiosks/{device_id}/drill", "kiosk.drill", "facility",
        kiosk("kiosk-a1"), kiosk("kiosk-b1"), kind="page",
    ),
    # -- incidents --------------------------------------------------------------------------
    RouteCase("GET", "/console/incidents", "incident.view", "anywhere", kind="page"),
    RouteCase("GET", "/console/incidents/live", "incident.view", "anywhere", kind="stream"),
    RouteCase(
        "GET", "/console/incidents/{incident_id}", "incident.view", "facility",
        incident("inc-a-help"), incident("inc-b-help"), kind="page",
    ),
    *(
        RouteCase(
            "POST", f"/console/incidents/{{incident_id}}/{verb}", "incident.ack", "facility",
            incident("inc-a-help", NOTE), incident("inc-b-help", NOTE), kind="page",
        )
        for verb in ("ack", "resolve", "note")
    ),
    # -- routing ----------------------------------------------------------------------------
    RouteCase("GET", "/console/routing", "routing.view", "anywhere", kind="page"),
    RouteCase(
        "GET", "/console/routing", "routing.view", "facility",
        Sample(query={"device_id": "kiosk-a1"}), Sample(query={"device_id": "kiosk-b1"}),
        kind="page", variant="?device_id=",
    ),
    RouteCase(
        "POST", "/console/routing", "routing.edit", "fleet",
        Sample(body={"op": "check", "policy_yaml": "routes: [", "base_version": "0"}),
        kind="page",
    ),
    # -- content ----------------------------------------------------------------------------
    RouteCase("GET", "/console/content", "content.view", "anywhere", kind="page"),
    RouteCase(
        "POST", "/console/content/rollouts", "rollout.start", "fleet",
        Sample(body={"channel": "stable", "version": "2026.11.1", "waves": "1,all"}),
        kind="page",
    ),
    RouteCase(
        "POST", "/console/content/rollouts/{rollout_id}/{action}", "rollout.pause", "fleet",
        Sample(params=ROLLOUT), kind="page",
    ),
    # -- facilities -------------------------------------------------------------------------
    RouteCase("GET", "/console/facilities", "registry.view", "anywhere", kind="page"),
    RouteCase(
        "POST", "/console/facilities", "registry.edit", "fleet",
        Sample(body={"facility_id": "clinic-n", "name": "Clinic N", "region": "west"}),
        kind="page",
    ),
    RouteCase(
        "GET", "/console/facilities/{facility_id}", "registry.view", "facility",
        facility("clinic-a"), facility("clinic-b"), kind="page",
    ),
    RouteCase(
        "POST", "/console/facilities/{facility_id}/approval", "registry.edit", "facility",
        facility("clinic-a", {}), facility("clinic-b", {}), kind="page",
    ),
    RouteCase(
        "POST", "/console/facilities/{facility_id}/locations", "registry.edit", "facility",
        facility("clinic-a", FORM_LOCATION), facility("clinic-b", FORM_LOCATION),
        kind="page", fresh="location",
    ),
    RouteCase(
        "POST", "/console/facilities/{facility_id}/locations/{location_id}/rotate-qr",
        "registry.edit", "facility",
        facility("clinic-a", {"grace": "7d"}, location_id="a-waiting"),
        facility("clinic-b", {"grace": "7d"}, location_id="b-exam"),
        kind="page",
    ),
    RouteCase(
        "POST", "/console/facilities/{facility_id}/locations/{location_id}/enrolment-token",
        "enrolment.token", "facility",
        facility("clinic-a", {"ttl": "1h"}, location_id="a-waiting"),
        facility("clinic-b", {"ttl": "1h"}, location_id="b-exam"),
        kind="page",
    ),
    RouteCase(
        "POST", "/console/facilities/{facility_id}/approvals/{ref}/{decision}",
        "enrolment.approve", "facility",
        facility("clinic-a", {"reason": "matrix"}, decision="reject"),
        facility("clinic-b", {"reason": "matrix"}, decision="reject"),
        kind="page", fresh="enrolment",
    ),
    RouteCase(
        "GET", "/console/facilities/{facility_id}/stickers.pdf", "registry.edit", "facility",
        facility("clinic-a"), facility("clinic-b"), kind="page",
    ),
    RouteCase(
        "GET", "/console/facilities/{facility_id}/kiosks/{device_id}/revoke", "device.revoke",
        "facility",
        facility("clinic-a", device_id="kiosk-a2"), facility("clinic-b", device_id="kiosk-b1"),
        kind="page",
    ),
    RouteCase(
        "POST", "/console/facilities/{facility_id}/kiosks/{device_id}/revoke", "device.revoke",
        "facility",
        facility("clinic-a", {"reason": "matrix"}), facility("clinic-b", {"reason": "matrix"}),
        kind="page", fresh="kiosk",
    ),
    # -- engagement, audit, tokens ----------------------------------------------------------
    RouteCase("GET", "/console/engagement", "engagement.view", "anywhere", kind="page"),
    RouteCase(
        "GET", "/console/engagement", "engagement.view", "facility",
        Sample(query={"facility": "clinic-a"}), Sample(query={"facility": "clinic-b"}),
        kind="page", variant="?facility=",
    ),
    RouteCase("GET", "/console/audit", "audit.view", "fleet", kind="page"),
    RouteCase(
        "POST", "/console/audit/verify", "audit.verify", "fleet", Sample(body={}), kind="page"
    ),
    RouteCase("GET", "/console/tokens", "tokens.manage", "fleet", kind="page"),
    RouteCase(
        "POST", "/console/tokens", "tokens.manage", "fleet",
        Sample(body={"name": "matrix", "role": "auditor"}), kind="page",
    ),
    RouteCase(
        "POST", "/console/tokens/{token_id}/revoke", "tokens.manage", "fleet",
        Sample(body={}), kind="page", fresh="token",
    ),
    # -- training (certificates seeded by fleet_seed.seed_training) ----------------------------
    RouteCase("GET", "/console/training", "training.self", "anywhere", kind="page"),
    RouteCase("GET", "/console/compliance", "training.view", "anywhere", kind="page"),
    RouteCase(
        "GET", "/console/compliance", "training.view", "facility",
        Sample(query={"facility": "clinic-a"}), Sample(query={"facility": "clinic-b"}),
        kind="page", variant="?facility=",
    ),
    RouteCase("GET", "/console/compliance.csv", "training.export", "anywhere", kind="page"),
    RouteCase("GET", "/console/compliance.pdf", "training.export", "anywhere", kind="page"),
    RouteCase(
        "POST", "/console/compliance/invites", "training.invite", "facility",
        Sample(body={"facility": "clinic-a", "full_name": "Matrix Person"}),
        Sample(body={"facility": "clinic-b", "full_name": "Matrix Person"}),
        kind="page",
    ),
    RouteCase(
        "GET", "/console/training/certificates/{certificate_id}.pdf", "training.view",
        "facility", Sample(params={"certificate_id": "@certificate-own"}),
        Sample(params={"certificate_id": "@certificate-other"}), kind="page",
    ),
)  # fmt: skip

ROUTES: tuple[RouteCase, ...] = API + PAGES
