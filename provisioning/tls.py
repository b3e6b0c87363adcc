"""Where a party's TLS material lives on disk.

Kept apart from the CA so a kiosk or a broker config can name its files without importing
anything that can sign certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for one MQTT party: the CA to trust, its own certificate, and its private key."""

    cafile: Path
    certfile: Path
    keyfile: Path
