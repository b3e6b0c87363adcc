"""The fleet and incident pages read their filters leniently (pure): a stale bookmark or a
hand-typed query never gives an error page."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from fleet_manager.console.fleet_pages import filter_query as fleet_query
from fleet_manager.console.fleet_pages import kiosk_filter
from fleet_manager.console.incident_pages import filter_query as incident_query
from fleet_manager.console.incident_pages import incident_filter
from fleet_manager.store.fleet_views import KioskFilter
from fleet_manager.store.incident_views import IncidentFilter


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, KioskFilter()),
        ({"status": "online", "region": " east "}, KioskFilter(region="east", status="online")),
        ({"status": "asleep", "offset": "-4"}, KioskFilter()),
        ({"offset": "200", "q": ""}, KioskFilter(offset=200)),
        ({"offset": "99999999999"}, KioskFilter(offset=1_000_000)),
        ({"facility": "x" * 100}, KioskFilter()),
        ({"facility": "Clinic A", "region": "east\x00"}, KioskFilter()),  # not ids: ignored
        ({"q": "a\x00b", "lifecycle": "revoked"}, KioskFilter(lifecycle="revoked")),
        ({"q": " " + "r" * 80}, KioskFilter(q="r" * 64)),
    ],
)
def test_kiosk_filter(params: dict[str, str], expected: KioskFilter) -> None:
    assert kiosk_filter(params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, IncidentFilter()),
        ({"state": "resolved", "drill": "yes"}, IncidentFilter(state="resolved", drill=True)),
        ({"drill": "no", "kind": "help"}, IncidentFilter(kind="help", drill=False)),
        ({"state": "lost", "kind": "party", "drill": "maybe"}, IncidentFilter()),
        ({"offset": "100", "region": "east"}, IncidentFilter(region="east", offset=100)),
        ({"offset": "500000"}, IncidentFilter(offset=100_000)),
        ({"region": "../east", "facility": "clinic-a"}, IncidentFilter(facility="clinic-a")),
    ],
)
def test_incident_filter(params: dict[str, str], expected: IncidentFilter) -> None:
    assert incident_filter(params) == expected


def test_queries_round_trip() -> None:
    f = KioskFilter(region="east", status="offline", q="a&b", offset=100)
    assert fleet_query(f) == "region=east&status=offline&q=a%26b&offset=100"
    assert kiosk_filter(dict(parse_qsl(fleet_query(f)))) == f
    g = IncidentFilter(state="opened", drill=False, offset=100)
    assert incident_filter(dict(parse_qsl(incident_query(g)))) == g
    assert incident_query(g, since="1.5") == "state=opened&drill=no&offset=100&since=1.5"
    assert incident_query(g, state=None, offset=None) == "drill=no"
