"""Which certificate signing requests the fleet signs.

The kiosk proposes only its public key; everything else in the certificate is the fleet's
decision. So a CSR must prove possession of its key (valid self-signature), use a key strong
enough for the certificate's life, and leave the subject empty: the fleet assigns the device
id, and a CSR that names one is an attempt to choose its own identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

MAX_CSR_BYTES = 16 * 1024
MIN_RSA_BITS = 2048
ACCEPTED_CURVES = frozenset({"secp256r1", "secp384r1"})


@dataclass(frozen=True)
class CsrAccepted:
    csr: x509.CertificateSigningRequest


@dataclass(frozen=True)
class CsrRefused:
    reason: str  # a short code for counters and the audit log
    message: str  # for the person reading the kiosk's log


CsrVerdict = CsrAccepted | CsrRefused


def _key_problem(csr: x509.CertificateSigningRequest) -> CsrRefused | None:
    try:
        key = csr.public_key()
    except (ValueError, TypeError) as exc:
        return CsrRefused("weak_key", f"the CSR's public key is not usable ({exc})")
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ACCEPTED_CURVES:
            return CsrRefused(
                "weak_key",
                f"EC curve {key.curve.name} is not accepted; use P-256 or P-384",
            )
        return None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return CsrRefused(
                "weak_key", f"RSA key of {key.key_size} bits is too weak; use EC P-256"
            )
        return None
    if isinstance(key, ed25519.Ed25519PublicKey):
        # Mosquitto's TLS stack takes it, but not every client library does; keep one key type
        # family the whole fleet can verify.
        return CsrRefused("weak_key", "Ed25519 keys are not accepted; use EC P-256")
    return CsrRefused("weak_key", f"{type(key).__name__} keys are not accepted; use EC P-256")


def check_csr(pem: str | bytes) -> CsrVerdict:
    """Accept or refuse a PEM CSR, with a reason code and a message that says what to fix."""
    data = pem.encode() if isinstance(pem, str) else pem
    if len(data) > MAX_CSR_BYTES:
        return CsrRefused("malformed_csr", f"CSR is larger than {MAX_CSR_BYTES} bytes")
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        return CsrRefused("malformed_csr", "not a PEM certificate signing request")
    try:
        signed = csr.is_signature_valid
    except Exception:  # an unsupported signature algorithm is a refusal, never a crash
        signed = False
    if not signed:
        return CsrRefused("malformed_csr", "the CSR's signature does not verify")
    if len(csr.subject) > 0:
        return CsrRefused(
            "subject_not_empty",
            "the CSR's subject must be empty: the fleet assigns the device id",
        )
    problem = _key_problem(csr)
    if problem is not None:
        return problem
    return CsrAccepted(csr)
