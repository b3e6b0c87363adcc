"""The content TUF repository: create it, publish bundles, move channels, keep it fresh.

    init_repository(repo, root_signers=[root], targets=t, snapshot=s, timestamp=ts, now=now)
    publish_bundle(repo, Path("beacon-content-2026.11.1.tar.gz"), channel="stable",
                   targets=t, snapshot=s, timestamp=ts, now=now)
    move_channel(repo, "stable", "2026.11.1", targets=t, snapshot=s, timestamp=ts, now=now)
    refresh_online(repo, snapshot=s, timestamp=ts, now=now)   # the fleet manager, periodically
    trusted_root(repo)                                         # for kiosks' identity bundles

Key rotation and renewal: :mod:`content_repo.rotation`; what it holds: :mod:`content_repo.status`.
Targets and layout are those of :mod:`protocol.content_delivery`; the layout on disk is in
:mod:`content_repo.storage`, the write order that keeps clients safe in :mod:`content_repo.state`.
Every function takes ``now`` (an aware datetime) instead of reading the clock, so the expiry
rules (:mod:`content_repo.expiry`) are testable; every signer is checked against the keys the
current root trusts before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from content.build import read_bundle_archive
from content.bundle import BundleError
from content_repo import state as core
from content_repo.errors import (
    ContentRepoError,
    RepositoryExistsError,
    UnknownVersionError,
    VersionConflictError,
)
from content_repo.expiry import (
    DEFAULT_EXPIRY,
    ExpiryPolicy,
    is_due,
    remaining,
    utc,
)
from content_repo.status import published_versions
from content_repo.storage import apply, locked, metadata_dir, newest_root_path, read_state
from content_repo.tuf_types import Signer
from protocol.content_delivery import ChannelPointer, bundle_target, channel_target
from transport.log import get_logger

log = get_logger("content_repo")


@dataclass(frozen=True)
class PublishResult:
    version: str
    target: str  # bundles/beacon-content-{version}.tar.gz
    channel_target: str  # channels/{channel}.json
    targets_version: int  # the targets metadata version that lists them


@dataclass(frozen=True)
class OnlineRefresh:
    snapshot: bool  # a new snapshot version was signed
    timestamp: bool  # a new timestamp version was signed
    expiring: tuple[str, ...]  # offline roles close to expiry, one sentence each


def init_repository(
    directory: Path,
    *,
    root_signers: Sequence[Signer],
    root_threshold: int = 1,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> None:
    """Create version 1 of every role in ``directory`` (created if needed).

    RepositoryExistsError if ``directory/metadata`` already holds metadata.
    """
    update = core.initial(
        root_signers=root_signers,
        root_threshold=root_threshold,
        targets=targets,
        snapshot=snapshot,
        timestamp=timestamp,
        now=utc(now),
        expiry=expiry,
    )
    directory.mkdir(parents=True, exist_ok=True)
    with locked(directory):
        meta = metadata_dir(directory)
        if meta.is_dir() and any(p.suffix == ".json" for p in meta.iterdir()):
            raise RepositoryExistsError(
                f"{meta} already holds metadata: refusing to start a second repository there"
            )
        (directory / core.TARGETS_DIR).mkdir(exist_ok=True)
        apply(directory, update.writes)
    log.info(
        "tuf_repository_initialised",
        directory=str(directory),
        root_keys=[s.public_key.keyid for s in root_signers],
        root_threshold=root_threshold,
    )


def _read_bundle(bundle: Path) -> tuple[str, bytes]:
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise ContentRepoError(f"cannot read {bundle}: {exc.strerror}") from None
    try:
        version = read_bundle_archive(data).version
        bundle_target(version)
    except BundleError as exc:
        raise ContentRepoError(
            f"{bundle} is not a valid content bundle: {'; '.join(exc.problems)}"
        ) from None
    except ValueError as exc:
        raise ContentRepoError(f"{bundle}: {exc}") from None
    return version, data


def _channel(channel: str) -> str:
    try:
        return channel_target(channel)
    except ValueError:
        raise ContentRepoError(
            f"{channel!r} is not a channel name (1-32 of a-z, 0-9, _ and -)"
        ) from None


def _move(
    directory: Path,
    channel: str,
    version: str,
    bundle: bytes | None,
    *,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy,
) -> PublishResult:
    pointer_target = _channel(channel)
    target = bundle_target(version)
    now = utc(now)
    with locked(directory):
        state = read_state(directory)
        existing = state.targets.signed.targets.get(target)
        files: dict[str, bytes] = {}
        if bundle is not None:
            digest = hashlib.sha256(bundle).hexdigest()
            if existing is not None and existing.hashes.get("sha256") != digest:
                raise VersionConflictError(
                    f"version {version} is already published with other content "
                    f"(sha256 {existing.hashes.get('sha256')}); give the new bundle a new version"
                )
            files[target] = bundle
        elif existing is None:
            published = ", ".join(published_versions(state)) or "none"
            raise UnknownVersionError(
                f"version {version} is not published (published: {published})"
            )
        pointer = ChannelPointer(
            channel=channel, version=version, target=target, published_at=now.timestamp()
        )
        files[pointer_target] = core.channel_pointer_bytes(pointer)
        update = core.add_targets(
            state,
            files,
            targets=targets,
            snapshot=snapshot,
            timestamp=timestamp,
            now=now,
            expiry=expiry,
        )
        apply(directory, update.writes)
    return PublishResult(
        version=version,
        target=target,
        channel_target=pointer_target,
        targets_version=update.state.targets.signed.version,
    )


def publish_bundle(
    directory: Path,
    bundle: Path,
    *,
    channel: str,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> PublishResult:
    """Add the bundle archive as a target and point ``channel`` at it, in one new snapshot.

    The version is read from the archive's manifest (which must load as a bundle). The same
    version with the same bytes again just moves the channel; with other bytes it is refused
    (VersionConflictError): kiosks and audits must be able to trust that a version names one
    content.
    """
    version, data = _read_bundle(bundle)
    result = _move(
        directory,
        channel,
        version,
        data,
        targets=targets,
        snapshot=snapshot,
        timestamp=timestamp,
        now=now,
        expiry=expiry,
    )
    log.info(
        "tuf_bundle_published",
        version=version,
        channel=channel,
        sha256=hashlib.sha256(data).hexdigest(),
        targets_version=result.targets_version,
    )
    return result


def move_channel(
    directory: Path,
    channel: str,
    version: str,
    *,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> PublishResult:
    """Point ``channel`` at an already published version (also a deliberate rollback).

    UnknownVersionError if the version was never published. Kiosks refuse metadata older than
    what they have, never an older *bundle* named by newer metadata: a rollback is a new
    targets version whose channel pointer names the old bundle.
    """
    try:
        bundle_target(version)
    except ValueError as exc:
        raise UnknownVersionError(str(exc)) from None
    result = _move(
        directory,
        channel,
        version,
        None,
        targets=targets,
        snapshot=snapshot,
        timestamp=timestamp,
        now=now,
        expiry=expiry,
    )
    log.info(
        "tuf_channel_moved",
        channel=channel,
        version=version,
        targets_version=result.targets_version,
    )
    return result


def refresh_timestamp(
    directory: Path,
    *,
    timestamp: Signer,
    now: datetime,
    min_remaining: timedelta = timedelta(hours=12),
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> bool:
    """Sign a new timestamp version when less than ``min_remaining`` is left; True if it did.

    The key is checked on every call (WrongKeyError), not only when a refresh is due, so a
    fleet manager holding a rotated-out key finds out at once rather than a day later.
    """
    with locked(directory):
        state = read_state(directory)
        core.check_signer(state.root.signed, "timestamp", timestamp)
        if not is_due(state.timestamp.signed.expires, now, min_remaining):
            return False
        update = core.refresh(
            state,
            start="timestamp",
            signers={"timestamp": [timestamp]},
            now=utc(now),
            expiry=expiry,
        )
        apply(directory, update.writes)
    log.info(
        "tuf_timestamp_refreshed",
        version=update.state.timestamp.signed.version,
        expires=update.state.timestamp.signed.expires.isoformat(),
    )
    return True


def _offline_expiry_warnings(
    state: core.RepositoryState, now: datetime, expiry: ExpiryPolicy
) -> tuple[str, ...]:
    warnings = []
    for role, signed in (("root", state.root.signed), ("targets", state.targets.signed)):
        left = remaining(signed.expires, now)
        if left < expiry.warn_offline:
            warnings.append(
                f"{role} metadata expires {signed.expires.isoformat()} "
                f"({max(left.days, 0)} days); renew it with `beacon content repo renew {role}`"
            )
            log.warning(
                "tuf_offline_role_expiring",
                role=role,
                expires=signed.expires.isoformat(),
                seconds_left=int(left.total_seconds()),
            )
    return tuple(warnings)


def refresh_online(
    directory: Path,
    *,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy = DEFAULT_EXPIRY,
) -> OnlineRefresh:
    """What the fleet manager runs periodically (every hour is plenty) with the online keys.

    Re-signs the snapshot (and so the timestamp) when less than ``expiry.refresh_snapshot``
    is left, else the timestamp when less than ``expiry.refresh_timestamp`` is left; logs and
    returns a warning for root or targets metadata close to expiry (offline keys needed).
    """
    now = utc(now)
    with locked(directory):
        state = read_state(directory)
        core.check_signer(state.root.signed, "snapshot", snapshot)
        core.check_signer(state.root.signed, "timestamp", timestamp)
        snapshot_due = is_due(state.snapshot.signed.expires, now, expiry.refresh_snapshot)
        timestamp_due = snapshot_due or is_due(
            state.timestamp.signed.expires, now, expiry.refresh_timestamp
        )
        if timestamp_due:
            update = core.refresh(
                state,
                start="snapshot" if snapshot_due else "timestamp",
                signers={"snapshot": [snapshot], "timestamp": [timestamp]},
                now=now,
                expiry=expiry,
            )
            apply(directory, update.writes)
            log.info(
                "tuf_online_refreshed",
                snapshot_version=update.state.snapshot.signed.version,
                timestamp_version=update.state.timestamp.signed.version,
            )
        expiring = _offline_expiry_warnings(state, now, expiry)
    return OnlineRefresh(snapshot=snapshot_due, timestamp=timestamp_due, expiring=expiring)


def trusted_root(directory: Path) -> bytes:
    """The newest ``N.root.json``, after checking the repository verifies under it.

    Kiosks are bootstrapped with this; one given an older root still updates, by walking the
    chain of root versions.
    """
    read_state(directory)
    return newest_root_path(directory).read_bytes()
