"""The content TUF repository, served read-only at ``/tuf/metadata/`` and ``/tuf/targets/``.

    mount_repository(app, Path("var/tuf"))   # the directory `beacon content repo init` made

Only files are served: no directory listing, no names starting with "." (the writer lock,
files being written), nothing outside the two folders (``..`` and symlinks leading out are
refused by Starlette's path check and by ours), GET and HEAD only. Metadata is sent with
``Cache-Control: no-store``: a proxy holding on to an old ``timestamp.json`` would freeze kiosks
on old content until it expired. Target files are named by their sha256, so they never change
and may be cached for good.

Trust does not come from this server (or HTTPS): kiosks verify everything with TUF. The server
only has to be available and to hand out what the repository directory holds.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from protocol.content_delivery import METADATA_PATH, TARGETS_PATH

METADATA_CACHE_CONTROL = "no-store"
TARGETS_CACHE_CONTROL = "public, max-age=31536000, immutable"


class RepositoryFiles(StaticFiles):
    """StaticFiles for one repository folder: files only, hidden names refused, one policy."""

    def __init__(self, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory, check_dir=False, html=False, follow_symlink=False)
        self.cache_control = cache_control

    async def check_config(self) -> None:
        # A repository not initialised yet answers 404 to every request, not a server error.
        return None

    async def get_response(self, path: str, scope: Scope) -> Response:
        # ``path`` is normalised: "." for the folder itself, ".." first if it tries to climb.
        if any(part.startswith(".") for part in Path(path).parts):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = self.cache_control
        return response


def mount_repository(app: FastAPI, directory: Path) -> None:
    """Serve ``directory/metadata`` and ``directory/targets`` under the contract's paths."""
    directory = directory.resolve()
    app.mount(
        METADATA_PATH.rstrip("/"),
        RepositoryFiles(directory / "metadata", METADATA_CACHE_CONTROL),
        name="tuf_metadata",
    )
    app.mount(
        TARGETS_PATH.rstrip("/"),
        RepositoryFiles(directory / "targets", TARGETS_CACHE_CONTROL),
        name="tuf_targets",
    )
