"""content.build: the checked, reproducible bundle archive, and reading one back strictly."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from content.build import (
    archive_bytes,
    build_bundle,
    read_bundle_archive,
    unpack_bundle,
)
from content.bundle import BundleError, load_bundle

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
VERSION = "2026.11.1"
LANGS = ("en", "es", "zh-Hans", "vi", "tl", "ko", "ar", "ru", "ht", "fr", "pt")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(SAMPLE, root)
    return root


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


def tar_gz(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def file_entry(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def sample_files() -> dict[str, bytes]:
    files = {"manifest.toml": (SAMPLE / "manifest.toml").read_bytes()}
    for lang in LANGS:
        files[f"po/{lang}.po"] = (SAMPLE / "po" / f"{lang}.po").read_bytes()
    return files


def test_build_writes_versioned_archive_with_its_hash(tmp_path: Path) -> None:
    built = build_bundle(SAMPLE, tmp_path / "dist")
    assert built.path == (tmp_path / "dist" / f"beacon-content-{VERSION}.tar.gz").resolve()
    data = built.path.read_bytes()
    assert built.version == VERSION
    assert built.sha256 == hashlib.sha256(data).hexdigest()
    assert built.size == len(data)


def test_same_input_gives_byte_identical_archives(copy: Path, tmp_path: Path) -> None:
    first = build_bundle(SAMPLE, tmp_path / "a")
    # Another checkout: other file times, other permissions, another folder name.
    for path in [copy / "manifest.toml", *sorted((copy / "po").iterdir())]:
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o600)
    second = build_bundle(copy, tmp_path / "b")
    assert second.path.read_bytes() == first.path.read_bytes()
    assert second.sha256 == first.sha256


def test_archive_layout_is_flat_sorted_and_anonymous(tmp_path: Path) -> None:
    data = build_bundle(SAMPLE, tmp_path).path.read_bytes()
    infos = members(data)
    files = [i.name for i in infos if i.isfile()]
    assert files == sorted(["manifest.toml", *(f"po/{lang}.po" for lang in LANGS)])
    assert [i.name for i in infos if i.isdir()] == ["po"]
    assert "README.md" not in files  # the folder's README is not part of the bundle
    for info in infos:
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        assert info.mode == (0o755 if info.isdir() else 0o644)
        assert info.pax_headers == {}
    # gzip header: no file name, mtime 0 (bytes 4-7), so the wrapper is reproducible too.
    assert data[:4] == b"\x1f\x8b\x08\x00"
    assert data[4:8] == b"\x00\x00\x00\x00"


def test_archive_bytes_depend_only_on_content() -> None:
    files = sample_files()
    reordered = dict(reversed(list(files.items())))
    assert archive_bytes(files) == archive_bytes(reordered)
    changed = {**files, "manifest.toml": files["manifest.toml"] + b"\n"}
    assert archive_bytes(changed) != archive_bytes(files)


def test_catalog_of_unlisted_language_is_left_out(copy: Path, tmp_path: Path) -> None:
    (copy / "po" / "de.po").write_bytes((copy / "po" / "en.po").read_bytes())
    (copy / "notes.txt").write_text("draft", encoding="utf-8")
    built = build_bundle(copy, tmp_path)
    assert built.sha256 == build_bundle(SAMPLE, tmp_path / "clean").sha256


def test_bundle_failing_the_check_is_refused_with_its_problems(copy: Path, tmp_path: Path) -> None:
    manifest = copy / "manifest.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("hold_seconds = 2.0", "hold_seconds = 0.2"),
        encoding="utf-8",
    )
    with pytest.raises(BundleError) as caught:
        build_bundle(copy, tmp_path / "dist")
    assert caught.value.problems == [f"{manifest}: help_control.hold_seconds: must be >= 1.0"]
    assert not (tmp_path / "dist").exists()


def test_version_that_cannot_name_a_target_is_refused(copy: Path, tmp_path: Path) -> None:
    manifest = copy / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace(f'version = "{VERSION}"', 'version = "dev-1"'), "utf-8")
    with pytest.raises(BundleError) as caught:
        build_bundle(copy, tmp_path)
    assert caught.value.problems == [
        f"{manifest}: version: 'dev-1' cannot be published; content versions look like "
        "2026.11.1 (year, month, number)"
    ]


def test_read_back_gives_version_and_files(tmp_path: Path) -> None:
    data = build_bundle(SAMPLE, tmp_path).path.read_bytes()
    archive = read_bundle_archive(data)
    assert archive.version == VERSION
    assert dict(archive.files) == sample_files()


def refusal(data: bytes) -> str:
    with pytest.raises(BundleError) as caught:
        read_bundle_archive(data)
    assert len(caught.value.problems) >= 1
    return caught.value.problems[0]


def test_not_an_archive_is_refused() -> None:
    assert refusal(b"hello").startswith("not a bundle archive (.tar.gz): ")
    truncated = archive_bytes(sample_files())[:200]
    assert refusal(truncated).startswith("not a bundle archive (.tar.gz): ")


def test_unsafe_members_are_refused() -> None:
    files = sample_files()
    link = tarfile.TarInfo("po/en.po")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    assert refusal(tar_gz([file_entry("manifest.toml", files["manifest.toml"]), (link, None)])) == (
        "archive member 'po/en.po': not a regular file"
    )
    escape = tar_gz([file_entry("../manifest.toml", files["manifest.toml"])])
    assert refusal(escape) == (
        "archive member '../manifest.toml': a bundle holds only manifest.toml and po/*.po"
    )
    nested = tar_gz([file_entry("bundle/manifest.toml", files["manifest.toml"])])
    assert "a bundle holds only" in refusal(nested)
    twice = tar_gz([file_entry("manifest.toml", b"a"), file_entry("manifest.toml", b"b")])
    assert refusal(twice) == "archive member 'manifest.toml': appears twice"


def test_missing_or_extra_catalogs_are_refused() -> None:
    files = sample_files()
    extra = archive_bytes({**files, "po/de.po": files["po/en.po"]})
    assert refusal(extra) == "archive member 'po/de.po': not one of the bundle's languages"
    missing = {k: v for k, v in files.items() if k != "po/ko.po"}
    assert refusal(archive_bytes(missing)) == (
        "archive member po/ko.po: file not found (every language in languages needs its catalog)"
    )
    no_manifest = {k: v for k, v in files.items() if k != "manifest.toml"}
    assert refusal(archive_bytes(no_manifest)) == "archive has no manifest.toml"


def test_invalid_content_inside_is_refused() -> None:
    files = sample_files()
    loud = files["po/en.po"].replace(
        b'msgstr "Do you feel safe? Confidential help, any language, 24/7. Scan or call."',
        b'msgstr "Human trafficking? Scan or call."',
    )
    problem = refusal(archive_bytes({**files, "po/en.po": loud}))
    assert problem.startswith('archive member po/en.po: msgid "slide.help-safe.message"')
    assert '"trafficking"' in problem


def test_gzip_bomb_is_refused_by_size() -> None:
    huge = tarfile.TarInfo("manifest.toml")
    huge.size = 5 * 1024 * 1024
    data = tar_gz([(huge, b"\0" * huge.size)])
    assert len(data) < 64 * 1024
    assert refusal(data) == "archive member 'manifest.toml': too large"
    assert gzip.decompress(data)  # it is a valid archive, just too big for a bundle


def test_unpack_makes_a_loadable_bundle(tmp_path: Path) -> None:
    built = build_bundle(SAMPLE, tmp_path / "dist")
    bundle = unpack_bundle(built.path, tmp_path / "installed" / VERSION)
    assert bundle.version == VERSION
    assert load_bundle(tmp_path / "installed" / VERSION).slides == load_bundle(SAMPLE).slides
    with pytest.raises(FileExistsError):
        unpack_bundle(built.path, tmp_path / "installed" / VERSION)
    assert sorted(p.name for p in (tmp_path / "installed").iterdir()) == [VERSION]


def test_unpack_of_bad_archive_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(BundleError):
        unpack_bundle(bad, tmp_path / "installed" / "x")
    assert not (tmp_path / "installed").exists()
