"""content_repo without a client: expiry rules (a table), role key files, the layout on disk,
and every refusal that must leave the repository exactly as it was."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypedDict

import pytest

from content.build import archive_bytes, build_bundle, read_bundle_archive
from content_repo import (
    ContentRepoError,
    NotARepositoryError,
    RepositoryExistsError,
    UnknownVersionError,
    VersionConflictError,
    WrongKeyError,
    create_key,
    create_role_key,
    init_repository,
    key_path,
    load_signer,
    move_channel,
    publish_bundle,
    refresh_online,
    refresh_timestamp,
    repository_status,
    rotate_key,
    trusted_root,
)
from content_repo.expiry import ExpiryPolicy, is_due, utc
from content_repo.tuf_types import CryptoSigner, Metadata, Signer, Targets

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


# -- expiry (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires", "now", "min_remaining", "due"),
    [
        (T0 + D, T0, 12 * H, False),  # just signed
        (T0 + D, T0 + 11 * H, 12 * H, False),  # 13 h left
        (T0 + D, T0 + 12 * H, 12 * H, False),  # exactly 12 h left: not yet
        (T0 + D, T0 + 12 * H + timedelta(seconds=1), 12 * H, True),
        (T0 + D, T0 + 2 * D, 12 * H, True),  # already expired
        (T0 + D, T0 + 23 * H, timedelta(0), False),  # 0 means "only once expired"
        (T0 + D, T0 + D + timedelta(seconds=1), timedelta(0), True),
    ],
)
def test_is_due(expires: datetime, now: datetime, min_remaining: timedelta, due: bool) -> None:
    assert is_due(expires, now, min_remaining) is due


def test_default_lifetimes_and_expiry() -> None:
    policy = ExpiryPolicy()
    assert [policy.lifetime(r) for r in ("root", "targets", "snapshot", "timestamp")] == [
        timedelta(days=365),
        timedelta(days=90),
        timedelta(days=7),
        timedelta(days=1),
    ]
    later = T0.replace(microsecond=123456)
    assert policy.expires_at("timestamp", later) == T0 + D  # whole seconds, as TUF writes them
    paris = timezone(timedelta(hours=1))
    assert policy.expires_at("snapshot", T0.astimezone(paris)) == T0 + 7 * D


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timestamp": timedelta(0)},
        {"refresh_timestamp": timedelta(days=1)},  # would re-sign on every run
        {"refresh_snapshot": timedelta(days=8)},
        {"targets": timedelta(days=-1)},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError):
        ExpiryPolicy(**kwargs)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        utc(datetime(2026, 11, 27, 12, 0))


# -- key files -------------------------------------------------------------------------------


def test_key_file_is_0600_pkcs8_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "targets.key.pem"
    public = create_key(path, b"correct horse battery")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    signer = load_signer(path, b"correct horse battery")
    assert signer.public_key.keyid == public.keyid
    assert signer.public_key.keytype == "ed25519"

    online = tmp_path / "keys" / "timestamp.key.pem"
    create_key(online, None)
    assert stat.S_IMODE(online.stat().st_mode) == 0o600
    assert online.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_signer(online, None).public_key.keyid != public.keyid


def test_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "root.key.pem"
    create_key(path, b"correct horse battery")
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        create_key(path, None)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        (b"wrong horse battery", "wrong passphrase for key file"),
        (None, "is encrypted: a passphrase is needed"),
    ],
)
def test_encrypted_key_needs_its_passphrase(
    tmp_path: Path, passphrase: bytes | None, message: str
) -> None:
    path = tmp_path / "root.key.pem"
    create_key(path, b"correct horse battery")
    with pytest.raises(ValueError, match=message):
        load_signer(path, passphrase)


def test_bad_key_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        load_signer(tmp_path / "absent.pem", None)
    plain = tmp_path / "plain.pem"
    create_key(plain, None)
    with pytest.raises(ValueError, match="is not encrypted: it takes no passphrase"):
        load_signer(plain, b"correct horse battery")
    junk = tmp_path / "junk.pem"
    junk.write_text("hello", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a PEM private key"):
        load_signer(junk, None)
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    other = tmp_path / "ec.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    other.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        load_signer(other, None)


def test_offline_roles_need_a_passphrase_online_roles_none(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="offline key: it needs a passphrase"):
        create_role_key(tmp_path, "root", None)
    with pytest.raises(ValueError, match="at least 12 characters"):
        create_role_key(tmp_path, "targets", b"short")
    with pytest.raises(ValueError, match="online key used unattended"):
        create_role_key(tmp_path, "timestamp", b"correct horse battery")
    assert list(tmp_path.iterdir()) == []
    create_role_key(tmp_path, "targets", b"correct horse battery")
    create_role_key(tmp_path, "snapshot", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot.key.pem", "targets.key.pem"]
    assert key_path(tmp_path, "snapshot") == tmp_path / "snapshot.key.pem"


# -- the repository on disk ------------------------------------------------------------------


class Chain(TypedDict):
    targets: Signer
    snapshot: Signer
    timestamp: Signer


@dataclass
class Keys:
    root: Signer
    targets: Signer
    snapshot: Signer
    timestamp: Signer

    def chain(self) -> Chain:
        return {"targets": self.targets, "snapshot": self.snapshot, "timestamp": self.timestamp}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(SAMPLE, tmp_path_factory.mktemp("dist")).path


@pytest.fixture
def keys() -> Keys:
    return Keys(*(CryptoSigner.generate_ed25519() for _ in range(4)))


@pytest.fixture
def repo(tmp_path: Path, keys: Keys) -> Path:
    directory = tmp_path / "repo"
    init_repository(directory, root_signers=[keys.root], now=T0, **keys.chain())
    return directory


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def unchanged(repo: Path) -> Iterator[None]:
    """The test's refusals must leave every file as it was."""
    before = files_of(repo)
    yield
    assert files_of(repo) == before


