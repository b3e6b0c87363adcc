"""The enrolment and renewal decisions, as pure functions of what was looked up.

The token is checked before the CSR, and it is consumed only when the answer is to issue or
to hold for approval: a kiosk whose CSR was refused (a bug in its software, say) can try again
with the same token once fixed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from fleet_manager.enrolment.csr_check import CsrRefused, CsrVerdict
from fleet_manager.enrolment.tokens import TokenState

DEVICE_ID_CHARS = "abcdefghijkmnpqrstuvwxyz23456789"
DEVICE_ID_LENGTH = 10
DEFAULT_CERT_DAYS = 90

Lifecycle = Literal["active", "revoked", "decommissioned"]

_TOKEN_REFUSALS: dict[TokenState, tuple[str, str]] = {
    "unknown": ("token_unknown", "this enrolment token is not known; check it or get a new one"),
    "expired": ("token_expired", "this enrolment token has expired; ask for a new one"),
    "used": ("token_used", "this enrolment token has already been used; ask for a new one"),
}


@dataclass(frozen=True)
class Issue:
    """Sign the CSR now."""


@dataclass(frozen=True)
class Hold:
    """Keep the CSR; sign it when someone approves the kiosk."""


@dataclass(frozen=True)
class Refuse:
    reason: str  # short code: counter name and audit detail
    message: str  # for the kiosk's log and the person enrolling it


Outcome = Issue | Hold | Refuse


def new_device_id() -> str:
    """The id the fleet gives a new kiosk: ``kiosk-`` and 10 unambiguous random characters."""
    return "kiosk-" + "".join(secrets.choice(DEVICE_ID_CHARS) for _ in range(DEVICE_ID_LENGTH))


def decide_enrolment(token: TokenState, csr: CsrVerdict, require_approval: bool) -> Outcome:
    if token != "valid":
        reason, message = _TOKEN_REFUSALS[token]
        return Refuse(reason, message)
    if isinstance(csr, CsrRefused):
        return Refuse(csr.reason, csr.message)
    return Hold() if require_approval else Issue()


def decide_renewal(lifecycle: Lifecycle | None, csr: CsrVerdict) -> Outcome:
    """A kiosk asks, over its current mTLS connection, for a certificate for a new key."""
    if lifecycle is None:
        return Refuse("device_unknown", "this kiosk is not enrolled")
    if lifecycle != "active":
        return Refuse(f"device_{lifecycle}", f"this kiosk is {lifecycle}; it cannot renew")
    if isinstance(csr, CsrRefused):
        return Refuse(csr.reason, csr.message)
    return Issue()
