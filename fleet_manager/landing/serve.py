"""Run the landing page over HTTPS: ``beacon landing serve --config fleet.yaml``.

Its own process, apart from the console and API: it is the one public, anonymous surface, it
holds no signing key, and its logging is set so that no address can reach a log line: no
access log, uvicorn's own loggers only at warning level (their messages name no client), no
proxy headers read.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from content.bundle import ContentBundle, load_bundle
from fleet_manager.config import FleetConfig
from fleet_manager.https_server import quiet_https_server
from fleet_manager.landing.app import LandingApp, create_landing_app
from fleet_manager.landing.texts import load_texts
from fleet_manager.store import registry, report_store
from fleet_manager.store.database import migrate, open_engine
from transport.log import get_logger

log = get_logger("fleet_manager.landing")

SAMPLE_BUNDLE = Path(__file__).resolve().parents[2] / "content" / "sample"


def build_landing(config: FleetConfig) -> LandingApp:
    settings = config.landing
    if settings is None:
        raise ValueError("the fleet config has no 'landing' section: nothing to serve")
    bundle: ContentBundle = load_bundle(settings.bundle or SAMPLE_BUNDLE)
    texts = load_texts(languages=bundle.languages)
    engine = open_engine(config.database_url)
    migrate(engine)
    with engine.connect() as conn:
        regions = {f.region for f in registry.list_facilities(conn)} | {config.default_region}
        missing = sorted(regions - set(report_store.active_keys(conn)))
    if missing:
        # Reports from these regions will be refused (the page says to call instead).
        log.error("report_keys_missing", regions=missing)
    return LandingApp(
        settings,
        engine,
        bundle,
        texts,
        config.default_region,
        instance=f"landing-{config.instance}",
    )


def build_server(config: FleetConfig) -> tuple[uvicorn.Server, LandingApp]:
    landing = build_landing(config)
    settings = landing.settings
    server = quiet_https_server(
        create_landing_app(landing),
        settings.listen,
        settings.tls_cert,
        settings.tls_key,
        lifespan="on",  # the scan counts' flusher starts and stops with the server
        proxy_headers=False,  # nothing rewrites the client address (limits read it themselves)
    )
    return server, landing


def serve(config: FleetConfig) -> None:
    server, landing = build_server(config)
    log.info(
        "landing_started",
        port=landing.settings.listen.port,
        languages=len(landing.languages),
    )
    server.run()
