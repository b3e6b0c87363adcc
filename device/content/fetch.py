"""The kiosk's TUF client: python-tuf's ngclient over HTTPS, with failures as our own types.

    client = TufClient(state_dir, "https://fleet:8443", ca_file, trusted_root)
    client.refresh()                        # fresh, verified top-level metadata (or it raises)
    client.channel_pointer("stable")        # the signed ChannelPointer of a channel
    client.fetch_bundle("2026.11.2")        # Path of the verified bundle archive

    STATE/tuf/metadata/   ngclient's cache: root_history/, root.json, timestamp.json, ...
    STATE/tuf/downloads/  verified targets (the caller deletes a bundle once unpacked)

Trust: the root the kiosk got at enrolment (``tuf-root.json``) is passed to every ngclient
``Updater`` as its ``bootstrap``, as python-tuf 7 asks. That does not reset the cache: newer roots
kept in ``root_history/`` are verified again from it, and the cached timestamp and snapshot keep
guarding against rollback and freeze attacks across restarts. HTTPS is verified against
``ca_file`` (the fleet root) when given, else the system's CAs; TUF would catch a forged file
anyway, but the TLS check stops an attacker from even serving one.

Errors: every python-tuf failure becomes a :class:`ContentFetchError` with a short ``stage``
(``metadata`` or ``download``) and ``reason``:

- :class:`RepositoryUnreachable`  network, TLS or HTTP failure
- :class:`MetadataStale`          verified metadata has expired (or the root has)
- :class:`MetadataRejected`       metadata does not verify: bad signature, rollback, mix-and-match
- :class:`TargetRejected`         a target's bytes or length do not match its signed info,
                                  or a channel pointer is malformed
- :class:`TargetMissing`          no such signed target (a TargetRejected)
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import urllib3
from pydantic import ValidationError
from tuf.api import exceptions as tuf_errors
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from protocol.content_delivery import (
    METADATA_PATH,
    TARGETS_PATH,
    ChannelPointer,
    bundle_target,
    channel_target,
)
from transport.log import get_logger

log = get_logger("device.content.fetch")

TUF_DIR = "tuf"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0  # the longest silence between bytes, not a whole download
MAX_REASON = 300


class ContentFetchError(Exception):
    """A TUF failure, reduced to where it happened and why (short, no secrets, no paths)."""

    def __init__(self, stage: str, reason: str) -> None:
        self.stage = stage
        self.reason = reason[:MAX_REASON]
        super().__init__(f"{stage}: {self.reason}")


class RepositoryUnreachable(ContentFetchError):
    """The repository could not be reached or did not answer (network, TLS, HTTP status)."""


class MetadataStale(ContentFetchError):
    """The newest verified metadata has expired: no content may be trusted until fresh."""


class MetadataRejected(ContentFetchError):
    """The repository served metadata that does not verify (signature, version, hashes)."""


class TargetRejected(ContentFetchError):
    """A target does not match its signed length and hashes, or does not parse."""


class TargetMissing(TargetRejected):
    """The signed metadata lists no such target."""


class HttpsFetcher(FetcherInterface):
    """ngclient's network I/O over urllib3, trusting ``ca_file`` for HTTPS (system CAs if None).

    Redirects are not followed and any status but 200 is an error: the repository serves its
    files directly.
    """

    def __init__(self, ca_file: Path | None) -> None:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._pool = urllib3.PoolManager(
            ssl_context=context,
            retries=urllib3.Retry(total=2, redirect=False, raise_on_status=False),
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
        )

    def close(self) -> None:
        """Close pooled connections (they are opened again when needed)."""
        self._pool.clear()

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._pool.request("GET", url, preload_content=False, redirect=False)
        except urllib3.exceptions.MaxRetryError as exc:
            # NewConnectionError is a ConnectTimeoutError in urllib3 2: test it first.
            if isinstance(exc.reason, urllib3.exceptions.NewConnectionError):
                raise tuf_errors.DownloadError(f"{url}: cannot connect") from exc
            if isinstance(exc.reason, urllib3.exceptions.TimeoutError):
                raise tuf_errors.SlowRetrievalError(f"{url}: timed out") from exc
            raise tuf_errors.DownloadError(f"{url}: {exc.reason}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {exc}") from exc
        if response.status != 200:
            response.drain_conn()  # an unread body would be taken for the next response
            response.release_conn()
            raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {response.status}", response.status)
        return self._chunks(response)

    @staticmethod
    def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            yield from response.stream(64 * 1024)
        except urllib3.exceptions.TimeoutError as exc:
            raise tuf_errors.SlowRetrievalError("read timed out") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"download broke off: {exc}") from exc
        finally:
            response.release_conn()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text


@contextmanager
def _mapped(stage: str) -> Iterator[None]:
    """Turn python-tuf's exceptions (and network OSErrors) into ours."""
    try:
        yield
    except tuf_errors.ExpiredMetadataError as exc:
        raise MetadataStale(stage, f"expired: {exc}") from exc
    except tuf_errors.LengthOrHashMismatchError as exc:
        if stage == "download":
            raise TargetRejected(stage, f"hash or length mismatch: {exc}") from exc
        raise MetadataRejected(stage, f"hash or length mismatch: {exc}") from exc
    except tuf_errors.UnsignedMetadataError as exc:
        raise MetadataRejected(stage, f"signature: {exc}") from exc
    except tuf_errors.BadVersionNumberError as exc:
        raise MetadataRejected(stage, f"version (rollback?): {exc}") from exc
    except tuf_errors.RepositoryError as exc:
        raise MetadataRejected(stage, _describe(exc)) from exc
    except tuf_errors.DownloadLengthMismatchError as exc:
        if stage == "download":
            raise TargetRejected(stage, f"longer than signed: {exc}") from exc
        raise MetadataRejected(stage, f"longer than allowed: {exc}") from exc
    except tuf_errors.DownloadHTTPError as exc:
        if stage == "download" and exc.status_code == 404:
            raise TargetRejected(stage, f"signed target not served: {exc}") from exc
        raise RepositoryUnreachable(stage, _describe(exc)) from exc
    except (tuf_errors.DownloadError, OSError) as exc:
        raise RepositoryUnreachable(stage, _describe(exc)) from exc


