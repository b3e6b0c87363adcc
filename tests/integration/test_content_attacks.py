"""Attacks that must fail, each with the real TUF client against the real repository.

The repository is ``content_repo`` (python-tuf Metadata API) in a temporary folder, served over
HTTPS by uvicorn + Starlette's StaticFiles with a server certificate from the fleet CA, so the
kiosk's TLS trust path is exercised too. The kiosk is ``ContentUpdater`` with ``TufClient``.

An attacker here is real: it edits the files the repository wrote (tampered bytes, replayed
or swapped metadata), signs with a key that root does not trust (python-tuf's Metadata API),
or signs hostile archives with the real targets key (a stolen key or a bypassed publish tool:
``publish_bundle`` itself refuses such archives). In every case the kiosk refuses, keeps its
last good content and returns the failure event. Time is never waited for: expired metadata
is signed with a ``now`` in the past.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from content.build import BuiltBundle, archive_bytes, build_bundle
from content.bundle import load_bundle
from content_repo import state as repo_state
from content_repo.expiry import DEFAULT_EXPIRY
from content_repo.keys import create_key, load_signer
from content_repo.repository import (
    init_repository,
    move_channel,
    publish_bundle,
    refresh_timestamp,
    trusted_root,
)
from content_repo.rotation import rotate_key
from content_repo.storage import apply as apply_writes
from content_repo.storage import read_state
from content_repo.tuf_types import Metadata, MetaFile, Signer, Snapshot, TargetFile, Targets
from content_repo.tuf_types import Timestamp as TimestampRole
from device.agent.identity import BrokerAddress, DeviceProfile
from device.content.fetch import TufClient
from device.content.store import ContentStore
from device.content.unpack import extract
from device.content.updater import ContentUpdater, Event
from protocol.content_delivery import ContentNudge, bundle_target
from provisioning.ca import create_intermediate_ca, create_root_ca, issue_certificate

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
CHANNEL = "stable"
V1, V2, V3 = "2026.11.1", "2026.11.2", "2026.11.3"
ORIGIN = "help.example.org"
TOKEN = "Xq3v9LmT2pR8sW4k"


# -- material made once per module --------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    root: Signer
    targets: Signer
    snapshot: Signer
    timestamp: Signer
    attacker: Signer  # a well-formed Ed25519 key that root does not trust


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    signers = {}
    for role in ("root", "targets", "snapshot", "timestamp", "attacker"):
        create_key(folder / f"{role}.pem", None)
        signers[role] = load_signer(folder / f"{role}.pem", None)
    return Keys(**signers)


def _source(folder: Path, version: str, extra_manifest: str = "") -> Path:
    src = folder / f"src-{version}"
    shutil.copytree(SAMPLE, src)
    manifest = src / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace('version = "2026.11.1"', f'version = "{version}"{extra_manifest}', 1)
    manifest.write_text(text, encoding="utf-8")
    return src


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltBundle]:
    folder = tmp_path_factory.mktemp("bundles")
    return {v: build_bundle(_source(folder, v), folder / "out") for v in (V1, V2, V3)}


@dataclass(frozen=True)
class Tls:
    ca_file: Path  # the fleet root: what kiosks trust
    cert_file: Path
    key_file: Path
    stranger_ca_file: Path  # another root, which did not sign the server's certificate


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("tls")
    root = create_root_ca()
    issuing = create_intermediate_ca(root)
    server = issue_certificate(issuing, "tuf-server", usage="server", ip_addresses=["127.0.0.1"])
    (folder / "ca.pem").write_bytes(root.cert_pem())
    (folder / "server.pem").write_bytes(server.cert_pem)
    (folder / "server.key").write_bytes(server.key_pem)
    (folder / "stranger.pem").write_bytes(create_root_ca("Someone Else").cert_pem())
    return Tls(
        folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "stranger.pem"
    )


# -- the repository and its HTTPS server -------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Repo:
    directory: Path
    keys: Keys

    def publish(self, bundle: BuiltBundle, now: datetime | None = None) -> None:
        k = self.keys
        publish_bundle(
            self.directory,
            bundle.path,
            channel=CHANNEL,
            targets=k.targets,
            snapshot=k.snapshot,
            timestamp=k.timestamp,
            now=now or _now(),
        )

    def move(self, version: str) -> None:
        k = self.keys
        move_channel(
            self.directory,
            CHANNEL,
            version,
            targets=k.targets,
            snapshot=k.snapshot,
            timestamp=k.timestamp,
            now=_now(),
        )

    def sign_raw_target(self, version: str, data: bytes) -> None:
        """What a holder of the real targets key can sign, bypassing publish's checks."""
        update = repo_state.add_targets(
            read_state(self.directory),
            {bundle_target(version): data},
            targets=self.keys.targets,
            snapshot=self.keys.snapshot,
            timestamp=self.keys.timestamp,
            now=_now(),
            expiry=DEFAULT_EXPIRY,
        )
        apply_writes(self.directory, update.writes)

    def metadata(self, name: str) -> Path:
        return self.directory / "metadata" / name

    def timestamp(self) -> dict[str, object]:
        signed = json.loads(self.metadata("timestamp.json").read_bytes())["signed"]
        assert isinstance(signed, dict)
        return signed

    def snapshot_version(self) -> int:
        meta = self.timestamp()["meta"]
        assert isinstance(meta, dict)
        return int(meta["snapshot.json"]["version"])

    def targets_version(self) -> int:
        snap = json.loads(self.metadata(f"{self.snapshot_version()}.snapshot.json").read_bytes())
        return int(snap["signed"]["meta"]["targets.json"]["version"])

    def target_file(self, version: str) -> Path:
        return next((self.directory / "targets" / "bundles").glob(f"*.beacon-content-{version}*"))


