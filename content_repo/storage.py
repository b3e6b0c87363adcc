"""The repository on disk: read the current state, write an update in order, one writer at a time.

    {directory}/metadata/1.root.json ... N.root.json, root.json (copy of the newest root)
    {directory}/metadata/N.targets.json, N.snapshot.json, timestamp.json
    {directory}/targets/bundles/{sha256}.beacon-content-{version}.tar.gz
    {directory}/targets/channels/{sha256}.{channel}.json
    {directory}/.lock                       held while a command or the fleet manager writes

The current state is found the way a client finds it: ``timestamp.json`` names the snapshot
version, the snapshot names the targets version; root is the highest ``N.root.json``. So there
is no second record to disagree with what clients see. Old versions stay on disk: a client in
the middle of an update still finds the files its timestamp named.

Each file is written to a temporary name, fsynced and renamed; the directories are fsynced
after the batch. Writers (``beacon content publish`` and the fleet manager's refresher) take
an exclusive ``flock`` on ``.lock``, so they never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from tuf.api.exceptions import UnsignedMetadataError

from content_repo.errors import NotARepositoryError
from content_repo.state import METADATA_DIR, TARGETS_DIR, RepositoryState, Write, verify
from content_repo.tuf_types import Metadata, Root, Snapshot, Targets, Timestamp
from provisioning.ca import write_file_atomically

LOCK_FILE = ".lock"
_ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json$")


def metadata_dir(directory: Path) -> Path:
    return directory / METADATA_DIR


def targets_dir(directory: Path) -> Path:
    return directory / TARGETS_DIR


def newest_root_path(directory: Path) -> Path:
    """The highest-numbered ``N.root.json``; NotARepositoryError if there is none."""
    meta = metadata_dir(directory)
    try:
        versions = [int(m.group(1)) for name in os.listdir(meta) if (m := _ROOT_FILE.match(name))]
    except FileNotFoundError:
        versions = []
    if not versions:
        raise NotARepositoryError(
            f"{directory} is not a content repository (no {METADATA_DIR}/1.root.json); "
            "create one with `beacon content repo init`"
        )
    return meta / f"{max(versions)}.root.json"


def read_state(directory: Path) -> RepositoryState:
    """The metadata clients currently trust, each verified under the newest root."""
    meta = metadata_dir(directory)
    root_path = newest_root_path(directory)
    try:
        root = Metadata[Root].from_file(str(root_path))
        timestamp = Metadata[Timestamp].from_file(str(meta / "timestamp.json"))
        snapshot_path = meta / f"{timestamp.signed.snapshot_meta.version}.snapshot.json"
        snapshot = Metadata[Snapshot].from_file(str(snapshot_path))
        targets_meta = snapshot.signed.meta["targets.json"]
        targets = Metadata[Targets].from_file(str(meta / f"{targets_meta.version}.targets.json"))
    except FileNotFoundError as exc:
        raise NotARepositoryError(
            f"{directory}: {Path(exc.filename or '').name or 'a metadata file'} is missing; "
            "the repository is incomplete"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotARepositoryError(f"{directory}: metadata cannot be read: {exc}") from None
    for name, md in (("root", root), ("timestamp", timestamp), ("snapshot", snapshot)):
        if md.signed.type != name:
            raise NotARepositoryError(f"{directory}: {name} metadata has type {md.signed.type}")
    if not isinstance(targets.signed, Targets):
        raise NotARepositoryError(f"{directory}: targets metadata has the wrong type")
    state = RepositoryState(root=root, targets=targets, snapshot=snapshot, timestamp=timestamp)
    try:
        verify(state)
    except UnsignedMetadataError as exc:
        raise NotARepositoryError(
            f"{directory}: metadata does not verify under root v{root.signed.version}: {exc}"
        ) from None
    return state


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def apply(directory: Path, writes: Sequence[Write]) -> None:
    """Write ``writes`` in order, each atomically; make every rename durable before returning.

    A file that must be new (``replace=False``) raises FileExistsError if it exists; writes
    before it have happened, writes after it have not (the order keeps that consistent).
    """
    touched: list[Path] = []
    for write in writes:
        path = directory / write.path
        if path.parent not in touched:
            path.parent.mkdir(parents=True, exist_ok=True)
            touched.append(path.parent)
        write_file_atomically(path, write.data, 0o644, replace=write.replace)
        # Make the new name durable before a later file (timestamp.json) can refer to it.
        _sync_directory(path.parent)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the repository's writer lock (blocking until it is free).

    NotARepositoryError if ``directory`` does not exist: a mistyped path creates nothing.
    """
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except (FileNotFoundError, NotADirectoryError):
        raise NotARepositoryError(
            f"{directory} is not a content repository (no such directory)"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