class TufClient:
    def __init__(
        self,
        state_dir: Path,
        base_url: str,
        ca_file: Path | None,
        trusted_root: bytes,
        *,
        fetcher: FetcherInterface | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self._metadata_url = base + METADATA_PATH
        self._targets_url = base + TARGETS_PATH
        self.metadata_dir = state_dir / TUF_DIR / "metadata"
        self.downloads_dir = state_dir / TUF_DIR / "downloads"
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.downloads_dir.mkdir(parents=True, exist_ok=True)
        self._trusted_root = trusted_root
        self._fetcher = fetcher or HttpsFetcher(ca_file)
        self._updater: Updater | None = None

    def close(self) -> None:
        """Drop idle HTTPS connections, e.g. between periodic checks; the client stays usable."""
        if isinstance(self._fetcher, HttpsFetcher):
            self._fetcher.close()

    def refresh(self) -> None:
        """Download and verify fresh top-level metadata; raise a ContentFetchError otherwise.

        After a failure nothing is trusted until a later refresh succeeds.
        """
        self._updater = None
        with _mapped("metadata"):
            updater = Updater(
                str(self.metadata_dir),
                self._metadata_url,
                str(self.downloads_dir),
                self._targets_url,
                fetcher=self._fetcher,
                config=UpdaterConfig(app_user_agent="beacon-kiosk"),
                bootstrap=self._trusted_root,
            )
            updater.refresh()
        self._updater = updater
        log.info("tuf_refreshed")

    def _fresh(self) -> Updater:
        if self._updater is None:
            self.refresh()
        assert self._updater is not None
        return self._updater

    def _download(self, target: str) -> Path:
        updater = self._fresh()
        with _mapped("metadata"):
            info = updater.get_targetinfo(target)
        if info is None:
            raise TargetMissing("download", f"{target} is not a signed target")
        path = self.downloads_dir / quote(target, safe="")
        with _mapped("download"):
            cached = updater.find_cached_target(info, str(path))
            if cached is None:
                updater.download_target(info, str(path))
        return path

    def channel_pointer(self, channel: str) -> ChannelPointer:
        """The signed pointer of ``channel``: which bundle version the channel runs."""
        target = channel_target(channel)
        path = self._download(target)
        try:
            pointer = ChannelPointer.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise TargetRejected("channel", f"{target} is not a channel pointer: {exc}") from None
        if pointer.channel != channel:
            raise TargetRejected("channel", f"{target} points for channel {pointer.channel!r}")
        try:
            expected = bundle_target(pointer.version)
        except ValueError as exc:
            raise TargetRejected("channel", f"{target}: {exc}") from None
        if pointer.target != expected:
            raise TargetRejected("channel", f"{target} names {pointer.target!r}, not {expected}")
        return pointer

    def fetch_bundle(self, version: str) -> Path:
        """The verified archive of content ``version`` (downloaded unless already cached)."""
        return self._download(bundle_target(version))
