"""The repository's metadata as values, and every change to it as a pure function.

A :class:`RepositoryState` is the four top-level TUF metadata a client would trust right now.
Each change (``initial``, ``add_targets``, ``refresh``, ``rotate``, ...) takes a state, signers
and ``now`` and returns an :class:`Update`: the next state and the files to write, *in the
order they must be written* so that a client reading the repository at any moment sees either
the old consistent set or the new one:

1. target files, under their content hash (``targets/bundles/{sha256}.{name}``): new names;
2. ``metadata/{N}.targets.json``, then ``metadata/{N}.snapshot.json``: new names;
3. ``metadata/timestamp.json``: the one file replaced in place, which switches clients over;
4. after a key rotation, ``metadata/{N}.root.json`` (and the ``root.json`` copy) last.

Root goes last because a client fetches ``{N+1}.root.json`` as soon as it exists. By then the
re-signed metadata carries a signature by the old key *and* the new one (when the old key is
still at hand), so clients before and after the new root both accept it: no failed update.

Nothing here reads the disk or the clock; :mod:`content_repo.storage` writes what this returns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from tuf.api.serialization.json import JSONSerializer

from content_repo.errors import ContentRepoError, WrongKeyError
from content_repo.expiry import ROLES, ExpiryPolicy, RoleName
from content_repo.tuf_types import (
    Key,
    Metadata,
    MetaFile,
    Root,
    Signer,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from protocol.content_delivery import ChannelPointer

METADATA_DIR = "metadata"
TARGETS_DIR = "targets"
_SERIALIZER = JSONSerializer(compact=False)
S = TypeVar("S", Root, Timestamp, Snapshot, Targets)


@dataclass(frozen=True)
class RepositoryState:
    root: Metadata[Root]
    targets: Metadata[Targets]
    snapshot: Metadata[Snapshot]
    timestamp: Metadata[Timestamp]


@dataclass(frozen=True)
class Write:
    """One file to write, relative to the repository directory."""

    path: str
    data: bytes
    replace: bool = True  # False: the name must be new (root versions, probed by clients)


@dataclass(frozen=True)
class Update:
    state: RepositoryState
    writes: tuple[Write, ...]


def serialize(md: Metadata[S]) -> bytes:
    return _SERIALIZER.serialize(md)


def channel_pointer_bytes(pointer: ChannelPointer) -> bytes:
    body = json.dumps(pointer.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return body.encode("ascii") + b"\n"


def hashed_target_path(target: TargetFile) -> str:
    """``targets/{dir}/{sha256}.{name}``: where a consistent-snapshot client fetches it."""
    directory, sep, name = target.path.rpartition("/")
    return f"{TARGETS_DIR}/{directory}{sep}{target.hashes['sha256']}.{name}"


def _copy(md: Metadata[S]) -> Metadata[S]:
    return copy.deepcopy(md)


def _keyids(signers: Sequence[Signer]) -> list[str]:
    return [s.public_key.keyid for s in signers]


def _short(keyid: str) -> str:
    return keyid[:12]


def check_signer(root: Root, role: RoleName, signer: Signer) -> None:
    """WrongKeyError unless ``root`` trusts ``signer``'s key for ``role``."""
    keyid = signer.public_key.keyid
    trusted = root.roles[role].keyids
    if keyid not in trusted:
        expected = ", ".join(_short(k) for k in trusted)
        raise WrongKeyError(
            f"the {role} key given ({_short(keyid)}) is not a {role} key this repository "
            f"trusts ({expected}); check you loaded the right key file"
        )


def _check_root_signers(root: Root, signers: Sequence[Signer], what: str) -> None:
    trusted = set(root.roles["root"].keyids)
    unknown = [_short(k) for k in _keyids(signers) if k not in trusted]
    if unknown:
        raise WrongKeyError(
            f"{what}: key {', '.join(unknown)} is not a root key of this repository"
        )
    have = len(set(_keyids(signers)))
    need = root.roles["root"].threshold
    if have < need:
        raise WrongKeyError(f"{what}: {have} root key(s) given, the threshold is {need}")


def _sign(md: Metadata[S], signers: Sequence[Signer]) -> Metadata[S]:
    md.signatures.clear()
    seen: set[str] = set()
    for signer in signers:
        if signer.public_key.keyid not in seen:
            md.sign(signer, append=True)
            seen.add(signer.public_key.keyid)
    return md


def _bump(md: Metadata[S], role: RoleName, now: datetime, expiry: ExpiryPolicy) -> Metadata[S]:
    md = _copy(md)
    md.signed.version += 1
    md.signed.expires = expiry.expires_at(role, now)
    return md


def _distinct_keys(keys: Mapping[RoleName, Sequence[Key]]) -> None:
    owner: dict[str, RoleName] = {}
    for role, role_keys in keys.items():
        for key in role_keys:
            if key.keyid in owner and owner[key.keyid] != role:
                raise ContentRepoError(
                    f"the {owner[key.keyid]} and {role} roles were given the same key "
                    f"({_short(key.keyid)}); every role needs its own key"
                )
            owner[key.keyid] = role


