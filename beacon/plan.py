"""What a Beacon installation consists of: facilities, kiosks, routing policy (data only).

The demo, the integration tests and the benchmarks describe their system with a
:class:`SystemPlan` and hand it to :func:`beacon.system.build_system`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FacilityPlan:
    facility_id: str
    name: str
    region: str


@dataclass(frozen=True)
class KioskPlan:
    device_id: str
    facility_id: str
    location_id: str
    location_name: str
    location_kind: str = "waiting_room"


@dataclass(frozen=True)
class SystemPlan:
    facilities: tuple[FacilityPlan, ...]
    kiosks: tuple[KioskPlan, ...]
    policy_yaml: str
    fleet_instances: int = 1
    # Extra ACL grants on the fleet broker, by username; for benchmark clients only.
    extra_fleet_grants: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    # Extra client certificates to issue (e.g. a benchmark's baseline publisher).
    extra_client_identities: tuple[str, ...] = ()
    # Where kiosk QR codes point (the landing page's host). ".example" is a reserved name: QR
    # codes that open nothing, for tests that never scan. Empty: this system's own landing page
    # (127.0.0.1:port, known once the system is laid out).
    qr_origin: str = "help.beacon.example"
    # Run the landing page process (`beacon landing serve`) with the rest.
    landing_page: bool = False
    # Where its quick exit goes (None: the config's default, a public weather site).
    landing_exit_url: str | None = None
    # A signed content repository (TUF keys, the sample bundle published on "stable") that
    # kiosks update from. Off by default: building it checks the bundle (a few seconds).
    content_repository: bool = False

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({f.region for f in self.facilities}))

    def facility(self, facility_id: str) -> FacilityPlan:
        return next(f for f in self.facilities if f.facility_id == facility_id)


DEMO_POLICY = """\
# Routing and escalation for the demo. The first matching route wins; the last matches all.
routes:
  - name: drills
    match: {drill: true}
    chain:
      steps:
        - {team: drill-coordinators, wait_s: 120}
  - name: north-help
    match: {region: north, kind: [help, tamper, report]}
    chain:
      steps:
        - {team: north-onsite-security, wait_s: 30}
        - {team: north-regional-response, wait_s: 60}
      repeat: 2
  - name: south-help
    match: {region: south, kind: [help, tamper, report]}
    chain:
      steps:
        - {team: south-charge-nurse, wait_s: 30}
        - {team: south-regional-response, wait_s: 60}
      repeat: 2
  - name: everything-else
    match: {}
    chain:
      steps:
        - {team: central-ops, wait_s: 60}
"""

DEMO_PLAN = SystemPlan(
    content_repository=True,
    qr_origin="",
    landing_page=True,
    facilities=(
        FacilityPlan("st-marys", "St Mary's Clinic", "north"),
        FacilityPlan("riverside", "Riverside Hospital", "south"),
    ),
    kiosks=(
        KioskPlan("kiosk-stmarys-wait", "st-marys", "stmarys-waiting", "Main waiting room"),
        KioskPlan(
            "kiosk-stmarys-wc", "st-marys", "stmarys-wc-2", "Ground floor restroom", "bathroom"
        ),
        KioskPlan(
            "kiosk-riverside-ed",
            "riverside",
            "riverside-ed-3",
            "Emergency exam room 3",
            "exam_room",
        ),
    ),
    policy_yaml=DEMO_POLICY,
)
