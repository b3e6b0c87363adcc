"""Mosquitto brokers: configuration rendering (pure) and a process runner (the adapter)."""

from fleet_manager.brokers.mosquitto_config import (
    BridgeSpec,
    render_fleet_acl,
    render_fleet_broker_conf,
    render_responder_acl,
    render_responder_broker_conf,
)
from fleet_manager.brokers.runner import (
    BrokerPaths,
    MosquittoProcess,
    broker_paths,
    broker_user_setting,
    free_port,
    write_broker_files,
)

__all__ = [
    "BridgeSpec",
    "BrokerPaths",
    "MosquittoProcess",
    "broker_paths",
    "broker_user_setting",
    "free_port",
    "render_fleet_acl",
    "render_fleet_broker_conf",
    "render_responder_acl",
    "render_responder_broker_conf",
    "write_broker_files",
]
