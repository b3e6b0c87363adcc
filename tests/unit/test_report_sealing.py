"""fleet_manager.reports.sealing: HPKE to a region key, bound to its report, entry and key."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import (
    SECP256R1,
    EllipticCurvePrivateKey,
    generate_private_key,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fleet_manager.reports.sealing import (
    MIN_CIPHERTEXT,
    SealError,
    key_id,
    load_private_key,
    load_public_key,
    new_private_key,
    open_sealed,
    private_key_pem,
    public_key_pem,
    seal,
)

KEY = new_private_key()
OTHER = new_private_key()
REPORT = "0b7d3c1e-5f7a-4a8e-9d0c-2f1e3a4b5c6d"
PLAINTEXT = '{"what": "они забрали мой паспорт — they took my passport"}'.encode()


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(b"", id="empty"),
        pytest.param(PLAINTEXT, id="unicode"),
        pytest.param(b"\x00" * 70_000, id="large"),
    ],
)
def test_round_trip(plaintext: bytes) -> None:
    sealed = seal(plaintext, KEY.public_key(), REPORT, 3)
    assert open_sealed(sealed, KEY, REPORT, 3) == plaintext


def test_each_seal_is_different() -> None:
    # A fresh ephemeral key each time: the same words sealed twice do not look alike.
    assert seal(PLAINTEXT, KEY.public_key(), REPORT, 0) != seal(
        PLAINTEXT, KEY.public_key(), REPORT, 0
    )


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    words = b"the house on 5th street, the blue door"
    sealed = seal(words, KEY.public_key(), REPORT, 0)
    assert words not in sealed
    assert b"blue door" not in sealed
    assert len(sealed) >= len(words) + MIN_CIPHERTEXT


def _flip(index: int) -> Callable[[bytes], bytes]:
    def flip(data: bytes) -> bytes:
        b = bytearray(data)
        b[index] ^= 0x01
        return bytes(b)

    return flip


@pytest.mark.parametrize(
    ("change", "key", "report_id", "seq"),
    [
        pytest.param(None, OTHER, REPORT, 0, id="another-key"),
        pytest.param(None, KEY, REPORT.replace("0b7d", "0b7e"), 0, id="another-report"),
        pytest.param(None, KEY, REPORT, 1, id="another-seq"),
        pytest.param(None, KEY, "", 0, id="empty-report-id"),
        pytest.param(_flip(0), KEY, REPORT, 0, id="flipped-enc-byte"),
        pytest.param(_flip(40), KEY, REPORT, 0, id="flipped-body-byte"),
        pytest.param(_flip(-1), KEY, REPORT, 0, id="flipped-tag-byte"),
        pytest.param(lambda d: d[:-1], KEY, REPORT, 0, id="truncated"),
        pytest.param(lambda d: d + b"\x00", KEY, REPORT, 0, id="extended"),
    ],
)
def test_open_refuses(
    change: Callable[[bytes], bytes] | None, key: X25519PrivateKey, report_id: str, seq: int
) -> None:
    sealed = seal(PLAINTEXT, KEY.public_key(), REPORT, 0)
    if change is not None:
        sealed = change(sealed)
    with pytest.raises(SealError, match="entry"):
        open_sealed(sealed, key, report_id, seq)


@pytest.mark.parametrize(
    "length",
    [
        pytest.param(0, id="empty"),
        pytest.param(32, id="enc-only"),
        pytest.param(47, id="one-short"),
    ],
)
def test_too_short_ciphertext(length: int) -> None:
    with pytest.raises(SealError, match="too short"):
        open_sealed(b"\x01" * length, KEY, REPORT, 0)


def test_shortest_genuine_ciphertext_opens() -> None:
    sealed = seal(b"", KEY.public_key(), REPORT, 0)
    assert len(sealed) == MIN_CIPHERTEXT
    assert open_sealed(sealed, KEY, REPORT, 0) == b""


def test_key_id() -> None:
    kid = key_id(KEY.public_key())
    assert re.fullmatch(r"[0-9a-f]{16}", kid)
    assert key_id(KEY.public_key()) == kid
    assert key_id(load_public_key(public_key_pem(KEY.public_key()))) == kid
    assert key_id(OTHER.public_key()) != kid


@pytest.mark.parametrize(
    "passphrase",
    [
        pytest.param(b"correct horse battery staple", id="passphrase"),
        pytest.param("пароль-ключ".encode(), id="utf8-passphrase"),
        pytest.param(None, id="unencrypted"),
    ],
)
def test_private_key_pem_round_trip(passphrase: bytes | None) -> None:
    pem = private_key_pem(KEY, passphrase)
    assert pem.startswith(b"-----BEGIN ")
    assert (b"ENCRYPTED" in pem) is (passphrase is not None)
    loaded = load_private_key(pem, passphrase)
    assert key_id(loaded.public_key()) == key_id(KEY.public_key())
    # The loaded key opens what was sealed to the original.
    assert open_sealed(seal(PLAINTEXT, KEY.public_key(), REPORT, 0), loaded, REPORT, 0) == PLAINTEXT


ENCRYPTED = private_key_pem(KEY, b"right")
PLAIN = private_key_pem(KEY, None)


def _pem_of(key: Ed25519PrivateKey | EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("pem", "passphrase", "says"),
    [
        pytest.param(ENCRYPTED, b"wrong", "could not be read", id="wrong-passphrase"),
        pytest.param(ENCRYPTED, None, "the private key", id="missing-passphrase"),
        pytest.param(ENCRYPTED, b"", "the private key", id="empty-passphrase"),
        pytest.param(PLAIN, b"unneeded", "the private key", id="passphrase-for-plain-key"),
        pytest.param(b"not a key", None, "could not be read", id="garbage"),
        pytest.param(b"", None, "could not be read", id="empty"),
        pytest.param(
            public_key_pem(KEY.public_key()).encode(), None, "could not be read", id="public-pem"
        ),
        pytest.param(_pem_of(Ed25519PrivateKey.generate()), None, "not an X25519", id="ed25519"),
        pytest.param(
            _pem_of(generate_private_key(SECP256R1())), None, "not an X25519", id="ec-p256"
        ),
    ],
)
def test_load_private_key_refuses(pem: bytes, passphrase: bytes | None, says: str) -> None:
    with pytest.raises(SealError, match=says):
        load_private_key(pem, passphrase)


def test_public_key_pem_round_trip() -> None:
    pem = public_key_pem(KEY.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    loaded = load_public_key(pem)
    sealed = seal(PLAINTEXT, loaded, REPORT, 5)
    assert open_sealed(sealed, KEY, REPORT, 5) == PLAINTEXT


@pytest.mark.parametrize(
    ("pem", "says"),
    [
        pytest.param("garbage", "not a PEM public key", id="garbage"),
        pytest.param("", "not a PEM public key", id="empty"),
        pytest.param(PLAIN.decode(), "not a PEM public key", id="private-pem"),
        pytest.param(
            public_key_pem(KEY.public_key()).replace("A", "B", 3)[:60], "not a PEM", id="mangled"
        ),
        pytest.param(
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            "not an X25519",
            id="ed25519",
        ),
    ],
)
def test_load_public_key_refuses(pem: str, says: str) -> None:
    with pytest.raises(SealError, match=says):
        load_public_key(pem)