class Server:
    """The repository folder at /tuf over HTTPS (the fleet API's layout), in a thread."""

    def __init__(self, directory: Path, tls: Tls) -> None:
        app = Starlette(routes=[Mount("/tuf", app=StaticFiles(directory=directory))])
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"https://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(
            app,
            ssl_certfile=str(tls.cert_file),
            ssl_keyfile=str(tls.key_file),
            log_config=None,
            access_log=False,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        while not self._server.started:  # readiness, not a time limit (pytest-timeout is)
            assert self._thread.is_alive(), "the HTTPS server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        # force_exit: do not wait for clients' idle keep-alive TLS connections to close.
        self._server.should_exit = self._server.force_exit = True
        self._thread.join()
        self._sock.close()


@pytest.fixture
def repo(tmp_path: Path, keys: Keys) -> Repo:
    directory = tmp_path / "repo"
    init_repository(
        directory,
        root_signers=[keys.root],
        targets=keys.targets,
        snapshot=keys.snapshot,
        timestamp=keys.timestamp,
        now=_now(),
    )
    return Repo(directory, keys)


@pytest.fixture
def server(repo: Repo, tls: Tls) -> Iterator[Server]:
    running = Server(repo.directory, tls)
    try:
        yield running
    finally:
        running.stop()


# -- the kiosk ---------------------------------------------------------------------------------


def _profile(**changes: object) -> DeviceProfile:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    fields: dict[str, object] = {
        "device_id": "kiosk-a1",
        "region": "north",
        "facility": "clinic-1",
        "location": "waiting-room",
        "channel": CHANNEL,
        "broker": BrokerAddress(host="127.0.0.1", port=8883),
        "command_key": base64.b64encode(key).decode(),
        "location_token": TOKEN,
        "qr_origin": ORIGIN,
        "allowed_origins": (ORIGIN,),
    }
    return DeviceProfile.model_validate({**fields, **changes})


