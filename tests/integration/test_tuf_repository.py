"""The content repository against python-tuf's real client (ngclient ``Updater``), as a kiosk
would read it: over HTTP, with a persistent cache and the *first* root it was given.

Expiry is real here: the client checks metadata against the wall clock, so scenarios about
time sign the repository at a ``now`` in the past instead of moving the client's clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tuf.api.exceptions import DownloadHTTPError, ExpiredMetadataError
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from content.build import archive_bytes, build_bundle, read_bundle_archive
from content_repo import (
    WrongKeyError,
    init_repository,
    move_channel,
    publish_bundle,
    refresh_online,
    refresh_timestamp,
    rotate_key,
    trusted_root,
)
from content_repo import state as core
from content_repo.expiry import DEFAULT_EXPIRY, RoleName
from content_repo.storage import apply, read_state
from content_repo.tuf_types import CryptoSigner, Signer
from fleet_manager.api.tuf_routes import mount_repository
from protocol.content_delivery import METADATA_PATH, TARGETS_PATH, ChannelPointer
from tests.support.tuf_repo_server import TufClient, serve_directory

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
V1, V2 = "2026.11.1", "2026.12.1"
ROLES: tuple[RoleName, ...] = ("root", "targets", "snapshot", "timestamp")


def bundle_of_version(dist: Path, version: str) -> Path:
    """The sample bundle re-versioned (same check rules as a build; archive_bytes is the same)."""
    files = dict(read_bundle_archive(build_bundle(SAMPLE, dist).path.read_bytes()).files)
    files["manifest.toml"] = files["manifest.toml"].replace(
        f'version = "{V1}"'.encode(), f'version = "{version}"'.encode()
    )
    path = dist / f"beacon-content-{version}.tar.gz"
    path.write_bytes(archive_bytes(files))
    assert read_bundle_archive(path.read_bytes()).version == version
    return path


class Chain(TypedDict):
    targets: Signer
    snapshot: Signer
    timestamp: Signer


@dataclass
class Repo:
    directory: Path
    base_url: str
    tmp: Path
    signers: dict[str, Signer] = field(default_factory=dict)
    clients: int = 0

    @property
    def chain(self) -> Chain:
        s = self.signers
        return {"targets": s["targets"], "snapshot": s["snapshot"], "timestamp": s["timestamp"]}

    def client(self, bootstrap: bytes | None = None) -> TufClient:
        self.clients += 1
        root = bootstrap or (self.directory / "metadata" / "1.root.json").read_bytes()
        return TufClient(self.base_url, self.tmp / f"kiosk{self.clients}", root)

    def publish(self, bundle: Path, channel: str = "stable", now: datetime | None = None) -> None:
        publish_bundle(
            self.directory, bundle, channel=channel, now=now or datetime.now(UTC), **self.chain
        )


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dist = tmp_path_factory.mktemp("dist")
    return {V1: build_bundle(SAMPLE, dist).path, V2: bundle_of_version(dist, V2)}


def make_repo(tmp_path: Path, now: datetime) -> Iterator[Repo]:
    signers: dict[str, Signer] = {r: CryptoSigner.generate_ed25519() for r in ROLES}
    directory = tmp_path / "repo"
    init_repository(
        directory,
        root_signers=[signers["root"]],
        targets=signers["targets"],
        snapshot=signers["snapshot"],
        timestamp=signers["timestamp"],
        now=now,
    )
    with serve_directory(directory) as base_url:
        yield Repo(directory, base_url, tmp_path, signers)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    yield from make_repo(tmp_path, datetime.now(UTC))


def test_client_downloads_bundle_and_channel_pointer(repo: Repo, bundles: dict[str, Path]) -> None:
    repo.publish(bundles[V1])
    kiosk = repo.client()
    pointer = kiosk.channel("stable")
    assert (pointer.channel, pointer.version, pointer.target) == (
        "stable",
        V1,
        "bundles/beacon-content-2026.11.1.tar.gz",
    )
    data = kiosk.fetch(pointer.target)
    assert hashlib.sha256(data).digest() == hashlib.sha256(bundles[V1].read_bytes()).digest()
    assert read_bundle_archive(data).version == V1


def test_second_version_reaches_a_client_that_had_the_first(
    repo: Repo, bundles: dict[str, Path]
) -> None:
    repo.publish(bundles[V1])
    kiosk = repo.client()
    assert kiosk.channel("stable").version == V1
    repo.publish(bundles[V2])
    pointer = kiosk.channel("stable")
    assert pointer.version == V2
    assert kiosk.fetch(pointer.target) == bundles[V2].read_bytes()
    assert kiosk.fetch("bundles/beacon-content-2026.11.1.tar.gz") == bundles[V1].read_bytes()


def test_channel_rollback_is_new_metadata_naming_the_old_bundle(
    repo: Repo, bundles: dict[str, Path]
) -> None:
    repo.publish(bundles[V1])
    repo.publish(bundles[V2])
    kiosk = repo.client()
    assert kiosk.channel("stable").version == V2
    targets_before = kiosk.cached_version("targets")
    move_channel(repo.directory, "stable", V1, now=datetime.now(UTC), **repo.chain)
    assert kiosk.channel("stable").version == V1
    assert kiosk.cached_version("targets") == targets_before + 1


def test_timestamp_refresh_is_seen_by_the_client(tmp_path: Path, bundles: dict[str, Path]) -> None:
    signed_at = datetime.now(UTC) - timedelta(hours=13)  # 11 h left: due
    for repo in make_repo(tmp_path, signed_at):
        repo.publish(bundles[V1], now=signed_at)
        kiosk = repo.client()
        assert kiosk.channel("stable").version == V1
        assert kiosk.cached_version("timestamp") == 2
        assert refresh_timestamp(
            repo.directory, timestamp=repo.signers["timestamp"], now=datetime.now(UTC)
        )
        assert kiosk.channel("stable").version == V1
        assert kiosk.cached_version("timestamp") == 3


def test_expired_timestamp_blocks_client_until_the_fleet_refreshes(
    tmp_path: Path, bundles: dict[str, Path]
) -> None:
    signed_at = datetime.now(UTC) - timedelta(days=5)  # timestamp expired, snapshot 2 days left
    for repo in make_repo(tmp_path, signed_at):
        repo.publish(bundles[V1], now=signed_at)
        kiosk = repo.client()
        with pytest.raises(ExpiredMetadataError):
            kiosk.channel("stable")
        result = refresh_online(
            repo.directory,
            snapshot=repo.signers["snapshot"],
            timestamp=repo.signers["timestamp"],
            now=datetime.now(UTC),
        )
        assert (result.snapshot, result.timestamp) == (True, True)
        assert kiosk.channel("stable").version == V1


def chain_with(repo: Repo, role: RoleName, signer: Signer | None) -> dict[str, Signer | None]:
    current: dict[str, Signer | None] = {r: repo.signers[r] for r in ROLES[1:]}
    current[role] = signer
    return current


def rotate(repo: Repo, role: RoleName, new: Signer, *, keep_old: bool = True) -> None:
    current = chain_with(repo, role, repo.signers[role] if keep_old else None)
    rotate_key(
        repo.directory,
        role,
        root_signers_old=[repo.signers["root"]],
        root_signers_new=[new] if role == "root" else (),
        new_signer=None if role == "root" else new,
        targets=current["targets"],
        snapshot=current["snapshot"],
        timestamp=current["timestamp"],
        now=datetime.now(UTC),
    )
    repo.signers[role] = new


@pytest.mark.parametrize("role", ROLES)
def test_client_with_the_first_root_follows_each_rotation(
    repo: Repo, bundles: dict[str, Path], role: RoleName
) -> None:
    repo.publish(bundles[V1])
    kiosk = repo.client()  # bootstrapped with 1.root.json, and it has updated once
    assert kiosk.channel("stable").version == V1
    old = repo.signers[role]

    rotate(repo, role, CryptoSigner.generate_ed25519())
    assert (
        trusted_root(repo.directory) == (repo.directory / "metadata" / "2.root.json").read_bytes()
    )
    assert kiosk.channel("stable").version == V1  # the re-signed metadata, right after
    repo.publish(bundles[V2])  # signed with the new key from now on
    assert kiosk.channel("stable").version == V2
    assert repo.client().channel("stable").version == V2  # a new kiosk with the old root

    # The repository no longer accepts the old key for that role.
    with pytest.raises(WrongKeyError):
        if role == "root":
            rotate_key(
                repo.directory,
                "root",
                root_signers_old=[old],
                root_signers_new=[CryptoSigner.generate_ed25519()],
                now=datetime.now(UTC),
            )
        else:
            publish_bundle(
                repo.directory,
                bundles[V1],
                channel="stable",
                now=datetime.now(UTC),
                targets=old if role == "targets" else repo.signers["targets"],
                snapshot=old if role == "snapshot" else repo.signers["snapshot"],
                timestamp=old if role == "timestamp" else repo.signers["timestamp"],
            )


def test_every_role_rotated_in_turn_then_a_kiosk_with_root_v1_updates(
    repo: Repo, bundles: dict[str, Path]
) -> None:
    repo.publish(bundles[V1])
    kiosk = repo.client()
    assert kiosk.channel("stable").version == V1
    for role in ROLES:
        rotate(repo, role, CryptoSigner.generate_ed25519())
    repo.publish(bundles[V2])
    assert kiosk.channel("stable").version == V2
    assert repo.client().channel("stable").version == V2
    assert (repo.directory / "metadata" / "5.root.json").is_file()


@pytest.mark.parametrize("role", ("targets", "snapshot", "timestamp"))
def test_rotation_after_losing_the_old_key(
    repo: Repo, bundles: dict[str, Path], role: RoleName
) -> None:
    repo.publish(bundles[V1])
    kiosk = repo.client()
    assert kiosk.channel("stable").version == V1
    rotate(repo, role, CryptoSigner.generate_ed25519(), keep_old=False)
    repo.publish(bundles[V2])
    assert kiosk.channel("stable").version == V2


def test_two_root_keys_with_threshold_two(tmp_path: Path, bundles: dict[str, Path]) -> None:
    a, b, c = (CryptoSigner.generate_ed25519() for _ in range(3))
    chain: Chain = {
        "targets": CryptoSigner.generate_ed25519(),
        "snapshot": CryptoSigner.generate_ed25519(),
        "timestamp": CryptoSigner.generate_ed25519(),
    }
    directory = tmp_path / "repo"
    now = datetime.now(UTC)
    init_repository(directory, root_signers=[a, b], root_threshold=2, now=now, **chain)
    with pytest.raises(WrongKeyError, match="1 root key"):
        rotate_key(directory, "root", root_signers_old=[a], root_signers_new=[a, c], now=now)
    # Replace b by c: signed by a+b (old threshold) and a+c (new threshold).
    rotate_key(directory, "root", root_signers_old=[a, b], root_signers_new=[a, c], now=now)
    publish_bundle(directory, bundles[V1], channel="stable", now=now, **chain)
    with serve_directory(directory) as base_url:
        kiosk = TufClient(
            base_url, tmp_path / "kiosk", (directory / "metadata" / "1.root.json").read_bytes()
        )
        assert kiosk.channel("stable").version == V1


# -- through the fleet API's routes ------------------------------------------------------


class AppFetcher(FetcherInterface):
    """ngclient's downloads through the FastAPI app in process (no socket)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def _fetch(self, url: str) -> Iterator[bytes]:
        response = self.client.get(urlsplit(url).path)
        if response.status_code != 200:
            raise DownloadHTTPError(f"GET {url}: {response.status_code}", response.status_code)
        yield response.content


