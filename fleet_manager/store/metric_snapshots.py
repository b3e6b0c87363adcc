"""Each fleet manager instance's counters and histograms, for the API's ``/metrics``."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from fleet_manager.store.schema import metric_snapshots


def save(
    conn: sa.Connection,
    instance: str,
    now: float,
    counters: Mapping[str, int],
    histograms: Mapping[str, object],
) -> None:
    """Replace this instance's snapshot (an UPDATE, or the first INSERT)."""
    values = {"updated_at": now, "counters": dict(counters), "histograms": dict(histograms)}
    updated = conn.execute(
        metric_snapshots.update().where(metric_snapshots.c.instance == instance).values(**values)
    ).rowcount
    if not updated:
        conn.execute(metric_snapshots.insert().values(instance=instance, **values))
