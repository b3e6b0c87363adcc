"""A TUF repository directory served over local HTTP, and a kiosk-like ngclient reading it.

The server is the standard library's ``http.server`` in a thread: the repository's files as
they are on disk (``/metadata/...``, ``/targets/...``). The client is python-tuf's real
``Updater`` with its default fetcher, a metadata cache that persists between refreshes (as on a
kiosk) and the root it was bootstrapped with, given again on every refresh.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tuf.ngclient.updater import Updater

from content_repo.tuf_types import Metadata
from protocol.content_delivery import ChannelPointer, channel_target


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` at the returned base URL until the block ends."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="tuf-repo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class TufClient:
    """One kiosk's view of the repository: a persistent cache and the root it was given."""

    base_url: str
    cache: Path
    bootstrap: bytes

    def updater(self) -> Updater:
        (self.cache / "metadata").mkdir(parents=True, exist_ok=True)
        return Updater(
            str(self.cache / "metadata"),
            f"{self.base_url}/metadata/",
            str(self.cache / "targets"),
            f"{self.base_url}/targets/",
            bootstrap=self.bootstrap,
        )

    def fetch(self, target: str) -> bytes:
        """Refresh, then download ``target`` (hash and length verified by ngclient)."""
        updater = self.updater()
        updater.refresh()
        info = updater.get_targetinfo(target)
        if info is None:
            raise LookupError(f"no target {target}")
        return Path(updater.download_target(info)).read_bytes()

    def channel(self, channel: str) -> ChannelPointer:
        return ChannelPointer.model_validate_json(self.fetch(channel_target(channel)))

    def cached_version(self, role: str) -> int:
        """The version of ``role`` the client persisted at its last successful refresh."""
        cached = Metadata.from_file(str(self.cache / "metadata" / f"{role}.json"))
        return int(cached.signed.version)