def test_init_layout(repo: Path, keys: Keys) -> None:
    assert sorted(files_of(repo)) == [
        "metadata/1.root.json",
        "metadata/1.snapshot.json",
        "metadata/1.targets.json",
        "metadata/root.json",
        "metadata/timestamp.json",
    ]
    assert (repo / "targets").is_dir()
    root = json.loads((repo / "metadata" / "1.root.json").read_bytes())["signed"]
    assert root["consistent_snapshot"] is True
    assert root["spec_version"] == "1.0.31"
    assert root["expires"] == "2027-11-27T12:00:00Z"
    assert root["roles"]["targets"]["keyids"] == [keys.targets.public_key.keyid]
    assert trusted_root(repo) == (repo / "metadata" / "root.json").read_bytes()
    expires = {r.role: r.expires for r in repository_status(repo).roles}
    assert expires == {"root": T0 + 365 * D, "targets": T0 + 90 * D, "snapshot": T0 + 7 * D,
                       "timestamp": T0 + D}  # fmt: skip


def test_init_refuses_existing_repository(repo: Path, keys: Keys, unchanged: None) -> None:
    with pytest.raises(RepositoryExistsError, match="already holds metadata"):
        init_repository(repo, root_signers=[keys.root], now=T0, **keys.chain())


def test_init_refuses_shared_keys_and_bad_threshold(tmp_path: Path, keys: Keys) -> None:
    with pytest.raises(ContentRepoError, match="every role needs its own key"):
        init_repository(
            tmp_path / "r",
            root_signers=[keys.root],
            targets=keys.targets,
            snapshot=keys.targets,
            timestamp=keys.timestamp,
            now=T0,
        )
    with pytest.raises(ContentRepoError, match="root threshold 2"):
        init_repository(
            tmp_path / "r", root_signers=[keys.root], root_threshold=2, now=T0, **keys.chain()
        )
    assert not (tmp_path / "r").exists()


