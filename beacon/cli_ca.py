"""``beacon provision ca``: the key ceremonies for the fleet's offline root and online issuing CA.

    beacon provision ca init-root --out /media/root-ca                  # on the air-gapped machine
    beacon provision ca issue-intermediate --root /media/root-ca --out /media/issuing
    beacon provision ca show /media/issuing

The root's key is written encrypted with a passphrase (asked twice, hidden, unless
``--passphrase-file`` names a file holding it); the issuing CA's key is written unencrypted
(0600) because the fleet manager uses it unattended. No command ever overwrites a key. A problem
prints one line ``Error: …`` and exits 1. See docs/operations.md for the whole ceremony.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cryptography import x509

    from provisioning.ca import CertificateAuthority

# cryptography is imported inside the commands: every `beacon` command imports this module.

ROOT_CERT = "root-ca.pem"
ROOT_KEY = "root-ca.key.pem"
ISSUING_CERT = "issuing-ca.pem"
ISSUING_KEY = "issuing-ca.key.pem"
CHAIN = "chain.pem"
MIN_PASSPHRASE_CHARS = 12
# Below this, `show` warns: an intermediate needs rotating well before it expires.
EXPIRY_WARNING_DAYS = 180


def _read_passphrase_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read passphrase file {path}: {exc}") from None
    # Editors and `echo` add one line break; it is not part of the passphrase.
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise click.ClickException(f"passphrase file {path} is empty")
    return data


def _new_passphrase(passphrase_file: Path | None) -> bytes:
    if passphrase_file is not None:
        passphrase = _read_passphrase_file(passphrase_file)
    else:
        text: str = click.prompt(
            "Passphrase for the root key", hide_input=True, confirmation_prompt=True
        )
        passphrase = text.encode("utf-8")
    if len(passphrase.decode("utf-8", errors="replace")) < MIN_PASSPHRASE_CHARS:
        raise click.ClickException(
            f"the root key passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
        )
    return passphrase


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            raise click.ClickException(
                f"{path} already exists: refusing to overwrite CA material (use a new directory)"
            )


def _write(path: Path, data: bytes, mode: int) -> None:
    from provisioning.ca import write_file_atomically

    write_file_atomically(path, data, mode)


def _out_dir(path: Path) -> Path:
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@click.group("ca")
def ca_group() -> None:
    """The fleet's certificate authorities: offline root, online issuing CA."""


@ca_group.command("init-root")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for root-ca.pem and the encrypted root-ca.key.pem.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A file holding the new passphrase (otherwise it is asked for twice).",
)
@click.option("--common-name", default="Beacon Fleet Root CA", show_default=True)
@click.option("--valid-days", default=7300, show_default=True, type=click.IntRange(min=1))
def init_root(
    out_dir: Path, passphrase_file: Path | None, common_name: str, valid_days: int
) -> None:
    """Create the offline root CA. Run this on the air-gapped machine."""
    from provisioning.ca import create_root_ca

    out_dir = _out_dir(out_dir)
    _refuse_existing(out_dir / ROOT_CERT, out_dir / ROOT_KEY)
    passphrase = _new_passphrase(passphrase_file)
    try:
        root = create_root_ca(common_name=common_name, valid_days=valid_days)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    # Key first: a certificate without its key is useless, a key without its cert can be redone.
    _write(out_dir / ROOT_KEY, root.key_pem(passphrase), 0o600)
    _write(out_dir / ROOT_CERT, root.cert_pem(), 0o644)
    click.echo(f"wrote {out_dir / ROOT_CERT} and {out_dir / ROOT_KEY} (encrypted)")
    click.echo(f"sha256 fingerprint: {_fingerprint(root.certificate)}")


