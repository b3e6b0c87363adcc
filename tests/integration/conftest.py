"""Fixtures that start real systems (Mosquitto, fleet manager, kiosk agents) in temp dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.store.database import migrate, open_engine
from tests.support.live import LiveSystem
from tests.support.postgres import empty_tables, temporary_database


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveSystem]:
    """A fresh system per test, for tests that kill, restart or cut things."""
    system = LiveSystem(tmp_path / "system")
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def shared_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """One system for a module of tests that only press, ack and watch."""
    system = LiveSystem(tmp_path_factory.mktemp("shared") / "system")
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    """One migrated PostgreSQL database for this test process's store tests."""
    with temporary_database("beacon_test") as url:
        engine = open_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """The store on SQLite and on PostgreSQL (emptied first): the same code runs on both."""
    if request.param == "sqlite":
        sqlite_engine = open_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
        migrate(sqlite_engine)
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    pg: sa.Engine = request.getfixturevalue("pg_engine")
    empty_tables(pg)
    yield pg
