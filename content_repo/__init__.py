"""The content TUF repository (python-tuf Metadata API): role keys, publishing, freshness, rotation.

The kiosk's side (ngclient) lives in ``device/``; the contract both follow is
:mod:`protocol.content_delivery`. Key ceremonies: ``docs/content-keys.md``.
"""

from __future__ import annotations

from content_repo.errors import (
    ContentRepoError,
    NotARepositoryError,
    RepositoryExistsError,
    UnknownVersionError,
    VersionConflictError,
    WrongKeyError,
)
from content_repo.expiry import DEFAULT_EXPIRY, ExpiryPolicy
from content_repo.keys import create_key, create_role_key, key_path, load_signer
from content_repo.repository import (
    OnlineRefresh,
    PublishResult,
    init_repository,
    move_channel,
    publish_bundle,
    refresh_online,
    refresh_timestamp,
    trusted_root,
)
from content_repo.rotation import RotationResult, renew_root, renew_targets, rotate_key
from content_repo.status import RepositoryStatus, RoleStatus, repository_status

__all__ = [
    "DEFAULT_EXPIRY",
    "ContentRepoError",
    "ExpiryPolicy",
    "NotARepositoryError",
    "OnlineRefresh",
    "PublishResult",
    "RepositoryExistsError",
    "RepositoryStatus",
    "RoleStatus",
    "RotationResult",
    "UnknownVersionError",
    "VersionConflictError",
    "WrongKeyError",
    "create_key",
    "create_role_key",
    "init_repository",
    "key_path",
    "load_signer",
    "move_channel",
    "publish_bundle",
    "refresh_online",
    "refresh_timestamp",
    "renew_root",
    "renew_targets",
    "repository_status",
    "rotate_key",
    "trusted_root",
]
