"""``beacon kiosk enrol``: claim a location with a one-time token and get the kiosk's identity.

The kiosk makes its own EC P-256 key (it never leaves the device), sends a CSR with an empty
subject and the token to the fleet's HTTPS enrolment API, and receives its identity bundle
(see :mod:`protocol.enrolment`). If the facility requires approval the answer is "pending":
the key, the CSR and the enrolment id are kept in ``STATE_DIR/enrolment/`` so polling survives
a reboot without spending another token.

Before anything is saved the bundle is checked: the certificate must be for our key and our
device id, and must chain to the trust anchor that came with it. Saving is a roll-forward
swap: everything is written to ``STATE_DIR/.enrol-staging/`` first; ``device.json``, written
last and atomically, is what makes the kiosk enrolled.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from device.agent.identity import (
    DEVICE_FILE,
    BrokerAddress,
    DeviceProfile,
    IdentityError,
    load_profile,
    save_profile,
)
from device.agent.tls_store import write_private_file
from protocol.enrolment import ENROL_PATH, IdentityBundle, PendingEnrolment, Refusal
from transport.https_json import Unreachable, request_json
from transport.log import get_logger

log = get_logger("device.enrolment")

PENDING_DIR = "enrolment"
STAGING_DIR = ".enrol-staging"
TUF_ROOT_FILE = "tuf-root.json"
HTTP_TIMEOUT_S = 20.0
MAX_POLL_S = 300.0


class EnrolmentFailed(Exception):
    """Base of what ``beacon kiosk enrol`` reports; ``exit_code`` is for systemd / the shell."""

    exit_code = 1


class EnrolmentRefused(EnrolmentFailed):
    """The fleet said no (bad token, rejected …): trying again will not help."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error


class EnrolmentUnavailable(EnrolmentFailed):
    """The server could not be reached or failed: try again later."""

    exit_code = 75  # EX_TEMPFAIL


class EnrolmentPending(EnrolmentFailed):
    """Waiting for facility staff to approve; run the command again to keep waiting."""

    exit_code = 3


class BundleRejected(EnrolmentFailed):
    """The server's answer does not hold together (wrong key, wrong chain …): nothing saved."""


@dataclass(frozen=True)
class EnrolOptions:
    server: str  # https://host:port
    token: str
    state_dir: Path
    ca_file: Path | None = None  # trust for the enrolment server; system CAs if None
    wait: bool = True  # keep polling while pending
    max_wait_s: float = 24 * 3600.0


# -- key and CSR (kept while pending) ---------------------------------------------------------


def _pending_dir(state_dir: Path) -> Path:
    return state_dir / PENDING_DIR