@dataclass
class Kiosk:
    state_dir: Path
    base_url: str
    ca_file: Path
    root: bytes
    profile: DeviceProfile = field(default_factory=_profile)
    now: list[float] = field(default_factory=lambda: [1000.0])
    updater: ContentUpdater = field(init=False)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """A new process: a new client and updater over the same state folder."""
        client = TufClient(self.state_dir, self.base_url, self.ca_file, self.root)
        self.updater = ContentUpdater(self.state_dir, self.profile, client, lambda: self.now[0])

    def shown_version(self) -> str | None:
        folder = self.updater.current_bundle_dir()
        return None if folder is None else load_bundle(folder).version

    def last_good(self) -> str | None:
        return ContentStore(self.state_dir).last_good()

    def nudge(
        self, version: str, *, cutoff: float = 1.0, baseline: str | None = None
    ) -> list[Event]:
        return self.updater.on_nudge(
            ContentNudge(
                channel=CHANNEL,
                version=version,
                baseline=baseline,
                rollout_id="rollout-1",
                seed="seed-1",
                cutoff=cutoff,
                issued=0.0,
            )
        )


def _kiosk(tmp_path: Path, repo: Repo, server: Server, tls: Tls, name: str = "kiosk") -> Kiosk:
    return Kiosk(tmp_path / name, server.base_url, tls.ca_file, trusted_root(repo.directory))


@pytest.fixture
def kiosk_on_v1(
    tmp_path: Path, repo: Repo, server: Server, tls: Tls, bundles: dict[str, BuiltBundle]
) -> Kiosk:
    """A kiosk showing V1, confirmed healthy (its last good content)."""
    repo.publish(bundles[V1])
    kiosk = _kiosk(tmp_path, repo, server, tls)
    assert kiosk.updater.ensure_channel_content() == [("content_applied", {"version": V1})]
    assert kiosk.updater.confirm_healthy(V1) == [("content_healthy", {"version": V1})]
    return kiosk


def _names(events: list[Event]) -> list[str]:
    return [name for name, _ in events]


def _refused(kiosk: Kiosk, events: list[Event], version: str, stage: str, *words: str) -> None:
    """The attack was refused at ``stage``, reported, and the kiosk kept its last good."""
    failed = [detail for name, detail in events if name == "content_failed"]
    assert len(failed) == 1, events
    assert failed[0]["version"] == version
    assert failed[0]["stage"] == stage, failed[0]
    for word in words:
        assert word in failed[0]["reason"], failed[0]
    assert kiosk.shown_version() == V1
    assert kiosk.last_good() == V1
    assert not list((kiosk.state_dir / "content" / "staging").iterdir())


# -- the happy paths -----------------------------------------------------------------------------


