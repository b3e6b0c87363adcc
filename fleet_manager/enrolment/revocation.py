"""Revoking and decommissioning a kiosk: the database side, then the broker side.

The database is changed first (lifecycle, every certificate marked revoked, audit entry), so
the fleet never signs for the kiosk again even if the broker steps fail; then
:func:`fleet_manager.brokers.revocation.cut_off` publishes the CRL, denies every topic in the
ACL, reloads the broker and takes over the kiosk's session. Both halves are idempotent: running
the command again finishes whatever failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from fleet_manager.brokers.revocation import BrokerHandle, CutOffReport, cut_off
from fleet_manager.config import FleetConfig
from fleet_manager.enrolment.decision import Lifecycle
from fleet_manager.enrolment.service import load_issuing_ca
from fleet_manager.store import audit_log, enrolment_store


class RevocationError(ValueError):
    """A revocation that cannot be attempted; the message is for people."""


@dataclass(frozen=True)
class RevocationResult:
    device_id: str
    lifecycle: Lifecycle
    serials: tuple[str, ...]
    report: CutOffReport


def broker_handle(config: FleetConfig) -> BrokerHandle:
    if config.revocation is None:
        raise RevocationError("the fleet config has no 'revocation' section (ACL, CRL, pid file)")
    r = config.revocation
    return BrokerHandle(
        acl_file=r.acl_file,
        crl_dir=r.crl_dir,
        pid_file=r.broker_pid_file,
        host=config.broker.host,
        port=config.broker.port,
        cafile=config.broker.ca,
    )


def revoke_device(
    config: FleetConfig,
    engine: sa.Engine,
    device_id: str,
    *,
    actor: str,
    lifecycle: Lifecycle = "revoked",
    reason: str = "",
    now: float,
) -> RevocationResult:
    """Revoke (or decommission) ``device_id`` now; see the module docstring for the order."""
    if config.enrolment is None:
        raise RevocationError("the fleet config has no 'enrolment' section (issuing CA)")
    handle = broker_handle(config)
    ca = load_issuing_ca(config.enrolment)
    with engine.begin() as conn:
        if enrolment_store.lifecycle(conn, device_id) is None:
            raise RevocationError(f"no kiosk {device_id!r}")
        enrolment_store.set_lifecycle(conn, device_id, lifecycle)
        enrolment_store.revoke_certificates(conn, device_id, now)
        certificates = enrolment_store.device_certificates(conn, device_id)
        pending = enrolment_store.find_enrolment(conn, device_id)
        if pending is not None and pending.state in ("pending", "approved"):
            enrolment_store.set_enrolment_state(
                conn, pending.enrolment_id, "rejected", expected=pending.state, now=now, by=actor
            )
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action=f"device.{lifecycle}",
            subject=device_id,
            outcome="ok",
            detail={"certificates": len(certificates), "reason": reason[:200]},
        )
    serials = [c.serial for c in certificates]
    report = cut_off(
        device_id,
        [int(serial, 16) for serial in serials],
        ca=ca,
        broker=handle,
        now=datetime.fromtimestamp(now, UTC),
    )
    with engine.begin() as conn:
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="device.cut_off",
            subject=device_id,
            outcome="ok" if report.complete else "partial",
            detail={
                "crl_number": report.crl.crl_number if report.crl else None,
                "acl_changed": report.acl_changed,
                "kicked": report.kicked,
                "problems": list(report.problems),
            },
        )
    return RevocationResult(device_id, lifecycle, tuple(serials), report)
