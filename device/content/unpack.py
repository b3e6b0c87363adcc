"""Unpacking a content bundle archive without trusting what is inside it.

TUF proves the archive is the one the fleet signed, not that its members are harmless: a signing
key can be misused, and the build tool can have a bug. So every member is judged before anything
is written, by pure rules (:func:`member_problem`, :func:`archive_problems`, table-tested):

- a bundle holds only ``manifest.toml``, ``README.md``, ``po/{lang}.po`` and files under
  ``assets/``; directory entries for ``po`` and ``assets/...`` are allowed and skipped;
- names are relative, plain printable ASCII, with no ``..``, ``.``, empty or hidden parts;
- only regular files and directories: no symlinks, hard links, devices or fifos;
- no name twice, at most ``max_members`` members and ``max_total_bytes`` of file data.

:func:`extract` then writes only the checked regular files, through tarfile's ``data`` filter as
a second line of defence. A corrupt archive raises :class:`UnpackError` with a clear message.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MemberKind = Literal["file", "dir", "symlink", "hardlink", "device", "fifo", "other"]

MANIFEST = "manifest.toml"
TOP_LEVEL_FILES = frozenset({MANIFEST, "README.md"})
ASSET_DIR = "assets"
MAX_ASSET_DEPTH = 4  # assets/a/b/c/file
_PO = re.compile(r"^po/[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\.po$")
_PART = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")  # no hidden files, no '..'


class UnpackError(ValueError):
    """An archive that must not be unpacked; ``problems`` names each bad member."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class UnpackLimits:
    max_members: int = 512
    max_total_bytes: int = 64 * 1024 * 1024


DEFAULT_LIMITS = UnpackLimits()


@dataclass(frozen=True)
class MemberInfo:
    """What the rules need to know about one archive member (no tarfile in the rules)."""

    name: str
    kind: MemberKind
    size: int = 0


def normalise(name: str) -> str:
    """The member name as checked: one leading ``./`` and a directory's trailing ``/`` dropped."""
    if name in ("./", "."):
        return "."
    name = name.removeprefix("./")
    return name[:-1] if name.endswith("/") and len(name) > 1 else name


def _name_problem(name: str) -> str | None:
    if not name:
        return "empty name"
    if any(not 0x20 < ord(c) < 0x7F for c in name) or "\\" in name:
        return "name is not plain printable ASCII"
    if name.startswith("/"):
        return "absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "'..' climbs out of the bundle"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' path part"
    if any(_PART.fullmatch(part) is None for part in parts):
        return "path part is hidden or has characters other than A-Z a-z 0-9 . _ -"
    return None


def _allowed_file(name: str) -> bool:
    if name in TOP_LEVEL_FILES or _PO.fullmatch(name):
        return True
    parts = name.split("/")
    return parts[0] == ASSET_DIR and 2 <= len(parts) <= MAX_ASSET_DEPTH + 1


def _allowed_dir(name: str) -> bool:
    parts = name.split("/")
    return name == "po" or (parts[0] == ASSET_DIR and len(parts) <= MAX_ASSET_DEPTH)


def member_problem(member: MemberInfo) -> str | None:
    """Why this one member may not be unpacked, or None (the archive-wide rules are apart)."""
    if member.kind in ("symlink", "hardlink"):
        return f"{member.name}: {member.kind}s are not allowed"
    if member.kind in ("device", "fifo", "other"):
        return f"{member.name}: {member.kind} members are not allowed (regular files only)"
    name = normalise(member.name)
    if name == "." and member.kind == "dir":
        return None
    problem = _name_problem(name)
    if problem is not None:
        return f"{member.name!r}: {problem}"
    if member.kind == "dir":
        if not _allowed_dir(name):
            return f"{name}/: a bundle has no such folder (only po/ and {ASSET_DIR}/)"
        return None
    if not _allowed_file(name):
        return (
            f"{name}: not part of a bundle (manifest.toml, README.md, po/{{lang}}.po, "
            f"{ASSET_DIR}/...)"
        )
    if member.size < 0:
        return f"{name}: negative size"
    return None


def archive_problems(
    members: Iterable[MemberInfo], limits: UnpackLimits = DEFAULT_LIMITS
) -> list[str]:
    """Every reason not to unpack an archive with these members; empty means go ahead.

    ``members`` may be longer than the limit: only ``max_members + 1`` of them are looked at.
    """
    problems: list[str] = []
    seen: set[str] = set()
    total = 0
    count = 0
    for member in members:
        count += 1
        if count > limits.max_members:
            problems.append(f"more than {limits.max_members} members")
            break
        problem = member_problem(member)
        if problem is not None:
            problems.append(problem)
        name = normalise(member.name)
        if name in seen:
            problems.append(f"{name}: appears twice")
        seen.add(name)
        if member.kind == "file":
            total += max(member.size, 0)
    if total > limits.max_total_bytes:
        problems.append(f"{total} bytes of files, more than {limits.max_total_bytes}")
    if count <= limits.max_members and MANIFEST not in seen:
        problems.append(f"no {MANIFEST}")
    return problems


def _kind(info: tarfile.TarInfo) -> MemberKind:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "fifo"
    return "other"


def _members(tar: tarfile.TarFile, limit: int) -> Iterator[tuple[tarfile.TarInfo, MemberInfo]]:
    for count, info in enumerate(tar, start=1):
        yield info, MemberInfo(info.name, _kind(info), info.size)
        if count > limit:  # enough to know the archive is too big; read no further
            return


_CORRUPT = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def extract(archive: Path, dest: Path, limits: UnpackLimits = DEFAULT_LIMITS) -> list[str]:
    """Unpack the bundle ``archive`` (``.tar.gz``) into the empty or new folder ``dest``.

    Returns the names of the files written. Raises :class:`UnpackError` if any member breaks
    a rule (nothing is written then) or the archive is corrupt (``dest`` may hold part of it;
    the caller discards its staging folder).
    """
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest}: unpack into an empty folder")
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            listed = list(_members(tar, limits.max_members))
            problems = archive_problems((m for _, m in listed), limits)
            if problems:
                raise UnpackError(problems)
            written = []
            for info, member in listed:
                if member.kind != "file":
                    continue  # folders are made for the files in them
                tar.extract(info, path=dest, filter="data")
                written.append(normalise(member.name))
            return written
    except UnpackError:
        raise
    except tarfile.FilterError as exc:
        raise UnpackError([f"{archive.name}: refused by tarfile's data filter ({exc})"]) from None
    except _CORRUPT as exc:
        raise UnpackError([f"{archive.name}: not a readable .tar.gz archive ({exc})"]) from None
