"""A whole Beacon system started for a test: real brokers, fleet manager and kiosk processes."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from beacon.plan import FacilityPlan, KioskPlan, SystemPlan
from beacon.processes import RunningSystem
from beacon.system import HOST, SystemLayout, build_system
from fleet_manager.store.database import open_engine
from fleet_manager.store.schema import alerts, incident_events, incidents
from tests.support.recorder import IncidentRecorder
from transport.mqtt import BrokerEndpoint

# Short waits so escalation can be watched within a test.
TEST_POLICY = """\
routes:
  - name: drills
    match: {drill: true}
    chain:
      steps: [{team: drill-team, wait_s: 60}]
  - name: east-help
    match: {region: east, kind: [help, tamper]}
    chain:
      steps:
        - {team: east-first, wait_s: 1.5}
        - {team: east-second, wait_s: 1.5}
      repeat: 1
  - name: catch-all
    match: {}
    chain:
      steps: [{team: central-ops, wait_s: 60}]
"""

TEST_PLAN = SystemPlan(
    facilities=(
        FacilityPlan("clinic-a", "Clinic A", "east"),
        FacilityPlan("clinic-b", "Clinic B", "west"),
    ),
    kiosks=(
        KioskPlan("kiosk-a1", "clinic-a", "a-waiting", "A waiting room"),
        KioskPlan("kiosk-a2", "clinic-a", "a-restroom", "A restroom", "bathroom"),
        KioskPlan("kiosk-b1", "clinic-b", "b-exam", "B exam room", "exam_room"),
    ),
    policy_yaml=TEST_POLICY,
)


class LiveSystem:
    def __init__(self, base: Path, plan: SystemPlan = TEST_PLAN, heartbeat_s: float = 1.0) -> None:
        self.layout: SystemLayout = build_system(base, plan)
        self.running = RunningSystem(self.layout, heartbeat_s=heartbeat_s)
        self.recorders: dict[str, IncidentRecorder] = {}
        self.engine = open_engine(self.layout.database_url)

    def start(self, kiosks: bool = True) -> LiveSystem:
        self.running.start_brokers()
        self.running.start_fleet_managers()
        for region, tls in self.layout.responder_watch.items():
            endpoint = BrokerEndpoint(HOST, self.layout.responder_ports[region], tls)
            recorder = IncidentRecorder(
                endpoint, self.layout.responder_identity(region, "watch"), region
            )
            recorder.start()
            self.recorders[region] = recorder
        if kiosks:
            self.running.start_kiosks()
        return self

    def stop(self) -> None:
        for recorder in self.recorders.values():
            recorder.stop()
        self.running.stop()
        self.engine.dispose()

    def responder_endpoint(self, region: str) -> BrokerEndpoint:
        return BrokerEndpoint(
            HOST, self.layout.responder_ports[region], self.layout.responder_desk[region]
        )

    def incidents_for_alert(
        self, alert_id: str, timeout: float = 10.0
    ) -> list[sa.Row[tuple[object, ...]]]:
        """The stored incidents of an alert, waiting for the first: the fleet manager tells
        responders before its transaction commits, so the row can trail the message."""
        deadline = time.monotonic() + timeout
        while True:
            with self.engine.connect() as conn:
                rows = list(
                    conn.execute(sa.select(incidents).where(incidents.c.alert_id == alert_id))
                )
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def alert_row(self, alert_id: str) -> sa.Row[tuple[object, ...]] | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(alerts).where(alerts.c.alert_id == alert_id)).first()

    def timeline(self, incident_id: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(incident_events.c.event)
                .where(incident_events.c.incident_id == incident_id)
                .order_by(incident_events.c.event_id)
            )
            return [r[0] for r in rows]

    def wait_confirmed(self, device_id: str, alert_id: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.running.ctl(device_id, {"cmd": "alert-state", "alert_id": alert_id}).get(
                "state"
            )
            if state == "confirmed":
                return
            time.sleep(0.1)
        raise TimeoutError(f"alert {alert_id} on {device_id} still {state} after {timeout}s")

    def fleet_log(self) -> str:
        return "".join(fm.log_text() for fm in self.running.fleet_managers)
