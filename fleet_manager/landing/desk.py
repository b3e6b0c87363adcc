"""Taking a report in: seal it to the region's key, store only ciphertext, give a case code.

The shell around the pure parts (``fleet_manager.reports``): the database, Argon2 and the
clock. The plaintext exists only in this process's memory for the length of one request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from fleet_manager.incidents.opening import REPORT_SOURCE
from fleet_manager.incidents.view import incident_id_for_alert
from fleet_manager.metrics import Counters
from fleet_manager.reports.case_codes import (
    CaseCredentials,
    code_digest,
    new_credentials,
    normalize_code,
    normalize_passphrase,
)
from fleet_manager.reports.sealing import SealError, load_public_key, seal
from fleet_manager.reports.submission import ReportContent
from fleet_manager.store import audit_log, report_store
from fleet_manager.store.registry import TokenPlace
from fleet_manager.store.report_store import ReportRow, ReportStoreError
from transport.log import get_logger

log = get_logger("fleet_manager.landing")

KEY_REFRESH_S = 10.0
ADD_ATTEMPTS = 3
UNKNOWN_LOCATION = "unknown"


@dataclass(frozen=True)
class Sent:
    credentials: CaseCredentials
    incident_id: str


@dataclass(frozen=True)
class Added:
    seq: int


@dataclass(frozen=True)
class Refused:
    reason: Literal["wrong_code", "full", "unavailable"]


class ReportDesk:
    def __init__(
        self,
        engine: sa.Engine,
        counters: Counters,
        default_region: str,
        clock: Callable[[], float],
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.engine = engine
        self.counters = counters
        self.default_region = default_region
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._keys: dict[str, tuple[str, X25519PublicKey]] = {}
        self._keys_read_at = float("-inf")
        self._lock = threading.Lock()
        # Checked against when a code is unknown, so both answers take the same time.
        self._dummy_hash = self.hasher.hash("000000000000")

    def _key(self, region: str) -> tuple[str, X25519PublicKey] | None:
        now = self.clock()
        with self._lock:
            if now - self._keys_read_at >= KEY_REFRESH_S:
                with self.engine.connect() as conn:
                    active = report_store.active_keys(conn)
                keys = {}
                for name, key in active.items():
                    try:
                        keys[name] = (key.key_id, load_public_key(key.public_key))
                    except SealError as exc:
                        log.error(
                            "report_key_unusable", region=name, key_id=key.key_id, error=str(exc)
                        )
                self._keys, self._keys_read_at = keys, now
            return self._keys.get(region)

    def _sealing_key(self, region: str) -> tuple[str, X25519PublicKey] | Refused:
        """The region's key in use, or the refusal to answer (loud: reports are being turned
        away until someone registers a key)."""
        key = self._key(region)
        if key is None:
            self.counters.inc("landing_reports_no_key")
            log.error("report_refused_no_key", region=region)
            return Refused("unavailable")
        return key

    def submit(self, place: TokenPlace | None, content: ReportContent) -> Sent | Refused:
        """Seal and store a new report; a fleet manager opens its incident within a second.
        An unknown token's report goes to the default region: never dropped."""
        region = place.region if place is not None else self.default_region
        key = self._sealing_key(region)
        if isinstance(key, Refused):
            return key
        key_id, public = key
        now = self.clock()
        report_id = str(uuid.uuid4())
        credentials = new_credentials()
        row = ReportRow(
            report_id=report_id,
            passphrase_hash=self.hasher.hash(credentials.passphrase),
            region=region,
            facility_id=None if place is None else place.facility_id,
            location_id=UNKNOWN_LOCATION if place is None else place.location_id,
            incident_id=incident_id_for_alert(report_id),
            created_at=now,
        )
        ciphertext = seal(content.to_bytes(), public, report_id, 1)
        with self.engine.begin() as conn:
            report_store.open_report(
                conn,
                report=row,
                case_digest=code_digest(credentials.code),
                key_id=key_id,
                ciphertext=ciphertext,
            )
            audit_log.record(
                conn,
                at=now,
                actor=REPORT_SOURCE,
                action="report.received",
                subject=row.incident_id,
                outcome="stored",
                detail={"entry": 1, "key_id": key_id, "region": region, "bytes": len(ciphertext)},
            )
        self.counters.inc("landing_reports")
        log.info("report_received", incident_id=row.incident_id, region=region, key_id=key_id)
        return Sent(credentials, row.incident_id)

    def find(self, code_text: str, passphrase_text: str) -> ReportRow | None:
        """The report these credentials open, or None; as slow for a wrong code as for a
        wrong passphrase."""
        code = normalize_code(code_text)
        passphrase = normalize_passphrase(passphrase_text) or ""
        report = None
        if code is not None:
            with self.engine.connect() as conn:
                report = report_store.find_by_code(conn, code_digest(code))
        stored = report.passphrase_hash if report is not None else self._dummy_hash
        try:
            self.hasher.verify(stored, passphrase)
        except (VerificationError, InvalidHashError):
            return None
        return report

    def add(self, report: ReportRow, content: ReportContent) -> Added | Refused:
        key = self._sealing_key(report.region)
        if isinstance(key, Refused):
            return key
        key_id, public = key
        for _ in range(ADD_ATTEMPTS):
            now = self.clock()
            try:
                with self.engine.begin() as conn:
                    seq = report_store.next_seq(conn, report.report_id)
                    ciphertext = seal(content.to_bytes(), public, report.report_id, seq)
                    report_store.add_entry(conn, report.report_id, seq, key_id, ciphertext, now)
                    audit_log.record(
                        conn,
                        at=now,
                        actor=REPORT_SOURCE,
                        action="report.added",
                        subject=report.incident_id,
                        outcome="stored",
                        detail={"entry": seq, "key_id": key_id, "bytes": len(ciphertext)},
                    )
            except ReportStoreError:
                self.counters.inc("landing_additions_refused_full")
                return Refused("full")
            except sa.exc.IntegrityError:
                continue  # an addition to the same report took this number: take the next
            self.counters.inc("landing_additions")
            log.info("report_addition_received", incident_id=report.incident_id, entry=seq)
            return Added(seq)
        return Refused("unavailable")
