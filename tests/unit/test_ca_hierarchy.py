"""The root → issuing CA hierarchy: chains, encrypted keys, CSR signing, CRLs and the CLI."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from beacon.cli_ca import ca_group
from provisioning.ca import (
    CLOCK_SKEW_ALLOWANCE,
    CertificateAuthority,
    Usage,
    build_crl,
    create_fleet_ca,
    create_intermediate_ca,
    create_root_ca,
    issue_certificate,
    sign_csr,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return create_root_ca(now=NOW)


@pytest.fixture(scope="module")
def issuing(root: CertificateAuthority) -> CertificateAuthority:
    return create_intermediate_ca(root, now=NOW)


def _cn(name: x509.Name) -> str:
    value = name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def _verify_client(chain_pem: bytes, trust: x509.Certificate) -> list[x509.Certificate]:
    """Verify like a TLS server: leaf + intermediates from the peer, the root as the anchor."""
    leaf, *intermediates = x509.load_pem_x509_certificates(chain_pem)
    # Web PKI rules for the CAs; our client leaves carry no SAN (the broker reads the CN).
    verifier = (
        PolicyBuilder()
        .store(Store([trust]))
        .time(NOW + timedelta(hours=1))
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    verified = verifier.verify(leaf, intermediates)
    return list(verified.chain)


def _csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    common_name: str = "whatever",
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256())


# -- hierarchy -------------------------------------------------------------------------------


def test_root_may_sign_one_level_of_cas(root: CertificateAuthority) -> None:
    constraints = root.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 1
    assert _cn(root.certificate.subject) == "Beacon Fleet Root CA"
    assert root.is_self_signed
    assert root.chain_pem() == b""
    assert root.trust_anchor_pem() == root.cert_pem()
    assert root.certificate.not_valid_after_utc == NOW + timedelta(days=7300)


def test_intermediate_is_signed_by_root_and_signs_leaves_only(
    root: CertificateAuthority, issuing: CertificateAuthority
) -> None:
    cert = issuing.certificate
    cert.verify_directly_issued_by(root.certificate)
    assert not issuing.is_self_signed
    assert _cn(cert.subject) == "Beacon Fleet Issuing CA"
    assert cert.issuer == root.certificate.subject
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == root_ski.value.digest
    assert cert.not_valid_after_utc == NOW + timedelta(days=1825)
    assert issuing.chain_pem() == issuing.cert_pem()
    assert issuing.trust_anchor_pem() == root.cert_pem()


def test_intermediate_never_outlives_the_root() -> None:
    short_root = create_root_ca(valid_days=30, now=NOW)
    issuing = create_intermediate_ca(short_root, valid_days=1825, now=NOW)
    assert issuing.certificate.not_valid_after_utc == short_root.certificate.not_valid_after_utc


def test_a_leaf_only_ca_cannot_sign_an_intermediate(issuing: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="path length 0"):
        create_intermediate_ca(issuing, now=NOW)
    with pytest.raises(ValueError, match="path length 0"):
        create_intermediate_ca(create_fleet_ca(now=NOW), now=NOW)


@pytest.mark.parametrize("usage", ["client", "server"])
def test_leaves_carry_the_intermediate_and_verify_against_the_root_only(
    root: CertificateAuthority, issuing: CertificateAuthority, usage: Usage
) -> None:
    addresses = ["127.0.0.1"] if usage == "server" else []
    issued = issue_certificate(issuing, "kiosk-a1", usage=usage, ip_addresses=addresses, now=NOW)
    certs = x509.load_pem_x509_certificates(issued.cert_pem)
    assert [_cn(c.subject) for c in certs] == ["kiosk-a1", "Beacon Fleet Issuing CA"]
    if usage == "client":
        chain = _verify_client(issued.cert_pem, root.certificate)
        assert chain[-1] == root.certificate
    # The intermediate alone is not a trust anchor: only the root is.
    with pytest.raises(VerificationError):
        _verify_client(issued.cert_pem, create_root_ca(now=NOW).certificate)


def test_a_self_signed_fleet_ca_still_issues_bare_leaves() -> None:
    ca = create_fleet_ca(now=NOW)
    issued = issue_certificate(ca, "kiosk-a1", usage="client", now=NOW)
    assert len(x509.load_pem_x509_certificates(issued.cert_pem)) == 1


def test_valid_for_gives_minutes_long_certificates(issuing: CertificateAuthority) -> None:
    issued = issue_certificate(
        issuing, "kiosk-a1", usage="client", now=NOW, valid_for=timedelta(minutes=5)
    )
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.not_valid_after_utc == NOW + timedelta(minutes=5)
    assert cert.not_valid_before_utc == NOW - CLOCK_SKEW_ALLOWANCE


# -- encrypted keys and loading --------------------------------------------------------------


def test_encrypted_key_round_trips_with_its_passphrase(root: CertificateAuthority) -> None:
    key_pem = root.key_pem(PASSPHRASE)
    assert b"ENCRYPTED PRIVATE KEY" in key_pem
    loaded = CertificateAuthority.load(root.cert_pem(), key_pem, passphrase=PASSPHRASE)
    assert loaded.certificate == root.certificate
    assert loaded.private_key.private_numbers() == root.private_key.private_numbers()
    assert b"ENCRYPTED" not in root.key_pem()


@pytest.mark.parametrize(
    ("encrypt", "passphrase", "message"),
    [
        (True, b"wrong passphrase!!", "wrong passphrase"),
        (True, None, "encrypted: a passphrase is needed"),
        (False, PASSPHRASE, "not encrypted, but a passphrase was given"),
    ],
)
def test_load_explains_passphrase_problems(
    root: CertificateAuthority, encrypt: bool, passphrase: bytes | None, message: str
) -> None:
    key_pem = root.key_pem(PASSPHRASE if encrypt else None)
    with pytest.raises(ValueError, match=message):
        CertificateAuthority.load(root.cert_pem(), key_pem, passphrase=passphrase)


def test_empty_passphrase_is_refused(root: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="empty passphrase"):
        root.key_pem(b"")


def test_loaded_intermediate_keeps_appending_itself_to_leaves(
    root: CertificateAuthority, issuing: CertificateAuthority
) -> None:
    loaded = CertificateAuthority.load(issuing.cert_pem(), issuing.key_pem())
    assert loaded.chain_pem() == issuing.cert_pem()
    with pytest.raises(ValueError, match="root certificate was not loaded"):
        loaded.trust_anchor_pem()
    issued = issue_certificate(loaded, "kiosk-a1", usage="client", now=NOW)
    _verify_client(issued.cert_pem, root.certificate)
    # With the root, from a bundle or given separately.
    bundled = CertificateAuthority.load(issuing.cert_pem() + root.cert_pem(), issuing.key_pem())
    separate = CertificateAuthority.load(
        issuing.cert_pem(), issuing.key_pem(), root_pem=root.cert_pem()
    )
    assert bundled.root == separate.root == root.certificate
    assert bundled.trust_anchor_pem() == root.cert_pem()


def test_load_refuses_a_root_that_did_not_sign_the_intermediate(
    issuing: CertificateAuthority,
) -> None:
    stranger = create_root_ca(now=NOW)
    with pytest.raises(ValueError, match="was not issued by"):
        CertificateAuthority.load(
            issuing.cert_pem(), issuing.key_pem(), root_pem=stranger.cert_pem()
        )


# -- sign_csr --------------------------------------------------------------------------------


def test_sign_csr_uses_only_the_public_key(
    root: CertificateAuthority, issuing: CertificateAuthority
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    greedy = _csr(
        key,
        common_name="fleet-manager-1",
        extensions=(
            x509.BasicConstraints(ca=True, path_length=None),
            x509.SubjectAlternativeName([x509.DNSName("broker.example.org")]),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
        ),
    )
    signed = sign_csr(issuing, greedy, "kiosk-a1", now=NOW)
    leaf, intermediate = x509.load_pem_x509_certificates(signed.cert_pem)
    assert intermediate == issuing.certificate
    assert _cn(leaf.subject) == "kiosk-a1"
    assert leaf.public_key() == key.public_key()
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert signed.serial == leaf.serial_number
    assert signed.common_name == "kiosk-a1"
    assert signed.not_before == NOW - CLOCK_SKEW_ALLOWANCE
    assert signed.not_after == NOW + timedelta(days=90)
    _verify_client(signed.cert_pem, root.certificate)


def test_sign_csr_applies_the_same_rules_as_issue_certificate(
    issuing: CertificateAuthority,
) -> None:
    csr = _csr(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValueError, match="not a valid id"):
        sign_csr(issuing, csr, "Kiosk/A", now=NOW)
    with pytest.raises(ValueError, match="needs dns_names"):
        sign_csr(issuing, csr, "fleet-broker", usage="server", now=NOW)
    with pytest.raises(ValueError, match="valid_days"):
        sign_csr(issuing, csr, "kiosk-a1", valid_days=0, now=NOW)


def test_sign_csr_refuses_weak_keys(issuing: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="curve"):
        sign_csr(issuing, _csr(ec.generate_private_key(ec.SECP224R1())), "kiosk-a1", now=NOW)
    weak_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="too short"):
        sign_csr(issuing, _csr(weak_rsa), "kiosk-a1", now=NOW)


def test_sign_csr_refuses_a_csr_whose_signature_does_not_verify(
    issuing: CertificateAuthority,
) -> None:
    der = bytearray(
        _csr(ec.generate_private_key(ec.SECP256R1())).public_bytes(serialization.Encoding.DER)
    )
    der[-5] ^= 0x01  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(ValueError, match="signature"):
        sign_csr(issuing, tampered, "kiosk-a1", now=NOW)


# -- CRLs ------------------------------------------------------------------------------------


def test_build_crl_lists_serials_and_is_signed_by_the_issuing_ca(
    issuing: CertificateAuthority,
) -> None:
    revoked_at = NOW - timedelta(hours=1)
    pem = build_crl(issuing, [(7, revoked_at), (3, NOW)], crl_number=42, now=NOW)
    crl = x509.load_pem_x509_crl(pem)
    assert crl.is_signature_valid(issuing.private_key.public_key())
    assert crl.issuer == issuing.certificate.subject
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + timedelta(days=7)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert [(r.serial_number, r.revocation_date_utc) for r in crl] == [
        (3, NOW),
        (7, revoked_at),
    ]
    revoked = crl.get_revoked_certificate_by_serial_number(7)
    assert revoked is not None


@pytest.mark.parametrize(
    ("revoked", "number", "next_update", "message"),
    [
        ([(1, NOW), (1, NOW)], 1, timedelta(days=1), "once"),
        ([], 0, timedelta(days=1), "crl_number"),
        ([], 1, timedelta(0), "next_update"),
    ],
)
def test_build_crl_refuses_bad_input(
    issuing: CertificateAuthority,
    revoked: list[tuple[int, datetime]],
    number: int,
    next_update: timedelta,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        build_crl(issuing, revoked, crl_number=number, now=NOW, next_update=next_update)


# -- the CLI ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _passphrase_file(tmp_path: Path, text: str = "correct horse battery staple") -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_cli_ceremony_root_then_intermediate(tmp_path: Path) -> None:
    runner = CliRunner()
    passphrase = _passphrase_file(tmp_path)
    root_dir, issuing_dir = tmp_path / "root", tmp_path / "issuing"
    result = runner.invoke(
        ca_group, ["init-root", "--out", str(root_dir), "--passphrase-file", str(passphrase)]
    )
    assert result.exit_code == 0, result.output
    assert _mode(root_dir / "root-ca.key.pem") == 0o600
    root_key = (root_dir / "root-ca.key.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in root_key
    # The trailing newline of the file is not part of the passphrase.
    CertificateAuthority.load(
        (root_dir / "root-ca.pem").read_bytes(), root_key, passphrase=PASSPHRASE
    )

    result = runner.invoke(
        ca_group,
        [
            "issue-intermediate",
            "--root",
            str(root_dir),
            "--out",
            str(issuing_dir),
            "--root-passphrase-file",
            str(passphrase),
        ],
    )
    assert result.exit_code == 0, result.output
    assert _mode(issuing_dir / "issuing-ca.key.pem") == 0o600
    assert (issuing_dir / "root-ca.pem").read_bytes() == (root_dir / "root-ca.pem").read_bytes()
    issuing = CertificateAuthority.load(
        (issuing_dir / "issuing-ca.pem").read_bytes(),
        (issuing_dir / "issuing-ca.key.pem").read_bytes(),
        root_pem=(issuing_dir / "root-ca.pem").read_bytes(),
    )
    assert (issuing_dir / "chain.pem").read_bytes() == issuing.chain_pem()
    assert not (issuing_dir / "root-ca.key.pem").exists()

    result = runner.invoke(ca_group, ["show", str(issuing_dir)])
    assert result.exit_code == 0, result.output
    assert "CN=Beacon Fleet Root CA" in result.output
    assert "CN=Beacon Fleet Issuing CA" in result.output
    assert "issuing-ca.pem signed by root-ca.pem: yes" in result.output
    assert "issuing-ca.key.pem unencrypted" in result.output
    result = runner.invoke(ca_group, ["show", str(root_dir)])
    assert "root-ca.key.pem encrypted" in result.output


def test_cli_init_root_prompts_twice_without_a_passphrase_file(tmp_path: Path) -> None:
    runner = CliRunner()
    secret = "a long enough passphrase"
    result = runner.invoke(
        ca_group, ["init-root", "--out", str(tmp_path / "root")], input=f"{secret}\n{secret}\n"
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output  # hidden input is not echoed
    CertificateAuthority.load(
        (tmp_path / "root" / "root-ca.pem").read_bytes(),
        (tmp_path / "root" / "root-ca.key.pem").read_bytes(),
        passphrase=secret.encode(),
    )


@pytest.mark.parametrize(
    ("args", "input_text", "message"),
    [
        (["--passphrase-file", "{short}"], None, "at least 12 characters"),
        ([], "one long passphrase\nanother passphrase\n" * 3, "do not match"),
    ],
)
def test_cli_init_root_refuses_weak_or_mistyped_passphrases(
    tmp_path: Path, args: list[str], input_text: str | None, message: str
) -> None:
    short = _passphrase_file(tmp_path, "short")
    argv = ["init-root", "--out", str(tmp_path / "root")]
    argv += [arg.format(short=short) for arg in args]
    result = CliRunner().invoke(ca_group, argv, input=input_text)
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "root" / "root-ca.key.pem").exists()


def test_cli_never_overwrites_ca_material(tmp_path: Path) -> None:
    runner = CliRunner()
    passphrase = _passphrase_file(tmp_path)
    argv = ["init-root", "--out", str(tmp_path / "root"), "--passphrase-file", str(passphrase)]
    assert runner.invoke(ca_group, argv).exit_code == 0
    before = (tmp_path / "root" / "root-ca.key.pem").read_bytes()
    result = runner.invoke(ca_group, argv)
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output
    assert (tmp_path / "root" / "root-ca.key.pem").read_bytes() == before


def test_cli_issue_intermediate_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    passphrase = _passphrase_file(tmp_path)
    root_dir = tmp_path / "root"
    runner.invoke(
        ca_group, ["init-root", "--out", str(root_dir), "--passphrase-file", str(passphrase)]
    )
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase at all\n", encoding="utf-8")
    base = ["issue-intermediate", "--root", str(root_dir)]
    result = runner.invoke(
        ca_group, [*base, "--out", str(tmp_path / "iss"), "--root-passphrase-file", str(wrong)]
    )
    assert result.exit_code == 1
    assert "Error: wrong passphrase" in result.output
    assert not (tmp_path / "iss" / "issuing-ca.key.pem").exists()
    result = runner.invoke(
        ca_group, [*base, "--out", str(root_dir), "--root-passphrase-file", str(passphrase)]
    )
    assert result.exit_code == 1
    assert "must not be the root's directory" in result.output


def test_cli_show_needs_a_ca_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(ca_group, ["show", str(tmp_path)])
    assert result.exit_code == 1
    assert "no root-ca.pem or issuing-ca.pem" in result.output
