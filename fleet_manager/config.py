"""The fleet manager's configuration file (YAML), validated with errors naming file and field.

    instance: "1"                      # identity fleet-manager-<instance> = certificate CN
    database_url: sqlite:///var/fleet.db
    broker: {host: 127.0.0.1, port: 8883, ca: ca.pem, cert: cert.pem, key: key.pem}
    routing_policy: routing.yaml
    command_signing_key: command-key.pem
    default_region: north              # for alerts from kiosks not (yet) in the registry
    telemetry_flush_s: 1.0
    command_ttl_s: 3600
    log_level: INFO

Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from protocol.identities import fleet_manager_identity, is_valid_segment
from provisioning.tls import TlsFiles


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and field."""


class BrokerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: int = Field(gt=0, lt=65536)
    ca: Path
    cert: Path
    key: Path

    def tls(self) -> TlsFiles:
        return TlsFiles(cafile=self.ca, certfile=self.cert, keyfile=self.key)


class FleetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instance: str = "1"
    database_url: str
    broker: BrokerSettings
    routing_policy: Path
    command_signing_key: Path
    default_region: str
    telemetry_flush_s: float = Field(default=1.0, gt=0, le=60)
    command_ttl_s: int = Field(default=3600, gt=0)
    log_level: str = "INFO"

    @field_validator("instance", "default_region")
    @classmethod
    def _segment(cls, v: str) -> str:
        if not is_valid_segment(v):
            raise ValueError("must use lower-case letters, digits, '-' or '_'")
        return v

    @property
    def identity(self) -> str:
        return fleet_manager_identity(self.instance)


def _resolve(base: Path, data: dict[str, object]) -> None:
    for key in ("routing_policy", "command_signing_key"):
        if isinstance(data.get(key), str):
            data[key] = str(base / str(data[key]))
    broker = data.get("broker")
    if isinstance(broker, dict):
        for key in ("ca", "cert", "key"):
            if isinstance(broker.get(key), str):
                broker[key] = str(base / broker[key])


def load_config(path: Path) -> FleetConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    _resolve(path.parent.resolve(), data)
    try:
        config = FleetConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    for what, file in (
        ("routing_policy", config.routing_policy),
        ("command_signing_key", config.command_signing_key),
        ("broker.ca", config.broker.ca),
        ("broker.cert", config.broker.cert),
        ("broker.key", config.broker.key),
    ):
        if not file.is_file():
            raise ConfigError(f"{path}: {what}: file {file} does not exist")
    return config
