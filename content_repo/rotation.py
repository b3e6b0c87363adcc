"""Key rotation for every role, and renewal of the offline roles' metadata.

    rotate_key(repo, "timestamp", root_signers_old=[root], new_signer=new_ts, timestamp=old_ts,
               now=now)
    rotate_key(repo, "root", root_signers_old=[old_root], root_signers_new=[new_root], now=now)
    renew_targets(repo, targets=t, snapshot=s, timestamp=ts, now=now)   # before 90 days pass
    renew_root(repo, root_signers=[root], now=now)                      # once a year

Why the files are written in the order they are: :mod:`content_repo.state`. The ceremonies
around these calls: docs/content-keys.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from content_repo import state as core
from content_repo.errors import ContentRepoError
from content_repo.expiry import DEFAULT_EXPIRY, ROLES, ExpiryPolicy, RoleName, utc
from content_repo.storage import apply, locked, read_state
from content_repo.tuf_types import Signer
from transport.log import get_logger

log = get_logger("content_repo")


@dataclass(frozen=True)
class RotationResult:
    role: RoleName
    root_version: int
    old_keyids: tuple[str, ...]
    new_keyids: tuple[str, ...]


def renew_targets(
    directory: Path,
    *,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> int:
    """Re-sign targets (same content, new version and expiry); returns the targets version."""
    with locked(directory):
        state = read_state(directory)
        update = core.refresh(
            state,
            start="targets",
            signers={"targets": [targets], "snapshot": [snapshot], "timestamp": [timestamp]},
            now=utc(now),
            expiry=expiry,
        )
        apply(directory, update.writes)
    version = update.state.targets.signed.version
    log.info("tuf_targets_renewed", version=version)
    return version


def renew_root(
    directory: Path,
    *,
    root_signers: Sequence[Signer],
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> int:
    """A new root version with the same keys and a new expiry; returns its version."""
    result = rotate_key(
        directory,
        "root",
        root_signers_old=root_signers,
        root_signers_new=root_signers,
        now=now,
        expiry=expiry,
    )
    return result.root_version


def rotate_key(
    directory: Path,
    role: RoleName,
    *,
    root_signers_old: Sequence[Signer],
    root_signers_new: Sequence[Signer] = (),
    root_threshold: int | None = None,
    new_signer: Signer | None = None,
    targets: Signer | None = None,
    snapshot: Signer | None = None,
    timestamp: Signer | None = None,
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> RotationResult:
    """Replace the key(s) of ``role`` in a new root version that clients chain to.

    ``root``: the new root trusts exactly ``root_signers_new`` (threshold ``root_threshold``,
    default unchanged) and is signed by a threshold of ``root_signers_old`` and of the new.

    ``targets``/``snapshot``/``timestamp``: ``new_signer`` is the role's new key and
    ``root_signers_old`` the (unchanged) root keys. The role's metadata and the roles below it
    are re-signed, so give the current keys of the roles below (targets needs ``snapshot`` and
    ``timestamp``; snapshot needs ``timestamp``). Give the role's own current key too
    (``targets=`` when rotating targets) whenever you still have it: the re-signed metadata
    then carries both signatures and no client fails an update while the new root spreads.
    Without it (a lost key) a client refreshing in that instant fails once and retries.
    """
    if role not in ROLES:
        raise ContentRepoError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    now = utc(now)
    current: dict[RoleName, Signer | None] = {
        "targets": targets,
        "snapshot": snapshot,
        "timestamp": timestamp,
    }
    with locked(directory):
        state = read_state(directory)
        old_keyids = tuple(state.root.signed.roles[role].keyids)
        if role == "root":
            update = core.rotate_root(
                state,
                old_signers=root_signers_old,
                new_signers=root_signers_new,
                threshold=root_threshold,
                now=now,
                expiry=expiry,
            )
        else:
            if new_signer is None:
                raise ContentRepoError(f"rotating the {role} key needs the new {role} key")
            if root_signers_new:
                raise ContentRepoError("new root keys belong to a root rotation, not this one")
            below = ROLES[ROLES.index(role) + 1 :]
            missing = [r for r in below if current[r] is None]
            if missing:
                raise ContentRepoError(
                    f"rotating the {role} key re-signs {', '.join(below)}: "
                    f"give the current {' and '.join(missing)} key"
                )
            signers = {r: [s] for r in below if (s := current[r]) is not None}
            update = core.rotate_role(
                state,
                role,
                root_signers=root_signers_old,
                new_signer=new_signer,
                old_signer=current[role],
                signers=signers,
                now=now,
                expiry=expiry,
            )
        apply(directory, update.writes)
    root = update.state.root.signed
    result = RotationResult(
        role=role,
        root_version=root.version,
        old_keyids=old_keyids,
        new_keyids=tuple(root.roles[role].keyids),
    )
    log.info(
        "tuf_key_rotated",
        role=role,
        root_version=result.root_version,
        old_keyids=list(result.old_keyids),
        new_keyids=list(result.new_keyids),
    )
    return result
