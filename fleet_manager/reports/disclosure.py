"""May a responder disclose a report to this recipient? (pure)

The reporter's answer to "may this be shared with law enforcement?" decides for law
enforcement, unless the responder records a legal basis that overrides consent (imminent danger
to life, a mandated report about a child, a court order): then the disclosure is allowed and the
basis is written to the audit log with it. Other recipients (victim services, medical, legal
aid) need a stated purpose; the reporter's "do not contact me" is shown, never overridden here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from fleet_manager.reports.submission import Share

Recipient = Literal["law_enforcement", "victim_services", "medical", "legal_aid", "other"]
RECIPIENTS: tuple[Recipient, ...] = get_args(Recipient)
LegalBasis = Literal["imminent_danger", "child_mandated_report", "court_order"]
LEGAL_BASES: tuple[LegalBasis, ...] = get_args(LegalBasis)


@dataclass(frozen=True)
class DisclosureDecision:
    allowed: bool
    reason: str


def decide_disclosure(
    consent: Share, recipient: Recipient, legal_basis: LegalBasis | None, purpose: str
) -> DisclosureDecision:
    if not purpose.strip():
        return DisclosureDecision(False, "say why it is being disclosed (--purpose)")
    if recipient != "law_enforcement":
        return DisclosureDecision(True, "disclosure for a stated purpose")
    if consent == "yes":
        return DisclosureDecision(True, "the reporter agreed to sharing with law enforcement")
    if legal_basis is not None:
        return DisclosureDecision(True, f"consent {consent}; legal basis: {legal_basis}")
    return DisclosureDecision(
        False,
        f"the reporter's answer on sharing with law enforcement is {consent!r}: "
        "disclose only with a legal basis (--legal-basis)",
    )
