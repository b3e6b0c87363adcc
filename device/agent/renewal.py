"""Certificate renewal on the kiosk: a new key and a CSR, sent over the current mTLS session.

The rule (:func:`renewal_due`) is pure: renew once two thirds of the certificate's life has
passed, so a kiosk that is offline for a while still has a third of its life (30 days of 90)
to reach the fleet. The new key is made in memory and written only together with the
certificate that matches it (:mod:`device.agent.tls_store`); an answer for any other key, or
one that does not chain to the trust anchor, is refused and logged.

An expired kiosk cannot renew (the broker refuses its certificate); it must enrol again with a
new token.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from device.agent.enrolment import chain_problem
from device.agent.tls_store import replace_key_and_certificate
from protocol.enrolment import RenewRequest, RenewResponse
from transport.log import get_logger

log = get_logger("device.renewal")

CHECK_INTERVAL_S = 3600.0
# An unanswered request is asked again after this long (the fleet manager may have restarted).
RETRY_AFTER_S = 600.0


def renewal_due(not_before: float, not_after: float, now: float) -> bool:
    """True once two thirds of a certificate's life has passed."""
    return now >= not_before + (not_after - not_before) * 2 / 3


@dataclass(frozen=True)
class InFlight:
    request_id: str
    key: ec.EllipticCurvePrivateKey
    sent_at: float


class CertificateRenewer:
    def __init__(self, tls_dir: Path) -> None:
        self.tls_dir = tls_dir
        self._lock = threading.Lock()
        self._in_flight: InFlight | None = None
        self.renewed = 0

    def certificate_life(self) -> tuple[float, float]:
        leaf = x509.load_pem_x509_certificates((self.tls_dir / "cert.pem").read_bytes())[0]
        return leaf.not_valid_before_utc.timestamp(), leaf.not_valid_after_utc.timestamp()

    def request_if_due(self, now: float, force: bool = False) -> RenewRequest | None:
        """A request to publish now, or None (not due, or one already waiting)."""
        with self._lock:
            waiting = self._in_flight
            if waiting is not None and now - waiting.sent_at < RETRY_AFTER_S and not force:
                return None
            if not force and not renewal_due(*self.certificate_life(), now):
                return None
            key = ec.generate_private_key(ec.SECP256R1())
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(x509.Name([]))
                .sign(key, hashes.SHA256())
            )
            self._in_flight = InFlight(secrets.token_hex(8), key, now)
            return RenewRequest(
                request_id=self._in_flight.request_id,
                csr=csr.public_bytes(serialization.Encoding.PEM).decode(),
            )

    def accept(self, response: RenewResponse, now: float) -> bool:
        """Check and install the answer; True if a new certificate is now in place."""
        with self._lock:
            waiting = self._in_flight
            if waiting is None or response.request_id != waiting.request_id:
                log.warning("renewal_answer_unexpected", request_id=response.request_id)
                return False
            if response.certificate is None:
                self._in_flight = None
                log.warning("renewal_refused", error=response.error, message=response.message)
                return False
            try:
                chain = x509.load_pem_x509_certificates(response.certificate.encode())
                anchors = x509.load_pem_x509_certificates((self.tls_dir / "ca.pem").read_bytes())
            except ValueError as exc:
                log.warning("renewal_answer_unusable", error=str(exc))
                return False
            if chain[0].public_key() != waiting.key.public_key():
                log.warning("renewal_answer_unusable", error="certificate is for another key")
                return False
            problem = chain_problem(chain, anchors, datetime.fromtimestamp(now, UTC))
            if problem is not None:
                log.warning("renewal_answer_unusable", error=problem)
                return False
            key_pem = waiting.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            replace_key_and_certificate(self.tls_dir, key_pem, response.certificate.encode())
            self._in_flight = None
            self.renewed += 1
        log.info(
            "certificate_renewed",
            serial=format(chain[0].serial_number, "x"),
            not_after=chain[0].not_valid_after_utc.isoformat(),
        )
        return True
