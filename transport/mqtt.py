"""A thin paho-mqtt 2.x adapter shared by the kiosk agent, fleet manager and responder tools.

MQTT 5 over TLS with a client certificate, a persistent session (``clean_start=False`` plus a
session expiry), paho's network thread, and reconnects that follow our jittered backoff (see
:mod:`transport.backoff`) so a fleet of kiosks does not stampede a broker that comes back.
Policy (what to send, what a message means) stays with the caller; this only moves bytes.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from provisioning.tls import TlsFiles
from transport.backoff import Backoff
from transport.log import get_logger

log = get_logger("transport.mqtt")


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int
    tls: TlsFiles


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class LinkOptions:
    client_id: str
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    will: Will | None = None
    subscriptions: Sequence[tuple[str, int]] = ()
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    # False for short-lived tools (a CLI ack): a clean session that the broker drops at once.
    persistent: bool = True
    name: str = "mqtt"


MessageHandler = Callable[[str, bytes, int], None]  # topic, payload, qos
ConnectHandler = Callable[[bool], None]  # session_present


class MqttLink:
    """One broker connection, kept alive by paho's network thread with our backoff."""

    def __init__(
        self,
        endpoint: BrokerEndpoint,
        options: LinkOptions,
        on_message: MessageHandler,
        on_connect: ConnectHandler | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.options = options
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._client: mqtt.Client | None = None
        self._backoff = Backoff(options.backoff_base_s, options.backoff_cap_s)

    # -- public API ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        client = self._make_client()
        self._client = client
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = (
            self.options.session_expiry_s if self.options.persistent else 0
        )
        self._set_next_delay(client)
        client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=self.options.keepalive_s,
            clean_start=not self.options.persistent,
            properties=props,
        )
        # paho's own network thread does every socket read and write: publishing from other
        # threads only queues and wakes it, so TLS records are never interleaved.
        client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly (the broker then does not send the Last Will) and end the thread."""
        self._stop.set()
        client = self._client
        if client is None:
            return
        with contextlib.suppress(Exception):
            client.disconnect()
        client.loop_stop()
        self._connected.clear()

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        message_expiry_s: int | None = None,
    ) -> bool:
        """Hand a message to paho; False if not connected (the caller keeps it for later)."""
        client = self._client
        if client is None or not self._connected.is_set():
            return False
        props = None
        if message_expiry_s is not None:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.MessageExpiryInterval = message_expiry_s
        info = client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_confirmed(self, topic: str, payload: bytes, timeout: float) -> bool:
        """Publish at QoS 1 and wait for the broker's PUBACK (never call from a callback)."""
        client = self._client
        if client is None or not self._connected.is_set():
            return False
        info = client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def reload_client_certificate(self) -> None:
        """Use the certificate and key now on disk from the next connection on. The current
        connection stays up: TLS checks a certificate only when a connection is made."""
        tls = self.endpoint.tls
        self._tls_context.load_cert_chain(certfile=str(tls.certfile), keyfile=str(tls.keyfile))

    # -- the loop -------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        opts = self.options
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=opts.client_id, protocol=mqtt.MQTTv5
        )
        tls = self.endpoint.tls
        # Our own context, kept, so a renewed certificate can be loaded into it for the next
        # connection without rebuilding the client (see reload_client_certificate).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        context.load_verify_locations(cafile=str(tls.cafile))
        context.load_cert_chain(certfile=str(tls.certfile), keyfile=str(tls.keyfile))
        self._tls_context = context
        client.tls_set_context(context)
        if opts.will is not None:
            client.will_set(
                opts.will.topic, opts.will.payload, qos=opts.will.qos, retain=opts.will.retain
            )
        client.max_inflight_messages_set(100)
        client.on_socket_open = self._handle_socket_open
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        return client

    def _set_next_delay(self, client: mqtt.Client) -> None:
        """paho waits ``min_delay`` before its next reconnect once the delay is reset, so
        setting it after every failure makes paho follow our jittered backoff exactly."""
        delay = self._backoff.next_delay()
        # paho annotates whole seconds but computes with floats; sub-second jitter matters.
        delay_s: Any = delay
        client.reconnect_delay_set(
            min_delay=delay_s, max_delay=max(delay_s, self.options.backoff_cap_s)
        )

    @staticmethod
    def _handle_socket_open(client: mqtt.Client, userdata: object, sock: Any) -> None:
        # paho leaves Nagle on: a small alert written while an earlier packet awaits its ACK
        # would wait for the peer's delayed ACK (~40 ms).
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        log.warning("mqtt_connect_failed", link=self.options.name, port=self.endpoint.port)
        self._set_next_delay(client)

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("mqtt_refused", link=self.options.name, reason=str(reason_code))
            return
        self._backoff.reset()
        self._set_next_delay(client)
        if self.options.subscriptions:
            client.subscribe(list(self.options.subscriptions))
        self._connected.set()
        log.info(
            "mqtt_connected",
            link=self.options.name,
            session_present=flags.session_present,
            port=self.endpoint.port,
        )
        if self._on_connect is not None:
            self._on_connect(flags.session_present)

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._stop.is_set():
            return
        log.warning("mqtt_disconnected", link=self.options.name, reason=str(reason_code))
        self._set_next_delay(client)
        if was_connected and self._on_disconnect is not None:
            self._on_disconnect()

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(msg.topic, bytes(msg.payload), msg.qos)
        except Exception:
            # A handler bug must not take the connection down; it is logged with its stack.
            log.exception("mqtt_handler_failed", link=self.options.name, topic=msg.topic)
