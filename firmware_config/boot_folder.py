"""Write a rendered boot folder to disk: the adapter beside the pure :func:`render`."""

from __future__ import annotations

import os
from pathlib import Path

from firmware_config.boot_files import SECRET_FILES, render
from firmware_config.profile import Profile


def write_boot_folder(profile: Profile, out_dir: Path) -> list[Path]:
    """Write every rendered file under ``out_dir``; the files holding secrets mode 0600.

    Secret files are created 0600 from the first byte (never briefly world-readable), and an
    existing file is replaced, not rewritten in place, so its old mode cannot leak either.
    Returns the paths written, in order.
    """
    written: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for relative, content in render(profile).items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o600 if relative in SECRET_FILES else 0o644
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.chmod(tmp, mode)  # the umask may have taken bits away
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written.append(path)
    return written
