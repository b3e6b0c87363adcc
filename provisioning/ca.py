"""The fleet certificate authority: EC P-256 CAs that sign every MQTT party's certificate.

Two shapes are supported. The original single self-signed CA (:func:`create_fleet_ca`) signs
leaves directly; tests and demos still use it. Production uses a hierarchy: an offline root
(:func:`create_root_ca`, kept encrypted on an air-gapped machine) signs one online issuing CA
(:func:`create_intermediate_ca`) that the fleet manager holds to sign kiosk certificates and
CRLs. Every party trusts the root only, so a leaked issuing key is replaced by issuing a new
intermediate, not by touching every kiosk's trust store. A CA that is not self-signed appends
itself (and any CAs between it and the root) to each leaf it issues, because a broker or client
with only the root as trust anchor must be handed the intermediate in the TLS handshake.

Every broker takes a client certificate's CN as the client's username and client id, so the CN
*is* the capability the ACL grants. That is why a CN must be a valid topic segment (see
:mod:`protocol.identities`) and why each certificate is tied to one purpose by its
ExtendedKeyUsage: a kiosk's client certificate cannot serve a fake broker, and a broker's server
certificate cannot log in as a client.

Certificates are backdated a few minutes so a party whose clock lags slightly (a Pi without an
RTC just after boot) does not reject a certificate issued a moment ago.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from protocol.identities import require_segment
from provisioning.tls import TlsFiles

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)

Usage = Literal["server", "client"]

_EKU: dict[str, x509.ObjectIdentifier] = {
    "server": ExtendedKeyUsageOID.SERVER_AUTH,
    "client": ExtendedKeyUsageOID.CLIENT_AUTH,
}

# Public keys a CSR may bring. Anything weaker (or exotic for OpenSSL 1.1 era kiosks) is refused.
_CSR_CURVES = frozenset({"secp256r1", "secp384r1"})
_CSR_MIN_RSA_BITS = 2048

CertificatePublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if passphrase is None
        else serialization.BestAvailableEncryption(passphrase)
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)


def _serial() -> int:
    # RFC 5280 allows up to 20 octets; 159 bits keeps the number positive and unguessable.
    return secrets.randbits(159) | 1


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (use datetime.now(UTC))")
    return now.astimezone(UTC)


def _is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _require_ca_certificate(certificate: x509.Certificate, what: str) -> x509.BasicConstraints:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise ValueError(f"{what} has no BasicConstraints: it is not a CA") from None
    if not constraints.value.ca:
        raise ValueError(f"{what} is not a CA certificate (BasicConstraints CA=False)")
    return constraints.value


def _load_private_key(key_pem: bytes, passphrase: bytes | None) -> ec.EllipticCurvePrivateKey:
    # cryptography signals passphrase problems with TypeError or ValueError and terse texts;
    # an operator at a key ceremony needs to know which of the three it was.
    encrypted = b"ENCRYPTED PRIVATE KEY" in key_pem or b"Proc-Type: 4,ENCRYPTED" in key_pem
    if encrypted and passphrase is None:
        raise ValueError("the CA key file is encrypted: a passphrase is needed")
    if not encrypted and passphrase is not None:
        raise ValueError("the CA key file is not encrypted, but a passphrase was given")
    try:
        key = serialization.load_pem_private_key(key_pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise ValueError(
                "wrong passphrase for the CA key (or the key file is damaged)"
            ) from None
        raise ValueError(f"cannot read the CA key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"CA key must be an EC private key, got {type(key).__name__}")
    return key


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA's certificate and signing key, plus the CAs between it and the root.

    ``parents`` lists the CA certificates above this one, nearest first, *excluding* the
    self-signed root (which parties hold as their trust anchor and which is never sent). For an
    issuing CA signed directly by the root it is empty. ``root`` is that trust anchor when known
    (``None`` for a self-signed CA: then it is its own root, see :meth:`trust_anchor_pem`).

    Keep the root's :meth:`key_pem` offline and encrypted.
    """

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    parents: tuple[x509.Certificate, ...] = ()
    root: x509.Certificate | None = None

    @property
    def is_self_signed(self) -> bool:
        return _is_self_signed(self.certificate)

    def cert_pem(self) -> bytes:
        """This CA's own certificate only (for a self-signed CA, also its trust anchor)."""
        return _pem(self.certificate)

    def chain_pem(self) -> bytes:
        """What follows a leaf this CA issued: this CA and its parents, never the root.

        Empty for a self-signed CA, whose leaves are checked directly against it.
        """
        if self.is_self_signed:
            return b""
        return _pem(self.certificate, *self.parents)

    def trust_anchor_pem(self) -> bytes:
        """The root certificate parties must trust for this CA's leaves to verify.

        Raises ValueError for an intermediate loaded without its root.
        """
        if self.is_self_signed:
            return self.cert_pem()
        if self.root is None:
            raise ValueError(
                "this CA is not self-signed and its root certificate was not loaded with it"
            )
        return _pem(self.root)

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        """The signing key as PKCS#8 PEM, encrypted with ``passphrase`` when one is given."""
        if passphrase is not None and not passphrase:
            raise ValueError("an empty passphrase would not protect the key; pass None instead")
        return _key_pem(self.private_key, passphrase)

    @classmethod
    def load(
        cls,
        cert_pem: bytes,
        key_pem: bytes,
        passphrase: bytes | None = None,
        *,
        root_pem: bytes | None = None,
    ) -> CertificateAuthority:
        """Load a CA saved with :meth:`cert_pem` (or a bundle) and :meth:`key_pem`.

        ``cert_pem`` holds the CA's certificate first, optionally followed by its parents; a
        self-signed certificate at the end of the bundle is taken as the root. ``root_pem``
        names the root separately (as in ``issuing-ca.pem`` + ``root-ca.pem``).

        Raises ValueError if the key is not an EC key, is encrypted and no (or the wrong)
        passphrase was given, does not belong to the certificate, a certificate is not a CA
        certificate, or the bundle does not chain.
        """
        certificates = x509.load_pem_x509_certificates(cert_pem)
        certificate, *parents = certificates
        key = _load_private_key(key_pem, passphrase)
        if key.public_key() != certificate.public_key():
            raise ValueError("CA key does not match the CA certificate's public key")
        _require_ca_certificate(certificate, "certificate")
        root = None
        if parents and _is_self_signed(parents[-1]):
            root = parents.pop()
        if root_pem is not None:
            given_root = x509.load_pem_x509_certificate(root_pem)
            if not _is_self_signed(given_root):
                raise ValueError("the root certificate given is not self-signed")
            if root is not None and root != given_root:
                raise ValueError("the bundle ends in a different root than the one given")
            root = given_root
        if _is_self_signed(certificate):
            # A root loaded as a CA (init-root, tests): it is its own trust anchor.
            if parents or (root is not None and root != certificate):
                raise ValueError("a self-signed CA certificate cannot have parents")
            return cls(certificate=certificate, private_key=key)
        path = [certificate, *parents] + ([root] if root is not None else [])
        for child, issuer in itertools.pairwise(path):
            _require_ca_certificate(issuer, f"issuer {issuer.subject.rfc4514_string()!r}")
            try:
                child.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                raise ValueError(
                    f"{child.subject.rfc4514_string()!r} was not issued by"
                    f" {issuer.subject.rfc4514_string()!r}"
                ) from None
        return cls(certificate=certificate, private_key=key, parents=tuple(parents), root=root)


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)

