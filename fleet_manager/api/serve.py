"""Run the API over HTTPS with uvicorn: ``beacon fleet api --config fleet.yaml``.

The access log is off: it would record kiosks' addresses and enrolment ids, and the service
logs what matters as structured lines.
"""

from __future__ import annotations

import signal

import uvicorn

from fleet_manager.api.app import create_app
from fleet_manager.api.tuf_routes import mount_repository
from fleet_manager.config import FleetConfig
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.https_server import quiet_https_server
from fleet_manager.metrics import Counters
from fleet_manager.store.database import migrate, open_engine
from transport.log import get_logger

log = get_logger("fleet_manager.api")


def build_server(config: FleetConfig) -> tuple[uvicorn.Server, Counters]:
    if config.enrolment is None:
        raise ValueError("the fleet config has no 'enrolment' section: nothing to serve")
    engine = open_engine(config.database_url)
    migrate(engine)
    service = EnrolmentService.from_config(config, engine)
    settings = config.enrolment
    repository = config.content.repository if config.content is not None else None
    app = create_app(service, repository, config.console.session_policy(), config)
    if config.content is not None:
        mount_repository(app, config.content.repository)
    server = quiet_https_server(app, settings.listen, settings.tls_cert, settings.tls_key)
    return server, service.counters


def serve(config: FleetConfig) -> None:
    server, counters = build_server(config)
    # SIGUSR1 logs the counters (requests refused, bytes served …) without stopping anything.
    signal.signal(signal.SIGUSR1, lambda *_: log.info("api_counters", counters=counters.snapshot()))
    assert config.enrolment is not None
    log.info("api_started", host=config.enrolment.listen.host, port=config.enrolment.listen.port)
    server.run()