def test_a_nudge_installs_a_signed_bundle_and_the_ui_confirms_it(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.publish(bundles[V2])
    assert kiosk.nudge(V2) == [("content_applied", {"version": V2})]
    assert kiosk.shown_version() == V2
    assert kiosk.last_good() == V1  # not before the UI says so
    assert kiosk.nudge(V2) == []  # already current
    assert kiosk.updater.confirm_healthy(V2) == [("content_healthy", {"version": V2})]
    assert kiosk.last_good() == V2
    assert not list((kiosk.state_dir / "tuf" / "downloads").glob("*.tar.gz"))  # not kept


def test_the_fleet_rolling_a_channel_back_is_new_metadata_and_is_followed(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.publish(bundles[V2])
    assert _names(kiosk.nudge(V2)) == ["content_applied"]
    kiosk.updater.confirm_healthy(V2)
    repo.move(V1)  # a deliberate rollback: newer targets metadata naming the older bundle
    assert kiosk.nudge(V1) == [("content_applied", {"version": V1})]
    assert kiosk.shown_version() == V1


def test_a_kiosk_enrolled_later_gets_the_channels_current_content(
    tmp_path: Path, repo: Repo, server: Server, tls: Tls, bundles: dict[str, BuiltBundle]
) -> None:
    repo.publish(bundles[V1])
    repo.publish(bundles[V2])
    late = _kiosk(tmp_path, repo, server, tls, "late")
    assert late.updater.current_bundle_dir() is None
    assert late.updater.ensure_channel_content() == [("content_applied", {"version": V2})]
    assert late.shown_version() == V2
    assert late.updater.ensure_channel_content() == []  # has content: nothing to do


def test_a_new_kiosk_not_yet_admitted_installs_the_baseline(
    tmp_path: Path, repo: Repo, server: Server, tls: Tls, bundles: dict[str, BuiltBundle]
) -> None:
    repo.publish(bundles[V1])
    repo.publish(bundles[V2])
    kiosk = _kiosk(tmp_path, repo, server, tls)
    assert kiosk.nudge(V2, cutoff=0.0, baseline=V1) == [("content_applied", {"version": V1})]
    assert kiosk.nudge(V2, cutoff=0.0, baseline=V1) == []  # has content, still not admitted


def test_an_unconfirmed_bundle_is_rolled_back_and_not_installed_again(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.publish(bundles[V2])
    kiosk.now[0] = 5000.0
    assert _names(kiosk.nudge(V2)) == ["content_applied"]
    kiosk.now[0] = 5059.0
    assert kiosk.updater.check_health() == []  # still inside the 60 s window
    kiosk.now[0] = 5060.0
    events = kiosk.updater.check_health()
    assert _names(events) == ["content_rolled_back"]
    assert events[0][1]["version"] == V2 and events[0][1]["to"] == V1
    assert "did not confirm" in events[0][1]["reason"]
    assert kiosk.shown_version() == V1
    assert kiosk.updater.confirm_healthy(V2) == []  # too late: nothing to confirm
    assert kiosk.nudge(V2) == []  # the retained nudge does not bring it back
    repo.publish(bundles[V3])
    assert _names(kiosk.nudge(V3)) == ["content_applied"]  # a fixed version does


def test_a_bundle_that_crashes_the_kiosk_at_every_start_is_rolled_back(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.publish(bundles[V2])
    assert _names(kiosk.nudge(V2)) == ["content_applied"]
    for _ in range(2):  # the UI dies before confirming; systemd starts the process again
        kiosk.restart()
        assert kiosk.updater.check_health() == []
        assert kiosk.shown_version() == V2
    kiosk.restart()
    events = kiosk.updater.check_health()
    assert _names(events) == ["content_rolled_back"]
    assert "restarted 3 times" in events[0][1]["reason"]
    assert kiosk.shown_version() == V1


# -- attacks on the bytes ------------------------------------------------------------------------


def test_tampered_target_bytes_are_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.publish(bundles[V2])
    target = repo.target_file(V2)
    honest = target.read_bytes()
    # Same size, other content: a valid bundle whose hotline number was changed after signing.
    evil = bytearray(honest)
    evil[len(evil) // 2] ^= 0x01
    target.write_bytes(bytes(evil))
    _refused(kiosk, kiosk.nudge(V2), V2, "download", "hash or length mismatch")
    target.write_bytes(bundles[V3].path.read_bytes())  # a whole other bundle
    _refused(kiosk, kiosk.nudge(V2), V2, "download", "mismatch")
    target.write_bytes(honest)  # the repository is honest again: the kiosk follows
    assert kiosk.nudge(V2) == [("content_applied", {"version": V2})]


def _attacker_adds_target(
    repo: Repo, version: str, data: bytes, *, online_keys_stolen: bool
) -> None:
    """New targets metadata listing ``data``, signed by the attacker's key (not in root).

    With the online keys stolen (they live in the fleet manager) the attacker signs snapshot
    and timestamp with the real keys; without them, with its own key too.
    """
    keys = repo.keys
    timestamp = Metadata[TimestampRole].from_file(str(repo.metadata("timestamp.json")))
    snap_v = timestamp.signed.snapshot_meta.version
    snapshot = Metadata[Snapshot].from_file(str(repo.metadata(f"{snap_v}.snapshot.json")))
    targets_v = snapshot.signed.meta["targets.json"].version
    targets = Metadata[Targets].from_file(str(repo.metadata(f"{targets_v}.targets.json")))

    info = TargetFile.from_data(bundle_target(version), data, ["sha256"])
    targets.signed.targets[info.path] = info
    targets.signed.version += 1
    targets.sign(keys.attacker)
    targets_bytes = targets.to_bytes()
    snapshot.signed.meta["targets.json"] = MetaFile.from_data(
        targets.signed.version, targets_bytes, ["sha256"]
    )
    snapshot.signed.version += 1
    snapshot.sign(keys.snapshot if online_keys_stolen else keys.attacker)
    snapshot_bytes = snapshot.to_bytes()
    timestamp.signed.snapshot_meta = MetaFile.from_data(
        snapshot.signed.version, snapshot_bytes, ["sha256"]
    )
    timestamp.signed.version += 1
    timestamp.sign(keys.timestamp if online_keys_stolen else keys.attacker)

    bundles_dir = repo.directory / "targets" / "bundles"
    name = bundle_target(version).rpartition("/")[2]
    (bundles_dir / f"{info.hashes['sha256']}.{name}").write_bytes(data)
    repo.metadata(f"{targets.signed.version}.targets.json").write_bytes(targets_bytes)
    repo.metadata(f"{snapshot.signed.version}.snapshot.json").write_bytes(snapshot_bytes)
    repo.metadata("timestamp.json").write_bytes(timestamp.to_bytes())


@pytest.mark.parametrize("online_keys_stolen", [True, False], ids=["online-keys-stolen", "none"])
def test_a_target_signed_by_the_wrong_key_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle], online_keys_stolen: bool
) -> None:
    kiosk = kiosk_on_v1
    data = bundles[V2].path.read_bytes()
    _attacker_adds_target(repo, V2, data, online_keys_stolen=online_keys_stolen)
    events = kiosk.nudge(V2)
    assert _names(events) == ["content_metadata_stale", "content_failed"]
    assert events[0][1]["stage"] == "metadata"
    _refused(kiosk, events, V2, "metadata", "signature")
    # A start-up check reports nothing new (still stale, same reason) and installs nothing.
    assert kiosk.updater.ensure_channel_content() == []
    assert kiosk.shown_version() == V1


# -- attacks on the metadata -------------------------------------------------------------------


def test_rolled_back_metadata_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    old_timestamp = repo.metadata("timestamp.json").read_bytes()  # names V1's snapshot
    repo.publish(bundles[V2])
    repo.publish(bundles[V3])
    assert _names(kiosk.nudge(V2)) == ["content_applied"]  # the kiosk saw the newer metadata
    kiosk.updater.confirm_healthy(V2)
    # The attacker serves the older, validly signed timestamp (and so snapshot and targets)
    # to hide V3 and to make the channel point back at V1.
    repo.metadata("timestamp.json").write_bytes(old_timestamp)
    events = kiosk.nudge(V3)
    assert _names(events) == ["content_metadata_stale", "content_failed"]
    failed = events[1][1]
    assert failed["stage"] == "metadata" and "version" in failed["reason"]
    assert kiosk.shown_version() == V2 and kiosk.last_good() == V2
    # Not even the older version it names: nothing is installed on metadata that fails.
    assert kiosk.nudge(V1) == [
        ("content_failed", {"version": V1, "stage": "metadata", "reason": failed["reason"]})
    ]
    assert kiosk.shown_version() == V2


@pytest.mark.parametrize("swapped", ["snapshot", "targets"])
def test_mixed_and_matched_metadata_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle], swapped: str
) -> None:
    kiosk = kiosk_on_v1
    old = {
        "snapshot": repo.metadata(f"{repo.snapshot_version()}.snapshot.json").read_bytes(),
        "targets": repo.metadata(f"{repo.targets_version()}.targets.json").read_bytes(),
    }
    repo.publish(bundles[V2])
    # The new timestamp is served, but under the new snapshot's (or targets') name the old
    # file, validly signed, whose channel pointer still names V1.
    new_name = {
        "snapshot": f"{repo.snapshot_version()}.snapshot.json",
        "targets": f"{repo.targets_version()}.targets.json",
    }[swapped]
    repo.metadata(new_name).write_bytes(old[swapped])
    events = kiosk.nudge(V2)
    assert _names(events) == ["content_metadata_stale", "content_failed"]
    _refused(kiosk, events, V2, "metadata", "mismatch")


def test_an_expired_timestamp_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.publish(bundles[V2])
    # A fleet manager with a wrong clock (or an attacker replaying one it signed long ago):
    # a newer timestamp version that expired yesterday.
    assert refresh_timestamp(
        repo.directory,
        timestamp=repo.keys.timestamp,
        now=_now() - timedelta(days=2),
        min_remaining=timedelta(days=30),
    )
    events = kiosk.nudge(V2)
    assert _names(events) == ["content_metadata_stale", "content_failed"]
    assert "expired" in events[0][1]["reason"]
    _refused(kiosk, events, V2, "metadata", "expired")


def _seed_kiosk_as_of(repo: Repo, kiosk_dir: Path, bundle: BuiltBundle) -> None:
    """The kiosk as it was after its last refresh three days ago: ngclient's cache as it
    stored it then (root history, timestamp, snapshot, targets), and that bundle shown."""
    cache = kiosk_dir / "tuf" / "metadata"
    (cache / "root_history").mkdir(parents=True)
    shutil.copy(repo.metadata("1.root.json"), cache / "root_history" / "1.root.json")
    (cache / "root.json").symlink_to("root_history/1.root.json")
    shutil.copy(repo.metadata("timestamp.json"), cache / "timestamp.json")
    shutil.copy(repo.metadata(f"{repo.snapshot_version()}.snapshot.json"), cache / "snapshot.json")
    shutil.copy(repo.metadata(f"{repo.targets_version()}.targets.json"), cache / "targets.json")
    store = ContentStore(kiosk_dir)
    extract(bundle.path, store.stage(bundle.version))
    store.switch(bundle.version)
    store.mark_good(bundle.version)


def test_frozen_metadata_is_refused_once_it_has_expired(
    tmp_path: Path, keys: Keys, tls: Tls, bundles: dict[str, BuiltBundle]
) -> None:
    three_days_ago = _now() - timedelta(days=3)
    repo = Repo(tmp_path / "repo", keys)
    init_repository(
        repo.directory,
        root_signers=[keys.root],
        targets=keys.targets,
        snapshot=keys.snapshot,
        timestamp=keys.timestamp,
        now=three_days_ago,
    )
    repo.publish(bundles[V1], now=three_days_ago)
    frozen = repo.metadata("timestamp.json").read_bytes()
    _seed_kiosk_as_of(repo, tmp_path / "kiosk", bundles[V1])
    repo.publish(bundles[V2])  # today: a new hotline number the attacker wants to hide
    repo.metadata("timestamp.json").write_bytes(frozen)  # ... by replaying the old metadata
    server = Server(repo.directory, tls)
    try:
        kiosk = _kiosk(tmp_path, repo, server, tls)
        events = kiosk.nudge(V2)
        assert _names(events) == ["content_metadata_stale", "content_failed"]
        _refused(kiosk, events, V2, "metadata", "expired")
        assert kiosk.updater.ensure_channel_content() == []  # reported once, not per retry
        # The attacker gives up: today's metadata is served and verifies.
        repo.publish(bundles[V3])
        assert kiosk.nudge(V3) == [("content_applied", {"version": V3})]
    finally:
        server.stop()


def test_a_rotated_out_timestamp_key_signs_nothing_the_kiosk_accepts(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle], tmp_path: Path
) -> None:
    kiosk = kiosk_on_v1
    keys = repo.keys
    create_key(tmp_path / "timestamp-2.pem", None)
    new_timestamp = load_signer(tmp_path / "timestamp-2.pem", None)
    rotate_key(
        repo.directory,
        "timestamp",
        root_signers_old=[keys.root],
        new_signer=new_timestamp,
        timestamp=keys.timestamp,
        now=_now(),
    )
    assert kiosk.updater.ensure_channel_content() == []  # learns root v2
    assert (kiosk.state_dir / "tuf" / "metadata" / "root_history" / "2.root.json").is_file()
    kiosk.restart()  # bootstrapped with root v1 again: the cached chain leads to v2
    publish_bundle(
        repo.directory,
        bundles[V2].path,
        channel=CHANNEL,
        targets=keys.targets,
        snapshot=keys.snapshot,
        timestamp=new_timestamp,
        now=_now(),
    )
    # Whoever kept the old timestamp key signs a newer timestamp with it.
    stolen = Metadata[TimestampRole].from_file(str(repo.metadata("timestamp.json")))
    stolen.signed.version += 1
    stolen.sign(keys.timestamp)
    repo.metadata("timestamp.json").write_bytes(stolen.to_bytes())
    events = kiosk.nudge(V2)
    assert _names(events) == ["content_metadata_stale", "content_failed"]
    _refused(kiosk, events, V2, "metadata", "signature: timestamp")


