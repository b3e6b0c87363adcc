"""The routing policy's versions in the fleet database: the file as version 0, saves validated
first, refused on a stale base version, audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.routing import policy_store
from fleet_manager.store import audit_log
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.schema import routing_policies

FILE_POLICY = "routes:\n  - name: all\n    chain: {steps: [{team: central-ops, wait_s: 60}]}\n"
EDITED = FILE_POLICY.replace("60", "30")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    found = open_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    migrate(found)
    yield found
    found.dispose()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(FILE_POLICY)
    return path


def test_without_saved_versions_the_file_is_version_0(engine: sa.Engine, policy_file: Path) -> None:
    with engine.connect() as conn:
        assert policy_store.current_version(conn) == 0
        stored = policy_store.current(conn, policy_file)
        missing = policy_store.current(conn, policy_file.with_name("gone.yaml"))
        nothing = policy_store.current(conn, None)
    assert (stored.version, stored.saved_by, stored.policy_yaml) == (0, "file", FILE_POLICY)
    assert stored.saved_at is not None
    assert (missing.version, missing.policy_yaml, missing.saved_at) == (0, "", None)
    assert nothing.policy_yaml == ""


def test_saves_increment_the_version_and_are_audited(engine: sa.Engine, policy_file: Path) -> None:
    with engine.begin() as conn:
        first = policy_store.save(conn, EDITED, 0, "user:olga", 1000.0)
    with engine.begin() as conn:
        second = policy_store.save(conn, FILE_POLICY, 1, "token:tok-1", 2000.0)
    assert (first.version, second.version) == (1, 2)
    with engine.connect() as conn:
        assert policy_store.current_version(conn) == 2
        now = policy_store.current(conn, policy_file)
        old = policy_store.get_version(conn, 1)
        saved = audit_log.entries(conn, action="routing.saved")
    assert (now.version, now.saved_by, now.saved_at, now.policy_yaml) == (
        2, "token:tok-1", 2000.0, FILE_POLICY,
    )  # fmt: skip
    assert old is not None and old.policy_yaml == EDITED
    assert [(e.actor, e.detail["old_version"], e.detail["new_version"]) for e in saved] == [
        ("user:olga", 0, 1),
        ("token:tok-1", 1, 2),
    ]
    assert [e.subject for e in saved] == ["routing-policy/1", "routing-policy/2"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("routes: [", "not valid YAML"),
        ("routes: []", "has no routes"),
        ("routes:\n  - name: x\n    match: {region: east}\n"
         "    chain: {steps: [{team: t, wait_s: 5}]}\n", "must match everything"),
        ("routes:\n  - name: x\n    chain: {steps: [{team: t, wait_s: -1}]}\n",
         "route 'x'.chain.steps[0].wait_s"),
        ("routes:\n  - {1: a, b: c}\n", "cannot be read"),
        ("x" * (policy_store.MAX_POLICY_CHARS + 1), "longer than"),
    ],
)  # fmt: skip
def test_an_invalid_policy_is_refused_with_what_and_where(
    engine: sa.Engine, text: str, says: str
) -> None:
    with pytest.raises(policy_store.PolicyInvalid) as refused, engine.begin() as conn:
        policy_store.save(conn, text, 0, "user:olga", 1.0)
    assert says in str(refused.value)
    assert policy_store.problem(text) == str(refused.value)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(routing_policies)).scalar() == 0
        assert audit_log.entries(conn, action="routing.saved") == []


def test_a_stale_base_version_is_a_conflict(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        policy_store.save(conn, EDITED, 0, "user:olga", 1.0)
    conflict = pytest.raises(policy_store.PolicyConflict, match="saved as version 1")
    with conflict as refused, engine.begin() as conn:
        policy_store.save(conn, FILE_POLICY, 0, "user:olga", 2.0)
    assert (refused.value.base_version, refused.value.current_version) == (0, 1)
    with pytest.raises(policy_store.PolicyConflict), engine.begin() as conn:
        policy_store.save(conn, FILE_POLICY, 5, "user:olga", 2.0)
    with engine.connect() as conn:
        assert policy_store.current_version(conn) == 1


def test_a_racing_insert_of_the_same_version_is_a_conflict(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two savers read version 0; the second insert hits the primary key."""
    with engine.begin() as conn:
        conn.execute(
            routing_policies.insert().values(
                version=1, policy_yaml=EDITED, saved_by="user:other", saved_at=1.0
            )
        )
        # As if this saver had read version 0 before the other's insert landed.
        real = policy_store.current_version
        monkeypatch.setattr(policy_store, "current_version", lambda _conn: 0)
        with pytest.raises(policy_store.PolicyConflict):
            policy_store.save(conn, FILE_POLICY, 0, "user:olga", 2.0)
        monkeypatch.setattr(policy_store, "current_version", real)
        assert conn.execute(sa.select(routing_policies.c.saved_by)).scalars().all() == [
            "user:other"
        ]
