"""Real brokers for integration tests: a throwaway CA, the fleet broker, and one responder broker
per region bridged to it, all on free loopback ports in a caller-supplied directory.

Plain functions and classes, not pytest fixtures, so any conftest can wrap them::

    with start_broker_set(tmp_path, regions=("r1", "r2")) as brokers:
        client = connect_test_client(brokers.fleet, brokers.client_tls("kiosk-a"), "kiosk-a")

Client certificates are issued on demand by :meth:`BrokerSet.client_tls`, for any identity.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet_manager.brokers.mosquitto_config import (
    BridgeSpec,
    render_fleet_acl,
    render_fleet_broker_conf,
    render_responder_acl,
    render_responder_broker_conf,
)
from fleet_manager.brokers.runner import (
    MosquittoProcess,
    broker_paths,
    broker_user_setting,
    free_port,
    write_broker_files,
)
from protocol.identities import bridge_identity, fleet_manager_identity, responder_identity
from provisioning.ca import (
    CertificateAuthority,
    create_fleet_ca,
    issue_certificate,
    write_tls_files,
)
from provisioning.tls import TlsFiles

HOST = "127.0.0.1"
FLEET_BROKER_CN = "fleet-broker"


# Responder names the tests use; every region's broker grants all of them (alice and bob).
TEST_RESPONDER_NAMES = ("alice", "bob")


def responder_broker_cn(region: str) -> str:
    return f"responder-broker-{region}"


def named_responder_acl(region: str) -> str:
    """The real responder ACL for ``region``, naming ``responder-{region}-alice`` and ``-bob``.

    Any other certificate of the test CA (a kiosk's, say) gets no rights on that broker.
    """
    return render_responder_acl(
        region, responders=[responder_identity(region, name) for name in TEST_RESPONDER_NAMES]
    )


class MqttConnectError(RuntimeError):
    """The broker refused the client (TLS or CONNACK) or did not answer in time."""


@dataclass(frozen=True)
class Broker:
    """One running broker: where to connect and the process handle."""

    name: str
    host: str
    port: int
    process: MosquittoProcess
    directory: Path


@dataclass
class BrokerSet:
    """The fleet broker and the responder brokers of :func:`start_broker_set`."""

    directory: Path
    ca: CertificateAuthority
    fleet: Broker
    responders: dict[str, Broker]
    fleet_manager_identities: tuple[str, ...]
    _client_tls: dict[str, TlsFiles] = field(default_factory=dict)

    def client_tls(self, identity: str) -> TlsFiles:
        """TLS files for a client certificate with CN ``identity`` (issued on first use)."""
        if identity not in self._client_tls:
            issued = issue_certificate(self.ca, identity, usage="client")
            self._client_tls[identity] = write_tls_files(
                self.directory / "clients" / identity, self.ca.cert_pem(), issued
            )
        return self._client_tls[identity]

    def bridge_connections(self, region: str) -> int:
        """How many times the fleet bridge has logged in to ``region``'s responder broker."""
        pattern = re.compile(rf"New bridge connected .* as {re.escape(bridge_identity(region))} ")
        return len(pattern.findall(self.responders[region].process.log_text()))

    def wait_for_bridge(self, region: str, *, connections: int = 1, timeout: float = 15.0) -> None:
        """Wait until the bridge to ``region`` has connected at least ``connections`` times."""
        deadline = time.monotonic() + timeout
        while self.bridge_connections(region) < connections:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"bridge to {region} did not connect within {timeout}s:\n"
                    f"{self.fleet.process.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self.fleet.process.stop()
        for broker in self.responders.values():
            broker.process.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _server_tls(ca: CertificateAuthority, directory: Path, common_name: str) -> TlsFiles:
    issued = issue_certificate(
        ca, common_name, usage="server", dns_names=["localhost"], ip_addresses=[HOST]
    )
    return write_tls_files(directory, ca.cert_pem(), issued)


def _start_responder(
    ca: CertificateAuthority, directory: Path, region: str, acl_text: str
) -> Broker:
    name = responder_broker_cn(region)
    paths = broker_paths(directory / name)
    port = free_port(HOST)
    conf = render_responder_broker_conf(
        region=region,
        port=port,
        tls=_server_tls(ca, paths.directory / "tls", name),
        data_dir=paths.data_dir,
        acl_file=paths.acl_file,
        log_file=paths.log_file,
        bind_host=HOST,
        user=broker_user_setting(),
    )
    conf_path = write_broker_files(paths.directory, conf, acl_text)
    process = MosquittoProcess(conf_path, port, name, host=HOST)
    process.start()
    return Broker(name, HOST, port, process, paths.directory)


def start_broker_set(
    directory: Path,
    *,
    regions: Sequence[str] = ("r1", "r2"),
    fleet_manager_instances: Sequence[str] = ("1",),
    extra_user_grants: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    wait_for_bridges: bool = True,
    responder_acl: Callable[[str], str] = named_responder_acl,
) -> BrokerSet:
    """Create a CA, start one responder broker per region, then the bridged fleet broker.

    Fleet manager identities are ``fleet-manager-{instance}``. ``responder_acl`` renders a
    region's responder ACL; the default, :func:`named_responder_acl`, grants responder rights to
    ``responder-{region}-alice`` and ``-bob`` only (replace it only to test a misconfiguration).
    Returns once every bridge has connected (unless ``wait_for_bridges`` is false). On failure,
    stops whatever it started.
    """
    directory = directory.resolve()
    ca = create_fleet_ca(common_name="Beacon Test Fleet CA")
    (directory / "ca").mkdir(parents=True, exist_ok=True)
    (directory / "ca" / "ca.pem").write_bytes(ca.cert_pem())
    identities = tuple(fleet_manager_identity(instance) for instance in fleet_manager_instances)
    responders: dict[str, Broker] = {}
    started: list[MosquittoProcess] = []
    try:
        for region in regions:
            responders[region] = _start_responder(ca, directory, region, responder_acl(region))
            started.append(responders[region].process)
        bridges = [
            BridgeSpec(
                region=region,
                host=HOST,
                port=broker.port,
                tls=write_tls_files(
                    directory / "bridges" / region,
                    ca.cert_pem(),
                    issue_certificate(ca, bridge_identity(region), usage="client"),
                ),
            )
            for region, broker in responders.items()
        ]
        paths = broker_paths(directory / FLEET_BROKER_CN)
        port = free_port(HOST)
        conf = render_fleet_broker_conf(
            port=port,
            tls=_server_tls(ca, paths.directory / "tls", FLEET_BROKER_CN),
            data_dir=paths.data_dir,
            acl_file=paths.acl_file,
            log_file=paths.log_file,
            bridges=bridges,
            bind_host=HOST,
            user=broker_user_setting(),
        )
        acl = render_fleet_acl(
            fleet_manager_identities=identities, extra_user_grants=extra_user_grants
        )
        conf_path = write_broker_files(paths.directory, conf, acl)
        process = MosquittoProcess(conf_path, port, FLEET_BROKER_CN, host=HOST)
        fleet = Broker(FLEET_BROKER_CN, HOST, port, process, paths.directory)
        brokers = BrokerSet(directory, ca, fleet, responders, identities)
        started.append(process)
        process.start()
        if wait_for_bridges:
            for region in regions:
                brokers.wait_for_bridge(region)
    except BaseException:
        for started_process in started:
            started_process.stop()
        raise
    return brokers


def mqtt_client(
    host: str,
    port: int,
    tls: TlsFiles,
    client_id: str,
    *,
    clean_start: bool = True,
    session_expiry: int | None = None,
    timeout: float = 5.0,
    reconnect: bool = True,
    configure: Callable[[mqtt.Client], None] | None = None,
) -> mqtt.Client:
    """An MQTT 5 client over mutual TLS, connected (CONNACK received) with its loop running.

    With ``reconnect`` (paho's default) the loop reconnects after a lost connection.

    ``configure`` runs before connecting, to attach on_message/on_publish/on_subscribe callbacks
    (it must leave on_connect and on_disconnect alone). Raises :class:`MqttConnectError` if TLS
    fails, the broker refuses the CONNECT, or no CONNACK arrives within ``timeout`` seconds.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=reconnect,
    )
    client.tls_set(ca_certs=str(tls.cafile), certfile=str(tls.certfile), keyfile=str(tls.keyfile))
    if configure is not None:
        configure(client)
    outcome: queue.Queue[str | None] = queue.Queue()

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.put(None if not reason.is_failure else f"CONNACK {reason}")

    def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.put(f"disconnected before CONNACK: {reason}")

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    properties = None
    if session_expiry is not None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = session_expiry
    try:
        client.connect(host, port, keepalive=30, clean_start=clean_start, properties=properties)
    except OSError as exc:  # ssl.SSLError included: a refused certificate ends here or below
        raise MqttConnectError(f"{client_id}: TLS/TCP connection failed: {exc}") from exc
    client.loop_start()
    try:
        error = outcome.get(timeout=timeout)
    except queue.Empty:
        error = f"no CONNACK within {timeout}s"
    if error is not None:
        client.loop_stop()
        client.disconnect()
        raise MqttConnectError(f"{client_id}: {error}")
    client.on_connect = None
    client.on_disconnect = None
    return client


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class TestClient:
    """A connected client that records what it receives, PUBACK reason codes and disconnects.

    Calls wait for the broker's answer (SUBACK, PUBACK), so a test never sleeps blindly.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.disconnects: list[str] = []
        self._acks: dict[int, Any] = {}
        self._acked = threading.Condition()
        self.paho: mqtt.Client | None = None

    def _configure(self, client: mqtt.Client) -> None:
        def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            self.inbox.put(Received(message.topic, bytes(message.payload), bool(message.retain)))

        def on_ack(mid: int, reasons: Any) -> None:
            with self._acked:
                self._acks[mid] = reasons
                self._acked.notify_all()

        client.on_message = on_message
        client.on_publish = lambda _c, _u, mid, reason, _p: on_ack(mid, [reason])
        client.on_subscribe = lambda _c, _u, mid, reasons, _p: on_ack(mid, list(reasons))

    def _client(self) -> mqtt.Client:
        if self.paho is None:
            raise RuntimeError(f"{self.client_id} is not connected")
        return self.paho

    def _wait_ack(self, mid: int, timeout: float) -> list[Any]:
        with self._acked:
            if not self._acked.wait_for(lambda: mid in self._acks, timeout=timeout):
                raise TimeoutError(f"{self.client_id}: no acknowledgement for mid {mid}")
            reasons: list[Any] = self._acks.pop(mid)
            return reasons

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = 5.0) -> list[int]:
        """Subscribe and wait for the SUBACK; return its reason codes as numbers."""
        result, mid = self._client().subscribe(topic_filter, qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise RuntimeError(f"{self.client_id}: subscribe failed locally: {result}")
        return [reason.value for reason in self._wait_ack(mid, timeout)]

    def publish(
        self,
        topic: str,
        payload: bytes = b"",
        qos: int = 1,
        retain: bool = False,
        timeout: float = 5.0,
    ) -> int:
        """Publish and wait for the broker's PUBACK (QoS 1); return its reason code (0 = OK).

        Mosquitto answers an ACL-denied publish with 135 (Not authorized) to MQTT 5 clients.
        """
        info = self._client().publish(topic, payload, qos=qos, retain=retain)
        reasons = self._wait_ack(info.mid, timeout)
        code: int = reasons[0].value
        return code

    def expect(
        self,
        topic: str,
        timeout: float = 5.0,
        payload: bytes | None = None,
    ) -> Received:
        """Wait for a message on ``topic`` (and with ``payload``, if given); skip others."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                break
            if message.topic == topic and (payload is None or message.payload == payload):
                return message
        raise AssertionError(f"{self.client_id} received nothing on {topic} within {timeout}s")

    def receive_until(self, topic: str, timeout: float = 5.0) -> list[Received]:
        """Everything received up to and including the first message on ``topic``, plus
        whatever follows within 0.2 s. Publish a control message after forbidden ones and
        assert on this list: Mosquitto delivers one publisher's messages in order."""
        deadline = time.monotonic() + timeout
        received: list[Received] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                break
            received.append(message)
            if message.topic == topic:
                return received + self.collect(0.2)
        raise AssertionError(
            f"{self.client_id} received nothing on {topic} within {timeout}s; got {received}"
        )

    def collect(self, duration: float = 1.0) -> list[Received]:
        """Everything received within ``duration`` seconds (for asserting that nothing came)."""
        deadline = time.monotonic() + duration
        received: list[Received] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                received.append(self.inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return received

    def close(self) -> None:
        if self.paho is not None:
            self.paho.disconnect()
            self.paho.loop_stop()
            self.paho = None


def connect_test_client(
    broker: Broker,
    tls: TlsFiles,
    client_id: str,
    *,
    clean_start: bool = True,
    session_expiry: int | None = None,
    timeout: float = 5.0,
    reconnect: bool = True,
) -> TestClient:
    """Connect a :class:`TestClient` to ``broker``; raises :class:`MqttConnectError` if refused."""
    test_client = TestClient(client_id)

    def note_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        test_client.disconnects.append(str(reason))

    test_client.paho = mqtt_client(
        broker.host,
        broker.port,
        tls,
        client_id,
        clean_start=clean_start,
        session_expiry=session_expiry,
        timeout=timeout,
        reconnect=reconnect,
        configure=test_client._configure,
    )
    # Installed after CONNACK, so it counts only disconnects of an established session.
    test_client.paho.on_disconnect = note_disconnect
    return test_client