def initial(
    *,
    root_signers: Sequence[Signer],
    root_threshold: int,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy,
) -> Update:
    """Version 1 of every role: no targets yet, consistent snapshots on."""
    if not root_signers:
        raise ContentRepoError("at least one root key is needed")
    if len(set(_keyids(root_signers))) != len(root_signers):
        raise ContentRepoError("the same root key was given twice")
    if not 1 <= root_threshold <= len(root_signers):
        raise ContentRepoError(
            f"root threshold {root_threshold} must be between 1 and the number of root keys "
            f"({len(root_signers)})"
        )
    role_signers: dict[RoleName, Sequence[Signer]] = {
        "root": root_signers,
        "targets": [targets],
        "snapshot": [snapshot],
        "timestamp": [timestamp],
    }
    _distinct_keys({role: [s.public_key for s in ss] for role, ss in role_signers.items()})

    root = Root(expires=expiry.expires_at("root", now), consistent_snapshot=True)
    for role in ROLES:
        for signer in role_signers[role]:
            root.add_key(signer.public_key, role)
    root.roles["root"].threshold = root_threshold
    root_md = _sign(Metadata(root), root_signers)

    targets_md = _sign(Metadata(Targets(expires=expiry.expires_at("targets", now))), [targets])
    targets_bytes = serialize(targets_md)
    snapshot_md = _sign(
        Metadata(
            Snapshot(
                expires=expiry.expires_at("snapshot", now),
                meta={"targets.json": MetaFile.from_data(1, targets_bytes, ["sha256"])},
            )
        ),
        [snapshot],
    )
    snapshot_bytes = serialize(snapshot_md)
    timestamp_md = _sign(
        Metadata(
            Timestamp(
                expires=expiry.expires_at("timestamp", now),
                snapshot_meta=MetaFile.from_data(1, snapshot_bytes, ["sha256"]),
            )
        ),
        [timestamp],
    )
    root_bytes = serialize(root_md)
    state = RepositoryState(root_md, targets_md, snapshot_md, timestamp_md)
    verify(state)
    return Update(
        state,
        (
            Write(f"{METADATA_DIR}/1.targets.json", targets_bytes),
            Write(f"{METADATA_DIR}/1.snapshot.json", snapshot_bytes),
            Write(f"{METADATA_DIR}/1.root.json", root_bytes, replace=False),
            Write(f"{METADATA_DIR}/root.json", root_bytes),
            Write(f"{METADATA_DIR}/timestamp.json", serialize(timestamp_md)),
        ),
    )


def verify(state: RepositoryState) -> None:
    """Raise (tuf UnsignedMetadataError) unless each role meets its threshold under root."""
    root = state.root
    root.verify_delegate("root", root)
    root.verify_delegate("targets", state.targets)
    root.verify_delegate("snapshot", state.snapshot)
    root.verify_delegate("timestamp", state.timestamp)


def _resign_chain(
    state: RepositoryState,
    *,
    start: RoleName,
    signers: Mapping[RoleName, Sequence[Signer]],
    now: datetime,
    expiry: ExpiryPolicy,
    targets_md: Metadata[Targets] | None = None,
) -> tuple[RepositoryState, list[Write]]:
    """New versions of ``start`` and every role below it (targets → snapshot → timestamp)."""
    writes: list[Write] = []
    new = state
    snapshot_md = state.snapshot
    if start == "targets":
        targets_md = _sign(
            _bump(targets_md or state.targets, "targets", now, expiry), signers["targets"]
        )
        data = serialize(targets_md)
        writes.append(Write(f"{METADATA_DIR}/{targets_md.signed.version}.targets.json", data))
        snapshot_md = _copy(snapshot_md)
        snapshot_md.signed.meta["targets.json"] = MetaFile.from_data(
            targets_md.signed.version, data, ["sha256"]
        )
        new = replace(new, targets=targets_md)
    timestamp_md = _copy(state.timestamp)
    if start in ("targets", "snapshot"):
        snapshot_md = _sign(_bump(snapshot_md, "snapshot", now, expiry), signers["snapshot"])
        data = serialize(snapshot_md)
        writes.append(Write(f"{METADATA_DIR}/{snapshot_md.signed.version}.snapshot.json", data))
        timestamp_md.signed.snapshot_meta = MetaFile.from_data(
            snapshot_md.signed.version, data, ["sha256"]
        )
        new = replace(new, snapshot=snapshot_md)
    timestamp_md = _sign(_bump(timestamp_md, "timestamp", now, expiry), signers["timestamp"])
    writes.append(Write(f"{METADATA_DIR}/timestamp.json", serialize(timestamp_md)))
    return replace(new, timestamp=timestamp_md), writes


