"""The console's list queries on a real SQLite store: both plans of the incident list (a
capped count walking time, an exact count sorting few rows) give the rows in the same order,
the scope condition keeps exactly the rows ``QueryScope.where`` keeps, and kiosk counts do
not depend on which joins the query used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.accounts.policy import QueryScope
from fleet_manager.store import fleet_views, incident_views
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.fleet_views import KioskFilter
from fleet_manager.store.incident_views import COUNT_CAP, IncidentFilter
from fleet_manager.store.schema import alerts, devices, facilities, incidents, locations

T0 = 1_700_000_000.0
N = COUNT_CAP + 300  # incidents: more than the count's cap in region "east"

EVERYTHING = QueryScope(True)
EAST = QueryScope(False, regions=frozenset({"east"}))
FAC_B = QueryScope(False, facilities=frozenset({"fac-b"}))
BOTH = QueryScope(False, frozenset({"fac-b"}), frozenset({"east"}))
NOTHING = QueryScope(False)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path: Path = tmp_path_factory.mktemp("views") / "fleet.db"
    found = open_engine(f"sqlite:///{path}")
    migrate(found)
    with found.begin() as conn:
        conn.execute(
            facilities.insert(),
            [
                {"facility_id": "fac-a", "name": "A", "region": "east", "created_at": T0},
                {"facility_id": "fac-b", "name": "B", "region": "west", "created_at": T0},
            ],
        )
        conn.execute(
            locations.insert(),
            [
                {
                    "location_id": f"loc-{f}",
                    "facility_id": f"fac-{f}",
                    "name": f"Room {f}",
                    "kind": "waiting_room",
                    "qr_token": f"tok-{f}",
                    "created_at": T0,
                }
                for f in "ab"
            ],
        )
        conn.execute(
            devices.insert(),
            [
                {
                    "device_id": f"k-{i:02d}",
                    "location_id": None if i == 0 else f"loc-{'ab'[i % 2]}",
                    "registered": i != 0,
                    "channel": "stable",
                    "online": i % 3 == 0,
                    "created_at": T0,
                }
                for i in range(12)
            ],
        )
        rows = []
        for i in range(N):
            west = i % 10 == 0  # 1 in 10 at fac-b (west), the rest at fac-a (east)
            rows.append(
                {
                    "incident_id": f"inc-{i:05d}",
                    "alert_id": f"alert-{i}",
                    "version": 1,
                    "state": "resolved" if i % 4 else "opened",
                    "kind": "help",
                    "drill": i % 7 == 0,
                    "region": "west" if west else "east",
                    "facility_id": "fac-b" if west else "fac-a",
                    "location_id": "loc-b" if west else "loc-a",
                    "location_name": None,
                    "device_id": f"k-{1 + i % 11:02d}",
                    "alert_ts": T0 + i,
                    # Two incidents per second: ties in opened_at are ordered by id.
                    "opened_at": T0 + i // 2,
                    "updated_at": T0 + i // 2,
                    "route": "r",
                    "chain": {"steps": [], "repeat": 1},
                    "escalation_level": 0,
                    "escalation_team": "t",
                    "notified": [],
                    "next_escalation_at": None,
                    "exhausted": False,
                }
            )
        conn.execute(incidents.insert(), rows)
        conn.execute(
            alerts.insert(),
            [
                {
                    "alert_id": r["alert_id"],
                    "device_id": r["device_id"],
                    "kind": "help",
                    "source": "button",
                    "reported_location": r["location_id"],
                    "alert_ts": r["alert_ts"],
                    "received_at": r["alert_ts"],
                    "incident_id": r["incident_id"],
                }
                for r in rows
            ],
        )
    yield found
    found.dispose()


def expected(engine: sa.Engine, scope: QueryScope, *extra: sa.ColumnElement[bool]) -> list[str]:
    """Every matching id newest first, the plain way (QueryScope.where, full sort)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(incidents.c.incident_id)
                .where(scope.where(incidents.c.facility_id, incidents.c.region), *extra)
                .order_by(incidents.c.opened_at.desc(), incidents.c.incident_id.desc())
            ).scalars()
        )


