"""Rollouts in the store (SQLite and PostgreSQL): start, waves opened by ticks, the nudge's
cutoff admitting exactly the open waves, kiosk reports, pausing by itself, operator actions,
and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from beacon.cli import main
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from fleet_manager.store import registry
from fleet_manager.store.database import migrate, open_engine
from protocol.content_delivery import RolloutScope, admitted
from tests.support.postgres import temporary_database

T0 = 1_800_000_000.0
KIOSKS = [f"kiosk-n{i:03d}" for i in range(40)]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fleet.db'}"
        return
    with temporary_database("beacon_rollouts") as pg:
        yield pg


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = open_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        registry.add_facility(conn, "fac-n", "North", "north", T0)
        registry.add_facility(conn, "fac-s", "South", "south", T0)
        registry.add_location(conn, "loc-n", "fac-n", "N", "waiting_room", T0)
        registry.add_location(conn, "loc-s", "fac-s", "S", "waiting_room", T0)
        for i, device in enumerate(KIOSKS):
            registry.register_device(conn, device, "loc-n" if i % 2 else "loc-s", T0)
        registry.register_device(conn, "kiosk-beta1", "loc-n", T0, channel="beta")
    yield engine
    engine.dispose()


def _start(engine: sa.Engine, waves: str = "10%,50%,all", **kw: object) -> rollouts.RolloutRow:
    options: dict[str, object] = {
        "channel": "stable",
        "version": "2026.12.1",
        "baseline": "2026.11.1",
        "scope": RolloutScope(),
        "waves": plan.parse_waves(waves),
        "success_threshold": 0.9,
        "error_threshold": 0.1,
        "timeout_s": 600.0,
        "actor": "cli:test",
        "now": T0,
    }
    options.update(kw)
    return rollouts.start(engine, **options)  # type: ignore[arg-type]


def _admitted(row: rollouts.RolloutRow, region: str = "north") -> set[str]:
    nudge = rollouts.nudge_for(row, T0)
    return {k.device_id for k in row.rollout.kiosks if admitted(nudge, k.device_id, region, "")}


def _open(row: rollouts.RolloutRow) -> set[str]:
    return {k.device_id for k in row.rollout.kiosks if k.wave < row.rollout.open_waves}


def _report_all(engine: sa.Engine, devices: set[str], event: str, at: float) -> None:
    for device in sorted(devices):
        detail = {"version": "2026.12.1", "reason": "boom"}
        assert rollouts.record_report(engine, device, event, detail, at, at) is None


def test_waves_open_as_kiosks_report_healthy_and_the_nudge_follows(engine: sa.Engine) -> None:
    row = _start(engine)
    assert len(row.rollout.kiosks) == 40  # the beta kiosk is on another channel
    assert rollouts.nudge_for(row, T0).cutoff == 0.0
    (row,) = rollouts.tick(engine, T0 + 1)
    first = _open(row)
    assert len(first) == 4  # 10% of 40
    assert _admitted(row) == first
    _report_all(engine, first, "content_healthy", T0 + 5)
    (row,) = rollouts.tick(engine, T0 + 6)
    second = _open(row)
    assert len(second) == 20 and first < second
    assert _admitted(row) == second
    _report_all(engine, second - first, "content_healthy", T0 + 10)
    (row,) = rollouts.tick(engine, T0 + 11)
    _report_all(engine, _open(row) - second, "content_healthy", T0 + 12)
    (row,) = rollouts.tick(engine, T0 + 13)
    assert row.rollout.state == "completed"
    assert rollouts.nudge_for(row, T0).cutoff == 1.0
    assert rollouts.tick(engine, T0 + 14) == []


def test_too_many_failures_pause_it_and_the_operator_decides(engine: sa.Engine) -> None:
    row = _start(engine)
    (row,) = rollouts.tick(engine, T0 + 1)
    first = sorted(_open(row))
    _report_all(engine, set(first[:2]), "content_failed", T0 + 2)
    (row,) = rollouts.tick(engine, T0 + 3)
    assert row.rollout.state == "paused"
    assert row.rollout.pause is not None and row.rollout.pause.by == "threshold"
    assert _admitted(row) == set(first)  # no wave opens while paused
    with pytest.raises(rollouts.RolloutError, match="still paused"):
        _start(engine)
    resumed = rollouts.operate(engine, row.rollout_id, "resume", "cli:dana", T0 + 4)
    assert resumed.rollout.state == "running"
    aborted = rollouts.operate(engine, row.rollout_id, "abort", "cli:dana", T0 + 5)
    assert aborted.rollout.state == "aborted"
    with pytest.raises(rollouts.RolloutError, match="accepts no further actions"):
        rollouts.operate(engine, row.rollout_id, "resume", "cli:dana", T0 + 6)


def test_reports_that_do_not_count_are_named(engine: sa.Engine) -> None:
    assert rollouts.record_report(engine, KIOSKS[0], "content_healthy", {"version": "x"}, 1, 1) == (
        "no_active_rollout"
    )
    _start(engine)
    rollouts.tick(engine, T0 + 1)
    assert rollouts.record_report(engine, KIOSKS[0], "content_applied", {}, 1, 1) == "not_a_report"
    other = rollouts.record_report(
        engine, KIOSKS[0], "content_healthy", {"version": "2020.1.1"}, T0 + 2, T0 + 2
    )
    assert other == "other_version"


def test_scope_limits_the_kiosks_and_late_kiosks_join_their_wave(engine: sa.Engine) -> None:
    row = _start(engine, scope=RolloutScope(regions=("north",)), waves="50%,all")
    assert len(row.rollout.kiosks) == 20
    (row,) = rollouts.tick(engine, T0 + 1)
    with engine.begin() as conn:
        registry.register_device(conn, "kiosk-late", "loc-n", T0 + 2)
    (row,) = rollouts.tick(engine, T0 + 3)
    assert row.rollout.kiosk("kiosk-late") is not None
    late_open = row.rollout.kiosk("kiosk-late").wave < row.rollout.open_waves  # type: ignore[union-attr]
    assert ("kiosk-late" in _admitted(row)) == late_open


def test_cli_start_status_pause(engine: sa.Engine, url: str) -> None:
    runner = CliRunner()
    started = runner.invoke(
        main,
        ["content", "rollout", "start", "--channel", "stable", "--version", "2026.12.1",
         "--waves", "5,all", "--database-url", url, "--json"],
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    rollout_id = json.loads(started.output)["rollout_id"]
    again = runner.invoke(
        main,
        ["content", "rollout", "start", "--channel", "stable", "--version", "2026.12.2",
         "--database-url", url],
    )  # fmt: skip
    assert again.exit_code == 1 and "still running" in again.output
    bad = runner.invoke(
        main,
        ["content", "rollout", "start", "--channel", "beta", "--version", "12",
         "--database-url", url],
    )  # fmt: skip
    assert bad.exit_code == 1 and "not a content version" in bad.output
    status = runner.invoke(
        main, ["content", "rollout", "status", rollout_id, "--database-url", url]
    )
    assert status.exit_code == 0 and "running" in status.output and "WAVE" in status.output
    paused = runner.invoke(main, ["content", "rollout", "pause", rollout_id, "--database-url", url])
    assert paused.exit_code == 0 and "paused" in paused.output
    listed = runner.invoke(main, ["content", "rollout", "status", "--database-url", url, "--json"])
    assert json.loads(listed.output)[0]["state"] == "paused"


def test_a_batch_of_reports_is_applied_in_one_write(engine: sa.Engine) -> None:
    row = _start(engine, waves="all")
    (row,) = rollouts.tick(engine, T0 + 1)
    batch = [
        rollouts.KioskEvent(k, "content_healthy", {"version": "2026.12.1"}, T0 + 2) for k in KIOSKS
    ]
    batch.append(rollouts.KioskEvent(KIOSKS[0], "content_metadata_stale", {}, T0 + 2))
    batch.append(rollouts.KioskEvent("kiosk-beta1", "content_healthy", {"version": "x"}, T0 + 2))
    outcome = rollouts.record_reports(engine, batch, T0 + 3)
    assert outcome[:40] == [None] * 40
    assert outcome[40:] == ["not_a_report", "no_active_rollout"]
    with engine.connect() as conn:
        stored = rollouts.get(conn, row.rollout_id)
    assert stored is not None and stored.revision == row.revision + 1
    (done,) = rollouts.tick(engine, T0 + 4)
    assert done.rollout.state == "completed"
