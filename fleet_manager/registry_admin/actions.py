"""What the console's registry area changes, each with its audit entry.

The same store and service functions as ``beacon provision`` run underneath (registry,
enrolment tokens, approvals, revocation), so the console and the CLI write the same rows and,
where the CLI audits, the same audit entries. The CLI does not audit adding facilities and
locations or rotating a QR token; the console does (``facility.created``, ``location.created``,
``location.token_rotated``), since every change made in the console is in the audit log.

Errors keep their types from the store (:class:`~fleet_manager.store.registry.RegistryError`,
:class:`~fleet_manager.store.enrolment_store.EnrolmentError`,
:class:`~fleet_manager.enrolment.revocation.RevocationError`); callers turn them into answers.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from fleet_manager.config import FleetConfig
from fleet_manager.enrolment.revocation import RevocationResult, revoke_device
from fleet_manager.enrolment.service import CreatedToken, create_token, record_decision
from fleet_manager.registry_admin.rules import CutOffFacts, clean_reason
from fleet_manager.store import audit_log, enrolment_store, registry
from fleet_manager.store.enrolment_store import EnrolmentRecord

# The texts on stickers come from this bundle, as `beacon provision stickers` does by default.
STICKER_BUNDLE = Path(__file__).resolve().parents[2] / "content" / "sample"


def create_facility(
    engine: sa.Engine,
    facility_id: str,
    name: str,
    region: str,
    require_approval: bool,
    *,
    actor: str,
    now: float,
) -> registry.Facility:
    with engine.begin() as conn:
        facility = registry.create_facility(conn, facility_id, name, region, now)
        if require_approval:
            enrolment_store.set_require_approval(conn, facility_id, True)
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="facility.created",
            subject=facility_id,
            outcome="ok",
            detail={"region": region, "require_approval": require_approval},
        )
    return facility


def set_require_approval(
    engine: sa.Engine, facility_id: str, required: bool, *, actor: str, now: float
) -> bool:
    """As ``beacon provision facility require-approval``; False for an unknown facility."""
    with engine.begin() as conn:
        if not enrolment_store.set_require_approval(conn, facility_id, required):
            return False
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="facility.require_approval",
            subject=facility_id,
            outcome="ok",
            detail={"required": required},
        )
    return True


def create_location(
    engine: sa.Engine,
    location_id: str,
    facility_id: str,
    name: str,
    kind: str,
    *,
    floor: str | None,
    room: str | None,
    actor: str,
    now: float,
) -> registry.Location:
    with engine.begin() as conn:
        location = registry.create_location(
            conn, location_id, facility_id, name, kind, now, floor=floor, room=room
        )
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="location.created",
            subject=location_id,
            outcome="ok",
            detail={"facility": facility_id, "kind": kind},
        )
    return location


def rotate_qr(
    engine: sa.Engine, location_id: str, grace_s: float, *, actor: str, now: float
) -> registry.TokenRotation:
    """A new QR token for the location; the old one works ``grace_s`` longer. Tokens are not
    written to the audit log (they are on stickers, but the log need not hold them)."""
    with engine.begin() as conn:
        rotation = registry.rotate_location_token(conn, location_id, now, grace_s)
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="location.token_rotated",
            subject=location_id,
            outcome="ok",
            detail={"grace_s": grace_s, "old_valid_until": rotation.old_valid_until},
        )
    return rotation


def create_enrolment_token(
    engine: sa.Engine, location_id: str, ttl_s: float, *, actor: str, now: float
) -> CreatedToken:
    """As ``beacon provision token create`` (audit ``enrolment_token.created``)."""
    return create_token(engine, location_id, ttl_s, actor, now)


def decide_enrolment(
    engine: sa.Engine, ref: str, approve: bool, reason: str, *, actor: str, now: float
) -> EnrolmentRecord:
    """As ``beacon provision approve|reject``; a reason, if given, is a second audit entry
    (``enrolment.decision_reason``) in the same transaction."""
    reason = clean_reason(reason)
    with engine.begin() as conn:
        record = record_decision(conn, ref, approve, actor, now)
        if reason:
            audit_log.record(
                conn,
                at=now,
                actor=actor,
                action="enrolment.decision_reason",
                subject=record.device_id,
                outcome="ok",
                detail={"decision": record.state, "reason": reason},
            )
    return record


@dataclass(frozen=True)
class StickerSheet:
    pdf: bytes
    stickers: int
    pages: int


@functools.cache
def sticker_languages() -> tuple[str, ...]:
    """The languages stickers can be printed in (the bundle is part of the code: read once)."""
    from content.bundle import load_bundle

    return load_bundle(STICKER_BUNDLE).languages


def sticker_sheet(
    locations: Sequence[registry.Location], languages: Sequence[str], origin: str, sheet: str
) -> StickerSheet:
    """The print-ready PDF of ``locations`` × ``languages`` (``StickerError`` if it cannot be
    made), as ``beacon provision stickers`` writes it; the SVG pages are not kept."""
    from content.bundle import load_bundle
    from provisioning.stickers import StickerLocation, write_stickers

    bundle = load_bundle(STICKER_BUNDLE)
    wanted = [
        StickerLocation(loc.location_id, loc.name, loc.qr_token, loc.floor, loc.room)
        for loc in locations
    ]
    with tempfile.TemporaryDirectory(prefix="beacon-stickers-") as folder:
        output = Path(folder) / "stickers.pdf"
        files = write_stickers(wanted, tuple(languages), origin, bundle, sheet, output)
        return StickerSheet(output.read_bytes(), files.stickers, files.pages)


def record_stickers_printed(
    engine: sa.Engine,
    facility_id: str,
    languages: Sequence[str],
    sheet: str,
    made: StickerSheet,
    *,
    actor: str,
    now: float,
) -> None:
    with engine.begin() as conn:
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="stickers.printed",
            subject=facility_id,
            outcome="ok",
            detail={
                "languages": list(languages),
                "sheet": sheet,
                "stickers": made.stickers,
                "pages": made.pages,
            },
        )


def revoke_kiosk(
    config: FleetConfig,
    engine: sa.Engine,
    device_id: str,
    *,
    decommission: bool,
    reason: str,
    actor: str,
    now: float,
) -> RevocationResult:
    """As ``beacon provision revoke|decommission``: the database first, then the CRL, the ACL
    with a broker reload, and the session takeover (each broker step may fail; see the report)."""
    return revoke_device(
        config,
        engine,
        device_id,
        actor=actor,
        lifecycle="decommissioned" if decommission else "revoked",
        reason=clean_reason(reason),
        now=now,
    )


def cut_off_facts(result: RevocationResult) -> CutOffFacts:
    report = result.report
    return CutOffFacts(
        crl_number=None if report.crl is None else report.crl.crl_number,
        acl_changed=report.acl_changed,
        reloaded=report.reloaded_pid is not None,
        kicked=report.kicked,
        problems=report.problems,
    )