# -- the network -------------------------------------------------------------------------------


def test_an_unreachable_repository_keeps_the_last_good_content(
    tmp_path: Path, repo: Repo, tls: Tls, bundles: dict[str, BuiltBundle]
) -> None:
    repo.publish(bundles[V1])
    server = Server(repo.directory, tls)
    kiosk = _kiosk(tmp_path, repo, server, tls)
    kiosk.updater.ensure_channel_content()
    kiosk.updater.confirm_healthy(V1)
    repo.publish(bundles[V2])
    server.stop()
    events = kiosk.updater.ensure_channel_content()
    assert _names(events) == ["content_metadata_stale"]
    events = kiosk.nudge(V2)
    assert _names(events) == ["content_failed"]  # stale already reported
    _refused(kiosk, events, V2, "metadata")
    again = Server(repo.directory, tls)  # back, on another port
    try:
        kiosk.base_url = again.base_url
        kiosk.restart()
        assert kiosk.nudge(V2) == [("content_applied", {"version": V2})]
    finally:
        again.stop()


def test_a_server_certificate_from_another_ca_is_refused(
    tmp_path: Path, repo: Repo, server: Server, tls: Tls, bundles: dict[str, BuiltBundle]
) -> None:
    repo.publish(bundles[V1])
    kiosk = Kiosk(
        tmp_path / "k", server.base_url, tls.stranger_ca_file, trusted_root(repo.directory)
    )
    events = kiosk.updater.ensure_channel_content()
    assert _names(events) == ["content_metadata_stale"]
    assert "certificate" in events[0][1]["reason"].lower()
    assert kiosk.updater.current_bundle_dir() is None