def test_publish_writes_hashed_targets_then_new_metadata(
    repo: Path, keys: Keys, bundle: Path
) -> None:
    result = publish_bundle(repo, bundle, channel="stable", now=T0 + H, **keys.chain())
    assert (result.version, result.target, result.channel_target, result.targets_version) == (
        "2026.11.1",
        "bundles/beacon-content-2026.11.1.tar.gz",
        "channels/stable.json",
        2,
    )
    targets = Metadata[Targets].from_file(str(repo / "metadata" / "2.targets.json")).signed
    info = targets.targets[result.target]
    stored = (
        repo / "targets" / "bundles" / f"{info.hashes['sha256']}.beacon-content-2026.11.1.tar.gz"
    )
    assert stored.read_bytes() == bundle.read_bytes()
    pointer_info = targets.targets["channels/stable.json"]
    pointer = repo / "targets" / "channels" / f"{pointer_info.hashes['sha256']}.stable.json"
    assert json.loads(pointer.read_bytes()) == {
        "channel": "stable",
        "version": "2026.11.1",
        "target": "bundles/beacon-content-2026.11.1.tar.gz",
        "published_at": (T0 + H).timestamp(),
    }
    timestamp = json.loads((repo / "metadata" / "timestamp.json").read_bytes())["signed"]
    assert timestamp["version"] == 2
    assert timestamp["meta"]["snapshot.json"]["version"] == 2
    assert repository_status(repo).channels == {"stable": "2026.11.1"}


def test_republishing_same_bytes_only_moves_the_channel(
    repo: Path, keys: Keys, bundle: Path
) -> None:
    publish_bundle(repo, bundle, channel="stable", now=T0, **keys.chain())
    again = publish_bundle(repo, bundle, channel="pilot", now=T0 + H, **keys.chain())
    assert again.targets_version == 3
    assert repository_status(repo).channels == {"pilot": "2026.11.1", "stable": "2026.11.1"}


def test_republishing_version_with_other_bytes_is_refused(
    repo: Path, keys: Keys, bundle: Path, tmp_path: Path
) -> None:
    publish_bundle(repo, bundle, channel="stable", now=T0, **keys.chain())
    files = dict(read_bundle_archive(bundle.read_bytes()).files)
    files["manifest.toml"] = files["manifest.toml"].replace(
        b"slide_seconds = 8.0", b"slide_seconds = 9.0"
    )
    other = tmp_path / "other.tar.gz"
    other.write_bytes(archive_bytes(files))
    before = files_of(repo)
    with pytest.raises(VersionConflictError, match="already published with other content"):
        publish_bundle(repo, other, channel="stable", now=T0 + H, **keys.chain())
    assert files_of(repo) == before


@pytest.mark.usefixtures("unchanged")
def test_publish_refusals_leave_repository_untouched(
    repo: Path, keys: Keys, bundle: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bundle.read_bytes()[:500])
    with pytest.raises(ContentRepoError, match="is not a valid content bundle"):
        publish_bundle(repo, corrupt, channel="stable", now=T0, **keys.chain())
    with pytest.raises(ContentRepoError, match="is not a channel name"):
        publish_bundle(repo, bundle, channel="Stable!", now=T0, **keys.chain())
    wrong: Chain = {**keys.chain(), "targets": keys.snapshot}
    with pytest.raises(WrongKeyError, match="the targets key given"):
        publish_bundle(repo, bundle, channel="stable", now=T0, **wrong)
    with pytest.raises(UnknownVersionError, match=r"version 2026\.12\.1 is not published"):
        move_channel(repo, "stable", "2026.12.1", now=T0, **keys.chain())
    with pytest.raises(UnknownVersionError):
        move_channel(repo, "stable", "../../etc", now=T0, **keys.chain())


def test_missing_repository_is_named_and_not_created(
    tmp_path: Path, keys: Keys, bundle: Path
) -> None:
    absent = tmp_path / "nowhere"
    with pytest.raises(NotARepositoryError, match="not a content repository"):
        publish_bundle(absent, bundle, channel="stable", now=T0, **keys.chain())
    with pytest.raises(NotARepositoryError):
        refresh_timestamp(absent, timestamp=keys.timestamp, now=T0)
    assert not absent.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotARepositoryError, match="beacon content repo init"):
        trusted_root(empty)


