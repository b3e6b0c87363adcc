"""Content versions on the kiosk's disk, switched so that a power cut never leaves none.

    STATE/content/versions/{version}/   one unpacked, checked bundle per version
    STATE/content/current               symlink -> versions/{version}: what the UI shows
    STATE/content/last_good             text file: the last version the UI confirmed healthy
    STATE/content/pending_health        text file: "{version} {starts}" while a health check runs
    STATE/content/refused               text file: versions rolled back as unhealthy, one a line
    STATE/content/staging/{version}/    a bundle being unpacked and checked (discarded at start)
    STATE/content/trash/                versions on their way out (emptied at start)

Why it is crash-safe: ``current`` only ever names a folder that is complete and synced to disk.
A new version is unpacked under ``staging/``, synced, then renamed into ``versions/`` (one
rename); ``current`` is switched by writing a new symlink beside it and renaming it over the old
one (``os.replace`` is atomic). Small files are written the same way. Nothing that ``current``
or ``last_good`` names is ever pruned. :meth:`ContentStore.recover`, run at start, empties
``staging/`` and ``trash/`` and points a missing ``current`` at ``last_good``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from protocol.content_delivery import bundle_target

CONTENT_DIR = "content"
VERSIONS_DIR = "versions"
CURRENT_LINK = "current"
LAST_GOOD_FILE = "last_good"
PENDING_FILE = "pending_health"
REFUSED_FILE = "refused"
STAGING_DIR = "staging"
TRASH_DIR = "trash"
MAX_REFUSED = 50


class StoreError(Exception):
    """A store operation that cannot be done (unknown version, nothing to roll back to …)."""


def check_version(version: str) -> str:
    """``version`` if it is a content version (it names folders, so nothing else is accepted)."""
    try:
        bundle_target(version)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    return version


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk (before it becomes visible)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class ContentStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / CONTENT_DIR
        self._versions = self.root / VERSIONS_DIR
        self._current = self.root / CURRENT_LINK
        for folder in (self._versions, self.root / STAGING_DIR, self.root / TRASH_DIR):
            folder.mkdir(parents=True, exist_ok=True)

    # -- reading -----------------------------------------------------------------------------

    def version_dir(self, version: str) -> Path:
        return self._versions / check_version(version)

    def installed(self) -> list[str]:
        """Versions with a folder under ``versions/``."""
        return sorted(p.name for p in self._versions.iterdir() if p.is_dir())

    def current_version(self) -> str | None:
        """The version ``current`` names, if it names an installed one."""
        try:
            target = os.readlink(self._current)
        except OSError:
            return None
        folder, _, version = target.partition("/")
        try:
            check_version(version)
        except StoreError:
            return None
        if folder != VERSIONS_DIR or not (self._versions / version).is_dir():
            return None
        return version

    def current_dir(self) -> Path | None:
        """The folder of the current version (its real path, stable across later switches)."""
        version = self.current_version()
        return None if version is None else self._versions / version

    def last_good(self) -> str | None:
        version = self._read_line(LAST_GOOD_FILE)
        if version is None:
            return None
        try:
            return check_version(version)
        except StoreError:
            return None

    def pending_health(self) -> tuple[str, int] | None:
        """(version, process starts since the switch) while a health check runs, else None."""
        line = self._read_line(PENDING_FILE)
        if line is None:
            return None
        version, _, starts = line.partition(" ")
        try:
            return check_version(version), int(starts)
        except (StoreError, ValueError):
            return None

    def refused(self) -> list[str]:
        try:
            lines = (self.root / REFUSED_FILE).read_text(encoding="ascii").split()
        except (OSError, UnicodeDecodeError):
            return []
        return lines[-MAX_REFUSED:]

    def _read_line(self, name: str) -> str | None:
        try:
            text = (self.root / name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text or None

    # -- changing ----------------------------------------------------------------------------

    def stage(self, version: str) -> Path:
        """A new, empty folder to unpack ``version`` into (anything left there is discarded)."""
        staged = self.root / STAGING_DIR / check_version(version)
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True)
        return staged

    def discard_stage(self, version: str) -> None:
        shutil.rmtree(self.root / STAGING_DIR / check_version(version), ignore_errors=True)

    def switch(self, version: str) -> None:
        """Make ``version`` current: the staged folder if there is one, else the installed one.

        Raises :class:`StoreError` if ``version`` is neither staged nor installed, or if it is
        staged while current (a current folder is never replaced under the UI's feet).
        """
        staged = self.root / STAGING_DIR / check_version(version)
        target = self._versions / version
        if staged.is_dir():
            if target.exists():
                if version == self.current_version():
                    raise StoreError(f"{version} is current; it is not replaced while shown")
                self._to_trash(target)
            _fsync_tree(staged)
            os.replace(staged, target)
            _fsync_dir(self._versions)
            _fsync_dir(staged.parent)
        elif not target.is_dir():
            raise StoreError(f"content {version} is neither staged nor installed")
        os.utime(target)  # newest switch first, for pruning
        self._point_current(version)

    def _point_current(self, version: str) -> None:
        link = self.root / f".{CURRENT_LINK}.{uuid.uuid4().hex}"
        os.symlink(f"{VERSIONS_DIR}/{version}", link)
        try:
            os.replace(link, self._current)
        except BaseException:
            link.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)

    def mark_good(self, version: str) -> None:
        if not self.version_dir(version).is_dir():
            raise StoreError(f"content {version} is not installed")
        _write_atomically(self.root / LAST_GOOD_FILE, f"{version}\n")

    def rollback(self) -> str:
        """Make the last good version current again and return it."""
        version = self.last_good()
        if version is None or not (self._versions / version).is_dir():
            raise StoreError("no last good content to roll back to")
        self._point_current(version)
        return version

    def set_pending_health(self, version: str, starts: int) -> None:
        _write_atomically(self.root / PENDING_FILE, f"{check_version(version)} {starts}\n")

    def clear_pending_health(self) -> None:
        (self.root / PENDING_FILE).unlink(missing_ok=True)

    def refuse(self, version: str) -> None:
        """Remember ``version`` as unhealthy: it is not installed again by a nudge."""
        versions = [v for v in self.refused() if v != check_version(version)] + [version]
        _write_atomically(self.root / REFUSED_FILE, "\n".join(versions[-MAX_REFUSED:]) + "\n")

    def prune(self, keep_extra: int = 1) -> list[str]:
        """Remove installed versions but current, last good and the ``keep_extra`` most recently
        switched to; return the removed ones."""
        keep = {self.current_version(), self.last_good()}
        others = [p for p in self._versions.iterdir() if p.is_dir() and p.name not in keep]
        others.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        removed = others[keep_extra:]
        for folder in removed:
            self._to_trash(folder)
        self._empty_trash()
        return sorted(p.name for p in removed)

    def _to_trash(self, folder: Path) -> None:
        os.replace(folder, self.root / TRASH_DIR / f"{folder.name}.{uuid.uuid4().hex}")

    def _empty_trash(self) -> None:
        for entry in (self.root / TRASH_DIR).iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    def recover(self) -> None:
        """At start: finish what a power cut interrupted (see the module docstring)."""
        for entry in (self.root / STAGING_DIR).iterdir():
            shutil.rmtree(entry, ignore_errors=True)
        self._empty_trash()
        for entry in self.root.glob(f".{CURRENT_LINK}.*"):
            entry.unlink(missing_ok=True)
        for entry in self.root.glob(".*.*"):  # temporary files of _write_atomically
            if entry.is_file():
                entry.unlink(missing_ok=True)
        if self.current_version() is None:
            good = self.last_good()
            if good is not None and (self._versions / good).is_dir():
                self._point_current(good)
