"""``beacon content build``: a checked bundle folder packed as one reproducible archive.

    built = build_bundle(Path("content/sample"), Path("dist"))   # BundleError(.problems) if bad
    built.path, built.version, built.sha256, built.size
    version = read_bundle_archive(data).version                   # BundleError if not a bundle
    unpack_bundle(archive_path, Path("/var/lib/beacon/content/x")) # safe; returns the loaded bundle

The archive is the TUF target ``bundles/beacon-content-{version}.tar.gz``. Its bytes depend only
on the bundle's files, so two people building the same folder get the same sha256 and can
check each other's work before the targets key signs it: members sorted, no top-level folder,
mtime 0, uid/gid 0 with empty owner names, modes 0644 (files) and 0755 (``po``), plain ustar
headers (no pax records carrying times) and a gzip header without name or time. (The gzip
stream also depends on the zlib build; compare builds made with the same Python image.)

Only what :func:`content.bundle.load_bundle` reads goes in: ``manifest.toml`` and the catalog of
each language the manifest lists. Everything else in the folder (README, editor files, a
catalog for a language that is not listed, so never checked) stays out. Reading an archive
back is just as strict: exactly those members, regular files only, sizes bounded.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import tarfile
import tempfile
import tomllib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from content.bundle import BundleError, ContentBundle, load_bundle
from content.check import DEFAULT_ALLOWED_ORIGINS, check_bundle
from protocol.content_delivery import bundle_target

MANIFEST = "manifest.toml"
CATALOG_DIR = "po"
ARCHIVE_PREFIX = "beacon-content-"
ARCHIVE_SUFFIX = ".tar.gz"
# A bundle is text: a few hundred kilobytes at most. The limits stop a hostile archive (a
# gzip bomb, thousands of members) before it costs memory.
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 4 * 1024 * 1024
MAX_ARCHIVE_BYTES = 16 * 1024 * 1024
_CATALOG_NAME = re.compile(r"^po/([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\.po$")


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    version: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BundleArchive:
    """An archive's verified content: its version and its files by member name."""

    version: str
    files: Mapping[str, bytes]


def archive_name(version: str) -> str:
    """``beacon-content-{version}.tar.gz``; ValueError unless ``version`` can be published."""
    return bundle_target(version).rpartition("/")[2]


def _file_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _dir_info(name: str) -> tarfile.TarInfo:
    info = _file_info(name, 0)
    info.mode = 0o755
    info.type = tarfile.DIRTYPE
    return info