# -- properly signed, still refused ------------------------------------------------------------


def _archive(version: str, **replace: bytes | None) -> bytes:
    """The sample bundle's files as an archive, with some replaced (None: left out)."""
    files = {"manifest.toml": (SAMPLE / "manifest.toml").read_bytes()}
    for po in sorted((SAMPLE / "po").glob("*.po")):
        files[f"po/{po.name}"] = po.read_bytes()
    files["manifest.toml"] = files["manifest.toml"].replace(
        b'version = "2026.11.1"', f'version = "{version}"'.encode(), 1
    )
    for name, data in replace.items():
        if data is None:
            files.pop(name)
        else:
            files[name] = data
    return archive_bytes(files)


def _tar_gz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_a_signed_bundle_with_a_qr_target_outside_the_allow_list_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    # A bundle cannot carry a QR origin (the manifest has no such key, and unknown keys are
    # refused), so one that tries is refused when it loads ...
    manifest = (
        (SAMPLE / "manifest.toml")
        .read_bytes()
        .replace(
            b'version = "2026.11.1"',
            b'version = "2026.11.2"\nqr_origin = "help.evil.example"',
        )
    )
    repo.sign_raw_target(V2, _archive(V2, **{"manifest.toml": manifest}))
    _refused(kiosk, kiosk.nudge(V2), V2, "bundle", "qr_origin: unknown key")
    # ... and the QR targets the kiosk builds for a bundle are checked against the allow-list
    # before the switch: a forged relocation to a stranger's origin gets no new content on.
    repo.publish(bundles[V3])
    kiosk.profile = _profile(qr_origin="help.evil.example")
    kiosk.restart()
    _refused(kiosk, kiosk.nudge(V3), V3, "qr", "help.evil.example", "not on the allow-list")


