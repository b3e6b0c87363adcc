"""`beacon training retention` (issue 8): records are kept at least six years after an account
is disabled, and this job is the only thing that deletes them, each deletion audited.

Run through click's test runner with a fleet config file over a SQLite store seeded the way the
console does it (invitation, accepted, a module completed with its quiz).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result

from beacon.cli_training import add_training_commands, retention_cutoff
from fleet_manager.accounts import store as accounts
from fleet_manager.store import audit_log, registry, training_store
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.schema import (
    quiz_attempts,
    staff_profiles,
    training_progress,
    training_records,
    training_reminders,
)

PW = "correct horse battery staple 42"
YEAR_S = 365.25 * 86400
TABLES = (training_records, quiz_attempts, training_progress, training_reminders)


@click.group()
def beacon() -> None:
    """Stand-in for `beacon`."""


add_training_commands(beacon)


def person(conn: sa.Connection, username: str, now: float) -> None:
    """An account with a profile, a completed module, its quiz attempt, progress and a
    reminder: a row in every training table."""
    _, token = training_store.create_invite(
        conn, facility_id="fac-a", full_name=username.title(), email=None, actor="admin", now=now
    )
    training_store.accept_invite(conn, token, username, PW, now)
    training_store.mark_section(conn, username, "recognising-signs", "signs", now)
    training_store.record_attempt(
        conn,
        username=username,
        module_id="recognising-signs",
        module_version="1",
        answers={"q1": 0},
        correct=1,
        total=1,
        passed=True,
        now=now,
    )
    training_store.add_record(
        conn,
        username=username,
        kind="module",
        module_id="recognising-signs",
        module_version="1",
        completed_on=date.fromtimestamp(now),
        hours=1.0,
        now=now,
        actor=username,
    )
    training_store.mark_reminded(conn, username, "tx-every-renewal", date(2020, 1, 1), now)


@pytest.fixture
def config(tmp_path: Path) -> Iterator[tuple[Path, sa.Engine]]:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    engine = open_engine(url)
    migrate(engine)
    now = time.time()
    with engine.begin() as conn:
        registry.create_facility(conn, "fac-a", "St Mary", "north", now - 10 * YEAR_S)
        for username in ("old", "recent", "active"):
            person(conn, username, now - 9 * YEAR_S)
        accounts.set_disabled(conn, "old", True, actor="admin", now=now - 7 * YEAR_S)
        accounts.set_disabled(conn, "recent", True, actor="admin", now=now - 1 * YEAR_S)
    for name in ("routing.yaml", "command-key.pem", "ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("")
    path = tmp_path / "fleet.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database_url": url,
                "broker": {"port": 8883, "ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
                "routing_policy": "routing.yaml",
                "command_signing_key": "command-key.pem",
                "default_region": "north",
            }
        )
    )
    try:
        yield path, engine
    finally:
        engine.dispose()


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        beacon, ["training", "retention", "--config", str(config), *args], catch_exceptions=False
    )


def rows_of(engine: sa.Engine) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in TABLES:
            for username, n in conn.execute(
                sa.select(table.c.username, sa.func.count()).group_by(table.c.username)
            ):
                counts[username] = counts.get(username, 0) + n
    return counts


def deletions(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return audit_log.entries(conn, action="training.retention_deleted")


def test_seeded_people_have_a_row_in_every_table(config: tuple[Path, sa.Engine]) -> None:
    _, engine = config
    assert rows_of(engine) == {"old": 4, "recent": 4, "active": 4}


def test_records_of_people_disabled_over_six_years_ago_are_deleted_and_audited(
    config: tuple[Path, sa.Engine],
) -> None:
    path, engine = config
    result = run(path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "deleted 6 training row(s) of old"
    assert lines[1].startswith("retention: deleted 6 training row(s) of 1 person(s)")
    assert lines[1].endswith("(6 years)")
    assert rows_of(engine) == {"recent": 4, "active": 4}
    [entry] = deletions(engine)
    assert entry.subject == "old" and entry.outcome == "ok"
    assert entry.actor.startswith("cli:")
    assert entry.detail["rows"] == 6 and entry.detail["years"] == 6
    with engine.connect() as conn:
        assert audit_log.verify_chain(conn) is None
        # Four training rows, the profile and the invitation (name, email, licence) go; the
        # disabled account stays for the audit log.
        assert conn.execute(sa.select(sa.func.count()).select_from(staff_profiles)).scalar() == 2
        assert accounts.get_user(conn, "old") is not None

    # Nothing is left to delete: a second run deletes and audits nothing.
    again = run(path)
    assert again.exit_code == 0
    assert again.stdout.startswith("retention: deleted 0 training row(s) of 0 person(s)")
    assert len(deletions(engine)) == 1


def test_dry_run_deletes_nothing(config: tuple[Path, sa.Engine]) -> None:
    path, engine = config
    result = run(path, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == "would delete 6 training row(s) of old"
    assert "retention: would delete 6 training row(s) of 1 person(s)" in result.stdout
    assert "(dry run: nothing deleted)" in result.stdout
    assert rows_of(engine) == {"old": 4, "recent": 4, "active": 4}
    assert deletions(engine) == []


@pytest.mark.parametrize("years", ["5", "0", "-1"])
def test_fewer_than_six_years_is_refused(config: tuple[Path, sa.Engine], years: str) -> None:
    path, engine = config
    result = run(path, "--years", years)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: training records are kept at least 6 years")
    assert "Traceback" not in result.output
    assert rows_of(engine) == {"old": 4, "recent": 4, "active": 4}


def test_a_longer_period_keeps_more(config: tuple[Path, sa.Engine]) -> None:
    path, engine = config
    result = run(path, "--years", "8")
    assert result.exit_code == 0, result.output
    assert "deleted 0 training row(s) of 0 person(s)" in result.stdout
    assert rows_of(engine) == {"old": 4, "recent": 4, "active": 4}


def test_re_enabled_then_disabled_counts_from_the_last_disabling(
    config: tuple[Path, sa.Engine],
) -> None:
    path, engine = config
    now = time.time()
    with engine.begin() as conn:
        accounts.set_disabled(conn, "old", False, actor="admin", now=now - 3 * YEAR_S)
        accounts.set_disabled(conn, "old", True, actor="admin", now=now - 2 * YEAR_S)
    assert run(path).exit_code == 0
    assert rows_of(engine) == {"old": 4, "recent": 4, "active": 4}


@pytest.mark.parametrize(
    ("now", "years", "cutoff"),
    [
        (datetime(2032, 6, 15, 12, 0, tzinfo=UTC), 6, datetime(2026, 6, 15, 12, 0, tzinfo=UTC)),
        (datetime(2032, 2, 29, 9, 0, tzinfo=UTC), 6, datetime(2026, 2, 28, 9, 0, tzinfo=UTC)),
        (datetime(2032, 2, 29, 9, 0, tzinfo=UTC), 8, datetime(2024, 2, 29, 9, 0, tzinfo=UTC)),
    ],
)
def test_cutoff_is_calendar_years(now: datetime, years: int, cutoff: datetime) -> None:
    assert retention_cutoff(now.timestamp(), years) == cutoff.timestamp()


def test_the_command_is_wired_into_beacon() -> None:
    from beacon.cli import main

    result = CliRunner().invoke(main, ["training", "--help"])
    assert result.exit_code == 0
    assert "remind" in result.stdout and "retention" in result.stdout
