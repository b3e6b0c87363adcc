"""The fleet certificate authority: one EC P-256 CA that signs every MQTT party's certificate.

Every broker in the system trusts only this CA and takes a client certificate's CN as the
client's username and client id, so the CN *is* the capability the ACL grants. That is why a CN
must be a valid topic segment (see :mod:`protocol.identities`) and why each certificate is tied to
one purpose by its ExtendedKeyUsage: a kiosk's client certificate cannot serve a fake broker, and a
broker's server certificate cannot log in as a client.

Certificates are backdated a few minutes so a party whose clock lags slightly (a Pi without an
RTC just after boot) does not reject a certificate issued a moment ago.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from protocol.identities import require_segment
from provisioning.tls import TlsFiles

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)

Usage = Literal["server", "client"]

_EKU: dict[str, x509.ObjectIdentifier] = {
    "server": ExtendedKeyUsageOID.SERVER_AUTH,
    "client": ExtendedKeyUsageOID.CLIENT_AUTH,
}


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _serial() -> int:
    # RFC 5280 allows up to 20 octets; 159 bits keeps the number positive and unguessable.
    return secrets.randbits(159) | 1


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (use datetime.now(UTC))")
    return now.astimezone(UTC)


@dataclass(frozen=True)
class CertificateAuthority:
    """The fleet CA's certificate and signing key. Keep :meth:`key_pem` offline or in a vault."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The signing key as unencrypted PKCS#8 PEM."""
        return _key_pem(self.private_key)

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """Load a CA saved with :meth:`cert_pem` / :meth:`key_pem`.

        Raises ValueError if the key is not an EC key, does not belong to the certificate, or the
        certificate is not a CA certificate.
        """
        certificate = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"CA key must be an EC private key, got {type(key).__name__}")
        if key.public_key() != certificate.public_key():
            raise ValueError("CA key does not match the CA certificate's public key")
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            raise ValueError("certificate has no BasicConstraints: it is not a CA") from None
        if not constraints.value.ca:
            raise ValueError("certificate is not a CA certificate (BasicConstraints CA=False)")
        return cls(certificate=certificate, private_key=key)


def create_fleet_ca(
    common_name: str = "Beacon Fleet CA",
    valid_days: int = 3650,
    now: datetime | None = None,
) -> CertificateAuthority:
    """Create a self-signed CA that may sign leaf certificates only (path length 0)."""
    if not common_name.strip():
        raise ValueError("CA common name must not be empty")
    if valid_days <= 0:
        raise ValueError(f"valid_days must be positive, got {valid_days}")
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate=certificate, private_key=key)


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate and its freshly generated private key, both PEM."""

    common_name: str
    cert_pem: bytes
    key_pem: bytes


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


def issue_certificate(
    ca: CertificateAuthority,
    common_name: str,
    *,
    usage: Usage,
    valid_days: int = 90,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    now: datetime | None = None,
) -> IssuedCertificate:
    """Generate a key and sign a certificate for ``common_name`` for one purpose.

    ``usage="server"`` certificates (brokers) need at least one DNS name or IP address, which
    clients and bridges check against the host they dialled. ``usage="client"`` certificates carry
    no subjectAltName: the broker only looks at the CN. The certificate never outlives the CA:
    ``not_valid_after`` is the earlier of ``now + valid_days`` and the CA's own expiry.

    Raises ValueError for a CN that is not a valid id, an unknown usage, a non-positive validity,
    or SAN entries that do not fit the usage.
    """
    require_segment(common_name, "certificate common name")
    if usage not in _EKU:
        raise ValueError(f"usage must be 'server' or 'client', got {usage!r}")
    if valid_days <= 0:
        raise ValueError(f"valid_days must be positive, got {valid_days}")
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
    expires = min(issued_at + timedelta(days=valid_days), ca.certificate.not_valid_after_utc)
    key = _new_key()
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(issued_at - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(expires)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([_EKU[usage]]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    certificate = builder.sign(ca.private_key, hashes.SHA256())
    return IssuedCertificate(
        common_name=common_name,
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        key_pem=_key_pem(key),
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    # mkstemp creates the file 0600, so a key is never readable by others, even for a moment;
    # os.replace means a reader (a broker restarting) sees the old file or the new, never half.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
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
    _write_atomically(files.cafile, ca_pem, 0o644)
    _write_atomically(files.certfile, issued.cert_pem, 0o644)
    _write_atomically(files.keyfile, issued.key_pem, 0o600)
    return files