def archive_bytes(files: Mapping[str, bytes]) -> bytes:
    """The reproducible ``.tar.gz`` holding ``files`` (member name → content)."""
    names = sorted(files)
    dirs = sorted({name.rpartition("/")[0] for name in names if "/" in name})
    raw = io.BytesIO()
    # ustar: no pax extended headers (which would carry atime/ctime); every name here is short.
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in dirs:
            tar.addfile(_dir_info(name))
        for name in names:
            data = files[name]
            tar.addfile(_file_info(name, len(data)), io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def bundle_files(bundle: ContentBundle) -> dict[str, bytes]:
    """The files of a loaded bundle that go into its archive, by member name."""
    files = {MANIFEST: (bundle.root / MANIFEST).read_bytes()}
    for lang in bundle.languages:
        files[f"{CATALOG_DIR}/{lang}.po"] = bundle.catalog_path(lang).read_bytes()
    return files


def build_bundle(
    source_dir: Path,
    out_dir: Path,
    *,
    allowed_origins: Sequence[str] = DEFAULT_ALLOWED_ORIGINS,
) -> BuiltBundle:
    """Check the bundle folder (as ``beacon content check``), then write its archive.

    Raises :class:`~content.bundle.BundleError` with every problem the check finds, or one
    problem if the version cannot name a TUF target. Writing is atomic: an existing archive of
    the same version is replaced whole or not at all.
    """
    problems = check_bundle(source_dir, allowed_origins=allowed_origins)
    if problems:
        raise BundleError(problems)
    bundle = load_bundle(source_dir)
    try:
        name = archive_name(bundle.version)
    except ValueError:
        raise BundleError(
            [
                f"{source_dir / MANIFEST}: version: {bundle.version!r} cannot be published; "
                "content versions look like 2026.11.1 (year, month, number)"
            ]
        ) from None
    data = archive_bytes(bundle_files(bundle))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir.resolve() / name
    _write_atomically(path, data)
    return BuiltBundle(
        path=path, version=bundle.version, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )


def _write_atomically(path: Path, data: bytes) -> None:
    from provisioning.ca import write_file_atomically

    write_file_atomically(path, data, 0o644)


def _members(data: bytes) -> dict[str, bytes]:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise BundleError([f"archive is larger than {MAX_ARCHIVE_BYTES} bytes"])
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise BundleError([f"archive has more than {MAX_MEMBERS} members"])
                name = member.name
                if member.isdir() and name == CATALOG_DIR:
                    continue
                if not member.isfile():
                    raise BundleError([f"archive member {name!r}: not a regular file"])
                if name != MANIFEST and _CATALOG_NAME.match(name) is None:
                    raise BundleError(
                        [f"archive member {name!r}: a bundle holds only {MANIFEST} and po/*.po"]
                    )
                if name in files:
                    raise BundleError([f"archive member {name!r}: appears twice"])
                total += member.size
                if member.size > MAX_MEMBER_BYTES or total > MAX_ARCHIVE_BYTES:
                    raise BundleError([f"archive member {name!r}: too large"])
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    raise BundleError([f"archive member {name!r}: cannot be read"])
                files[name] = handle.read(member.size + 1)
                if len(files[name]) != member.size:
                    raise BundleError([f"archive member {name!r}: truncated"])
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, zlib.error) as exc:
        raise BundleError([f"not a bundle archive (.tar.gz): {exc}"]) from None
    return files


def read_bundle_archive(data: bytes) -> BundleArchive:
    """Verify ``data`` is a loadable bundle archive; return its version and files.

    Raises :class:`~content.bundle.BundleError`: not a gzip tar, unexpected or unsafe members,
    a catalog missing or extra, or anything :func:`~content.bundle.load_bundle` refuses.
    """
    files = _members(data)
    if MANIFEST not in files:
        raise BundleError([f"archive has no {MANIFEST}"])
    try:
        languages = tomllib.loads(files[MANIFEST].decode("utf-8")).get("languages")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BundleError([f"archive {MANIFEST}: not valid TOML: {exc}"]) from None
    listed = {f"{CATALOG_DIR}/{lang}.po" for lang in languages or () if isinstance(lang, str)}
    extra = sorted(set(files) - listed - {MANIFEST})
    if extra:
        raise BundleError([f"archive member {extra[0]!r}: not one of the bundle's languages"])
    with tempfile.TemporaryDirectory(prefix="beacon-bundle-") as tmp:
        bundle = _load_files(Path(tmp), files)
    return BundleArchive(version=bundle.version, files=files)


def _load_files(root: Path, files: Mapping[str, bytes]) -> ContentBundle:
    (root / CATALOG_DIR).mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (root / name).write_bytes(content)
    try:
        return load_bundle(root)
    except BundleError as exc:
        # The temporary folder means nothing to the reader; name the member instead.
        prefix = f"{root}/"
        raise BundleError([p.replace(prefix, "archive member ") for p in exc.problems]) from None


def unpack_bundle(archive: Path, dest: Path) -> ContentBundle:
    """Verify the archive at ``archive`` and unpack it into the new folder ``dest``.

    ``dest`` must not exist yet (FileExistsError); on any problem it is left absent.
    """
    parsed = read_bundle_archive(archive.read_bytes())
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _load_files(staging, parsed.files)
        if dest.exists():
            raise FileExistsError(f"{dest} already exists")
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_bundle(dest)
