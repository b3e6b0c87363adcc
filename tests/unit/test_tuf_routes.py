"""fleet_manager.api.tuf_routes: the repository's files read-only, nothing else, right headers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from content_repo import init_repository
from content_repo.tuf_types import CryptoSigner
from fleet_manager.api.tuf_routes import mount_repository


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    directory = tmp_path / "repo"
    signers = [CryptoSigner.generate_ed25519() for _ in range(4)]
    init_repository(
        directory,
        root_signers=[signers[0]],
        targets=signers[1],
        snapshot=signers[2],
        timestamp=signers[3],
        now=datetime.now(UTC),
    )
    (directory / "targets" / "bundles").mkdir()
    (directory / "targets" / "bundles" / "abc.beacon-content-2026.11.1.tar.gz").write_bytes(b"x")
    (directory / "secret.txt").write_text("not for kiosks", encoding="utf-8")
    (directory / "metadata" / ".timestamp.json.123.tmp").write_text("half", encoding="utf-8")
    return directory


@pytest.fixture
def http(repo: Path) -> Iterator[TestClient]:
    app = FastAPI()
    mount_repository(app, repo)
    with TestClient(app) as client:
        yield client


def test_metadata_is_served_uncached(http: TestClient, repo: Path) -> None:
    for name in ("1.root.json", "timestamp.json", "1.snapshot.json", "1.targets.json"):
        response = http.get(f"/tuf/metadata/{name}")
        assert response.status_code == 200, name
        assert response.content == (repo / "metadata" / name).read_bytes()
        assert response.headers["cache-control"] == "no-store"


def test_targets_are_served_and_cacheable(http: TestClient) -> None:
    response = http.get("/tuf/targets/bundles/abc.beacon-content-2026.11.1.tar.gz")
    assert response.status_code == 200
    assert response.content == b"x"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert http.head("/tuf/targets/bundles/abc.beacon-content-2026.11.1.tar.gz").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/tuf/metadata/",  # no listing
        "/tuf/metadata",
        "/tuf/targets/bundles/",
        "/tuf/metadata/2.root.json",  # absent
        "/tuf/metadata/%2e%2e/secret.txt",  # traversal out of metadata/
        "/tuf/metadata/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/tuf/targets/bundles/%2e%2e/%2e%2e/secret.txt",
        "/tuf/metadata/..%2fsecret.txt",
        "/tuf/metadata/.timestamp.json.123.tmp",  # a file being written
        "/tuf/metadata/%2e%2e/.lock",
        "/tuf/secret.txt",
    ],
)
def test_nothing_else_is_served(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404, path
    assert b"not for kiosks" not in response.content


def test_read_only(http: TestClient, repo: Path) -> None:
    before = (repo / "metadata" / "timestamp.json").read_bytes()
    for method in ("POST", "PUT", "DELETE"):
        response = http.request(method, "/tuf/metadata/timestamp.json", content=b"{}")
        assert response.status_code == 405, method
    assert (repo / "metadata" / "timestamp.json").read_bytes() == before


def test_repository_not_initialised_yet_is_404_not_500(tmp_path: Path) -> None:
    app = FastAPI()
    mount_repository(app, tmp_path / "not-yet")
    with TestClient(app) as client:
        assert client.get("/tuf/metadata/timestamp.json").status_code == 404
        assert client.get("/tuf/targets/x").status_code == 404