def test_updater_through_the_fleet_api_routes(repo: Repo, bundles: dict[str, Path]) -> None:
    repo.publish(bundles[V1])
    app = FastAPI()
    mount_repository(app, repo.directory)
    with TestClient(app, base_url="https://fleet.test") as http:
        cache = repo.tmp / "api-kiosk"
        (cache / "metadata").mkdir(parents=True)
        updater = Updater(
            str(cache / "metadata"),
            f"https://fleet.test{METADATA_PATH}",
            str(cache / "targets"),
            f"https://fleet.test{TARGETS_PATH}",
            fetcher=AppFetcher(http),
            bootstrap=trusted_root(repo.directory),
        )
        updater.refresh()
        info = updater.get_targetinfo("bundles/beacon-content-2026.11.1.tar.gz")
        assert info is not None
        assert Path(updater.download_target(info)).read_bytes() == bundles[V1].read_bytes()


# -- every moment of a write is safe --------------------------------------------------------


@pytest.mark.parametrize("rotated", [None, "targets", "snapshot", "timestamp"])
def test_client_succeeds_at_every_step_of_a_write(
    repo: Repo, bundles: dict[str, Path], rotated: RoleName | None
) -> None:
    """Apply a publish (``rotated`` None) or a key rotation one file at a time: after each
    file, a kiosk that updated before and a new kiosk with root v1 both still update."""
    repo.publish(bundles[V1])
    kiosk = repo.client()
    assert kiosk.channel("stable").version == V1
    state = read_state(repo.directory)
    now = datetime.now(UTC)
    if rotated is None:
        data = bundles[V2].read_bytes()
        pointer = core.channel_pointer_bytes(
            ChannelPointer(
                channel="stable",
                version=V2,
                target="bundles/beacon-content-2026.12.1.tar.gz",
                published_at=0.0,
            )
        )
        update = core.add_targets(
            state,
            {"bundles/beacon-content-2026.12.1.tar.gz": data, "channels/stable.json": pointer},
            now=now,
            expiry=DEFAULT_EXPIRY,
            **repo.chain,
        )
        versions = {V1, V2}
    else:
        below = ROLES[ROLES.index(rotated) + 1 :]
        update = core.rotate_role(
            state,
            rotated,
            root_signers=[repo.signers["root"]],
            new_signer=CryptoSigner.generate_ed25519(),
            old_signer=repo.signers[rotated],
            signers={r: [repo.signers[r]] for r in below},
            now=now,
            expiry=DEFAULT_EXPIRY,
        )
        versions = {V1}
    for step, write in enumerate(update.writes, start=1):
        apply(repo.directory, [write])
        assert kiosk.channel("stable").version in versions, f"after {step}: {write.path}"
        assert repo.client().channel("stable").version in versions, f"after {step}: {write.path}"
    assert kiosk.channel("stable").version == max(versions)
