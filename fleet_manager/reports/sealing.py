"""Sealing a report to its region's responder key: HPKE (RFC 9180) base mode with
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, from ``cryptography``.

The landing page holds only public keys; the private key stays with the region's responders.
The HPKE ``info`` binds each ciphertext to its report, entry number and key, so a ciphertext
moved to another row (or another report) does not open.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
FORMAT = "beacon-report-v1"
KEY_ID_LENGTH = 16
# enc (32) + AES-GCM tag (16): the shortest ciphertext that can be genuine.
MIN_CIPHERTEXT = 48


class SealError(ValueError):
    """A key or ciphertext that cannot be used; the message says which and why."""


def key_id(public_key: X25519PublicKey) -> str:
    """Short, stable name of a public key (hex of its SHA-256), stored with each ciphertext."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_LENGTH]


def _info(kid: str, report_id: str, seq: int) -> bytes:
    return f"{FORMAT}\n{kid}\n{report_id}\n{seq}".encode()


def seal(plaintext: bytes, public_key: X25519PublicKey, report_id: str, seq: int) -> bytes:
    """Encrypt ``plaintext`` (entry ``seq`` of report ``report_id``) to ``public_key``."""
    return SUITE.encrypt(plaintext, public_key, info=_info(key_id(public_key), report_id, seq))


def open_sealed(
    ciphertext: bytes, private_key: X25519PrivateKey, report_id: str, seq: int
) -> bytes:
    """The plaintext, or :class:`SealError` (wrong key, wrong row, or altered bytes)."""
    if len(ciphertext) < MIN_CIPHERTEXT:
        raise SealError(f"entry {seq}: ciphertext of {len(ciphertext)} bytes is too short")
    kid = key_id(private_key.public_key())
    try:
        return SUITE.decrypt(ciphertext, private_key, info=_info(kid, report_id, seq))
    except InvalidTag:
        raise SealError(
            f"entry {seq}: does not open with key {kid} (another key, another report, "
            "or altered bytes)"
        ) from None


# -- keys as files ------------------------------------------------------------------------------


def new_private_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def private_key_pem(key: X25519PrivateKey, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM, encrypted with ``passphrase`` (the best scheme ``cryptography`` offers)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_key_pem(key: X25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private_key(pem: bytes, passphrase: bytes | None) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError as exc:  # encrypted without a passphrase, or the other way round
        raise SealError(f"the private key: {exc}") from None
    except ValueError:
        raise SealError(
            "the private key could not be read (wrong passphrase, or not PEM)"
        ) from None
    if not isinstance(key, X25519PrivateKey):
        raise SealError("the private key is not an X25519 key")
    return key


def load_public_key(pem: str) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise SealError("the public key is not a PEM public key") from None
    if not isinstance(key, X25519PublicKey):
        raise SealError("the public key is not an X25519 key")
    return key
