"""``/api/v1/incidents/{id}/report``: the encrypted report behind an incident of kind
``report``, for the region's responders (who alone hold the private key).

    GET  /api/v1/incidents/{id}/report                report.read → the sealed entries;
                                                      audited ``report.fetched``
    POST /api/v1/incidents/{id}/report/decryptions    report.read → audited ``report.decrypted``
    POST /api/v1/incidents/{id}/report/disclosures    report.disclose → checked with the pure
                                                      disclosure rule, audited ``report.disclosed``

The server never sees plaintext, so it cannot watch a decryption happen: ``beacon responder
decrypt`` records it here *before* it shows anything, and shows nothing if that fails. A
disclosure is recorded the same way, with the recipient, the purpose, the reporter's answer on
sharing and any legal basis.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from fleet_manager.accounts.policy import Principal
from fleet_manager.api.action_requests import incident_resource
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.api.incident_routes import RESPONSES, IncidentId, load_incident
from fleet_manager.reports.disclosure import LegalBasis, Recipient, decide_disclosure
from fleet_manager.reports.submission import Share
from fleet_manager.store import audit_log, report_store
from fleet_manager.store.incident_store import IncidentRecord
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PREFIX = "/api/v1/incidents"


class SealedEntry(BaseModel):
    seq: int
    key_id: str
    created_at: float
    ciphertext: str  # base64


class SealedReport(BaseModel):
    incident_id: str
    report_id: str  # part of what each entry is sealed to (with its number and key)
    region: str
    location_id: str
    created_at: float
    entries: list[SealedEntry]


class DecryptionRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    entries: list[int] = Field(min_length=1, max_length=report_store.MAX_ENTRIES)
    key_id: str = Field(min_length=1, max_length=16, pattern=r"^[0-9a-f]+$")


class DisclosureRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    entries: list[int] = Field(min_length=1, max_length=report_store.MAX_ENTRIES)
    recipient_kind: Recipient
    recipient: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=500)
    consent: Share  # the reporter's answer, as the responder read it after decrypting
    legal_basis: LegalBasis | None = None


class Recorded(BaseModel):
    recorded: str  # the audit action written
    detail: str


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["reports"])
    guard = ctx.guard
    responses: dict[int | str, dict[str, Any]] = {**RESPONSES, 409: {"model": Refusal}}

    def allowed(
        incident_id: str, who: Principal | None, action: Any
    ) -> tuple[IncidentRecord, report_store.ReportRow] | Any:
        if (refused := guard.refuse_anywhere(who, action)) is not None:
            return refused
        record = load_incident(ctx, incident_id)
        if record is None:
            return not_found("incident")
        if refused := guard.refuse_in(who, action, incident_resource(record), "incident"):
            return refused
        with ctx.engine.connect() as conn:
            report = report_store.report_for_incident(conn, incident_id)
        if report is None:
            return not_found("report for this incident")
        return record, report

    def record(
        who: Principal, action: str, incident_id: str, detail: dict[str, Any], outcome: str = "ok"
    ) -> None:
        with ctx.engine.begin() as conn:
            audit_log.record(
                conn,
                at=ctx.now(),
                actor=who.label,
                action=action,
                subject=incident_id,
                outcome=outcome,
                detail=detail,
            )

    def known_entries(report: report_store.ReportRow, asked: list[int]) -> str | None:
        with ctx.engine.connect() as conn:
            count = report_store.entry_count(conn, report.report_id)
        wrong = sorted({n for n in asked if not 1 <= n <= count})
        return None if not wrong else f"no entries {wrong} (the report has {count})"

    @api.get("/{incident_id}/report", response_model=SealedReport, responses=responses)
    def get_report(incident_id: str = IncidentId, who: Principal | None = guard.caller) -> Any:
        """The report's sealed entries (base64), oldest first. Every call is audited."""
        found = allowed(incident_id, who, "report.read")
        if not isinstance(found, tuple):
            return found
        assert who is not None
        _, report = found
        with ctx.engine.begin() as conn:
            entries = report_store.entries(conn, report.report_id)
            audit_log.record(
                conn,
                at=ctx.now(),
                actor=who.label,
                action="report.fetched",
                subject=incident_id,
                outcome="ok",
                detail={"entries": [e.seq for e in entries]},
            )
        ctx.counters.inc("api_reports_fetched")
        log.info("report_fetched", who=who.label, incident_id=incident_id, entries=len(entries))
        return SealedReport(
            incident_id=incident_id,
            report_id=report.report_id,
            region=report.region,
            location_id=report.location_id,
            created_at=report.created_at,
            entries=[
                SealedEntry(
                    seq=e.seq,
                    key_id=e.key_id,
                    created_at=e.created_at,
                    ciphertext=base64.b64encode(e.ciphertext).decode(),
                )
                for e in entries
            ],
        )

    @api.post("/{incident_id}/report/decryptions", response_model=Recorded, responses=responses)
    def record_decryption(
        body: DecryptionRecord, incident_id: str = IncidentId, who: Principal | None = guard.caller
    ) -> Any:
        """Record that the caller is about to decrypt these entries with this key."""
        found = allowed(incident_id, who, "report.read")
        if not isinstance(found, tuple):
            return found
        assert who is not None
        if (problem := known_entries(found[1], body.entries)) is not None:
            return refusal(409, "conflict", problem)
        detail = {"entries": sorted(set(body.entries)), "key_id": body.key_id}
        record(who, "report.decrypted", incident_id, detail)
        ctx.counters.inc("api_report_decryptions")
        log.info("report_decryption_recorded", who=who.label, incident_id=incident_id)
        return Recorded(recorded="report.decrypted", detail="recorded in the audit log")

    @api.post("/{incident_id}/report/disclosures", response_model=Recorded, responses=responses)
    def record_disclosure(
        body: DisclosureRecord, incident_id: str = IncidentId, who: Principal | None = guard.caller
    ) -> Any:
        """Record a disclosure; 409 when the reporter's answer does not allow it and no legal
        basis is given (the same rule the responder tool applies before sending)."""
        found = allowed(incident_id, who, "report.disclose")
        if not isinstance(found, tuple):
            return found
        assert who is not None
        if (problem := known_entries(found[1], body.entries)) is not None:
            return refusal(409, "conflict", problem)
        decision = decide_disclosure(
            body.consent, body.recipient_kind, body.legal_basis, body.purpose
        )
        record(
            who,
            "report.disclosed",
            incident_id,
            outcome="ok" if decision.allowed else "refused",
            detail={
                "entries": sorted(set(body.entries)),
                "recipient_kind": body.recipient_kind,
                "recipient": body.recipient,
                "purpose": body.purpose,
                "consent": body.consent,
                "legal_basis": body.legal_basis,
                "reason": decision.reason,
            },
        )
        if not decision.allowed:
            ctx.counters.inc("api_report_disclosures_refused")
            log.warning("report_disclosure_refused", who=who.label, incident_id=incident_id)
            return refusal(409, "conflict", decision.reason)
        ctx.counters.inc("api_report_disclosures")
        log.info("report_disclosure_recorded", who=who.label, incident_id=incident_id)
        return Recorded(recorded="report.disclosed", detail=decision.reason)

    return api
