"""Writing the kiosk's key and certificate so that a power cut never leaves a mismatched pair.

A renewed certificate comes with a new key, and the two files must change together. They are
written completely into ``tls/next/`` with a ``complete`` marker; then each is moved into place.
:func:`recover` (run at start) finishes a swap that a power cut interrupted (roll forward), or
discards a staging folder that never became complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

NEXT_DIR = "next"
MARKER = "complete"
SWAPPED = ("key.pem", "cert.pem")


def write_private_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically replace ``path`` (created 0600 first, so a key is never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_key_and_certificate(tls_dir: Path, key_pem: bytes, cert_pem: bytes) -> None:
    staging = tls_dir / NEXT_DIR
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    write_private_file(staging / "key.pem", key_pem)
    write_private_file(staging / "cert.pem", cert_pem, mode=0o644)
    write_private_file(staging / MARKER, b"")
    recover(tls_dir)


def recover(tls_dir: Path) -> bool:
    """Finish or discard an interrupted swap; True if a new pair was moved into place."""
    staging = tls_dir / NEXT_DIR
    if not staging.is_dir():
        return False
    if not (staging / MARKER).is_file():
        shutil.rmtree(staging, ignore_errors=True)
        return False
    for name in SWAPPED:
        if (staging / name).is_file():
            os.replace(staging / name, tls_dir / name)
    shutil.rmtree(staging, ignore_errors=True)
    return True