def _key_and_csr(state_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, str]:
    directory = _pending_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, csr_path = directory / "key.pem", directory / "csr.pem"
    if key_path.is_file() and csr_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key, csr_path.read_text()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))  # the fleet assigns the id
        .sign(key, hashes.SHA256())
    )
    write_private_file(key_path, _key_pem(key))
    write_private_file(csr_path, csr.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return key, csr_path.read_text()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# -- HTTP -------------------------------------------------------------------------------------


def _request(
    options: EnrolOptions, method: str, path: str, body: dict[str, str] | None
) -> tuple[int, dict[str, Any]]:
    try:
        status, payload = request_json(
            options.server.rstrip("/") + path,
            method,
            body,
            cafile=options.ca_file,
            timeout_s=HTTP_TIMEOUT_S,
        )
    except Unreachable as exc:
        raise EnrolmentUnavailable(str(exc)) from None
    if status >= 500:
        raise EnrolmentUnavailable(f"the enrolment server failed ({status})")
    return status, payload


def _interpret(status: int, payload: dict[str, Any]) -> IdentityBundle | PendingEnrolment:
    try:
        if status in (200, 201):
            return IdentityBundle.model_validate(payload)
        if status == 202:
            return PendingEnrolment.model_validate(payload)
        refusal = Refusal.model_validate(payload)
    except ValidationError as exc:
        raise BundleRejected(f"the server's answer ({status}) is not understood: {exc}") from None
    raise EnrolmentRefused(refusal.error, refusal.message)


# -- checking and saving the bundle -----------------------------------------------------------


def check_bundle(
    bundle: IdentityBundle, key: ec.EllipticCurvePrivateKey, now: datetime | None = None
) -> None:
    """Raise :class:`BundleRejected` unless the certificate is ours and chains to the anchor."""
    try:
        chain = x509.load_pem_x509_certificates(bundle.certificate.encode())
        anchors = x509.load_pem_x509_certificates(bundle.trust_anchor.encode())
    except ValueError as exc:
        raise BundleRejected(f"certificates in the bundle do not parse: {exc}") from None
    leaf = chain[0]
    if leaf.public_key() != key.public_key():
        raise BundleRejected("the certificate is not for this kiosk's key")
    names = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if [n.value for n in names] != [bundle.device_id]:
        raise BundleRejected("the certificate's name is not the device id it came with")
    problem = chain_problem(chain, anchors, now or datetime.now(UTC))
    if problem is not None:
        raise BundleRejected(f"the certificate does not chain to the fleet root: {problem}")


def chain_problem(
    chain: list[x509.Certificate], anchors: list[x509.Certificate], now: datetime
) -> str | None:
    """Why ``chain`` (leaf first) does not lead to one of ``anchors`` at ``now``, or None.

    Checked link by link: each certificate current and signed by the next, the last one
    signed by an anchor. (cryptography's client verifier insists on a subjectAltName, which
    our client certificates deliberately do not carry: the broker reads the CN.)
    """
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            return f"{certificate.subject.rfc4514_string()} is not valid at {now:%Y-%m-%d %H:%M}"
    for child, issuer in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            return f"{child.subject.rfc4514_string()} is not signed by the next certificate"
    for anchor in anchors:
        try:
            chain[-1].verify_directly_issued_by(anchor)
            return None
        except (ValueError, TypeError, InvalidSignature):
            continue
    return "no trust anchor signed the chain"


def profile_from_bundle(bundle: IdentityBundle) -> DeviceProfile:
    return DeviceProfile(
        device_id=bundle.device_id,
        region=bundle.region,
        facility=bundle.facility,
        location=bundle.location,
        location_name=bundle.location_name,
        channel=bundle.channel,
        broker=BrokerAddress(host=bundle.broker.host, port=bundle.broker.port),
        command_key=bundle.command_key,
        location_token=bundle.location_token,
        qr_origin=bundle.qr_origin,
        allowed_origins=bundle.allowed_origins,
        content_url=bundle.content_url or "",
    )


def save_bundle(state_dir: Path, bundle: IdentityBundle, key: ec.EllipticCurvePrivateKey) -> None:
    """Write the identity; a power cut at any point leaves the old state or the new one."""
    profile = profile_from_bundle(bundle)
    staging = state_dir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "tls").mkdir(parents=True, mode=0o700)
    write_private_file(staging / "tls" / "key.pem", _key_pem(key))
    write_private_file(staging / "tls" / "cert.pem", bundle.certificate.encode(), mode=0o644)
    write_private_file(staging / "tls" / "ca.pem", bundle.trust_anchor.encode(), mode=0o644)
    if bundle.tuf_root is not None:
        write_private_file(staging / TUF_ROOT_FILE, bundle.tuf_root.encode(), mode=0o644)
    _fsync_dir(staging / "tls")
    _fsync_dir(staging)
    # A kiosk re-enrolling (its certificate expired) keeps nothing of the old identity.
    (state_dir / DEVICE_FILE).unlink(missing_ok=True)
    old_tls = state_dir / "tls"
    if old_tls.exists():
        shutil.rmtree(old_tls)
    os.replace(staging / "tls", old_tls)
    if bundle.tuf_root is not None:
        os.replace(staging / TUF_ROOT_FILE, state_dir / TUF_ROOT_FILE)
    _fsync_dir(state_dir)
    save_profile(state_dir, profile)  # the commit point
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(_pending_dir(state_dir), ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the command ------------------------------------------------------------------------------


def usable_identity(state_dir: Path, now: datetime | None = None) -> DeviceProfile | None:
    """The kiosk's identity if it has one whose certificate has not expired.

    An expired kiosk cannot reach the broker, so it enrols again (with a new token): the old
    identity is replaced, never reused.
    """
    try:
        profile = load_profile(state_dir)
        pem = (state_dir / "tls" / "cert.pem").read_bytes()
        leaf = x509.load_pem_x509_certificates(pem)[0]
    except (IdentityError, OSError, ValueError, IndexError):
        return None
    if leaf.not_valid_after_utc <= (now or datetime.now(UTC)):
        log.warning("certificate_expired", device=profile.device_id)
        return None
    return profile


def enrol(
    options: EnrolOptions,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DeviceProfile:
    """Enrol (or finish a pending enrolment); return the saved profile.

    Raises a subclass of :class:`EnrolmentFailed`, whose ``exit_code`` tells the caller
    whether trying again later can help.
    """
    state_dir = options.state_dir
    existing = usable_identity(state_dir)
    if existing is not None:
        log.info("already_enrolled", device=existing.device_id)
        return existing
    state_dir.mkdir(parents=True, exist_ok=True)
    key, csr = _key_and_csr(state_dir)
    pending_file = _pending_dir(state_dir) / "pending.json"
    started = clock()
    while True:
        if pending_file.is_file():
            enrolment_id = json.loads(pending_file.read_text())["enrolment_id"]
            status, payload = _request(options, "GET", f"{ENROL_PATH}/{enrolment_id}", None)
        else:
            body = {"token": options.token, "csr": csr}
            status, payload = _request(options, "POST", ENROL_PATH, body)
        try:
            answer = _interpret(status, payload)
        except EnrolmentRefused as refused:
            if pending_file.is_file():
                # Rejected or forgotten: start afresh with the next token.
                shutil.rmtree(_pending_dir(state_dir), ignore_errors=True)
            log.warning("enrolment_refused", error=refused.error)
            raise
        if isinstance(answer, IdentityBundle):
            check_bundle(answer, key)
            save_bundle(state_dir, answer, key)
            log.info("enrolled", device=answer.device_id, location=answer.location)
            return profile_from_bundle(answer)
        write_private_file(pending_file, json.dumps({"enrolment_id": answer.enrolment_id}).encode())
        log.info("enrolment_pending", enrolment_id=answer.enrolment_id)
        if not options.wait or clock() - started > options.max_wait_s:
            raise EnrolmentPending(
                "waiting for facility staff to approve this kiosk"
                f" (enrolment {answer.enrolment_id}); run the command again to keep waiting"
            )
        sleep(min(max(answer.poll_after_s, 1.0), MAX_POLL_S))
