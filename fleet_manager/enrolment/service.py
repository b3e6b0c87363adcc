"""Enrolment, approval and renewal, against the fleet database and the online issuing CA.

The imperative shell around :mod:`fleet_manager.enrolment.decision`: look up the facts, ask the
pure rules, then write rows, sign, audit, count and log. Used by the HTTPS API (enrolment and
polling), by the fleet manager (renewal over MQTT) and by ``beacon provision`` (tokens).

Every refusal gets an audit entry and a counter ``enrolment_refused.<reason>``; logs carry
reason codes and ids, never a token.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet_manager.config import EnrolmentSettings, FleetConfig
from fleet_manager.enrolment import tokens
from fleet_manager.enrolment.csr_check import CsrAccepted, check_csr
from fleet_manager.enrolment.decision import (
    Hold,
    Refuse,
    decide_enrolment,
    decide_renewal,
    new_device_id,
)
from fleet_manager.metrics import Counters
from fleet_manager.store import audit_log, enrolment_store, registry
from fleet_manager.store.enrolment_store import EnrolmentRecord
from protocol.enrolment import (
    BrokerEndpoint,
    IdentityBundle,
    PendingEnrolment,
    Refusal,
    RenewRequest,
    RenewResponse,
)
from provisioning.ca import CertificateAuthority, SignedCertificate, sign_csr
from transport.log import get_logger

log = get_logger("fleet_manager.enrolment")

POLL_AFTER_S = 15.0
# A kiosk that lost the answer may ask again for a while; after that only a new token helps.
REFETCH_WINDOW_S = 3600.0

REFUSAL_STATUS = {
    "token_unknown": 403,
    "token_expired": 403,
    "token_used": 403,
    "malformed_csr": 422,
    "subject_not_empty": 422,
    "weak_key": 422,
    "rejected": 403,
    "device_revoked": 403,
    "device_decommissioned": 403,
    "enrolment_unknown": 404,
    "refetch_window_passed": 410,
}


@dataclass(frozen=True)
class Issued:
    bundle: IdentityBundle


@dataclass(frozen=True)
class Pending:
    pending: PendingEnrolment


@dataclass(frozen=True)
class Refused:
    refusal: Refusal

    @property
    def status(self) -> int:
        return REFUSAL_STATUS.get(self.refusal.error, 400)


Answer = Issued | Pending | Refused


@dataclass(frozen=True)
class CreatedToken:
    token: str  # shown once, never stored
    location_id: str
    expires_at: float


def command_public_key_b64(config: FleetConfig) -> str:
    key = serialization.load_pem_private_key(config.command_signing_key.read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{config.command_signing_key}: not an Ed25519 private key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_issuing_ca(settings: EnrolmentSettings) -> CertificateAuthority:
    return CertificateAuthority.load(
        settings.issuing_ca_cert.read_bytes(),
        settings.issuing_ca_key.read_bytes(),
        root_pem=settings.trust_anchor.read_bytes(),
    )


def create_token(
    engine: sa.Engine, location_id: str, ttl_s: float, actor: str, now: float
) -> CreatedToken:
    """A new single-use enrolment token for ``location_id`` (shown once; only its hash is kept)."""
    if not 0 < ttl_s <= tokens.MAX_TTL_S:
        raise ValueError(f"the token's life must be between 1 s and {tokens.MAX_TTL_S:.0f} s")
    token = tokens.new_token()
    digest = tokens.token_hash(token)
    assert digest is not None
    with engine.begin() as conn:
        enrolment_store.add_token(
            conn, digest, location_id, now=now, expires_at=now + ttl_s, created_by=actor
        )
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="enrolment_token.created",
            subject=location_id,
            outcome="ok",
            detail={"expires_at": now + ttl_s, "token_sha256_prefix": digest[:12]},
        )
    return CreatedToken(token, location_id, now + ttl_s)


def record_decision(
    conn: sa.Connection, ref: str, approve: bool, actor: str, now: float
) -> EnrolmentRecord:
    """Approve or reject a pending enrolment (by enrolment id or device id). The certificate is
    signed when the kiosk next asks, by the API that holds the issuing key."""
    record = enrolment_store.find_enrolment(conn, ref)
    if record is None:
        raise enrolment_store.EnrolmentError(f"no enrolment {ref!r}")
    new_state: enrolment_store.EnrolmentState = "approved" if approve else "rejected"
    if not enrolment_store.set_enrolment_state(
        conn, record.enrolment_id, new_state, expected="pending", now=now, by=actor
    ):
        raise enrolment_store.EnrolmentError(
            f"the enrolment of {record.device_id} is {record.state}, not pending"
        )
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="enrolment.approved" if approve else "enrolment.rejected",
        subject=record.device_id,
        outcome="ok",
        detail={"location": record.location_id, "enrolment_id": record.enrolment_id},
    )
    updated = enrolment_store.get_enrolment(conn, record.enrolment_id)
    assert updated is not None
    return updated


class EnrolmentService:
    def __init__(
        self,
        engine: sa.Engine,
        settings: EnrolmentSettings,
        ca: CertificateAuthority,
        command_key_b64: str,
        counters: Counters | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.ca = ca
        self.command_key_b64 = command_key_b64
        self.counters = counters or Counters()
        self.clock = clock
        self._trust_anchor = settings.trust_anchor.read_text()
        self._tuf_root = settings.tuf_root.read_text() if settings.tuf_root else None

    @classmethod
    def from_config(
        cls,
        config: FleetConfig,
        engine: sa.Engine,
        counters: Counters | None = None,
        clock: Callable[[], float] = time.time,
    ) -> EnrolmentService:
        if config.enrolment is None:
            raise ValueError("the fleet config has no 'enrolment' section")
        return cls(
            engine,
            config.enrolment,
            load_issuing_ca(config.enrolment),
            command_public_key_b64(config),
            counters,
            clock,
        )

    # -- enrolment (kiosk, over HTTPS) --------------------------------------------------------

    def enrol(self, token_text: str, csr_pem: str, source: str = "") -> Answer:
        now = self.clock()
        digest = tokens.token_hash(token_text)
        with self.engine.begin() as conn:
            facts = enrolment_store.token_facts(conn, digest) if digest else None
            state = tokens.token_state(facts, now)
            if state == "used" and digest is not None:
                retried = self._retry(conn, digest, csr_pem, now)
                if retried is not None:
                    return retried
            verdict = check_csr(csr_pem)
            approval = facts is not None and enrolment_store.require_approval(
                conn, facts.location_id
            )
            outcome = decide_enrolment(state, verdict, approval)
            if isinstance(outcome, Refuse):
                return self._refuse(conn, outcome, "enrolment", facts, source, now)
            assert facts is not None and digest is not None
            assert isinstance(verdict, CsrAccepted)
            enrolment_id = secrets.token_urlsafe(16)
            if not enrolment_store.consume_token(conn, digest, enrolment_id, now):
                refuse = Refuse("token_used", "this enrolment token has already been used")
                return self._refuse(conn, refuse, "enrolment", facts, source, now)
            device_id = new_device_id()
            enrolment_store.add_enrolment(
                conn,
                enrolment_id=enrolment_id,
                device_id=device_id,
                location_id=facts.location_id,
                csr_pem=csr_pem,
                state="pending" if isinstance(outcome, Hold) else "approved",
                now=now,
            )
            record = enrolment_store.get_enrolment(conn, enrolment_id)
            assert record is not None
            audit_log.record(
                conn,
                at=now,
                actor=f"kiosk:{device_id}",
                action="enrolment.requested",
                subject=device_id,
                outcome="pending" if isinstance(outcome, Hold) else "ok",
                detail={"location": facts.location_id, "enrolment_id": enrolment_id},
            )
            return self._answer(conn, record, now)

    def poll(self, enrolment_id: str) -> Answer:
        now = self.clock()
        with self.engine.begin() as conn:
            record = enrolment_store.get_enrolment(conn, enrolment_id)
            if record is None:
                self.counters.inc("enrolment_refused.enrolment_unknown")
                return Refused(Refusal(error="enrolment_unknown", message="no such enrolment"))
            return self._answer(conn, record, now)

    def _retry(self, conn: sa.Connection, digest: str, csr_pem: str, now: float) -> Answer | None:
        """The same kiosk sending the same CSR with its token again (it lost our answer)."""
        record = enrolment_store.enrolment_for_token(conn, digest)
        if record is None or record.csr_pem.strip() != csr_pem.strip():
            return None
        return self._answer(conn, record, now)

    def _answer(self, conn: sa.Connection, record: EnrolmentRecord, now: float) -> Answer:
        if record.state == "pending":
            return Pending(
                PendingEnrolment(enrolment_id=record.enrolment_id, poll_after_s=POLL_AFTER_S)
            )
        if record.state == "rejected":
            return self._refuse(
                conn,
                Refuse("rejected", "this kiosk's enrolment was rejected by facility staff"),
                "enrolment",
                None,
                record.device_id,
                now,
            )
        lifecycle = enrolment_store.lifecycle(conn, record.device_id)
        if lifecycle not in (None, "active"):
            refuse = Refuse(f"device_{lifecycle}", f"this kiosk is {lifecycle}")
            return self._refuse(conn, refuse, "enrolment", None, record.device_id, now)
        if record.state == "issued":
            issued_at = record.decided_at or record.created_at
            if now - issued_at > REFETCH_WINDOW_S:
                refuse = Refuse(
                    "refetch_window_passed",
                    "this enrolment was completed long ago; enrol again with a new token",
                )
                return self._refuse(conn, refuse, "enrolment", None, record.device_id, now)
        return Issued(self._issue(conn, record, now))

    def _issue(self, conn: sa.Connection, record: EnrolmentRecord, now: float) -> IdentityBundle:
        csr = x509.load_pem_x509_csr(record.csr_pem.encode())
        signed = self._sign(conn, csr, record.device_id, "enrol", now)
        first_time = enrolment_store.set_enrolment_state(
            conn, record.enrolment_id, "issued", expected="approved", now=now
        )
        if first_time:
            registry.register_device(
                conn, record.device_id, record.location_id, now, self.settings.channel
            )
            enrolment_store.set_lifecycle(conn, record.device_id, "active")
            enrolment_store.mark_decided(conn, record.enrolment_id, now, "auto")
        self.counters.inc("enrolments_issued")
        log.info(
            "enrolment_issued",
            device=record.device_id,
            location=record.location_id,
            serial=format(signed.serial, "x"),
        )
        return self._bundle(conn, record, signed.cert_pem.decode(), signed.not_after.timestamp())

    def _sign(
        self,
        conn: sa.Connection,
        csr: x509.CertificateSigningRequest,
        device_id: str,
        via: str,
        now: float,
    ) -> SignedCertificate:
        """Sign a kiosk certificate, and record and audit it in the caller's transaction."""
        signed = sign_csr(
            self.ca,
            csr,
            device_id,
            usage="client",
            valid_days=self.settings.device_cert_days,
            now=datetime.fromtimestamp(now, UTC),
        )
        enrolment_store.record_certificate(
            conn,
            serial=signed.serial,
            device_id=device_id,
            issued_at=now,
            not_after=signed.not_after.timestamp(),
            via=via,
        )
        audit_log.record(
            conn,
            at=now,
            actor="fleet" if via == "enrol" else f"kiosk:{device_id}",
            action="certificate.issued" if via == "enrol" else "certificate.renewed",
            subject=device_id,
            outcome="ok",
            detail={"serial": format(signed.serial, "x"), "via": via},
        )
        return signed

    def _bundle(
        self, conn: sa.Connection, record: EnrolmentRecord, cert_pem: str, not_after: float
    ) -> IdentityBundle:
        location = registry.get_location(conn, record.location_id)
        facility = registry.get_facility(conn, record.facility_id)
        assert location is not None and facility is not None
        s = self.settings
        return IdentityBundle(
            device_id=record.device_id,
            region=facility.region,
            facility=facility.facility_id,
            location=location.location_id,
            location_name=location.name,
            channel=s.channel,
            certificate=cert_pem,
            not_after=not_after,
            trust_anchor=self._trust_anchor,
            broker=BrokerEndpoint(host=s.kiosk_broker.host, port=s.kiosk_broker.port),
            command_key=self.command_key_b64,
            tuf_root=self._tuf_root,
            content_url=s.content_url,
            location_token=location.qr_token,
            qr_origin=s.qr_origin,
            allowed_origins=s.allowed_origins,
        )

    def _refuse(
        self,
        conn: sa.Connection,
        refuse: Refuse,
        what: str,
        facts: tokens.TokenFacts | None,
        subject: str,
        now: float,
    ) -> Refused:
        self.counters.inc(f"{what}_refused.{refuse.reason}")
        detail: dict[str, object] = {"reason": refuse.reason}
        if facts is not None:
            detail["location"] = facts.location_id
        audit_log.record(
            conn,
            at=now,
            actor="kiosk:unenrolled" if what == "enrolment" else f"kiosk:{subject}",
            action=f"{what}.refused",
            subject=subject or "-",
            outcome="refused",
            detail=detail,
        )
        log.warning(f"{what}_refused", reason=refuse.reason, subject=subject or "-")
        return Refused(Refusal(error=refuse.reason, message=refuse.message))

    # -- renewal (kiosk, over its mTLS MQTT connection) ---------------------------------------

    def renew(self, device_id: str, request: RenewRequest) -> RenewResponse:
        now = self.clock()
        with self.engine.begin() as conn:
            lifecycle = enrolment_store.lifecycle(conn, device_id)
            verdict = check_csr(request.csr)
            outcome = decide_renewal(lifecycle, verdict)
            if isinstance(outcome, Refuse):
                refused = self._refuse(conn, outcome, "renewal", None, device_id, now)
                return RenewResponse(
                    request_id=request.request_id,
                    error=refused.refusal.error,
                    message=refused.refusal.message,
                )
            assert isinstance(verdict, CsrAccepted)
            signed = self._sign(conn, verdict.csr, device_id, "renew", now)
        self.counters.inc("certificates_renewed")
        log.info("certificate_renewed", device=device_id, serial=format(signed.serial, "x"))
        return RenewResponse(
            request_id=request.request_id,
            certificate=signed.cert_pem.decode(),
            not_after=signed.not_after.timestamp(),
        )
