"""Console passwords: Argon2id hashes (argon2-cffi defaults, as the kiosk's staff PIN) and rules.

The rules follow NIST SP 800-63B rather than composition rules: long enough (12), not the
username, not one of the passwords attackers try first. :func:`password_problems` lists every
rule broken, in words a person can act on; :func:`hash_password` refuses a password that
breaks any. Verification never raises for a wrong password or a damaged hash: it says False.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
# Argon2 hashes any length, but a megabyte "password" is a cheap way to burn server CPU.
MAX_LENGTH = 256

# Long enough to pass MIN_LENGTH, yet first in every guessing list (plus their stems, which
# are matched after stripping trailing digits and punctuation).
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "passw0rd",
        "password123",
        "password1234",
        "passwordpassword",
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123123123123",
        "111111111111",
        "000000000000",
        "qwertyuiop",
        "qwertyuiop123",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "asdfghjkl",
        "zxcvbnm",
        "iloveyou",
        "letmein",
        "welcome",
        "admin",
        "administrator",
        "changeme",
        "trustno1",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "starwars",
        "monkey",
        "dragon",
        "master",
        "beacon",
        "beaconadmin",
        "correcthorsebatterystaple",
    }
)

_hasher = PasswordHasher()


class WeakPasswordError(ValueError):
    """The password breaks the rules; the message lists every rule broken."""


def _stem(password: str) -> str:
    return password.lower().rstrip("0123456789!?.@#$%&*_- ")


def password_problems(password: str, username: str) -> list[str]:
    """Every rule ``password`` breaks for ``username`` (empty: acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(
            f"the password must be at least {MIN_LENGTH} characters (it has {len(password)});"
            " a few unrelated words make a good one"
        )
    if len(password) > MAX_LENGTH:
        problems.append(f"the password must be at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if username and username.lower() in lowered:
        problems.append("the password must not contain the username")
    if lowered in COMMON_PASSWORDS or _stem(password) in COMMON_PASSWORDS:
        problems.append("the password is one of the most common passwords: choose another")
    elif len(set(password)) <= 2:
        problems.append("the password must not repeat one or two characters")
    return problems


def hash_password(password: str, username: str) -> str:
    """The Argon2id hash of an acceptable password; :class:`WeakPasswordError` otherwise."""
    problems = password_problems(password, username)
    if problems:
        raise WeakPasswordError("; ".join(problems))
    return _hasher.hash(password)


def rehash(password: str) -> str:
    """A fresh hash of a password that was just verified (no rules: it is already in use)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; False for no hash, a damaged hash or an absurd length."""
    if not password_hash or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def burn_verification(password: str) -> None:
    """Spend one verification's time, for a username that does not exist.

    Verifying against a real hash costs what a real check costs, so an unknown username takes
    as long to refuse as a wrong password: no username oracle by timing.
    """
    verify_password(_dummy_hash(), password)
