"""The staff panel's PIN: stored only as an Argon2 hash, with a lockout after repeated failures.

The hash lives in ``STATE_DIR/staff.toml`` as ``pin_hash = "..."`` (written by
``beacon kiosk set-pin``). The lockout is a pure state machine; :func:`check_pin` is the one
place that touches Argon2.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

STAFF_FILE = "staff.toml"
MAX_FAILURES = 5
LOCKOUT_S = 300.0

Outcome = Literal["open", "denied", "locked"]


@dataclass(frozen=True)
class PinGate:
    failures: int = 0
    locked_until: float | None = None


def is_locked(gate: PinGate, now: float) -> bool:
    return gate.locked_until is not None and now < gate.locked_until


def attempt(
    gate: PinGate,
    pin_ok: bool,
    now: float,
    max_failures: int = MAX_FAILURES,
    lockout_s: float = LOCKOUT_S,
) -> tuple[PinGate, Outcome]:
    """Apply one PIN attempt. While locked, even the right PIN is refused."""
    if is_locked(gate, now):
        return gate, "locked"
    if pin_ok:
        return PinGate(), "open"
    failures = gate.failures + 1
    if failures >= max_failures:
        return PinGate(failures=0, locked_until=now + lockout_s), "locked"
    return replace(gate, failures=failures, locked_until=None), "denied"


def hash_pin(pin: str) -> str:
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise ValueError("the staff PIN must be 4 to 12 digits")
    return PasswordHasher().hash(pin)


def check_pin(pin_hash: str | None, pin: str) -> bool:
    if not pin_hash:
        return False  # no PIN set: the panel stays closed
    try:
        return PasswordHasher().verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


def load_pin_hash(state_dir: Path) -> str | None:
    path = state_dir / STAFF_FILE
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    value = data.get("pin_hash")
    if not isinstance(value, str):
        raise ValueError(f"{path}: pin_hash must be a string")
    return value


def save_pin_hash(state_dir: Path, pin_hash: str) -> None:
    """Write staff.toml atomically, readable by the kiosk user only."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".staff.")
    try:
        os.write(fd, f'pin_hash = "{pin_hash}"\n'.encode())
        os.fchmod(fd, 0o600)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, state_dir / STAFF_FILE)
