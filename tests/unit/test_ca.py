"""The fleet CA: issued certificates chain to it, carry the right CN, EKU and expiry."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.ca import (
    CLOCK_SKEW_ALLOWANCE,
    CertificateAuthority,
    Usage,
    create_fleet_ca,
    issue_certificate,
    write_tls_files,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_fleet_ca(now=NOW)


def _cn(cert: x509.Certificate) -> str:
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_ca_is_self_signed_leaf_only_ca(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert _cn(cert) == "Beacon Fleet CA"
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is True
    assert constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert not usage.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    assert cert.not_valid_after_utc == NOW + timedelta(days=3650)


def test_ca_round_trips_through_pem(ca: CertificateAuthority) -> None:
    loaded = CertificateAuthority.load(ca.cert_pem(), ca.key_pem())
    assert loaded.certificate == ca.certificate
    issued = issue_certificate(loaded, "kiosk-a", usage="client", now=NOW)
    x509.load_pem_x509_certificate(issued.cert_pem).verify_directly_issued_by(ca.certificate)


def test_load_rejects_a_key_from_another_ca(ca: CertificateAuthority) -> None:
    other = create_fleet_ca(now=NOW)
    with pytest.raises(ValueError, match="does not match"):
        CertificateAuthority.load(ca.cert_pem(), other.key_pem())


def test_load_rejects_a_leaf_certificate(ca: CertificateAuthority) -> None:
    leaf = issue_certificate(ca, "kiosk-a", usage="client", now=NOW)
    with pytest.raises(ValueError, match="not a CA"):
        CertificateAuthority.load(leaf.cert_pem, leaf.key_pem)


@pytest.mark.parametrize(
    ("usage", "eku", "ip_addresses"),
    [
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, []),
        ("server", ExtendedKeyUsageOID.SERVER_AUTH, ["127.0.0.1"]),
    ],
)
def test_issued_certificate_chains_to_ca_with_cn_and_single_purpose(
    ca: CertificateAuthority,
    usage: Usage,
    eku: x509.ObjectIdentifier,
    ip_addresses: list[str],
) -> None:
    issued = issue_certificate(ca, "kiosk-a", usage=usage, ip_addresses=ip_addresses, now=NOW)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    cert.verify_directly_issued_by(ca.certificate)
    assert issued.common_name == "kiosk-a"
    assert _cn(cert) == "kiosk-a"
    assert cert.issuer == ca.certificate.subject
    assert _eku(cert) == [eku]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest


def test_issued_key_is_fresh_and_belongs_to_certificate(ca: CertificateAuthority) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    first = issue_certificate(ca, "kiosk-a", usage="client", now=NOW)
    second = issue_certificate(ca, "kiosk-a", usage="client", now=NOW)
    assert first.key_pem != second.key_pem
    key = load_pem_private_key(first.key_pem, password=None)
    assert key.public_key() == x509.load_pem_x509_certificate(first.cert_pem).public_key()


def test_server_certificate_names_its_hosts(ca: CertificateAuthority) -> None:
    issued = issue_certificate(
        ca,
        "fleet-broker",
        usage="server",
        dns_names=["localhost", "broker.example"],
        ip_addresses=["127.0.0.1", "::1"],
        now=NOW,
    )
    san = (
        x509.load_pem_x509_certificate(issued.cert_pem)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "broker.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def test_validity_is_backdated_for_clock_skew_and_capped_by_the_ca(
    ca: CertificateAuthority,
) -> None:
    cert = x509.load_pem_x509_certificate(
        issue_certificate(ca, "kiosk-a", usage="client", valid_days=90, now=NOW).cert_pem
    )
    assert cert.not_valid_before_utc == NOW - CLOCK_SKEW_ALLOWANCE
    assert cert.not_valid_after_utc == NOW + timedelta(days=90)

    late = NOW + timedelta(days=3600)
    capped = x509.load_pem_x509_certificate(
        issue_certificate(ca, "kiosk-a", usage="client", valid_days=90, now=late).cert_pem
    )
    assert capped.not_valid_after_utc == ca.certificate.not_valid_after_utc


@pytest.mark.parametrize(
    "common_name",
    ["", "Kiosk-A", "kiosk/a", "kiosk+", "kiosk#", "-kiosk", "kiosk a", "k" * 64, "kiosk\n"],
)
def test_bad_common_names_are_rejected(ca: CertificateAuthority, common_name: str) -> None:
    with pytest.raises(ValueError, match="certificate common name"):
        issue_certificate(ca, common_name, usage="client", now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"usage": "server"}, "needs dns_names or ip_addresses"),
        ({"usage": "client", "dns_names": ["localhost"]}, "must not carry"),
        ({"usage": "server", "ip_addresses": ["not-an-ip"]}, "not an IP address"),
        ({"usage": "client", "valid_days": 0}, "valid_days must be positive"),
        ({"usage": "both"}, "usage must be"),
    ],
)
def test_bad_requests_are_rejected(
    ca: CertificateAuthority, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        issue_certificate(ca, "kiosk-a", now=NOW, **kwargs)  # type: ignore[arg-type]


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        create_fleet_ca(now=datetime(2026, 1, 1))


def test_write_tls_files_modes_and_contents(ca: CertificateAuthority, tmp_path: Path) -> None:
    issued = issue_certificate(ca, "kiosk-a", usage="client", now=NOW)
    files = write_tls_files(tmp_path / "tls", ca.cert_pem(), issued)
    assert files.cafile.is_absolute()
    assert files.cafile.read_bytes() == ca.cert_pem()
    assert files.certfile.read_bytes() == issued.cert_pem
    assert files.keyfile.read_bytes() == issued.key_pem
    assert stat.S_IMODE(files.keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.certfile.stat().st_mode) == 0o644
    assert stat.S_IMODE(files.cafile.stat().st_mode) == 0o644


def test_write_tls_files_replaces_atomically_leaving_no_temp_files(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    first = issue_certificate(ca, "kiosk-a", usage="client", now=NOW)
    second = issue_certificate(ca, "kiosk-a", usage="client", now=NOW)
    write_tls_files(tmp_path, ca.cert_pem(), first)
    files = write_tls_files(tmp_path, ca.cert_pem(), second)
    assert files.keyfile.read_bytes() == second.key_pem
    assert stat.S_IMODE(files.keyfile.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
