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
    enrolment:                         # optional: the HTTPS enrolment API and renewals
      listen: {host: 0.0.0.0, port: 8443}
      tls_cert: api-cert.pem           # the API's server certificate (chain) and key
      tls_key: api-key.pem
      issuing_ca_cert: issuing-ca.pem  # the online intermediate that signs kiosk certificates
      issuing_ca_key: issuing-ca.key.pem
      trust_anchor: root-ca.pem        # the fleet root, handed to every kiosk
      kiosk_broker: {host: mqtt.example.org, port: 8883}   # what kiosks dial
      device_cert_days: 90
      qr_origin: help.example.org
      allowed_origins: [help.example.org]
      tuf_root: null                   # content root.json handed to kiosks (optional)
    content:                           # optional: the signed content repository (TUF)
      repository: content-repo         # served by the fleet API at /tuf
      snapshot_key: keys/snapshot.pem  # online keys (Ed25519 PKCS#8, unencrypted, 0600)
      timestamp_key: keys/timestamp.pem
    console:                           # optional: console and API sessions
      session_idle_timeout_s: 900      # logged off after this long without a request
      session_lifetime_s: 43200        # and after this long in any case
    supervision:                       # optional: kiosks needing attention → incidents
      offline_after_s: 900             # a kiosk offline this long opens a 'supervision' incident
      stale_content_after_s: 86400     # still on an old bundle this long after a rollout ended
      check_interval_s: 30
    landing:                           # optional: the QR landing page (`beacon landing serve`)
      listen: {host: 0.0.0.0, port: 443}
      tls_cert: landing-cert.pem       # the landing host's certificate (chain) and key
      tls_key: landing-key.pem
      bundle: null                     # content bundle for languages and hotlines (null: sample)
      default_hotlines: []             # hotline ids for unknown tokens ([]: all of the bundle's)
      region_hotlines: {north: [us-nhth]}   # per region ([] or absent: default_hotlines)
      emergency_number: "911"
      exit_url: https://www.weather.gov/   # where quick exit goes
      limits: {reports_per_hour: 5, additions_per_hour: 20, wrong_codes_per_hour: 10,
               all_reports_per_hour: 300}
      trusted_proxies: []              # load balancers whose X-Forwarded-For counts (limits only)
    revocation:                        # optional: how `beacon provision revoke` reaches the broker
      acl_file: /etc/mosquitto/beacon.acl
      crl_dir: /etc/mosquitto/beacon-crl
      broker_pid_file: /run/mosquitto/mosquitto.pid
    training:                          # optional: staff training (`beacon training remind`)
      due_within_days: 60              # "due" this many days before a deadline
      smtp:                            # reminders by email (absent: no reminders are sent)
        host: smtp.example.org
        port: 587
        starttls: true                 # false only for a relay on this host or a test sink
        username: beacon               # optional; then password_file is needed
        password_file: smtp-password.txt   # first line is the password
        from_address: training@example.org

Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fleet_manager.accounts.sessions import SessionPolicy
from fleet_manager.supervision.findings import SupervisionRules
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


class ListenAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: int = Field(gt=0, lt=65536)


class KioskBroker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = Field(min_length=1)
    port: int = Field(gt=0, lt=65536)


class EnrolmentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    listen: ListenAddress
    tls_cert: Path
    tls_key: Path
    issuing_ca_cert: Path
    issuing_ca_key: Path
    trust_anchor: Path
    kiosk_broker: KioskBroker
    device_cert_days: int = Field(default=90, gt=0, le=825)
    qr_origin: str = Field(min_length=1)
    allowed_origins: tuple[str, ...] = Field(min_length=1)
    tuf_root: Path | None = None
    # What kiosks dial for signed content (the fleet API's public https://host:port).
    content_url: str | None = None
    channel: str = "stable"
    token_ttl_s: float = Field(default=24 * 3600.0, gt=0)

    def files(self) -> dict[str, Path]:
        named = {
            "enrolment.tls_cert": self.tls_cert,
            "enrolment.tls_key": self.tls_key,
            "enrolment.issuing_ca_cert": self.issuing_ca_cert,
            "enrolment.issuing_ca_key": self.issuing_ca_key,
            "enrolment.trust_anchor": self.trust_anchor,
        }
        if self.tuf_root is not None:
            named["enrolment.tuf_root"] = self.tuf_root
        return named


class ContentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    repository: Path
    snapshot_key: Path
    timestamp_key: Path


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    session_idle_timeout_s: float = Field(default=900.0, ge=60, le=86400)
    session_lifetime_s: float = Field(default=43200.0, ge=60, le=7 * 86400)

    def session_policy(self) -> SessionPolicy:
        return SessionPolicy(
            idle_timeout_s=min(self.session_idle_timeout_s, self.session_lifetime_s),
            absolute_lifetime_s=self.session_lifetime_s,
        )


class SupervisionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    offline_after_s: float = Field(default=900.0, ge=1, le=30 * 86400)
    stale_content_after_s: float = Field(default=86400.0, ge=1, le=365 * 86400)
    check_interval_s: float = Field(default=30.0, gt=0, le=3600)

    def rules(self) -> SupervisionRules:
        return SupervisionRules(
            offline_after_s=self.offline_after_s, stale_content_after_s=self.stale_content_after_s
        )


class LandingLimits(BaseModel):
    """Per client (a keyed hash of its address, never stored) and, for reports, for everyone."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reports_per_hour: int = Field(default=5, ge=1, le=10_000)
    additions_per_hour: int = Field(default=20, ge=1, le=10_000)
    wrong_codes_per_hour: int = Field(default=10, ge=1, le=10_000)
    all_reports_per_hour: int = Field(default=300, ge=1, le=1_000_000)


class LandingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    listen: ListenAddress
    tls_cert: Path
    tls_key: Path
    bundle: Path | None = None
    default_hotlines: tuple[str, ...] = ()
    region_hotlines: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    emergency_number: str = Field(default="911", pattern=r"^[0-9+\- ]{2,20}$")
    exit_url: str = Field(default="https://www.weather.gov/", pattern=r"^https://[^\s\"'<>]+$")
    scan_flush_s: float = Field(default=5.0, gt=0, le=300)
    token_cache_s: float = Field(default=30.0, ge=0, le=3600)
    limits: LandingLimits = LandingLimits()
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client, for the
    # abuse limits only (never logged). Empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return v


class RevocationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    acl_file: Path
    crl_dir: Path
    broker_pid_file: Path


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = Field(min_length=1)
    port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    username: str | None = None
    password_file: Path | None = None
    from_address: str = Field(pattern=r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+$")

    @model_validator(mode="after")
    def _login(self) -> SmtpSettings:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("give both username and password_file, or neither")
        return self

    def password(self) -> str | None:
        """The first line of password_file (None without a login)."""
        if self.password_file is None:
            return None
        lines = self.password_file.read_text().splitlines()
        return lines[0] if lines else ""


class TrainingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    due_within_days: int = Field(default=60, ge=1, le=365)
    smtp: SmtpSettings | None = None


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
    enrolment: EnrolmentSettings | None = None
    revocation: RevocationSettings | None = None
    content: ContentSettings | None = None
    console: ConsoleSettings = ConsoleSettings()
    supervision: SupervisionSettings = SupervisionSettings()
    landing: LandingSettings | None = None
    training: TrainingSettings = TrainingSettings()

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
    enrolment = data.get("enrolment")
    if isinstance(enrolment, dict):
        for key in (
            "tls_cert",
            "tls_key",
            "issuing_ca_cert",
            "issuing_ca_key",
            "trust_anchor",
            "tuf_root",
        ):
            if isinstance(enrolment.get(key), str):
                enrolment[key] = str(base / enrolment[key])
    content = data.get("content")
    if isinstance(content, dict):
        for key in ("repository", "snapshot_key", "timestamp_key"):
            if isinstance(content.get(key), str):
                content[key] = str(base / content[key])
    landing = data.get("landing")
    if isinstance(landing, dict):
        for key in ("tls_cert", "tls_key", "bundle"):
            if isinstance(landing.get(key), str):
                landing[key] = str(base / landing[key])
    revocation = data.get("revocation")
    if isinstance(revocation, dict):
        for key in ("acl_file", "crl_dir", "broker_pid_file"):
            if isinstance(revocation.get(key), str):
                revocation[key] = str(base / revocation[key])
    training = data.get("training")
    smtp = training.get("smtp") if isinstance(training, dict) else None
    if isinstance(smtp, dict) and isinstance(smtp.get("password_file"), str):
        smtp["password_file"] = str(base / smtp["password_file"])


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
    files = [
        ("routing_policy", config.routing_policy),
        ("command_signing_key", config.command_signing_key),
        ("broker.ca", config.broker.ca),
        ("broker.cert", config.broker.cert),
        ("broker.key", config.broker.key),
    ]
    if config.enrolment is not None:
        files += list(config.enrolment.files().items())
    if config.revocation is not None:
        files.append(("revocation.acl_file", config.revocation.acl_file))
    if config.content is not None:
        files += [
            ("content.snapshot_key", config.content.snapshot_key),
            ("content.timestamp_key", config.content.timestamp_key),
        ]
    if config.landing is not None:
        files += [
            ("landing.tls_cert", config.landing.tls_cert),
            ("landing.tls_key", config.landing.tls_key),
        ]
    smtp = config.training.smtp
    if smtp is not None and smtp.password_file is not None:
        files.append(("training.smtp.password_file", smtp.password_file))
    for what, file in files:
        if not file.is_file():
            raise ConfigError(f"{path}: {what}: file {file} does not exist")
    return config
