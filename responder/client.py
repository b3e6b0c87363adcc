"""A responder's side of the contract: watch a region's incidents, acknowledge or resolve them.

Any MQTT client holding a responder certificate can do the same; this is the reference one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from protocol import topics
from protocol.errors import ProtocolError
from protocol.messages import IncidentMessage, ResponderAction, ResponderActionKind, decode
from transport.log import get_logger
from transport.mqtt import BrokerEndpoint, LinkOptions, MqttLink

log = get_logger("responder")


class IncidentWatcher:
    """Delivers each new version of each incident once (retained copies and reconnects
    can repeat a version; those are skipped)."""

    def __init__(
        self,
        endpoint: BrokerEndpoint,
        identity: str,
        region: str,
        on_incident: Callable[[IncidentMessage], None],
    ) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._on_incident = on_incident
        self.rejected = 0
        self.link = MqttLink(
            endpoint,
            LinkOptions(
                client_id=identity,
                subscriptions=[(topics.responder_incidents_filter(region), 1)],
                name=identity,
            ),
            on_message=self._on_message,
        )

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    def _on_message(self, topic: str, payload: bytes, qos: int) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            incident = decode(IncidentMessage, payload)
        except ProtocolError as exc:
            self.rejected += 1
            log.warning("incident_rejected", topic=topic, error=str(exc))
            return
        with self._lock:
            if self._seen.get(incident.incident_id, 0) >= incident.version:
                return
            self._seen[incident.incident_id] = incident.version
        self._on_incident(incident)


class ActionNotConfirmed(RuntimeError):
    """The action was not confirmed by the fleet manager in time."""


def send_action(
    endpoint: BrokerEndpoint,
    identity: str,
    region: str,
    incident_id: str,
    action: ResponderActionKind,
    responder: str,
    note: str | None = None,
    timeout: float = 10.0,
) -> IncidentMessage | None:
    """Send ``action`` and wait until the incident's published state reflects it.

    Returns the confirming incident state (None for a note, which changes no state). Raises
    :class:`ActionNotConfirmed` if the broker or the fleet manager does not answer in time.
    """
    confirmed: list[IncidentMessage] = []
    done = threading.Event()
    wanted = {"ack": ("acknowledged", "resolved"), "resolve": ("resolved",), "note": ()}[action]

    def on_message(topic: str, payload: bytes, qos: int) -> None:
        try:
            incident = decode(IncidentMessage, payload)
        except ProtocolError:
            return
        if incident.state in wanted:
            confirmed.append(incident)
            done.set()

    # A unique client id suffix is not possible (the broker uses the certificate CN), so this
    # connection is short-lived and clean.
    link = MqttLink(
        endpoint,
        LinkOptions(
            client_id=identity,
            persistent=False,
            subscriptions=[(topics.responder_incident(region, incident_id), 1)],
            name=f"{identity}-{uuid.uuid4().hex[:6]}",
        ),
        on_message=on_message,
    )
    link.start()
    try:
        if not link.wait_connected(timeout):
            raise ActionNotConfirmed(
                f"could not connect to the responder broker {endpoint.host}:{endpoint.port}"
            )
        time.sleep(0.2)  # let the subscription settle before acting, so the answer is not missed
        if done.is_set() and action == "ack":
            return confirmed[-1]  # already acknowledged
        done.clear()
        confirmed.clear()
        message = ResponderAction(responder=responder, action=action, ts=time.time(), note=note)
        if not link.publish_confirmed(
            topics.responder_ack(region, incident_id), message.to_bytes(), timeout
        ):
            raise ActionNotConfirmed("the responder broker did not accept the action")
        if action == "note":
            return None
        if not done.wait(timeout):
            raise ActionNotConfirmed(
                f"{action} sent, but the fleet manager has not confirmed it within {timeout:.0f}s"
            )
        return confirmed[-1]
    finally:
        link.stop()
