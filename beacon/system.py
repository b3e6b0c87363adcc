"""Lay out a whole Beacon system on disk from a :class:`SystemPlan`: a throwaway fleet CA,
certificates for every party, broker configs with bridges, the fleet manager's config and
database (registry filled in), and one state directory per kiosk.

This is the composition root's wiring, shared by ``beacon demo``, the integration tests and the
benchmarks, so all three run exactly the same configuration.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from beacon.plan import SystemPlan
from content.build import build_bundle
from content_repo.expiry import RoleName
from content_repo.keys import create_role_key, key_path, load_signer
from content_repo.repository import init_repository, publish_bundle, trusted_root
from device.agent.enrolment import TUF_ROOT_FILE
from device.agent.identity import BrokerAddress, DeviceProfile, save_profile, tls_files
from device.agent.tls_store import write_private_file
from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.token_store import create_api_token
from fleet_manager.brokers.mosquitto_config import (
    BridgeSpec,
    render_fleet_acl,
    render_fleet_broker_conf,
    render_responder_acl,
    render_responder_broker_conf,
)
from fleet_manager.brokers.revocation import ensure_crl
from fleet_manager.brokers.runner import (
    broker_paths,
    broker_user_setting,
    free_port,
    write_broker_files,
)
from fleet_manager.reports.sealing import key_id, new_private_key, private_key_pem, public_key_pem
from fleet_manager.routing.policy import load_policy
from fleet_manager.store import registry, report_store
from fleet_manager.store.database import migrate, open_engine
from protocol.identities import (
    bridge_identity,
    fleet_manager_identity,
    require_device_id,
    responder_identity,
)
from provisioning.ca import (
    CertificateAuthority,
    create_intermediate_ca,
    create_root_ca,
    issue_certificate,
    write_tls_files,
)
from provisioning.tls import TlsFiles

HOST = "127.0.0.1"


@dataclass
class SystemLayout:
    base: Path
    plan: SystemPlan
    ca_file: Path
    fleet_port: int
    fleet_broker_conf: Path
    responder_ports: dict[str, int]
    responder_broker_confs: dict[str, Path]
    fleet_configs: list[Path]
    database_url: str
    kiosk_dirs: dict[str, Path]
    qr_tokens: dict[str, str]
    responder_desk: dict[str, TlsFiles]
    responder_watch: dict[str, TlsFiles]
    extra_clients: dict[str, TlsFiles] = field(default_factory=dict)
    api_port: int = 0  # the fleet's HTTPS API (enrolment)
    landing_port: int = 0  # the QR landing page (run when the plan asks for it)
    qr_origin: str = ""  # where kiosk QR codes point (the plan's, or this landing page)
    # Region → (private report key, its passphrase file): what responders hold.
    report_keys: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    # Region → a responder API token (bct_…) for reading reports (demo and tests).
    responder_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"https://{HOST}:{self.api_port}"

    @property
    def landing_url(self) -> str:
        return f"https://{HOST}:{self.landing_port}"

    def responder_identity(self, region: str, role: str = "desk") -> str:
        return responder_identity(region, role)

    def connection_info(self, console_url: str | None = None) -> dict[str, Any]:
        """What any MQTT or HTTP client needs to join (written to ``connection.json``)."""
        kiosks = []
        for k in self.plan.kiosks:
            tls = tls_files(self.kiosk_dirs[k.device_id])
            kiosks.append(
                {
                    "device_id": k.device_id,
                    "facility": k.facility_id,
                    "location": k.location_id,
                    "location_name": k.location_name,
                    "qr_token": self.qr_tokens[k.location_id],
                    "region": self.plan.facility(k.facility_id).region,
                    "ca": str(tls.cafile),
                    "cert": str(tls.certfile),
                    "key": str(tls.keyfile),
                    "state_dir": str(self.kiosk_dirs[k.device_id]),
                }
            )
        return {
            "brokers": {
                "fleet": {"host": HOST, "port": self.fleet_port, "ca": str(self.ca_file)},
                "responders": {
                    region: {"host": HOST, "port": port, "ca": str(self.ca_file)}
                    for region, port in self.responder_ports.items()
                },
            },
            "kiosks": kiosks,
            "responders": {
                region: {
                    "identity": responder_identity(region, "desk"),
                    "ca": str(tls.cafile),
                    "cert": str(tls.certfile),
                    "key": str(tls.keyfile),
                    "api_token": self.responder_tokens.get(region),
                }
                for region, tls in self.responder_desk.items()
            },
            "report_keys": {
                region: {"key": str(key), "passphrase_file": str(phrase)}
                for region, (key, phrase) in self.report_keys.items()
            },
            "landing_url": self.landing_url if self.plan.landing_page else None,
            "qr_origin": self.qr_origin,
            "database_url": self.database_url,
            "fleet_configs": [str(p) for p in self.fleet_configs],
            "console_url": console_url,
            "api_url": self.api_url,
        }

    def write_connection_file(
        self, console_url: str | None = None, admin: tuple[str, str] | None = None
    ) -> Path:
        """``connection.json`` (0600: it holds the first admin's password, when given)."""
        info = self.connection_info(console_url)
        if admin is not None:
            info["admin"] = {"username": admin[0], "password": admin[1]}
        path = self.base / "connection.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(info, indent=2) + "\n")
        return path


def _client(ca: CertificateAuthority, directory: Path, cn: str) -> TlsFiles:
    return write_tls_files(
        directory, ca.trust_anchor_pem(), issue_certificate(ca, cn, usage="client")
    )


def _server(ca: CertificateAuthority, directory: Path, cn: str) -> TlsFiles:
    issued = issue_certificate(ca, cn, usage="server", dns_names=["localhost"], ip_addresses=[HOST])
    return write_tls_files(directory, ca.trust_anchor_pem(), issued)


SAMPLE_BUNDLE = Path(__file__).resolve().parents[1] / "content" / "sample"
CONTENT_CHANNEL = "stable"


def _report_keys(
    engine: Any, directory: Path, regions: tuple[str, ...], now: float
) -> dict[str, tuple[Path, Path]]:
    """A report key pair per region: the private half (passphrase-protected, passphrase beside
    it, as a throwaway demo may) for the responders, the public half registered in the store."""
    out = {}
    for region in regions:
        private = new_private_key()
        passphrase = secrets.token_urlsafe(24).encode()
        key_file, phrase_file = directory / f"{region}.pem", directory / f"{region}.passphrase"
        write_private_file(phrase_file, passphrase)
        write_private_file(key_file, private_key_pem(private, passphrase))
        with engine.begin() as conn:
            report_store.add_key(
                conn,
                key_id=key_id(private.public_key()),
                region=region,
                public_key=public_key_pem(private.public_key()),
                by="setup",
                now=now,
            )
        out[region] = (key_file, phrase_file)
    return out


def _responder_tokens(engine: Any, regions: tuple[str, ...], now: float) -> dict[str, str]:
    tokens = {}
    with engine.begin() as conn:
        for region in regions:
            secret, _ = create_api_token(
                conn,
                f"responders-{region}",
                [Grant("responder", region=region)],
                creator=None,
                owner=None,
                actor="setup",
                now=now,
            )
            tokens[region] = secret
    return tokens


def _content_repository(fm_dir: Path, qr_origin: str, now: float) -> tuple[dict[str, str], bytes]:
    """Content keys, a TUF repository and the sample bundle published on "stable".

    The offline keys (root, targets) are protected by a passphrase kept beside them, as a
    throwaway demo may; docs/operations.md says how to keep them in production.
    """
    keys = fm_dir / "content-keys"
    keys.mkdir(exist_ok=True)
    passphrase = secrets.token_urlsafe(24).encode()
    fd = os.open(keys / "passphrase", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(passphrase)
    secret: dict[RoleName, bytes | None] = {
        "root": passphrase,
        "targets": passphrase,
        "snapshot": None,
        "timestamp": None,
    }
    for role, phrase in secret.items():
        create_role_key(keys, role, phrase)
    signer = {role: load_signer(key_path(keys, role), phrase) for role, phrase in secret.items()}
    repo = fm_dir / "content-repo"
    when = datetime.fromtimestamp(now, UTC)
    init_repository(
        repo,
        root_signers=[signer["root"]],
        targets=signer["targets"],
        snapshot=signer["snapshot"],
        timestamp=signer["timestamp"],
        now=when,
    )
    built = build_bundle(SAMPLE_BUNDLE, fm_dir / "bundles", allowed_origins=[qr_origin])
    publish_bundle(
        repo,
        built.path,
        channel=CONTENT_CHANNEL,
        targets=signer["targets"],
        snapshot=signer["snapshot"],
        timestamp=signer["timestamp"],
        now=when,
    )
    section = {
        "repository": str(repo),
        "snapshot_key": str(key_path(keys, "snapshot")),
        "timestamp_key": str(key_path(keys, "timestamp")),
    }
    return section, trusted_root(repo)


def build_system(base: Path, plan: SystemPlan, now: float | None = None) -> SystemLayout:
    """Create everything under ``base`` (which should be empty) and return where it is."""
    now = time.time() if now is None else now
    load_policy(plan.policy_yaml, "routing policy")  # refuse a bad plan before writing anything
    base.mkdir(parents=True, exist_ok=True)
    base = base.resolve()
    # A root (offline in production; here its key is simply not written) and the online
    # issuing CA that signs every certificate, as docs/operations.md describes.
    root = create_root_ca()
    ca = create_intermediate_ca(root)
    ca_dir = base / "ca"
    ca_dir.mkdir(exist_ok=True)
    ca_file = ca_dir / "ca.pem"  # the trust anchor every party holds
    ca_file.write_bytes(ca.trust_anchor_pem())
    (ca_dir / "issuing-ca.pem").write_bytes(ca.cert_pem())
    key_fd = os.open(ca_dir / "issuing-ca.key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(key_fd, "wb") as handle:
        handle.write(ca.key_pem())

    user = broker_user_setting()
    brokers = base / "brokers"
    fleet_port = free_port()
    landing_port = free_port()
    qr_origin = plan.qr_origin or f"{HOST}:{landing_port}"
    responder_ports = {region: free_port() for region in plan.regions}

    # Responder brokers, and the fleet broker's bridge to each.
    bridges: list[BridgeSpec] = []
    responder_confs: dict[str, Path] = {}
    for region, port in responder_ports.items():
        directory = brokers / f"responder-{region}"
        paths = broker_paths(directory)
        server_tls = _server(ca, directory / "tls", f"broker-{region}")
        conf = render_responder_broker_conf(
            region=region,
            port=port,
            tls=server_tls,
            data_dir=paths.data_dir,
            acl_file=paths.acl_file,
            log_file=directory / "mosquitto.log",
            user=user,
        )
        responder_confs[region] = write_broker_files(
            directory,
            conf,
            render_responder_acl(
                region,
                responders=[
                    responder_identity(region, "desk"),
                    responder_identity(region, "watch"),
                ],
            ),
        )
        bridge_tls = _client(ca, brokers / "fleet" / f"bridge-{region}", bridge_identity(region))
        bridges.append(BridgeSpec(region=region, host=HOST, port=port, tls=bridge_tls))

    fleet_dir = brokers / "fleet"
    fleet_paths = broker_paths(fleet_dir)
    identities = [fleet_manager_identity(str(i + 1)) for i in range(plan.fleet_instances)]
    # Revocation: CRLs looked up live by the broker, a pid file for reloads (issue 4).
    crl_dir = fleet_dir / "crl"
    ensure_crl(crl_dir, ca)
    pid_file = fleet_dir / "mosquitto.pid"
    fleet_conf = render_fleet_broker_conf(
        port=fleet_port,
        crl_dir=crl_dir,
        pid_file=pid_file,
        tls=_server(ca, fleet_dir / "tls", "broker-fleet"),
        data_dir=fleet_paths.data_dir,
        acl_file=fleet_paths.acl_file,
        log_file=fleet_dir / "mosquitto.log",
        bridges=bridges,
        user=user,
    )
    fleet_acl = render_fleet_acl(
        fleet_manager_identities=identities, extra_user_grants=plan.extra_fleet_grants
    )
    fleet_broker_conf = write_broker_files(fleet_dir, fleet_conf, fleet_acl)

    # The fleet manager: command key, policy, database with the registry, one config per instance.
    fm_dir = base / "fleet"
    fm_dir.mkdir(exist_ok=True)
    signing_key = Ed25519PrivateKey.generate()
    key_path = fm_dir / "command-key.pem"
    key_fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(key_fd, "wb") as handle:
        handle.write(
            signing_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    command_key_b64 = base64.b64encode(
        signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    ).decode()
    (fm_dir / "routing.yaml").write_text(plan.policy_yaml)
    database_url = f"sqlite:///{fm_dir / 'fleet.db'}"
    engine = open_engine(database_url)
    migrate(engine)
    qr_tokens: dict[str, str] = {}
    with engine.begin() as conn:
        for f in plan.facilities:
            registry.add_facility(conn, f.facility_id, f.name, f.region, now)
        for k in plan.kiosks:
            if k.location_id not in qr_tokens:
                qr_tokens[k.location_id] = registry.add_location(
                    conn, k.location_id, k.facility_id, k.location_name, k.location_kind, now
                )
            registry.register_device(conn, require_device_id(k.device_id), k.location_id, now)
    report_keys = _report_keys(engine, base / "responders" / "report-keys", plan.regions, now)
    responder_tokens = _responder_tokens(engine, plan.regions, now)
    engine.dispose()
    api_port = free_port()
    api_tls = _server(ca, fm_dir / "api-tls", "fleet-api")
    enrolment = {
        "listen": {"host": HOST, "port": api_port},
        "tls_cert": str(api_tls.certfile),
        "tls_key": str(api_tls.keyfile),
        "issuing_ca_cert": str(ca_dir / "issuing-ca.pem"),
        "issuing_ca_key": str(ca_dir / "issuing-ca.key.pem"),
        "trust_anchor": str(ca_file),
        "kiosk_broker": {"host": HOST, "port": fleet_port},
        "qr_origin": qr_origin,
        "allowed_origins": [qr_origin],
    }
    enrolment["content_url"] = f"https://{HOST}:{api_port}"
    content_section: dict[str, str] | None = None
    tuf_root: bytes | None = None
    if plan.content_repository:
        content_section, tuf_root = _content_repository(fm_dir, qr_origin, now)
        tuf_root_file = fm_dir / "tuf-root.json"
        tuf_root_file.write_bytes(tuf_root)
        enrolment["tuf_root"] = str(tuf_root_file)
    landing_tls = _server(ca, fm_dir / "landing-tls", "landing")
    landing = {
        "listen": {"host": HOST, "port": landing_port},
        "tls_cert": str(landing_tls.certfile),
        "tls_key": str(landing_tls.keyfile),
        **({"exit_url": plan.landing_exit_url} if plan.landing_exit_url else {}),
        "scan_flush_s": 1.0,
    }
    fleet_configs = []
    for i, identity in enumerate(identities, start=1):
        tls = _client(ca, fm_dir / identity, identity)
        config = {
            "instance": str(i),
            "database_url": database_url,
            "broker": {
                "host": HOST,
                "port": fleet_port,
                "ca": str(tls.cafile),
                "cert": str(tls.certfile),
                "key": str(tls.keyfile),
            },
            "routing_policy": "routing.yaml",
            "command_signing_key": "command-key.pem",
            "default_region": plan.regions[0],
            "enrolment": enrolment,
            **({"content": content_section} if content_section else {}),
            "landing": landing,
            "revocation": {
                "acl_file": str(fleet_paths.acl_file),
                "crl_dir": str(crl_dir),
                "broker_pid_file": str(pid_file),
            },
        }
        path = fm_dir / f"fleet-{i}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        fleet_configs.append(path)

    # Kiosks: identity, certificate and profile in their own state directory.
    kiosk_dirs: dict[str, Path] = {}
    for k in plan.kiosks:
        state_dir = base / "kiosks" / k.device_id
        write_tls_files(
            state_dir / "tls",
            ca.trust_anchor_pem(),
            issue_certificate(ca, k.device_id, usage="client"),
        )
        save_profile(
            state_dir,
            DeviceProfile(
                device_id=k.device_id,
                region=plan.facility(k.facility_id).region,
                facility=k.facility_id,
                location=k.location_id,
                location_name=k.location_name,
                broker=BrokerAddress(host=HOST, port=fleet_port),
                command_key=command_key_b64,
                location_token=qr_tokens[k.location_id],
                qr_origin=qr_origin,
                allowed_origins=(qr_origin,),
                content_url=f"https://{HOST}:{api_port}" if tuf_root else "",
            ),
        )
        if tuf_root is not None:
            (state_dir / TUF_ROOT_FILE).write_bytes(tuf_root)
        kiosk_dirs[k.device_id] = state_dir

    responders = base / "responders"
    desk = {
        r: _client(ca, responders / responder_identity(r, "desk"), responder_identity(r, "desk"))
        for r in plan.regions
    }
    watch = {
        r: _client(ca, responders / responder_identity(r, "watch"), responder_identity(r, "watch"))
        for r in plan.regions
    }
    extra = {cn: _client(ca, base / "clients" / cn, cn) for cn in plan.extra_client_identities}
    return SystemLayout(
        base=base,
        plan=plan,
        ca_file=ca_file,
        fleet_port=fleet_port,
        fleet_broker_conf=fleet_broker_conf,
        responder_ports=responder_ports,
        responder_broker_confs=responder_confs,
        fleet_configs=fleet_configs,
        database_url=database_url,
        kiosk_dirs=kiosk_dirs,
        qr_tokens=qr_tokens,
        responder_desk=desk,
        responder_watch=watch,
        extra_clients=extra,
        api_port=api_port,
        landing_port=landing_port,
        qr_origin=qr_origin,
        report_keys=report_keys,
        responder_tokens=responder_tokens,
    )
