"""TUF role keys as files: Ed25519, PKCS#8 PEM, mode 0600, never overwritten.

    public = create_key(Path("keys/targets.key.pem"), b"a long passphrase")  # offline role
    create_key(Path("keys/timestamp.key.pem"), None)                          # online role
    signer = load_signer(Path("keys/targets.key.pem"), b"a long passphrase")

Offline roles (root, targets) sign on an operator's machine and their key files are encrypted
with a passphrase (BestAvailableEncryption). Online roles (snapshot, timestamp) are used by the
fleet manager unattended, so their files are plain PEM, readable by the fleet manager's
account only. :func:`create_role_key` enforces that split; :func:`create_key` is the primitive.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from content_repo.expiry import OFFLINE_ROLES, RoleName
from content_repo.tuf_types import CryptoSigner, Key, Signer, SSlibKey

KEY_FILE_MODE = 0o600
MIN_PASSPHRASE_CHARS = 12


def key_path(key_dir: Path, role: RoleName) -> Path:
    """Where ``beacon content keys`` keeps a role's key: ``{key_dir}/{role}.key.pem``."""
    return key_dir / f"{role}.key.pem"


def create_key(path: Path, passphrase: bytes | None) -> Key:
    """Write a new Ed25519 key to ``path`` (0600) and return its public key.

    With a passphrase the PEM is encrypted. FileExistsError if ``path`` exists: a role key is
    never overwritten (it may be the only copy of a key the repository trusts).
    """
    if passphrase is not None and not passphrase:
        raise ValueError("an empty passphrase protects nothing; give one, or None")
    private = Ed25519PrivateKey.generate()
    encryption = NoEncryption() if passphrase is None else BestAvailableEncryption(passphrase)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: refuse an existing file (even one created a moment ago by someone else); the mode
    # is 0600 from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fchmod(handle.fileno(), KEY_FILE_MODE)  # umask may have cleared bits
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SSlibKey.from_crypto(private.public_key())


def create_role_key(key_dir: Path, role: RoleName, passphrase: bytes | None) -> Key:
    """:func:`create_key` at :func:`key_path`, encrypted exactly when the role is offline."""
    if role in OFFLINE_ROLES:
        if passphrase is None:
            raise ValueError(f"the {role} key is an offline key: it needs a passphrase")
        if len(passphrase.decode("utf-8", errors="replace")) < MIN_PASSPHRASE_CHARS:
            raise ValueError(
                f"the {role} key passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
            )
    elif passphrase is not None:
        raise ValueError(
            f"the {role} key is an online key used unattended by the fleet manager: "
            "it is stored unencrypted (0600), without a passphrase"
        )
    return create_key(key_path(key_dir, role), passphrase)


def load_signer(path: Path, passphrase: bytes | None) -> Signer:
    """The signer for the key file at ``path``.

    ValueError, naming the file, if it cannot be read, the passphrase is wrong, missing or
    not needed, or the key is not Ed25519.
    """
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"key file {path} not found") from None
    except OSError as exc:
        raise ValueError(f"cannot read key file {path}: {exc.strerror}") from None
    encrypted = b"ENCRYPTED PRIVATE KEY" in pem
    if encrypted and passphrase is None:
        raise ValueError(f"key file {path} is encrypted: a passphrase is needed")
    if not encrypted and passphrase is not None:
        raise ValueError(f"key file {path} is not encrypted: it takes no passphrase")
    try:
        private = load_pem_private_key(pem, password=passphrase)
    except (ValueError, UnsupportedAlgorithm):
        if encrypted:
            raise ValueError(f"wrong passphrase for key file {path}") from None
        raise ValueError(f"key file {path} is not a PEM private key") from None
    except TypeError as exc:  # pragma: no cover - the checks above decide encryption first
        raise ValueError(f"key file {path}: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"key file {path} holds a {type(private).__name__}, not an Ed25519 key")
    return CryptoSigner(private)
