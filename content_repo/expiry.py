"""How long each TUF role's metadata stays valid, and when it is due to be signed again. Pure.

TUF's defence against a freeze attack (someone replaying old, validly signed metadata so a
kiosk never learns that a hotline changed) is that every file expires. The shorter a role's
life, the smaller that window, and the more often its key must sign:

    role        lifetime   key                           re-signed
    root        365 days   offline, passphrase           at a key ceremony (``repo renew root``)
    targets      90 days   offline, passphrase           at every publish, or ``repo renew``
    snapshot      7 days   online, in the fleet manager  at every publish, and when due
    timestamp     1 day    online, in the fleet manager  at every publish, and when due

The fleet manager re-signs the timestamp when less than 12 hours remain and the snapshot when
less than 3 days remain, so one missed run (a restart, a deploy) never lets kiosks see expired
metadata. Offline roles cannot be re-signed unattended: the fleet manager warns when less than
:attr:`ExpiryPolicy.warn_offline` remains on root or targets.

Times are UTC and whole seconds (TUF's format), so ``expires_at`` truncates microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

RoleName = Literal["root", "targets", "snapshot", "timestamp"]
ROLES: tuple[RoleName, ...] = ("root", "targets", "snapshot", "timestamp")
OFFLINE_ROLES: tuple[RoleName, ...] = ("root", "targets")
ONLINE_ROLES: tuple[RoleName, ...] = ("snapshot", "timestamp")


@dataclass(frozen=True)
class ExpiryPolicy:
    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=90)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)
    # Re-sign the online roles when less than this remains.
    refresh_snapshot: timedelta = timedelta(days=3)
    refresh_timestamp: timedelta = timedelta(hours=12)
    # Warn (log) when less than this remains on an offline role.
    warn_offline: timedelta = timedelta(days=14)

    def __post_init__(self) -> None:
        for role in ROLES:
            if self.lifetime(role) <= timedelta(0):
                raise ValueError(f"{role} lifetime must be positive")
        if not timedelta(0) <= self.refresh_timestamp < self.timestamp:
            raise ValueError("refresh_timestamp must be at least 0 and less than timestamp")
        if not timedelta(0) <= self.refresh_snapshot < self.snapshot:
            raise ValueError("refresh_snapshot must be at least 0 and less than snapshot")

    def lifetime(self, role: RoleName) -> timedelta:
        lifetimes: dict[RoleName, timedelta] = {
            "root": self.root,
            "targets": self.targets,
            "snapshot": self.snapshot,
            "timestamp": self.timestamp,
        }
        return lifetimes[role]

    def expires_at(self, role: RoleName, now: datetime) -> datetime:
        """When metadata of ``role`` signed at ``now`` expires."""
        return utc(now) + self.lifetime(role)


DEFAULT_EXPIRY = ExpiryPolicy()


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC, whole seconds. A naive datetime is refused: its zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware UTC time")
    return moment.astimezone(UTC).replace(microsecond=0)


def remaining(expires: datetime, now: datetime) -> timedelta:
    """Time left before ``expires`` (negative once expired)."""
    return utc(expires) - utc(now)


def is_due(expires: datetime, now: datetime, min_remaining: timedelta) -> bool:
    """True when less than ``min_remaining`` is left (or it has already expired).

    Exactly ``min_remaining`` left is not yet due, so a refresher that runs on the boundary
    does not sign twice.
    """
    return remaining(expires, now) < min_remaining