def add_targets(
    state: RepositoryState,
    files: Mapping[str, bytes],
    *,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    now: datetime,
    expiry: ExpiryPolicy,
) -> Update:
    """Add (or replace) targets by name, then re-sign targets, snapshot and timestamp."""
    root = state.root.signed
    check_signer(root, "targets", targets)
    check_signer(root, "snapshot", snapshot)
    check_signer(root, "timestamp", timestamp)
    targets_md = _copy(state.targets)
    writes: list[Write] = []
    for name, data in sorted(files.items()):
        info = TargetFile.from_data(name, data, ["sha256"])
        targets_md.signed.targets[name] = info
        writes.append(Write(hashed_target_path(info), data))
    new, chain = _resign_chain(
        state,
        start="targets",
        targets_md=targets_md,
        signers={"targets": [targets], "snapshot": [snapshot], "timestamp": [timestamp]},
        now=now,
        expiry=expiry,
    )
    verify(new)
    return Update(new, (*writes, *chain))


def refresh(
    state: RepositoryState,
    *,
    start: RoleName,
    signers: Mapping[RoleName, Sequence[Signer]],
    now: datetime,
    expiry: ExpiryPolicy,
) -> Update:
    """New versions and expiries from ``start`` down, contents unchanged (renewal)."""
    for role in ROLES[ROLES.index(start) :]:
        for signer in signers[role]:
            check_signer(state.root.signed, role, signer)
    new, writes = _resign_chain(state, start=start, signers=signers, now=now, expiry=expiry)
    verify(new)
    return Update(new, tuple(writes))


def _root_writes(root_md: Metadata[Root]) -> list[Write]:
    data = serialize(root_md)
    return [
        Write(f"{METADATA_DIR}/{root_md.signed.version}.root.json", data, replace=False),
        Write(f"{METADATA_DIR}/root.json", data),
    ]


def rotate_root(
    state: RepositoryState,
    *,
    old_signers: Sequence[Signer],
    new_signers: Sequence[Signer],
    threshold: int | None,
    now: datetime,
    expiry: ExpiryPolicy,
) -> Update:
    """Root N+1 trusting ``new_signers``' keys, signed by a threshold of the old and the new.

    With the same keys on both sides this renews root (a new version and expiry).
    """
    old_root = state.root.signed
    _check_root_signers(old_root, old_signers, "current root keys")
    if not new_signers:
        raise ContentRepoError("at least one new root key is needed")
    threshold = old_root.roles["root"].threshold if threshold is None else threshold
    new_ids = set(_keyids(new_signers))
    if not 1 <= threshold <= len(new_ids):
        raise ContentRepoError(
            f"root threshold {threshold} must be between 1 and the number of new root keys "
            f"({len(new_ids)})"
        )
    others = {k for role in ROLES[1:] for k in old_root.roles[role].keyids}
    if new_ids & others:
        raise ContentRepoError("a new root key is already the key of another role")
    root_md = _bump(state.root, "root", now, expiry)
    for keyid in list(root_md.signed.roles["root"].keyids):
        root_md.signed.revoke_key(keyid, "root")
    for signer in new_signers:
        root_md.signed.add_key(signer.public_key, "root")
    root_md.signed.roles["root"].threshold = threshold
    _sign(root_md, [*old_signers, *new_signers])
    result = root_md.signed.get_root_verification_result(
        old_root, root_md.signed_bytes, root_md.signatures
    )
    if not result.verified:  # pragma: no cover - the checks above guarantee it
        raise WrongKeyError("the new root is not signed by a threshold of old and new keys")
    return Update(replace(state, root=root_md), tuple(_root_writes(root_md)))


def rotate_role(
    state: RepositoryState,
    role: RoleName,
    *,
    root_signers: Sequence[Signer],
    new_signer: Signer,
    old_signer: Signer | None,
    signers: Mapping[RoleName, Sequence[Signer]],
    now: datetime,
    expiry: ExpiryPolicy,
) -> Update:
    """Replace ``role``'s key (targets, snapshot or timestamp) in a new root version.

    ``role``'s metadata and the roles below it are re-signed; the role's own new version
    carries the new key's signature and, when ``old_signer`` is given, the old key's too.
    ``signers`` holds the current keys of the roles below ``role``.
    """
    if role == "root":
        raise ContentRepoError("rotate the root keys with rotate_root")
    old_root = state.root.signed
    _check_root_signers(old_root, root_signers, "root keys")
    if old_signer is not None:
        check_signer(old_root, role, old_signer)
    new_id = new_signer.public_key.keyid
    if any(new_id in old_root.roles[r].keyids for r in ROLES):
        raise ContentRepoError(
            f"the new {role} key ({_short(new_id)}) is already trusted by this repository; "
            "create a new key"
        )
    root_md = _bump(state.root, "root", now, expiry)
    for keyid in list(root_md.signed.roles[role].keyids):
        root_md.signed.revoke_key(keyid, role)
    root_md.signed.add_key(new_signer.public_key, role)
    _sign(root_md, root_signers)

    rotated = [new_signer] if old_signer is None else [old_signer, new_signer]
    chain_signers = {**signers, role: rotated}
    for below in ROLES[ROLES.index(role) + 1 :]:
        for signer in chain_signers[below]:
            check_signer(old_root, below, signer)
    after, writes = _resign_chain(state, start=role, signers=chain_signers, now=now, expiry=expiry)
    new = replace(after, root=root_md)
    verify(new)
    if old_signer is not None:
        verify(replace(after, root=state.root))  # clients that have not seen the new root yet
    return Update(new, (*writes, *_root_writes(root_md)))
