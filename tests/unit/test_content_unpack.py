"""Which bundle archive members a kiosk unpacks (table), and extracting real archives."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from device.content.unpack import (
    MemberInfo,
    MemberKind,
    UnpackError,
    UnpackLimits,
    archive_problems,
    extract,
    member_problem,
)

F, D = "file", "dir"


@pytest.mark.parametrize(
    ("name", "kind", "problem"),
    [
        ("manifest.toml", F, None),
        ("./manifest.toml", F, None),
        ("README.md", F, None),
        ("po/en.po", F, None),
        ("po/zh-Hans.po", F, None),
        ("po", D, None),
        ("po/", D, None),
        (".", D, None),
        ("./", D, None),
        ("assets", D, None),
        ("assets/img", D, None),
        ("assets/logo.png", F, None),
        ("assets/img/a/b/c.png", F, None),
        ("assets/a/b/c/d/e.png", F, "not part of a bundle"),
        ("/etc/passwd", F, "absolute path"),
        ("/manifest.toml", F, "absolute path"),
        ("../manifest.toml", F, "climbs out"),
        ("po/../../x.po", F, "climbs out"),
        ("assets/../../../home/x", F, "climbs out"),
        ("po//en.po", F, "empty or '.'"),
        ("po/./en.po", F, "empty or '.'"),
        ("assets/.hidden", F, "hidden"),
        ("assets/a b.png", F, "printable ASCII"),
        ("assets\\x.png", F, "printable ASCII"),
        ("assets/ü.png", F, "printable ASCII"),
        ("po/en.po\x00.sh", F, "printable ASCII"),
        ("", F, "empty name"),
        ("evil.py", F, "not part of a bundle"),
        ("po/en.mo", F, "not part of a bundle"),
        ("po/../en.po", F, "climbs out"),
        ("po/sub/en.po", F, "not part of a bundle"),
        ("fonts/x.ttf", F, "not part of a bundle"),
        ("manifest.toml", D, "no such folder"),
        ("scripts", D, "no such folder"),
        ("manifest.toml", "symlink", "symlinks are not allowed"),
        ("assets/x", "hardlink", "hardlinks are not allowed"),
        ("po/en.po", "device", "device members are not allowed"),
        ("po/en.po", "fifo", "fifo members are not allowed"),
        ("po/en.po", "other", "other members are not allowed"),
    ],
)
def test_member_rules(name: str, kind: MemberKind, problem: str | None) -> None:
    found = member_problem(MemberInfo(name, kind, 10))
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


GOOD = [MemberInfo("manifest.toml", "file", 100), MemberInfo("po/en.po", "file", 100)]


@pytest.mark.parametrize(
    ("members", "limits", "problem"),
    [
        (GOOD, UnpackLimits(), None),
        (GOOD, UnpackLimits(max_members=2, max_total_bytes=200), None),
        (GOOD, UnpackLimits(max_members=1), "more than 1 members"),
        (GOOD, UnpackLimits(max_total_bytes=199), "200 bytes of files, more than 199"),
        ([*GOOD, MemberInfo("po/en.po", "file", 1)], UnpackLimits(), "po/en.po: appears twice"),
        ([*GOOD, MemberInfo("./manifest.toml", "file", 1)], UnpackLimits(), "appears twice"),
        ([*GOOD, MemberInfo("po/", "dir"), MemberInfo("po", "dir")], UnpackLimits(), "twice"),
        ([MemberInfo("po/en.po", "file", 1)], UnpackLimits(), "no manifest.toml"),
        ([], UnpackLimits(), "no manifest.toml"),
    ],
)
def test_archive_rules(
    members: list[MemberInfo], limits: UnpackLimits, problem: str | None
) -> None:
    problems = archive_problems(members, limits)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_archive_rules_stop_reading_past_the_member_limit() -> None:
    def endless() -> Iterator[MemberInfo]:
        yield MemberInfo("manifest.toml", "file", 1)
        n = 0
        while True:
            n += 1
            yield MemberInfo(f"assets/{n}.png", "file", 1)

    problems = archive_problems(endless(), UnpackLimits(max_members=10))
    assert problems == ["more than 10 members"]


# -- real archives ---------------------------------------------------------------------------


def _tar(path: Path, entries: Sequence[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


BUNDLE = [("manifest.toml", b'version = "1"\n'), ("po/en.po", b"msgid ...\n")]


def test_extract_writes_the_checked_files(tmp_path: Path) -> None:
    po_dir = tarfile.TarInfo("po")
    po_dir.type = tarfile.DIRTYPE
    archive = _tar(tmp_path / "b.tar.gz", [po_dir, *BUNDLE, ("assets/logo.png", b"\x89PNG")])
    dest = tmp_path / "out"
    written = extract(archive, dest)
    assert written == ["manifest.toml", "po/en.po", "assets/logo.png"]
    assert (dest / "manifest.toml").read_bytes() == b'version = "1"\n'
    assert (dest / "assets" / "logo.png").read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in dest.iterdir()) == ["assets", "manifest.toml", "po"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (("../escaped.txt", b"x"), "climbs out"),
        (("/tmp/absolute.txt", b"x"), "absolute path"),
        (_special("assets/link", tarfile.SYMTYPE, "/etc/passwd"), "symlinks"),
        (_special("assets/hard", tarfile.LNKTYPE, "manifest.toml"), "hardlinks"),
        (_special("assets/dev", tarfile.CHRTYPE), "device"),
        (_special("assets/fifo", tarfile.FIFOTYPE), "fifo"),
        (("run.sh", b"#!/bin/sh\n"), "not part of a bundle"),
        (("manifest.toml", b"second"), "appears twice"),
    ],
)
def test_extract_refuses_before_writing_anything(
    tmp_path: Path, entry: tarfile.TarInfo | tuple[str, bytes], problem: str
) -> None:
    archive = _tar(tmp_path / "b.tar.gz", [*BUNDLE, entry])
    dest = tmp_path / "out"
    with pytest.raises(UnpackError) as caught:
        extract(archive, dest)
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "escaped.txt").exists()


def test_extract_refuses_too_many_members_and_bytes(tmp_path: Path) -> None:
    many = _tar(tmp_path / "many.tar.gz", [*BUNDLE, *((f"assets/{i}", b"") for i in range(20))])
    with pytest.raises(UnpackError, match="more than 10 members"):
        extract(many, tmp_path / "a", UnpackLimits(max_members=10))
    big = _tar(tmp_path / "big.tar.gz", [*BUNDLE, ("assets/big", b"\0" * 5000)])
    with pytest.raises(UnpackError, match="more than 4096"):
        extract(big, tmp_path / "b", UnpackLimits(max_total_bytes=4096))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"this is not an archive at all",
        lambda data: b"",
        lambda data: data[: len(data) // 2],  # cut off in the middle
        lambda data: data[:10] + bytes(b ^ 0xFF for b in data[10:40]) + data[40:],
    ],
    ids=["garbage", "empty", "truncated", "flipped"],
)
def test_corrupt_archive_is_a_clear_error(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    good = _tar(tmp_path / "good.tar.gz", [*BUNDLE, ("assets/x", bytes(range(256)) * 40)])
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(UnpackError, match=r"bad\.tar\.gz: not a readable \.tar\.gz archive"):
        extract(bad, tmp_path / "out")


def test_plain_tar_without_gzip_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("manifest.toml")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(UnpackError, match="not a readable"):
        extract(plain, tmp_path / "out")


def test_extract_wants_an_empty_folder(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "b.tar.gz", BUNDLE)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "left-over").write_text("x")
    with pytest.raises(ValueError, match="empty folder"):
        extract(archive, dest)


def test_extracted_files_are_not_executable(tmp_path: Path) -> None:
    info = tarfile.TarInfo("assets/tool")
    info.mode = 0o4777  # setuid, world-writable
    data = b"#!/bin/sh\n"
    info.size = len(data)
    archive = tmp_path / "b.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in BUNDLE:
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            tar.addfile(entry, io.BytesIO(content))
        tar.addfile(info, io.BytesIO(data))
    extract(archive, tmp_path / "out")
    mode = (tmp_path / "out" / "assets" / "tool").stat().st_mode
    assert not mode & 0o4000 and not mode & 0o002
