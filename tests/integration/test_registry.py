"""The registry on real databases (a SQLite file AND PostgreSQL): facilities, locations, token
rotation with a grace period, and migration 0002 upgrading a database made by 0001.

PostgreSQL as in test_store.py: the local server (BEACON_TEST_PG_URL where it needs a
password); each database is made for the test and dropped after it. Never skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from fleet_manager.store import registry
from fleet_manager.store.database import alembic_config, migrate, open_engine
from fleet_manager.store.registry import (
    DAY,
    DuplicateIdError,
    Facility,
    InvalidEntryError,
    Location,
    RegistryError,
    TokenRecord,
    UnknownFacilityError,
    UnknownLocationError,
)
from fleet_manager.store.schema import location_tokens, locations
from tests.support.postgres import empty_tables, temporary_database

T0 = 1_700_000_000.125
GRACE = 30 * DAY


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with temporary_database("beacon_registry") as url:
        yield url


def _setup(engine: sa.Engine) -> Location:
    with engine.begin() as conn:
        registry.create_facility(conn, "fac-st-mary", "St Mary's Hospital", "north", T0)
        return registry.create_location(
            conn, "loc-wait-1", "fac-st-mary", "Waiting room 1", "waiting_room", T0, floor="1"
        )


def _resolve(engine: sa.Engine, token: str, now: float) -> str | None:
    with engine.connect() as conn:
        return registry.resolve_token(conn, token, now)


# -- facilities and locations -----------------------------------------------------------------


def test_create_and_list(engine: sa.Engine) -> None:
    first = _setup(engine)
    with engine.begin() as conn:
        registry.create_facility(conn, "fac-north-clinic", "North Clinic", "north", T0 + 1)
        second = registry.create_location(
            conn, "loc-bath-2", "fac-st-mary", "Bathroom", "bathroom", T0 + 2, floor="2", room="B"
        )
        other = registry.create_location(
            conn, "loc-exam-1", "fac-north-clinic", "Exam 1", "exam_room", T0 + 3
        )
    assert first == Location(
        "loc-wait-1", "fac-st-mary", "Waiting room 1", "waiting_room", "1", None, first.qr_token, T0
    )
    assert len(first.qr_token) == 22 and first.qr_token != second.qr_token
    with engine.connect() as conn:
        assert registry.list_facilities(conn) == [
            Facility("fac-north-clinic", "North Clinic", "north", T0 + 1),
            Facility("fac-st-mary", "St Mary's Hospital", "north", T0),
        ]
        assert registry.list_locations(conn) == [other, second, first]
        assert registry.list_locations(conn, "fac-st-mary") == [second, first]
        assert registry.get_location(conn, "loc-bath-2") == second
        assert registry.get_location(conn, "loc-nowhere") is None
        assert registry.get_facility(conn, "fac-nowhere") is None
        # Each new location's token is its active history entry.
        assert registry.token_history(conn, "loc-bath-2") == [
            TokenRecord(second.qr_token, "loc-bath-2", T0 + 2)
        ]
        assert registry.resolve_token(conn, second.qr_token, T0 + 5) == "loc-bath-2"


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        pytest.param(
            lambda c: registry.create_facility(c, "fac-st-mary", "Again", "south", T0),
            DuplicateIdError,
            "facility 'fac-st-mary' already exists",
            id="duplicate-facility",
        ),
        pytest.param(
            lambda c: registry.create_facility(c, "Fac", "", "north", T0),
            InvalidEntryError,
            "facility id 'Fac' is not a valid id.*; facility name must not be empty",
            id="invalid-facility",
        ),
        pytest.param(
            lambda c: registry.create_location(c, "loc-wait-1", "fac-st-mary", "X", "other", T0),
            DuplicateIdError,
            "location 'loc-wait-1' already exists",
            id="duplicate-location",
        ),
        pytest.param(
            lambda c: registry.create_location(c, "loc-x", "fac-nowhere", "X", "other", T0),
            UnknownFacilityError,
            "facility 'fac-nowhere' does not exist",
            id="unknown-facility",
        ),
        pytest.param(
            lambda c: registry.create_location(c, "loc-x", "fac-st-mary", "X", "kitchen", T0),
            InvalidEntryError,
            "location kind 'kitchen' must be one of waiting_room, bathroom, exam_room, other",
            id="bad-kind",
        ),
        pytest.param(
            lambda c: registry.list_locations(c, "fac-nowhere"),
            UnknownFacilityError,
            "facility 'fac-nowhere' does not exist",
            id="list-unknown-facility",
        ),
        pytest.param(
            lambda c: registry.rotate_location_token(c, "loc-nowhere", T0),
            UnknownLocationError,
            "location 'loc-nowhere' does not exist",
            id="rotate-unknown-location",
        ),
        pytest.param(
            lambda c: registry.rotate_location_token(c, "loc-wait-1", T0, grace_s=-1),
            InvalidEntryError,
            "grace period must be between 0 and 3650 days",
            id="negative-grace",
        ),
    ],
)
def test_registry_refuses_with_messages(
    engine: sa.Engine, action: Any, error: type[RegistryError], message: str
) -> None:
    _setup(engine)
    with pytest.raises(error, match=message), engine.begin() as conn:
        action(conn)
    with engine.connect() as conn:  # nothing was written
        assert [f.facility_id for f in registry.list_facilities(conn)] == ["fac-st-mary"]
        assert [loc.location_id for loc in registry.list_locations(conn)] == ["loc-wait-1"]


def test_location_token_taken_by_a_retired_one_is_refused(engine: sa.Engine) -> None:
    first = _setup(engine)
    with engine.begin() as conn:
        registry.rotate_location_token(conn, "loc-wait-1", T0 + 10, GRACE)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        registry.add_location(conn, "loc-x", "fac-st-mary", "X", "other", T0, first.qr_token)
    with engine.connect() as conn:
        assert registry.get_location(conn, "loc-x") is None


# -- token rotation ---------------------------------------------------------------------------


def test_rotated_token_resolves_until_its_grace_period_ends(engine: sa.Engine) -> None:
    old = _setup(engine).qr_token
    rotated_at = T0 + 1000
    with engine.begin() as conn:
        rotation = registry.rotate_location_token(conn, "loc-wait-1", rotated_at, GRACE)
    new = rotation.new_token
    assert (rotation.location_id, rotation.old_token) == ("loc-wait-1", old)
    assert rotation.old_valid_until == rotated_at + GRACE
    assert new != old and len(new) == 22
    with engine.connect() as conn:
        location = registry.get_location(conn, "loc-wait-1")
        assert location is not None and location.qr_token == new
        assert registry.token_history(conn, "loc-wait-1") == [
            TokenRecord(old, "loc-wait-1", T0, rotated_at, rotated_at + GRACE),
            TokenRecord(new, "loc-wait-1", rotated_at),
        ]
    # Stickers already on the wall keep working through the grace period, then stop.
    assert _resolve(engine, old, rotated_at - 1) == "loc-wait-1"
    assert _resolve(engine, old, rotated_at + 1) == "loc-wait-1"
    assert _resolve(engine, old, rotated_at + GRACE - 1) == "loc-wait-1"
    assert _resolve(engine, old, rotated_at + GRACE) is None
    assert _resolve(engine, old, rotated_at + GRACE + DAY) is None
    # The new token works at once and keeps working.
    assert _resolve(engine, new, rotated_at) == "loc-wait-1"
    assert _resolve(engine, new, rotated_at + 3650 * DAY) == "loc-wait-1"
    assert _resolve(engine, "no-such-token", rotated_at) is None


def test_rotating_again_keeps_earlier_grace_and_zero_grace_stops_at_once(
    engine: sa.Engine,
) -> None:
    first = _setup(engine).qr_token
    with engine.begin() as conn:
        second = registry.rotate_location_token(conn, "loc-wait-1", T0 + 100, GRACE).new_token
        third = registry.rotate_location_token(conn, "loc-wait-1", T0 + 200, 0).new_token
    with engine.connect() as conn:
        history = registry.token_history(conn, "loc-wait-1")
        statuses = [registry.token_status(r, T0 + 300) for r in history]
    assert [r.token for r in history] == [first, second, third]
    assert statuses == ["grace", "expired", "active"]
    assert _resolve(engine, first, T0 + 300) == "loc-wait-1"  # its 30 days still run
    assert _resolve(engine, second, T0 + 200) is None  # no grace: stopped at rotation
    assert _resolve(engine, third, T0 + 300) == "loc-wait-1"


def test_rotation_with_a_chosen_token(engine: sa.Engine) -> None:
    _setup(engine)
    chosen = "chosenTokenAAAAAAAAAAA"
    with engine.begin() as conn:
        rotation = registry.rotate_location_token(conn, "loc-wait-1", T0, 60, new_token=chosen)
    assert rotation.new_token == chosen
    assert _resolve(engine, chosen, T0 + 1) == "loc-wait-1"


def test_concurrent_rotations_one_wins(pg_engine: sa.Engine) -> None:
    """PostgreSQL only: SQLite serialises writers, so two rotations cannot interleave there."""
    engine = pg_engine
    empty_tables(engine)
    old = _setup(engine).qr_token
    results: dict[str, Any] = {}
    with engine.connect() as a:
        won = registry.rotate_location_token(a, "loc-wait-1", T0 + 10, GRACE)

        def rotate_b() -> None:
            with engine.connect() as b:
                try:
                    results["b"] = registry.rotate_location_token(b, "loc-wait-1", T0 + 11, GRACE)
                    b.commit()
                except RegistryError as exc:
                    results["b"] = exc

        thread = threading.Thread(target=rotate_b)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # b waits for a's row lock
        a.commit()
        thread.join(timeout=30)
    assert isinstance(results["b"], RegistryError)
    assert "got a new token at the same time" in str(results["b"])
    with engine.connect() as conn:
        history = registry.token_history(conn, "loc-wait-1")
        active = [r.token for r in history if registry.token_status(r, T0 + 20) == "active"]
    assert active == [won.new_token]
    assert [r.token for r in history] == [old, won.new_token]


# -- migration 0002 ---------------------------------------------------------------------------

OLD_LOCATIONS = sa.table(
    "locations",
    sa.column("location_id", sa.String),
    sa.column("facility_id", sa.String),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("qr_token", sa.String),
    sa.column("created_at", sa.Float),
)
OLD_FACILITIES = sa.table(
    "facilities",
    sa.column("facility_id", sa.String),
    sa.column("name", sa.String),
    sa.column("region", sa.String),
    sa.column("created_at", sa.Float),
)
OLD_DEVICES = sa.table(
    "devices",
    sa.column("device_id", sa.String),
    sa.column("location_id", sa.String),
    sa.column("registered", sa.Boolean),
    sa.column("channel", sa.String),
    sa.column("online", sa.Boolean),
    sa.column("created_at", sa.Float),
)


def _alembic(engine: sa.Engine, action: Any, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def test_migration_0002_upgrades_a_0001_database(empty_url: str) -> None:
    engine = open_engine(empty_url)
    try:
        _alembic(engine, command.upgrade, "0001")
        with engine.begin() as conn:
            assert "location_tokens" not in sa.inspect(conn).get_table_names()
            conn.execute(OLD_FACILITIES.insert().values(("fac-a", "A", "north", T0)))
            conn.execute(
                OLD_LOCATIONS.insert(),
                [
                    dict(zip(OLD_LOCATIONS.c.keys(), row, strict=True))
                    for row in (
                        ("loc-1", "fac-a", "One", "waiting_room", "printedTokenOne0000001", T0),
                        ("loc-2", "fac-a", "Two", "bathroom", "printedTokenTwo0000002", T0 + 5),
                    )
                ],
            )
            conn.execute(
                OLD_DEVICES.insert().values(("kiosk-a1", "loc-1", True, "stable", False, T0))
            )
        migrate(engine)
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert version == "0008"
            rows = conn.execute(sa.select(location_tokens).order_by(location_tokens.c.token))
            assert [tuple(r) for r in rows] == [
                ("printedTokenOne0000001", "loc-1", T0, None, None),
                ("printedTokenTwo0000002", "loc-2", T0 + 5, None, None),
            ]
            floors = conn.execute(sa.select(locations.c.floor, locations.c.room)).all()
            assert [tuple(r) for r in floors] == [(None, None), (None, None)]
            # Stickers printed before the upgrade still lead to their rooms …
            assert registry.resolve_token(conn, "printedTokenOne0000001", T0 + 1e6) == "loc-1"
            placement = registry.placement(conn, "kiosk-a1")
            assert placement is not None and placement.location_name == "One"
        # … and rotate like any other token.
        with engine.begin() as conn:
            rotation = registry.rotate_location_token(conn, "loc-2", T0 + 100, 60)
        assert rotation.old_token == "printedTokenTwo0000002"
        assert _resolve(engine, "printedTokenTwo0000002", T0 + 159) == "loc-2"
        assert _resolve(engine, "printedTokenTwo0000002", T0 + 160) is None
    finally:
        engine.dispose()


def test_migration_0002_downgrades_and_upgrades_again(empty_url: str) -> None:
    engine = open_engine(empty_url)
    try:
        migrate(engine)
        location = _setup(engine)
        with engine.begin() as conn:
            registry.register_device(conn, "kiosk-a1", "loc-wait-1", T0)
        _alembic(engine, command.downgrade, "0001")
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert "location_tokens" not in inspector.get_table_names()
            assert "floor" not in {c["name"] for c in inspector.get_columns("locations")}
            kept = conn.execute(sa.select(OLD_LOCATIONS.c.qr_token)).scalars().all()
            assert kept == [location.qr_token]
        migrate(engine)
        assert _resolve(engine, location.qr_token, T0 + 1) == "loc-wait-1"
    finally:
        engine.dispose()


def test_migration_0003_keeps_existing_kiosks_active_and_facilities_open(empty_url: str) -> None:
    from fleet_manager.store import enrolment_store

    engine = open_engine(empty_url)
    try:
        _alembic(engine, command.upgrade, "0002")
        location = _setup(engine)
        with engine.begin() as conn:
            registry.register_device(conn, "kiosk-a1", location.location_id, T0)
        migrate(engine)
        with engine.connect() as conn:
            assert enrolment_store.lifecycle(conn, "kiosk-a1") == "active"
            assert enrolment_store.require_approval(conn, location.location_id) is False
        _alembic(engine, command.downgrade, "0002")
        migrate(engine)
        with engine.connect() as conn:
            assert enrolment_store.lifecycle(conn, "kiosk-a1") == "active"
    finally:
        engine.dispose()
