"""Keeping the broker's CRL fresh.

With CRL checks on, OpenSSL refuses *every* kiosk certificate once the newest CRL has passed
its nextUpdate. So the fleet manager re-publishes the CRL (same entries, later dates) once half
of its validity has passed: with the default 7-day CRL that leaves 3.5 days to notice and fix
a fleet manager that stopped doing it. The rule is pure; :func:`refresh_if_due` is the shell.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fleet_manager.brokers.revocation import latest_crl, publish_crl
from provisioning.ca import CertificateAuthority
from transport.log import get_logger

log = get_logger("fleet_manager.crl")

CHECK_INTERVAL_S = 3600.0


def refresh_due(last_update: datetime, next_update: datetime | None, now: datetime) -> bool:
    """True once half of the CRL's validity has passed (or it has no nextUpdate)."""
    if next_update is None:
        return True
    return now >= last_update + (next_update - last_update) / 2


def refresh_if_due(crl_dir: Path, ca: CertificateAuthority, now: datetime) -> bool:
    """Re-publish ``ca``'s CRL in ``crl_dir`` if due; True if a new one was written."""
    current = latest_crl(crl_dir, ca.certificate.subject) if crl_dir.exists() else None
    if current is not None and not refresh_due(
        current.last_update_utc, current.next_update_utc, now
    ):
        return False
    published = publish_crl(crl_dir, ca)
    log.info("crl_refreshed", crl_number=published.crl_number, revoked=published.revoked_count)
    return True
