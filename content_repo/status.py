"""What the repository holds right now: role versions, expiries and keys; bundles; channels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from content_repo import state as core
from content_repo.errors import NotARepositoryError
from content_repo.expiry import ROLES, RoleName
from content_repo.storage import read_state
from protocol.content_delivery import ChannelPointer

BUNDLE_PREFIX = "bundles/"
CHANNEL_PREFIX = "channels/"


@dataclass(frozen=True)
class RoleStatus:
    role: RoleName
    version: int
    expires: datetime
    threshold: int
    keyids: tuple[str, ...]


@dataclass(frozen=True)
class RepositoryStatus:
    roles: tuple[RoleStatus, ...]
    bundles: tuple[str, ...]  # published versions, sorted
    channels: Mapping[str, str]  # channel -> version it points at


def published_versions(state: core.RepositoryState) -> tuple[str, ...]:
    prefix, suffix = f"{BUNDLE_PREFIX}beacon-content-", ".tar.gz"
    versions = [
        name.removeprefix(prefix).removesuffix(suffix)
        for name in state.targets.signed.targets
        if name.startswith(prefix) and name.endswith(suffix)
    ]
    return tuple(sorted(versions, key=lambda v: tuple(int(p) for p in v.split("."))))


def _channels(directory: Path, state: core.RepositoryState) -> dict[str, str]:
    channels: dict[str, str] = {}
    for name, info in sorted(state.targets.signed.targets.items()):
        if not name.startswith(CHANNEL_PREFIX):
            continue
        path = directory / core.hashed_target_path(info)
        try:
            data = path.read_bytes()
            info.verify_length_and_hashes(data)
            channels[name.removeprefix(CHANNEL_PREFIX).removesuffix(".json")] = (
                ChannelPointer.model_validate_json(data).version
            )
        except (OSError, ValueError) as exc:
            raise NotARepositoryError(f"{path}: channel pointer unreadable: {exc}") from None
    return channels


def repository_status(directory: Path) -> RepositoryStatus:
    """Versions, expiries and keys of every role; published versions; where channels point."""
    state = read_state(directory)
    root = state.root.signed
    signed = {
        "root": root,
        "targets": state.targets.signed,
        "snapshot": state.snapshot.signed,
        "timestamp": state.timestamp.signed,
    }
    roles = tuple(
        RoleStatus(
            role=role,
            version=signed[role].version,
            expires=signed[role].expires,
            threshold=root.roles[role].threshold,
            keyids=tuple(root.roles[role].keyids),
        )
        for role in ROLES
    )
    return RepositoryStatus(
        roles=roles, bundles=published_versions(state), channels=_channels(directory, state)
    )
