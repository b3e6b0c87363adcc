"""A responder-side recorder for integration tests: every incident version that arrives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from protocol.messages import IncidentMessage
from responder.client import IncidentWatcher
from transport.mqtt import BrokerEndpoint


class IncidentRecorder:
    def __init__(self, endpoint: BrokerEndpoint, identity: str, region: str) -> None:
        self.received: list[IncidentMessage] = []
        self._cond = threading.Condition()
        self.watcher = IncidentWatcher(endpoint, identity, region, self._record)

    def _record(self, incident: IncidentMessage) -> None:
        with self._cond:
            self.received.append(incident)
            self._cond.notify_all()

    def start(self, timeout: float = 10.0) -> None:
        self.watcher.start()
        if not self.watcher.link.wait_connected(timeout):
            raise TimeoutError("recorder could not connect to the responder broker")

    def stop(self) -> None:
        self.watcher.stop()

    def for_alert(self, alert_id: str) -> list[IncidentMessage]:
        with self._cond:
            return [i for i in self.received if str(i.alert_id) == alert_id]

    def wait_for(
        self, predicate: Callable[[IncidentMessage], bool], timeout: float = 15.0
    ) -> IncidentMessage:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for incident in self.received:
                    if predicate(incident):
                        return incident
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(i.incident_id, i.version, i.state) for i in self.received]
                    raise TimeoutError(f"no matching incident within {timeout}s; seen {seen}")
                self._cond.wait(remaining)

    def wait_for_alert(
        self, alert_id: str, state: str = "opened", timeout: float = 15.0
    ) -> IncidentMessage:
        return self.wait_for(lambda i: str(i.alert_id) == alert_id and i.state == state, timeout)