def test_tampered_metadata_is_detected(repo: Path, keys: Keys, bundle: Path) -> None:
    path = repo / "metadata" / "1.targets.json"
    doc = json.loads(path.read_bytes())
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(NotARepositoryError, match="does not verify"):
        publish_bundle(repo, bundle, channel="stable", now=T0, **keys.chain())


def test_timestamp_refresh_only_when_due(repo: Path, keys: Keys) -> None:
    assert refresh_timestamp(repo, timestamp=keys.timestamp, now=T0 + 12 * H) is False
    assert refresh_timestamp(repo, timestamp=keys.timestamp, now=T0 + 13 * H) is True
    timestamp = json.loads((repo / "metadata" / "timestamp.json").read_bytes())["signed"]
    assert (timestamp["version"], timestamp["expires"]) == (2, "2026-11-29T01:00:00Z")
    assert refresh_timestamp(repo, timestamp=keys.timestamp, now=T0 + 14 * H) is False


def test_refresh_checks_the_key_even_when_not_due(repo: Path, keys: Keys) -> None:
    with pytest.raises(WrongKeyError, match="the timestamp key given"):
        refresh_timestamp(repo, timestamp=keys.snapshot, now=T0)


def test_refresh_online_resigns_snapshot_when_it_nears_expiry(repo: Path, keys: Keys) -> None:
    quiet = refresh_online(repo, snapshot=keys.snapshot, timestamp=keys.timestamp, now=T0 + H)
    assert (quiet.snapshot, quiet.timestamp, quiet.expiring) == (False, False, ())
    ts_only = refresh_online(
        repo, snapshot=keys.snapshot, timestamp=keys.timestamp, now=T0 + 20 * H
    )
    assert (ts_only.snapshot, ts_only.timestamp) == (False, True)
    both = refresh_online(
        repo, snapshot=keys.snapshot, timestamp=keys.timestamp, now=T0 + 4 * D + H
    )
    assert (both.snapshot, both.timestamp) == (True, True)
    status = {r.role: r for r in repository_status(repo).roles}
    assert (status["snapshot"].version, status["timestamp"].version) == (2, 3)
    assert status["snapshot"].expires == T0 + 11 * D + H
    assert status["targets"].version == 1  # offline: never touched


def test_refresh_online_warns_about_offline_expiry(repo: Path, keys: Keys) -> None:
    result = refresh_online(repo, snapshot=keys.snapshot, timestamp=keys.timestamp, now=T0 + 80 * D)
    assert result.expiring == (
        "targets metadata expires 2027-02-25T12:00:00+00:00 (10 days); renew it with "
        "`beacon content repo renew targets`",
    )


def test_rotation_refusals(repo: Path, keys: Keys, unchanged: None) -> None:
    new = CryptoSigner.generate_ed25519()
    with pytest.raises(WrongKeyError, match="is not a root key"):
        rotate_key(repo, "timestamp", root_signers_old=[keys.targets], new_signer=new, now=T0)
    with pytest.raises(ContentRepoError, match="give the current snapshot and timestamp key"):
        rotate_key(repo, "targets", root_signers_old=[keys.root], new_signer=new, now=T0)
    with pytest.raises(ContentRepoError, match="already trusted"):
        rotate_key(
            repo, "timestamp", root_signers_old=[keys.root], new_signer=keys.snapshot, now=T0
        )
    with pytest.raises(ContentRepoError, match="unknown role"):
        rotate_key(repo, "mirror", root_signers_old=[keys.root], new_signer=new, now=T0)  # type: ignore[arg-type]
    with pytest.raises(ContentRepoError, match="another role"):
        rotate_key(
            repo, "root", root_signers_old=[keys.root], root_signers_new=[keys.timestamp], now=T0
        )
