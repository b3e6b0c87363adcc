"""A landing page over a fresh SQLite store: facility "clinic-n" in region north with two
locations, a region key for north (and, unless asked not to, for south), the sample bundle."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from content.bundle import load_bundle
from fleet_manager.config import LandingSettings, ListenAddress
from fleet_manager.landing.app import LandingApp
from fleet_manager.landing.serve import SAMPLE_BUNDLE
from fleet_manager.landing.texts import load_texts
from fleet_manager.reports.sealing import key_id, new_private_key, public_key_pem
from fleet_manager.store import registry, report_store
from fleet_manager.store.database import migrate, open_engine

_BUNDLE = None
_TEXTS = None


@dataclass
class LandingWorld:
    engine: sa.Engine
    app: LandingApp
    tokens: dict[str, str]  # location id → its QR token
    keys: dict[str, X25519PrivateKey]  # region → private key


def region_key(engine: sa.Engine, region: str) -> X25519PrivateKey:
    private = new_private_key()
    with engine.begin() as conn:
        report_store.add_key(
            conn,
            key_id=key_id(private.public_key()),
            region=region,
            public_key=public_key_pem(private.public_key()),
            by="test",
            now=time.time(),
        )
    return private


def landing_world(
    tmp: Path,
    *,
    regions_with_keys: tuple[str, ...] = ("north", "south"),
    settings: dict[str, object] | None = None,
) -> LandingWorld:
    global _BUNDLE, _TEXTS
    if _BUNDLE is None:
        _BUNDLE = load_bundle(SAMPLE_BUNDLE)
        _TEXTS = load_texts(languages=_BUNDLE.languages)
    assert _TEXTS is not None
    engine = open_engine(f"sqlite:///{tmp / 'fleet.db'}")
    migrate(engine)
    now = time.time()
    tokens = {}
    with engine.begin() as conn:
        registry.create_facility(conn, "clinic-n", "North Clinic", "north", now)
        for location_id, name in (("n-waiting", "Waiting room"), ("n-restroom", "Restroom")):
            registry.create_location(conn, location_id, "clinic-n", name, "waiting_room", now)
            location = registry.get_location(conn, location_id)
            assert location is not None
            tokens[location_id] = location.qr_token
    keys = {region: region_key(engine, region) for region in regions_with_keys}
    landing_settings = LandingSettings.model_validate(
        {
            "listen": ListenAddress(port=8443),
            "tls_cert": tmp / "unused-cert.pem",
            "tls_key": tmp / "unused-key.pem",
            "exit_url": "https://neutral.example/",
            **(settings or {}),
        }
    )
    app = LandingApp(landing_settings, engine, _BUNDLE, _TEXTS, default_region="north")
    return LandingWorld(engine, app, tokens, keys)
