"""Reading a report as a responder: fetch the sealed entries from the fleet API, record the
decryption in the audit log, open them with the region's private key, show them.

Order matters: the decryption is recorded *before* anything is shown, and nothing is shown if
recording fails, so the audit log has every reading. The private key never leaves this machine.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fleet_manager.reports.disclosure import LegalBasis, Recipient, decide_disclosure
from fleet_manager.reports.sealing import SealError, key_id, open_sealed
from fleet_manager.reports.submission import ReportContent, Share
from transport.https_json import Unreachable, request_json

HTTP_TIMEOUT_S = 15.0


class ReportAccessError(RuntimeError):
    """The API refused or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class ApiAccess:
    url: str  # https://host:port of the fleet API
    token: str  # a responder's bct_ API token
    ca_file: Path | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            status, answer = request_json(
                self.url.rstrip("/") + path,
                method,
                body,
                cafile=self.ca_file,
                timeout_s=HTTP_TIMEOUT_S,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except Unreachable as exc:
            raise ReportAccessError(str(exc)) from None
        if status >= 400:
            message = answer.get("message", "")
            raise ReportAccessError(f"the API answered {status}: {message or 'refused'}")
        return answer


@dataclass(frozen=True)
class OpenedEntry:
    seq: int
    received_at: float
    content: ReportContent


@dataclass(frozen=True)
class OpenedReport:
    incident_id: str
    location_id: str
    entries: tuple[OpenedEntry, ...]

    @property
    def consent(self) -> Share:
        """The reporter's answer on sharing with law enforcement (asked in the first entry)."""
        first = [e for e in self.entries if e.content.kind == "report"]
        return first[0].content.share_with_law_enforcement if first else "unanswered"


def open_report(sealed: dict[str, Any], private_key: X25519PrivateKey) -> OpenedReport:
    """Open every entry sealed to this key (pure apart from the cryptography); an entry sealed
    to another key is :class:`SealError` naming it (the region's keys were rotated: use the
    older key for it)."""
    mine = key_id(private_key.public_key())
    opened = []
    for entry in sealed["entries"]:
        if entry["key_id"] != mine:
            raise SealError(
                f"entry {entry['seq']} is sealed to key {entry['key_id']}, this key is {mine}"
            )
        plaintext = open_sealed(
            base64.b64decode(entry["ciphertext"]), private_key, sealed["report_id"], entry["seq"]
        )
        opened.append(
            OpenedEntry(entry["seq"], entry["created_at"], ReportContent.from_bytes(plaintext))
        )
    return OpenedReport(sealed["incident_id"], sealed["location_id"], tuple(opened))


def read_report(
    api: ApiAccess, incident_id: str, key_for: Callable[[str], X25519PrivateKey]
) -> OpenedReport:
    """Fetch, open in memory with the key of the report's region (``key_for(region)``),
    record the decryption, then hand back what it says."""
    sealed = api.call("GET", f"/api/v1/incidents/{incident_id}/report")
    private_key = key_for(str(sealed["region"]))
    report = open_report(sealed, private_key)
    api.call(
        "POST",
        f"/api/v1/incidents/{incident_id}/report/decryptions",
        {"entries": [e.seq for e in report.entries], "key_id": key_id(private_key.public_key())},
    )
    return report


def record_disclosure(
    api: ApiAccess,
    report: OpenedReport,
    recipient_kind: Recipient,
    recipient: str,
    purpose: str,
    legal_basis: LegalBasis | None,
) -> str:
    """Check the disclosure rule here first (so a refused one sends nothing), then record it."""
    decision = decide_disclosure(report.consent, recipient_kind, legal_basis, purpose)
    if not decision.allowed:
        raise ReportAccessError(f"not disclosed: {decision.reason}")
    answer = api.call(
        "POST",
        f"/api/v1/incidents/{report.incident_id}/report/disclosures",
        {
            "entries": [e.seq for e in report.entries],
            "recipient_kind": recipient_kind,
            "recipient": recipient,
            "purpose": purpose,
            "consent": report.consent,
            "legal_basis": legal_basis,
        },
    )
    return str(answer.get("detail", decision.reason))


SHARE_TEXT = {
    "yes": "yes",
    "no": "NO",
    "unsure": "not sure: ask first",
    "unanswered": "not answered: ask first",
}


def format_report(report: OpenedReport) -> str:
    """The report as a responder reads it on a terminal (pure)."""
    lines = [f"Report {report.incident_id} (location {report.location_id})"]
    for entry in report.entries:
        c = entry.content
        when = datetime.fromtimestamp(entry.received_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        label = "Report" if c.kind == "report" else "Addition"
        lines.append("")
        lines.append(f"[{entry.seq}] {label}, received {when}, page language {c.language}")
        if c.kind == "report":
            lines.append(f"  Do not contact: {'YES' if c.do_not_contact else 'no'}")
            lines.append(f"  Safe contact:   {c.contact_method or '-'}")
            lines.append(f"  Safe time:      {c.contact_time or '-'}")
            lines.append(
                f"  Share with law enforcement: {SHARE_TEXT[c.share_with_law_enforcement]}"
            )
        text = c.what or "(nothing written)"
        lines.extend("  | " + line for line in text.splitlines() or [text])
    return "\n".join(lines)
