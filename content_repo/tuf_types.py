"""python-tuf and securesystemslib names, imported from the modules that define them.

``tuf.api.metadata`` and ``securesystemslib.signer`` re-export these without ``__all__``, which
strict mypy (no implicit re-export) refuses. Importing them here, once, keeps the private
module paths in one file; the rest of Beacon imports them from this module.
"""

from __future__ import annotations

from securesystemslib.signer._crypto_signer import CryptoSigner
from securesystemslib.signer._key import Key, SSlibKey
from securesystemslib.signer._signer import Signer
from tuf.api._payload import (
    MetaFile,
    Root,
    Signed,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.metadata import Metadata

__all__ = [
    "CryptoSigner",
    "Key",
    "MetaFile",
    "Metadata",
    "Root",
    "SSlibKey",
    "Signed",
    "Signer",
    "Snapshot",
    "TargetFile",
    "Targets",
    "Timestamp",
]