@pytest.mark.parametrize("scope", [EVERYTHING, EAST, FAC_B, BOTH, NOTHING])
@pytest.mark.parametrize("offset", [0, 100, 950])
def test_incident_pages_match_the_plain_query(
    engine: sa.Engine, scope: QueryScope, offset: int
) -> None:
    everything = expected(engine, scope)
    with engine.connect() as conn:
        total, capped, rows = incident_views.list_incidents(
            conn, scope, IncidentFilter(limit=100, offset=offset)
        )
    assert [r.incident_id for r in rows] == everything[offset : offset + 100]
    assert capped is (len(everything) > COUNT_CAP)
    assert total == min(len(everything), COUNT_CAP)


@pytest.mark.parametrize(
    ("wanted", "extra"),
    [
        (IncidentFilter(state="opened"), [incidents.c.state == "opened"]),
        (IncidentFilter(drill=True), [incidents.c.drill.is_(True)]),
        (IncidentFilter(region="west"), [incidents.c.region == "west"]),
        (IncidentFilter(facility="fac-a"), [incidents.c.facility_id == "fac-a"]),
        (IncidentFilter(since=T0 + 500), [incidents.c.opened_at >= T0 + 500]),
    ],
)
def test_incident_filters_match_the_plain_query(
    engine: sa.Engine, wanted: IncidentFilter, extra: list[sa.ColumnElement[bool]]
) -> None:
    with engine.connect() as conn:
        total, _capped, rows = incident_views.list_incidents(conn, BOTH, wanted)
    plain = expected(engine, BOTH, *extra)
    assert [r.incident_id for r in rows] == plain[:100]
    assert total == min(len(plain), COUNT_CAP)


def test_changed_since_reads_from_the_time_on_oldest_first(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        rows = incident_views.changed_since(conn, FAC_B, IncidentFilter(), T0 + N // 2 - 20)
    assert [r.incident_id for r in rows] == sorted(
        r.incident_id for r in rows
    )  # same second pairs: by id
    assert {r.facility_id for r in rows} == {"fac-b"}
    assert all(r.updated_at >= T0 + N // 2 - 20 for r in rows) and len(rows) == 4


def test_kiosk_incidents_through_the_alerts(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        rows = incident_views.kiosk_incidents(conn, EAST, "k-02", limit=5)
    plain = expected(engine, EAST, incidents.c.device_id == "k-02")
    assert [r.incident_id for r in rows] == plain[:5]


@pytest.mark.parametrize("scope", [EVERYTHING, EAST, FAC_B, BOTH, NOTHING])
def test_the_sql_scope_selects_what_the_policy_includes(
    engine: sa.Engine, scope: QueryScope
) -> None:
    with engine.connect() as conn:
        selected = conn.execute(
            sa.select(sa.func.count())
            .select_from(incidents)
            .where(scope.where(incidents.c.facility_id, incidents.c.region))
        ).scalar()
        every = conn.execute(sa.select(incidents.c.facility_id, incidents.c.region)).all()
    assert selected == sum(1 for facility, region in every if scope.includes(facility, region))


@pytest.mark.parametrize(
    ("scope", "wanted", "ids"),
    [
        (EVERYTHING, KioskFilter(), [f"k-{i:02d}" for i in range(12)]),
        (EVERYTHING, KioskFilter(status="online"), ["k-00", "k-03", "k-06", "k-09"]),
        (EVERYTHING, KioskFilter(region="west"), ["k-01", "k-03", "k-05", "k-07", "k-09", "k-11"]),
        (EAST, KioskFilter(), ["k-02", "k-04", "k-06", "k-08", "k-10"]),
        (EAST, KioskFilter(status="offline"), ["k-02", "k-04", "k-08", "k-10"]),
        (FAC_B, KioskFilter(q="room b", status="online"), ["k-03", "k-09"]),
        (NOTHING, KioskFilter(), []),
    ],
)
def test_kiosk_lists_and_counts_agree(
    engine: sa.Engine, scope: QueryScope, wanted: KioskFilter, ids: list[str]
) -> None:
    with engine.connect() as conn:
        total, rows = fleet_views.list_kiosks(conn, scope, wanted)
        counts = fleet_views.count_kiosks(conn, scope, wanted)
        everyone = fleet_views.count_kiosks(
            conn, scope, KioskFilter(region=wanted.region, q=wanted.q)
        )
    assert [r.device_id for r in rows] == ids
    assert total == len(ids)
    shown = {"online": counts.online, "offline": counts.offline, None: counts.total}
    assert shown[wanted.status] == len(ids)
    assert everyone.total == counts.total
