"""/metrics as a pure function: snapshots summed across fleet manager instances, histograms made
cumulative, malformed or mismatched snapshots left out (and said so), gauges from counts."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet_manager.metrics_export import (
    FleetFigures,
    Histogram,
    Snapshot,
    bucket_label,
    exposition_text,
    families,
    merge_histograms,
    parse_histogram,
    sum_counters,
)

H = "alert_ingest_seconds"


def hist(le: list[float], counts: list[int], total: float = 1.0) -> dict[str, Any]:
    return {"le": le, "counts": counts, "sum": total, "count": sum(counts)}


def samples(figures: FleetFigures) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the exposition back, as Prometheus would."""
    text = exposition_text(families(figures).families).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "not an object"),
        ({"le": [0.1], "counts": [1], "sum": 1}, "one more entry"),
        ({"le": [0.2, 0.1], "counts": [1, 1, 1], "sum": 1}, "ascending"),
        ({"le": [-1.0], "counts": [1, 1], "sum": 1}, "not negative"),
        ({"le": [float("inf")], "counts": [1, 1], "sum": 1}, "finite"),
        ({"le": ["0.1"], "counts": [1, 1], "sum": 1}, "finite"),
        ({"le": [0.1], "counts": [1, -1], "sum": 1}, "non-negative"),
        ({"le": [0.1], "counts": [1, True], "sum": 1}, "non-negative"),
        ({"le": [0.1], "counts": [1, 1], "sum": "x"}, "sum"),
        ({"le": 0.1, "counts": [1, 1], "sum": 1}, "lists"),
    ],
)
def test_parse_histogram_refuses(value: Any, problem: str) -> None:
    found = parse_histogram(value)
    assert isinstance(found, str) and problem in found


def test_parse_histogram_and_cumulative_buckets() -> None:
    h = parse_histogram(hist([0.005, 0.05, 1], [3, 0, 2, 1], 0.75))
    assert h == Histogram((0.005, 0.05, 1.0), (3, 0, 2, 1), 0.75)
    assert h.count == 6
    assert h.cumulative() == [("0.005", 3.0), ("0.05", 3.0), ("1.0", 5.0), ("+Inf", 6.0)]


@pytest.mark.parametrize(
    ("bound", "label"), [(0.1, "0.1"), (1, "1.0"), (2.5, "2.5"), (float("inf"), "+Inf")]
)
def test_bucket_label(bound: float, label: str) -> None:
    assert bucket_label(bound) == label


def test_merge_sums_instances_with_the_common_bounds_and_names_the_rest() -> None:
    merged, skipped = merge_histograms(
        [
            ("a", hist([0.1, 1], [1, 2, 3], 2.0)),
            ("b", hist([0.1, 1], [4, 0, 0], 0.2)),
            ("c", hist([0.5], [9, 9], 9.0)),  # an instance of another version
            ("d", {"le": []}),
        ]
    )
    assert merged == Histogram((0.1, 1.0), (5, 2, 3), 2.2)
    assert skipped == [
        "d: le and counts must be lists",
        "c: bucket bounds differ from the other instances'",
    ]


def test_merge_of_nothing() -> None:
    assert merge_histograms([]) == (None, [])


def test_on_a_tie_the_first_instance_s_bounds_win() -> None:
    merged, skipped = merge_histograms([("a", hist([1], [1, 1])), ("b", hist([2], [5, 5]))])
    assert merged is not None and merged.le == (1.0,)
    assert skipped == ["b: bucket bounds differ from the other instances'"]


def test_sum_counters_ignores_what_is_not_a_count() -> None:
    snapshots = [
        Snapshot("a", 0, {"messages_ingested": 5, "escalations": 1, "weird": "x"}, {}),
        Snapshot("b", 0, {"messages_ingested": 7, "escalations": -3, "flag": True}, {}),
    ]
    assert sum_counters(snapshots) == {"messages_ingested": 12, "escalations": 1}


def test_the_exposition_from_figures() -> None:
    figures = FleetFigures(
        now=1000.0,
        incidents=[("opened", "help", 2), ("acknowledged", "tamper", 1), ("resolved", "help", 5)],
        kiosks=[(True, "active", 2), (False, "active", 1), (False, "revoked", 1)],
        rollouts=[("active", 1), ("completed", 3)],
        console_requests=[("queued", 4)],
        snapshots=[
            Snapshot(
                "fm-1",
                990.0,
                {"messages_ingested": 10, "messages_rejected": 1},
                {H: hist([0.01, 0.1], [5, 1, 0], 0.08)},
            ),
            Snapshot(
                "fm-2",
                995.0,
                {"messages_ingested": 3, "worker_errors": 2},
                {H: hist([0.01, 0.1], [0, 2, 1], 0.9)},
            ),
        ],
        api_counters={"api_forbidden": 3, "api_login_refused.throttled": 1},
    )
    found = samples(figures)
    assert found["beacon_incidents", (("kind", "help"), ("state", "opened"))] == 2
    assert found["beacon_incidents_open", ()] == 3
    assert found["beacon_kiosks", (("lifecycle", "active"), ("state", "online"))] == 2
    assert found["beacon_kiosks", (("lifecycle", "revoked"), ("state", "offline"))] == 1
    assert found["beacon_rollouts", (("state", "completed"),)] == 3
    assert found["beacon_console_requests", (("state", "queued"),)] == 4
    assert found["beacon_messages_ingested_total", ()] == 13
    assert found["beacon_messages_rejected_total", ()] == 1
    assert found["beacon_alerts_duplicate_total", ()] == 0
    assert found["beacon_escalations_total", ()] == 0
    assert found["beacon_worker_errors_total", ()] == 2
    assert found["beacon_api_events_total", (("name", "api_login_refused.throttled"),)] == 1
    assert found["beacon_fleet_managers", ()] == 2
    assert found["beacon_fleet_manager_snapshot_age_seconds", (("instance", "fm-1"),)] == 10
    assert found["beacon_alert_ingest_seconds_bucket", (("le", "0.01"),)] == 5
    assert found["beacon_alert_ingest_seconds_bucket", (("le", "0.1"),)] == 8
    assert found["beacon_alert_ingest_seconds_bucket", (("le", "+Inf"),)] == 9
    assert found["beacon_alert_ingest_seconds_count", ()] == 9
    assert found["beacon_alert_ingest_seconds_sum", ()] == pytest.approx(0.98)


def test_an_empty_fleet_still_names_every_metric() -> None:
    text = exposition_text(families(FleetFigures(now=0.0)).families).decode()
    for name in (
        "beacon_incidents",
        "beacon_incidents_open",
        "beacon_kiosks",
        "beacon_rollouts",
        "beacon_console_requests",
        "beacon_messages_ingested_total",
        "beacon_alert_ingest_seconds",
    ):
        assert f"# TYPE {name} " in text
    assert "beacon_incidents_open 0.0" in text


def test_two_expositions_do_not_share_state() -> None:
    one = FleetFigures(now=0.0, api_counters={"x": 1})
    two = FleetFigures(now=0.0, api_counters={"y": 1})
    assert 'name="x"' in exposition_text(families(one).families).decode()
    assert 'name="x"' not in exposition_text(families(two).families).decode()