def test_a_signed_corrupt_archive_is_refused(kiosk_on_v1: Kiosk, repo: Repo) -> None:
    kiosk = kiosk_on_v1
    good = _archive(V2)
    repo.sign_raw_target(V2, good[: len(good) // 2])
    _refused(kiosk, kiosk.nudge(V2), V2, "unpack", "not a readable .tar.gz archive")


@pytest.mark.parametrize(
    ("member", "words"),
    [
        ("../../../../tmp/beacon-escaped.po", "climbs out"),
        ("/tmp/beacon-absolute.po", "absolute path"),
        ("po/../../escaped.po", "climbs out"),
    ],
)
def test_a_signed_archive_with_a_path_traversal_member_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, tmp_path: Path, member: str, words: str
) -> None:
    kiosk = kiosk_on_v1
    members = [(tarfile.TarInfo("manifest.toml"), _archive_manifest(V2))]
    members += [
        (tarfile.TarInfo(f"po/{p.name}"), p.read_bytes()) for p in (SAMPLE / "po").glob("*.po")
    ]
    members.append((tarfile.TarInfo(member), b'msgid ""\nmsgstr ""\n'))
    repo.sign_raw_target(V2, _tar_gz(members))
    _refused(kiosk, kiosk.nudge(V2), V2, "unpack", words)
    assert not Path("/tmp/beacon-escaped.po").exists()
    assert not Path("/tmp/beacon-absolute.po").exists()
    assert not (kiosk.state_dir / "content" / "escaped.po").exists()


def test_a_signed_archive_with_a_symlink_is_refused(kiosk_on_v1: Kiosk, repo: Repo) -> None:
    kiosk = kiosk_on_v1
    link = tarfile.TarInfo("po/en.po")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    members = [(tarfile.TarInfo("manifest.toml"), _archive_manifest(V2)), (link, b"")]
    repo.sign_raw_target(V2, _tar_gz(members))
    _refused(kiosk, kiosk.nudge(V2), V2, "unpack", "symlinks are not allowed")


def test_a_signed_bundle_of_another_version_is_refused(
    kiosk_on_v1: Kiosk, repo: Repo, bundles: dict[str, BuiltBundle]
) -> None:
    kiosk = kiosk_on_v1
    repo.sign_raw_target(V2, bundles[V3].path.read_bytes())  # V3's bytes named as V2
    _refused(kiosk, kiosk.nudge(V2), V2, "bundle", "says version 2026.11.3")


def test_an_unknown_version_is_refused(kiosk_on_v1: Kiosk) -> None:
    _refused(kiosk_on_v1, kiosk_on_v1.nudge(V3), V3, "download", "not a signed target")


def _archive_manifest(version: str) -> bytes:
    return (
        (SAMPLE / "manifest.toml")
        .read_bytes()
        .replace(b'version = "2026.11.1"', f'version = "{version}"'.encode(), 1)
    )
