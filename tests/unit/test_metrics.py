"""The alert-latency histogram's buckets: per bucket (not cumulative), +Inf last."""

from __future__ import annotations

from fleet_manager.metrics import Histogram


def test_values_land_in_the_first_bucket_that_holds_them() -> None:
    h = Histogram((0.01, 0.1, 1.0))
    for value in (0.001, 0.01, 0.05, 0.5, 3.0, 7.0):
        h.observe(value)
    snap = h.snapshot()
    assert snap["le"] == [0.01, 0.1, 1.0]
    assert snap["counts"] == [2, 1, 1, 2]
    assert snap["count"] == 6
    assert abs(float(snap["sum"]) - 10.561) < 1e-9  # type: ignore[arg-type]


def test_an_empty_histogram() -> None:
    snap = Histogram((1.0,)).snapshot()
    assert snap == {"le": [1.0], "counts": [0, 0], "sum": 0.0, "count": 0}