def _load_root(root_dir: Path, passphrase_file: Path | None) -> CertificateAuthority:
    from provisioning.ca import CertificateAuthority

    cert_path, key_path = root_dir / ROOT_CERT, root_dir / ROOT_KEY
    for path in (cert_path, key_path):
        if not path.is_file():
            raise click.ClickException(f"{path} not found: --root must be an init-root directory")
    if passphrase_file is not None:
        passphrase = _read_passphrase_file(passphrase_file)
    else:
        text: str = click.prompt("Passphrase of the root key", hide_input=True)
        passphrase = text.encode("utf-8")
    try:
        root = CertificateAuthority.load(
            cert_path.read_bytes(), key_path.read_bytes(), passphrase=passphrase
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not root.is_self_signed:
        raise click.ClickException(f"{cert_path} is not a self-signed root certificate")
    return root


@ca_group.command("issue-intermediate")
@click.option(
    "--root",
    "root_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The init-root directory (root-ca.pem, root-ca.key.pem).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for issuing-ca.pem, issuing-ca.key.pem, chain.pem and root-ca.pem.",
)
@click.option(
    "--root-passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A file holding the root key's passphrase (otherwise it is asked for).",
)
@click.option("--common-name", default="Beacon Fleet Issuing CA", show_default=True)
@click.option("--valid-days", default=1825, show_default=True, type=click.IntRange(min=1))
def issue_intermediate(
    root_dir: Path,
    out_dir: Path,
    root_passphrase_file: Path | None,
    common_name: str,
    valid_days: int,
) -> None:
    """Create the online issuing CA, signed by the root. Run on the air-gapped machine."""
    from provisioning.ca import create_intermediate_ca

    root_dir = root_dir.resolve()
    out_dir = out_dir.resolve()
    if out_dir == root_dir:
        raise click.ClickException(
            "--out must not be the root's directory: the issuing CA goes online, the root key"
            " must never travel with it"
        )
    out_dir = _out_dir(out_dir)
    _refuse_existing(out_dir / ISSUING_CERT, out_dir / ISSUING_KEY)
    root = _load_root(root_dir, root_passphrase_file)
    try:
        issuing = create_intermediate_ca(root, common_name=common_name, valid_days=valid_days)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _write(out_dir / ISSUING_KEY, issuing.key_pem(), 0o600)
    _write(out_dir / ISSUING_CERT, issuing.cert_pem(), 0o644)
    _write(out_dir / CHAIN, issuing.chain_pem(), 0o644)
    _write(out_dir / ROOT_CERT, root.cert_pem(), 0o644)
    not_after = issuing.certificate.not_valid_after_utc
    click.echo(
        f"wrote {ISSUING_CERT}, {ISSUING_KEY} (unencrypted, 0600), {CHAIN} and {ROOT_CERT}"
        f" to {out_dir}"
    )
    click.echo(f"issuing CA valid until {not_after:%Y-%m-%d}; rotate it before then")
    click.echo(f"sha256 fingerprint: {_fingerprint(issuing.certificate)}")


def _fingerprint(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def _key_state(path: Path) -> str:
    if not path.is_file():
        return "absent"
    return "encrypted" if b"ENCRYPTED" in path.read_bytes() else "unencrypted"


@ca_group.command("show")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
def show(directory: Path) -> None:
    """Subject, validity and fingerprint of the CA certificates in DIRECTORY."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    now = datetime.now(UTC)
    found: dict[str, x509.Certificate] = {}
    for name, key_name in ((ROOT_CERT, ROOT_KEY), (ISSUING_CERT, ISSUING_KEY)):
        path = directory / name
        if not path.is_file():
            continue
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except ValueError as exc:
            raise click.ClickException(f"{path} is not a PEM certificate: {exc}") from None
        found[name] = certificate
        days_left = (certificate.not_valid_after_utc - now).days
        click.echo(name)
        click.echo(f"  subject:  {certificate.subject.rfc4514_string()}")
        click.echo(f"  issuer:   {certificate.issuer.rfc4514_string()}")
        click.echo(
            f"  valid:    {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} to"
            f" {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC ({days_left} days left)"
        )
        click.echo(f"  serial:   {certificate.serial_number:x}")
        click.echo(f"  sha256:   {_fingerprint(certificate)}")
        click.echo(f"  key file: {key_name} {_key_state(directory / key_name)}")
        if days_left < EXPIRY_WARNING_DAYS:
            click.echo(f"  WARNING: expires in {days_left} days")
    if not found:
        raise click.ClickException(f"no {ROOT_CERT} or {ISSUING_CERT} in {directory}")
    if ROOT_CERT in found and ISSUING_CERT in found:
        try:
            found[ISSUING_CERT].verify_directly_issued_by(found[ROOT_CERT])
            signed = "yes"
        except (ValueError, TypeError, InvalidSignature):
            signed = "NO"
        click.echo(f"{ISSUING_CERT} signed by {ROOT_CERT}: {signed}")
