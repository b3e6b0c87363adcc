"""``beacon kiosk run --demo``: a kiosk screen anyone can look at, with no fleet behind it.

A throwaway identity (its own CA and certificate), the sample bundle, a sample staff PIN, and a
broker address where nothing listens: the agent keeps any alert in its outbox, exactly as a
real kiosk would while its network is down.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.agent.identity import BrokerAddress, DeviceProfile, save_profile
from device.ui.staff_access import hash_pin, save_pin_hash
from fleet_manager.brokers.runner import free_port
from provisioning.ca import create_fleet_ca, issue_certificate, write_tls_files

DEMO_DEVICE = "kiosk-demo"
DEMO_PIN = "2468"
DEMO_ORIGIN = "help.beacon.example"
DEMO_TOKEN = "demo-Xq3v9LmT2pR8sW4k"


def make_demo_state(state_dir: Path) -> Path:
    """Lay out a demo kiosk's state directory (idempotent) and return it."""
    if (state_dir / "device.json").exists():
        return state_dir
    ca = create_fleet_ca("Beacon Demo CA")
    write_tls_files(
        state_dir / "tls", ca.cert_pem(), issue_certificate(ca, DEMO_DEVICE, usage="client")
    )
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    save_profile(
        state_dir,
        DeviceProfile(
            device_id=DEMO_DEVICE,
            region="demo",
            facility="demo-clinic",
            location="demo-waiting",
            location_name="Demo waiting room",
            broker=BrokerAddress(host="127.0.0.1", port=free_port()),
            command_key=base64.b64encode(raw).decode(),
            location_token=DEMO_TOKEN,
            qr_origin=DEMO_ORIGIN,
            allowed_origins=(DEMO_ORIGIN,),
        ),
    )
    save_pin_hash(state_dir, hash_pin(DEMO_PIN))
    return state_dir
