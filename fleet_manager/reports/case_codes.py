"""Case codes and passphrases that let a reporter add to what they sent (pure).

The code names the case (8 Crockford base32 characters, 40 bits, shown as ``K7M2-9QX4``); the
passphrase proves it is theirs (12 digits, 40 bits, shown in groups of four). Digits and a
small Latin alphabet read the same on every phone and in every script. The store keeps the
code's SHA-256 (to find the case) and the passphrase's Argon2 hash (to check it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 8
PASSPHRASE_DIGITS = 12
# What people mistype, read the way Crockford base32 reads it.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


@dataclass(frozen=True)
class CaseCredentials:
    code: str  # normalized, no separator
    passphrase: str  # digits only

    @property
    def code_shown(self) -> str:
        return f"{self.code[:4]}-{self.code[4:]}"

    @property
    def passphrase_shown(self) -> str:
        p = self.passphrase
        return " ".join(p[i : i + 4] for i in range(0, len(p), 4))


def new_credentials() -> CaseCredentials:
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    passphrase = "".join(secrets.choice("0123456789") for _ in range(PASSPHRASE_DIGITS))
    return CaseCredentials(code, passphrase)


def normalize_code(text: str) -> str | None:
    """The code as typed → its canonical form, or None if it cannot be a code."""
    cleaned = "".join(c for c in text.upper() if c not in " -\t").translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def normalize_passphrase(text: str) -> str | None:
    """The passphrase as typed (spaces and dashes ignored, any script's digits) → digits."""
    digits = "".join(c for c in text if c not in " -\t")
    if len(digits) != PASSPHRASE_DIGITS or not digits.isdigit():
        return None
    try:
        return "".join(str(int(c)) for c in digits)  # Arabic-Indic digits read as 0-9
    except ValueError:
        return None


def code_digest(code: str) -> str:
    return hashlib.sha256(("beacon-case:" + code).encode()).hexdigest()
