"""The kiosk's identity and settings as found in its state directory.

    STATE_DIR/device.json   who this kiosk is and where it reports (written by provisioning)
    STATE_DIR/tls/          ca.pem, cert.pem, key.pem (key never leaves the device; mode 0600)
    STATE_DIR/outbox.db     the durable alert outbox
    STATE_DIR/control.sock  the local control socket (mode 0600)

Loading fails with a message that names the file and the field, never with a traceback.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from protocol.identities import is_device_id, is_valid_segment
from provisioning.tls import TlsFiles

DEVICE_FILE = "device.json"


class IdentityError(ValueError):
    """The state directory does not hold a usable kiosk identity."""


class BrokerAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = Field(min_length=1)
    port: int = Field(gt=0, lt=65536)


class DeviceProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str
    region: str
    facility: str
    location: str
    location_name: str = ""
    channel: str = "stable"
    broker: BrokerAddress
    command_key: str  # base64 raw Ed25519 public key of the fleet's command signer
    # Where this kiosk's QR codes point: https://{qr_origin}/r/{location_token}?l={lang}. The
    # allow-list is baked in at provisioning, so even signed content cannot redirect a victim.
    location_token: str = ""
    qr_origin: str = ""
    allowed_origins: tuple[str, ...] = ()
    # The fleet API (https://host:port) whose /tuf repository signs this kiosk's content; the
    # TUF root it starts from is STATE_DIR/tuf-root.json (from enrolment).
    content_url: str = ""

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, v: str) -> str:
        if not is_device_id(v):
            raise ValueError("must start with 'kiosk-' and use lower-case letters, digits, '-'")
        return v

    @field_validator("region", "facility", "location", "channel")
    @classmethod
    def _segment(cls, v: str) -> str:
        if not is_valid_segment(v):
            raise ValueError("must use lower-case letters, digits, '-' or '_'")
        return v

    def command_public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.command_key))


def tls_files(state_dir: Path) -> TlsFiles:
    tls = state_dir / "tls"
    return TlsFiles(cafile=tls / "ca.pem", certfile=tls / "cert.pem", keyfile=tls / "key.pem")


def load_profile(state_dir: Path) -> DeviceProfile:
    path = state_dir / DEVICE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdentityError(f"{path}: not found; this kiosk is not provisioned") from None
    try:
        profile = DeviceProfile.model_validate_json(raw)
        profile.command_public_key()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise IdentityError(f"{path}: {problems}") from None
    except ValueError as exc:
        raise IdentityError(f"{path}: command_key is not an Ed25519 public key ({exc})") from None
    for name, file in vars(tls_files(state_dir)).items():
        if not Path(file).is_file():
            raise IdentityError(f"{file}: missing ({name}); re-provision this kiosk")
    return profile


def save_profile(state_dir: Path, profile: DeviceProfile) -> None:
    """Write device.json atomically, so a power cut never leaves half a file."""
    state_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps(profile.model_dump(), indent=2).encode()
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".device.")
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, state_dir / DEVICE_FILE)