_LEAF_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _check_ca_request(common_name: str, valid_days: int) -> None:
    if not common_name.strip():
        raise ValueError("CA common name must not be empty")
    if valid_days <= 0:
        raise ValueError(f"valid_days must be positive, got {valid_days}")


def _self_signed_ca(
    common_name: str, valid_days: int, path_length: int, now: datetime | None
) -> CertificateAuthority:
    _check_ca_request(common_name, valid_days)
    issued_at = _utc(now)
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(issued_at - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(issued_at + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate=certificate, private_key=key)


def create_fleet_ca(
    common_name: str = "Beacon Fleet CA",
    valid_days: int = 3650,
    now: datetime | None = None,
) -> CertificateAuthority:
    """Create a self-signed CA that may sign leaf certificates only (path length 0)."""
    return _self_signed_ca(common_name, valid_days, 0, now)


def create_root_ca(
    common_name: str = "Beacon Fleet Root CA",
    valid_days: int = 7300,
    now: datetime | None = None,
) -> CertificateAuthority:
    """Create the offline root: self-signed, may sign one level of CAs (path length 1)."""
    return _self_signed_ca(common_name, valid_days, 1, now)


def _authority_key_identifier(ca: CertificateAuthority) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def create_intermediate_ca(
    root: CertificateAuthority,
    common_name: str = "Beacon Fleet Issuing CA",
    valid_days: int = 1825,
    now: datetime | None = None,
) -> CertificateAuthority:
    """Create the online issuing CA, signed by ``root``; it may sign leaves only (path length 0).

    Its expiry is capped by the root's. Raises ValueError if ``root`` may not sign CAs.
    """
    _check_ca_request(common_name, valid_days)
    constraints = _require_ca_certificate(root.certificate, "root")
    if constraints.path_length == 0:
        raise ValueError("this CA has path length 0: it may sign leaves only, not another CA")
    issued_at = _utc(now)
    expires = min(issued_at + timedelta(days=valid_days), root.certificate.not_valid_after_utc)
    key = _new_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(issued_at - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(expires)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(root), critical=False)
        .sign(root.private_key, hashes.SHA256())
    )
    if root.is_self_signed:
        return CertificateAuthority(certificate, key, parents=(), root=root.certificate)
    return CertificateAuthority(
        certificate, key, parents=(root.certificate, *root.parents), root=root.root
    )


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate (followed by its issuing chain, if any) and its fresh key, both PEM."""

    common_name: str
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class SignedCertificate:
    """A leaf certificate signed for a key the requester holds (see :func:`sign_csr`).

    ``cert_pem`` is the leaf followed by the issuing chain (never the root).
    """

    common_name: str
    cert_pem: bytes
    serial: int
    not_before: datetime
    not_after: datetime


def _subject_alt_names(
    dns_names: Sequence[str], ip_addresses: Sequence[str]
) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    for address in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
    return names


def _build_leaf(
    ca: CertificateAuthority,
    common_name: str,
    public_key: CertificatePublicKey,
    *,
    usage: Usage,
    valid_for: timedelta,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    now: datetime | None,
) -> x509.Certificate:
    """The one place leaf certificates are built: every name, usage and lifetime rule is here."""
    require_segment(common_name, "certificate common name")
    if usage not in _EKU:
        raise ValueError(f"usage must be 'server' or 'client', got {usage!r}")
    if valid_for <= timedelta(0):
        raise ValueError(f"validity must be positive, got {valid_for}")
    san = _subject_alt_names(dns_names, ip_addresses)
    if usage == "server" and not san:
        raise ValueError(
            f"server certificate {common_name!r} needs dns_names or ip_addresses:"
            " clients verify the broker's host name against them"
        )
    if usage == "client" and san:
        raise ValueError(
            f"client certificate {common_name!r} must not carry dns_names/ip_addresses"
        )
    issued_at = _utc(now)
    expires = min(issued_at + valid_for, ca.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(issued_at - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(expires)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_LEAF_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([_EKU[usage]]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_identifier(ca), critical=False)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca.private_key, hashes.SHA256())


def _validity(valid_days: int, valid_for: timedelta | None) -> timedelta:
    if valid_for is not None:
        return valid_for
    if valid_days <= 0:
        raise ValueError(f"valid_days must be positive, got {valid_days}")
    return timedelta(days=valid_days)


def issue_certificate(
    ca: CertificateAuthority,
    common_name: str,
    *,
    usage: Usage,
    valid_days: int = 90,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    now: datetime | None = None,
    valid_for: timedelta | None = None,
) -> IssuedCertificate:
    """Generate a key and sign a certificate for ``common_name`` for one purpose.

    ``usage="server"`` certificates (brokers) need at least one DNS name or IP address, which
    clients and bridges check against the host they dialled. ``usage="client"`` certificates carry
    no subjectAltName: the broker only looks at the CN. The certificate never outlives the CA:
    ``not_valid_after`` is the earlier of ``now + valid_days`` and the CA's own expiry.
    ``valid_for``, when given, replaces ``valid_days`` (for minutes-long certificates).
    ``cert_pem`` is followed by the CA's chain when the CA is not self-signed.

    Raises ValueError for a CN that is not a valid id, an unknown usage, a non-positive validity,
    or SAN entries that do not fit the usage.
    """
    key = _new_key()
    certificate = _build_leaf(
        ca,
        common_name,
        key.public_key(),
        usage=usage,
        valid_for=_validity(valid_days, valid_for),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        now=now,
    )
    return IssuedCertificate(
        common_name=common_name,
        cert_pem=_pem(certificate) + ca.chain_pem(),
        key_pem=_key_pem(key),
    )


def _csr_public_key(csr: x509.CertificateSigningRequest) -> CertificatePublicKey:
    try:
        public_key = csr.public_key()
    except ValueError as exc:
        raise ValueError(f"the CSR's public key cannot be read: {exc}") from None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CSR_CURVES:
            raise ValueError(f"CSR key curve {public_key.curve.name} is not accepted")
        return public_key
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < _CSR_MIN_RSA_BITS:
            raise ValueError(f"CSR RSA key of {public_key.key_size} bits is too short")
        return public_key
    raise ValueError(f"CSR key type {type(public_key).__name__} is not accepted")


def sign_csr(
    ca: CertificateAuthority,
    csr: x509.CertificateSigningRequest,
    common_name: str,
    *,
    usage: Usage = "client",
    valid_days: int = 90,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    now: datetime | None = None,
) -> SignedCertificate:
    """Sign a certificate for the public key in ``csr``, named and shaped by us alone.

    Only the CSR's public key is used: its subject, attributes and requested extensions are
    ignored, so a requester cannot ask for another CN, a CA flag or extra names. The CSR's own
    signature is checked (proof that the requester holds the private key), and so is the key's
    type and size; every other rule about *whether* to sign belongs to the caller. The rules on
    names, usage and lifetime are those of :func:`issue_certificate`.
    """
    if not csr.is_signature_valid:
        raise ValueError("the CSR's signature does not verify: the requester must hold the key")
    certificate = _build_leaf(
        ca,
        common_name,
        _csr_public_key(csr),
        usage=usage,
        valid_for=_validity(valid_days, None),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        now=now,
    )
    return SignedCertificate(
        common_name=common_name,
        cert_pem=_pem(certificate) + ca.chain_pem(),
        serial=certificate.serial_number,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def build_crl(
    ca: CertificateAuthority,
    revoked: Sequence[tuple[int, datetime]],
    *,
    crl_number: int,
    now: datetime | None = None,
    next_update: timedelta = timedelta(days=7),
) -> bytes:
    """A CRL (PEM) signed by ``ca`` listing ``(serial, revoked_at)`` pairs.

    ``crl_number`` must grow with every CRL the CA publishes. OpenSSL prefers the CRL with the
    latest ``lastUpdate`` (``now``) and refuses *every* certificate of the CA once the newest
    valid CRL has passed ``next_update``, so a CRL must be re-published well before then.
    Raises ValueError for a duplicate serial, a non-positive number or interval, or naive times.
    """
    if crl_number <= 0:
        raise ValueError(f"crl_number must be positive, got {crl_number}")
    if next_update <= timedelta(0):
        raise ValueError(f"next_update must be positive, got {next_update}")
    serials = [serial for serial, _ in revoked]
    if len(set(serials)) != len(serials):
        raise ValueError("each serial may be revoked once per CRL")
    # CRL times have one-second resolution; dropping microseconds keeps "newer" comparable.
    issued_at = _utc(now).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(issued_at)
        .next_update(issued_at + next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(_authority_key_identifier(ca), critical=False)
    )
    for serial, revoked_at in sorted(revoked, key=lambda entry: entry[0]):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(_utc(revoked_at).replace(microsecond=0))
            .build()
        )
    crl = builder.sign(ca.private_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM)


def write_file_atomically(
    path: Path,
    data: bytes,
    mode: int,
    *,
    owner: tuple[int, int] | None = None,
    replace: bool = True,
) -> None:
    """Write ``path`` so a reader sees the old file or the new one, never half of either.

    ``owner`` (uid, gid) is given to the new file before it appears, so a broker that reads as
    another account keeps access. With ``replace=False`` the file must not exist yet
    (FileExistsError otherwise), which lets two writers race for a name safely.
    """
    # mkstemp creates the file 0600, so a key is never readable by others, even for a moment;
    # os.replace/os.link mean a reader (a broker restarting) sees the old file or the new.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                os.fchown(handle.fileno(), *owner)
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp_name, path)
        else:
            os.link(tmp_name, path)
            os.unlink(tmp_name)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_tls_files(directory: Path, ca_pem: bytes, issued: IssuedCertificate) -> TlsFiles:
    """Write ``ca.pem``, ``cert.pem`` (0644) and ``key.pem`` (0600) into ``directory``.

    Creates the directory if needed; replaces existing files atomically. Returns absolute paths.
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        cafile=directory / "ca.pem",
        certfile=directory / "cert.pem",
        keyfile=directory / "key.pem",
    )
    write_file_atomically(files.cafile, ca_pem, 0o644)
    write_file_atomically(files.certfile, issued.cert_pem, 0o644)
    write_file_atomically(files.keyfile, issued.key_pem, 0o600)
    return files
