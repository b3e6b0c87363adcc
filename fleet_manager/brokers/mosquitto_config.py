"""Mosquitto 2.0 configuration and ACL text for the fleet broker and the responder brokers.

Pure functions: they take paths and names and return text; writing files and running processes
is :mod:`fleet_manager.brokers.runner`'s job.

Why the settings are what they are:

* Identity comes only from the client certificate (``require_certificate``,
  ``use_identity_as_username``, ``use_username_as_clientid``): the CN is the username the ACL
  grants topics to *and* the client id, so one kiosk cannot take over another's session.
* The fleet broker's ACL gives kiosks their own subtree through ``pattern`` lines with ``%u`` and
  gives each fleet manager identity a ``user`` block. Mosquitto grants access if *any* matching
  line grants it (user lines, then patterns), so pattern lines also apply to service identities;
  they only ever name the client's own ``%u`` subtree, which is harmless for a service.
* The fleet manager subscribes through ``$share/fleet/...``. Mosquitto 2.0.11's ACL file does not
  look at a subscription's filter at all; it checks ``read`` access on each message's topic when
  the message is delivered, and a shared subscription is delivered like any other. So the
  ``read`` grants on plain topics are exactly what makes shared subscriptions work, and no
  ``$share`` line is needed (tests/integration/test_broker_isolation.py proves it).
* A bridge defined in a broker's own config is a *local* bridge and is not subject to that
  broker's ACL. On the responder broker, the fleet broker's bridge is an ordinary remote client
  named ``bridge-{region}``: it *writes* incidents there (its ``out`` topics are published on the
  remote side) and *reads* acknowledgements (its ``in`` topics are subscribed on the remote side).
* A responder broker trusts the one fleet CA, so any fleet certificate, a kiosk's included,
  can *connect* there. Its ACL therefore has no ``pattern`` lines at all: responder rights go
  only to the ``user`` blocks of the responder identities the caller names, and a kiosk's
  certificate (say, from a stolen kiosk) gets nothing (see :func:`render_responder_acl`).
* Only two topic lines cross a bridge: the region's incidents out, its acknowledgements in.
  Nothing of ``beacon/v1/dev/...`` or another region ever leaves the fleet broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from protocol.identities import RESPONDER_PREFIX, bridge_identity, require_segment
from protocol.topics import ROOT
from provisioning.tls import TlsFiles

# The MQTT contract allows payloads up to 256 KiB. Mosquitto 2.0 limits whole packets
# (max_packet_size replaces the older message_size_limit), so leave room for topic and properties.
MAX_PAYLOAD_BYTES = 262_144
PACKET_HEADROOM_BYTES = 4_096
MAX_KEEPALIVE_SECONDS = 300
AUTOSAVE_INTERVAL_SECONDS = 5

# In a CRL directory: the newest CRL of each issuer, which the listener's ``crlfile`` loads at
# start. The live lookups use the ``<issuer-hash>.rN`` files beside it (see
# :mod:`fleet_manager.brokers.revocation`).
CURRENT_CRL_FILE = "current.crl.pem"

_FLEET_MANAGER_GRANTS: tuple[tuple[str, str], ...] = (
    ("read", f"{ROOT}/dev/#"),
    ("write", f"{ROOT}/dev/+/cmd/+"),
    ("write", f"{ROOT}/dev/+/cert/issued"),
    ("readwrite", f"{ROOT}/content/#"),
    ("write", f"{ROOT}/resp/+/incident/#"),
    ("read", f"{ROOT}/resp/+/ack/#"),
)

_KIOSK_PATTERNS: tuple[tuple[str, str], ...] = (
    ("write", f"{ROOT}/dev/%u/status"),
    ("write", f"{ROOT}/dev/%u/telemetry"),
    ("write", f"{ROOT}/dev/%u/alert"),
    ("write", f"{ROOT}/dev/%u/event"),
    ("write", f"{ROOT}/dev/%u/cmd/+/result"),
    ("read", f"{ROOT}/dev/%u/cmd/+"),
    ("write", f"{ROOT}/dev/%u/cert/renew"),
    ("read", f"{ROOT}/dev/%u/cert/issued"),
    ("read", f"{ROOT}/content/+"),
)

_ACCESS = frozenset({"read", "write", "readwrite", "deny"})


@dataclass(frozen=True)
class BridgeSpec:
    """One bridge from the fleet broker to a region's responder broker.

    ``tls`` holds the bridge *client's* files: the CA that signed the responder broker's server
    certificate, and the certificate (CN ``bridge-{region}``) and key the bridge logs in with.
    """

    region: str
    host: str
    port: int
    tls: TlsFiles


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, got {port}")


def _check_absolute(*paths: Path) -> None:
    # Mosquitto resolves relative paths against its working directory, not the config file.
    for path in paths:
        if not path.is_absolute():
            raise ValueError(f"Mosquitto config paths must be absolute, got {str(path)!r}")


def _no_line_breaks(value: str, what: str) -> str:
    # A newline in a value would let it inject its own directives into the config.
    if not value or any(ch in value for ch in "\r\n\0") or value != value.strip():
        raise ValueError(f"{what} {value!r} must be non-empty, one line, no surrounding spaces")
    return value


def _common_lines(
    *,
    port: int,
    bind_host: str,
    tls: TlsFiles,
    data_dir: Path,
    acl_file: Path,
    log_file: Path | None,
    user: str | None,
) -> list[str]:
    _check_port(port)
    _no_line_breaks(bind_host, "bind_host")
    _check_absolute(tls.cafile, tls.certfile, tls.keyfile, data_dir, acl_file)
    if log_file is not None:
        _check_absolute(log_file)
    lines = [
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {acl_file}",
    ]
    if user is not None:
        lines.append(f"user {_no_line_breaks(user, 'user')}")
    lines += [
        "",
        "# Persistence: sessions, queued QoS 1 messages and retained messages survive a restart.",
        "persistence true",
        # Mosquitto joins persistence_location and the file name by string concatenation.
        f"persistence_location {data_dir}/",
        f"autosave_interval {AUTOSAVE_INTERVAL_SECONDS}",
        "persistent_client_expiration 14d",
        "",
        "# Limits",
        "max_queued_messages 1000",
        "max_inflight_messages 20",
        f"max_packet_size {MAX_PAYLOAD_BYTES + PACKET_HEADROOM_BYTES}",
        f"max_keepalive {MAX_KEEPALIVE_SECONDS}",
        "",
        "# Alerts are small and urgent: never let Nagle hold one back waiting for an ACK.",
        "set_tcp_nodelay true",
        "",
        "# Logging",
        "log_type error",
        "log_type warning",
        "log_type notice",
        f"log_dest file {log_file}" if log_file is not None else "log_dest stderr",
        "connection_messages true",
        "log_timestamp true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "",
        "# The only listener: mutual TLS, identity = certificate CN.",
        f"listener {port} {bind_host}",
        "protocol mqtt",
        f"cafile {tls.cafile}",
        f"certfile {tls.certfile}",
        f"keyfile {tls.keyfile}",
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_identity_as_username true",
        "use_username_as_clientid true",
    ]
    return lines


def _bridge_lines(bridge: BridgeSpec) -> list[str]:
    region = require_segment(bridge.region, "bridge region")
    _check_port(bridge.port)
    _no_line_breaks(bridge.host, "bridge host")
    _check_absolute(bridge.tls.cafile, bridge.tls.certfile, bridge.tls.keyfile)
    identity = bridge_identity(region)
    return [
        "",
        f"# Bridge to region {region}'s responder broker: its incidents out, its acks in.",
        f"connection {identity}",
        f"address {bridge.host}:{bridge.port}",
        # Must equal the bridge certificate's CN: the far side uses use_username_as_clientid.
        f"remote_clientid {identity}",
        f"local_clientid local.{identity}",
        "cleansession false",
        "bridge_protocol_version mqttv311",
        "notifications false",
        "try_private true",
        "start_type automatic",
        # Jittered back-off between 1 and 10 s, so a restarted broker is rejoined within seconds.
        "restart_timeout 1 10",
        "keepalive_interval 10",
        f"bridge_cafile {bridge.tls.cafile}",
        f"bridge_certfile {bridge.tls.certfile}",
        f"bridge_keyfile {bridge.tls.keyfile}",
        "bridge_tls_version tlsv1.2",
        "bridge_insecure false",
        f"topic {ROOT}/resp/{region}/incident/# out 1",
        f"topic {ROOT}/resp/{region}/ack/# in 1",
    ]


def render_fleet_broker_conf(
    *,
    port: int,
    tls: TlsFiles,
    data_dir: Path,
    acl_file: Path,
    log_file: Path | None,
    bridges: Sequence[BridgeSpec],
    bind_host: str = "127.0.0.1",
    user: str | None = None,
    crl_dir: Path | None = None,
    pid_file: Path | None = None,
) -> str:
    """The fleet broker's ``mosquitto.conf``: one mTLS listener plus one bridge per region.

    ``tls`` is the broker's own server certificate and the fleet CA. ``log_file=None`` logs to
    stderr. ``user`` is the account Mosquitto switches to when started as root (Mosquitto's own
    default is ``mosquitto``); pass ``"root"`` only where the files live somewhere that account
    cannot reach, as in tests. All paths must be absolute; regions must be distinct.

    ``crl_dir`` turns on revocation checks: the listener gets ``capath crl_dir`` (OpenSSL looks
    up new ``<hash>.rN`` CRLs there at every handshake, so a revocation needs no restart) and
    ``crlfile crl_dir/current.crl.pem`` (which makes Mosquitto check CRLs at all, and is what a
    restart loads). That file must exist before the broker starts, and from then on *every*
    client certificate is refused unless its issuer has a CRL that has not passed its
    nextUpdate. ``pid_file`` lets ``revocation.reload_broker`` send SIGHUP.
    """
    regions = [bridge.region for bridge in bridges]
    if len(set(regions)) != len(regions):
        raise ValueError(f"each region may have only one bridge, got {regions}")
    lines = [
        "# Beacon fleet broker (generated by fleet_manager.brokers.mosquitto_config).",
        *_common_lines(
            port=port,
            bind_host=bind_host,
            tls=tls,
            data_dir=data_dir,
            acl_file=acl_file,
            log_file=log_file,
            user=user,
        ),
    ]
    if crl_dir is not None:
        _check_absolute(crl_dir)
        _no_line_breaks(str(crl_dir), "crl_dir")
        lines += [
            "# Revocation: new CRLs in capath are read at each handshake; crlfile at start.",
            f"capath {crl_dir}",
            f"crlfile {crl_dir / CURRENT_CRL_FILE}",
        ]
    if pid_file is not None:
        _check_absolute(pid_file)
        _no_line_breaks(str(pid_file), "pid_file")
        lines += ["", f"pid_file {pid_file}"]
    for bridge in bridges:
        lines += _bridge_lines(bridge)
    return "\n".join(lines) + "\n"


def render_responder_broker_conf(
    *,
    region: str,
    port: int,
    tls: TlsFiles,
    data_dir: Path,
    acl_file: Path,
    log_file: Path | None,
    bind_host: str = "127.0.0.1",
    user: str | None = None,
) -> str:
    """A region's responder broker ``mosquitto.conf``: the same listener settings, no bridge.

    The fleet broker's bridge connects *to* this broker as the client ``bridge-{region}``.
    """
    require_segment(region, "region")
    lines = [
        f"# Beacon responder broker for region {region} "
        "(generated by fleet_manager.brokers.mosquitto_config).",
        *_common_lines(
            port=port,
            bind_host=bind_host,
            tls=tls,
            data_dir=data_dir,
            acl_file=acl_file,
            log_file=log_file,
            user=user,
        ),
    ]
    return "\n".join(lines) + "\n"


def _grant(access: str, topic: str) -> str:
    if access not in _ACCESS:
        raise ValueError(f"ACL access must be one of {sorted(_ACCESS)}, got {access!r}")
    _no_line_breaks(topic, "ACL topic")
    return f"topic {access} {topic}"


def render_fleet_acl(
    *,
    fleet_manager_identities: Sequence[str],
    extra_user_grants: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """The fleet broker's ACL file.

    Every client gets the kiosk patterns for its own ``%u`` subtree and the content channels;
    each fleet manager identity additionally reads all device topics, writes commands, owns the
    content channels, writes incidents and reads acknowledgements. ``extra_user_grants`` maps a
    username to ``(access, topic)`` pairs; it exists for benchmark clients, not for production.
    """
    lines = [
        "# Beacon fleet broker ACL (generated by fleet_manager.brokers.mosquitto_config).",
        "# Access is granted if any user line or pattern line allows it; nothing else is allowed.",
        "",
        "# Every client, as itself: a kiosk writes only its own subtree, reads its own commands.",
    ]
    lines += [f"pattern {access} {topic}" for access, topic in _KIOSK_PATTERNS]
    for identity in fleet_manager_identities:
        require_segment(identity, "fleet manager identity")
        lines += ["", f"user {identity}"]
        lines += [_grant(access, topic) for access, topic in _FLEET_MANAGER_GRANTS]
    for username, grants in (extra_user_grants or {}).items():
        require_segment(username, "ACL username")
        lines += ["", f"user {username}"]
        lines += [_grant(access, topic) for access, topic in grants]
    return "\n".join(lines) + "\n"


def render_responder_acl(region: str, *, responders: Sequence[str]) -> str:
    """A region's responder broker ACL.

    The fleet bridge (``bridge-{region}``) writes the region's incidents and reads its
    acknowledgements; each identity in ``responders`` reads incidents and writes
    acknowledgements, nothing else. No other client has any rights: the broker accepts every
    certificate of the fleet CA, a kiosk's included, so the ACL grants by name only and never
    uses ``pattern`` lines. ``responders`` is required and may be empty (then only the bridge has
    rights); each entry must be one of the region's responder identities
    (``responder-{region}-...``, see :func:`protocol.identities.responder_identity`). The ACL
    must be re-rendered (and Mosquitto sent SIGHUP) when the responders change.
    """
    require_segment(region, "region")
    identity = bridge_identity(region)
    incidents = f"{ROOT}/resp/{region}/incident/#"
    acks = f"{ROOT}/resp/{region}/ack/#"
    if isinstance(responders, str):
        # A bare string is a Sequence[str] too; iterating it would name single characters.
        raise TypeError("responders must be a sequence of identities, not a single string")
    lines = [
        f"# Beacon responder broker ACL for region {region}"
        " (generated by fleet_manager.brokers.mosquitto_config).",
        "# Only the users named below have any rights; every other client has none.",
    ]
    prefix = f"{RESPONDER_PREFIX}{region}-"
    for responder in responders:
        require_segment(responder, "responder identity")
        if not responder.startswith(prefix):
            raise ValueError(
                f"responder identity {responder!r} does not belong to region {region!r}:"
                f" it must start with {prefix!r}"
            )
        lines += [
            "",
            f"# Responder {responder}: reads incidents, writes acknowledgements.",
            f"user {responder}",
            f"topic read {incidents}",
            f"topic write {acks}",
        ]
    lines += [
        "",
        "# The fleet broker's bridge: publishes incidents here, subscribes to acks here.",
        f"user {identity}",
        f"topic write {incidents}",
        f"topic read {acks}",
    ]
    return "\n".join(lines) + "\n"
