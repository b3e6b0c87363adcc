"""`beacon fleet user|token` against a SQLite file, through click's test runner.

``beacon/cli.py`` registers these commands with ``add_user_commands``; here they hang off a
stand-in ``fleet`` group, so the tests do not depend on that wiring.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from beacon.cli_users import add_user_commands
from fleet_manager.accounts import store, token_store
from fleet_manager.store import audit_log, registry
from fleet_manager.store.database import migrate, open_engine

PW = "violet tractor hums"
T0 = 1_800_000_000.0


@click.group("fleet")
def fleet() -> None:
    """Stand-in for `beacon fleet`."""


add_user_commands(fleet)


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    engine = open_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        registry.add_facility(conn, "fac-a", "A", "north", T0)
        registry.add_facility(conn, "fac-b", "B", "north", T0)
    engine.dispose()
    return url


def run(db: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        fleet, [*args, "--database-url", db], input=input, catch_exceptions=False
    )


def ok(db: str, *args: str, input: str | None = None) -> str:
    result = run(db, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(db: str, *args: str, input: str | None = None) -> str:
    result = run(db, *args, input=input)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: "), result.stderr
    return result.stderr.removeprefix("Error: ").strip()


def test_add_prompts_twice_hidden_and_lists(db: str) -> None:
    out = ok(
        db,
        *("user", "add", "alice", "--role", "facility_admin"),
        *("--facility", "fac-a", "--facility", "fac-b"),
        input=f"{PW}\n{PW}\n",
    )
    assert "added user alice: facility_admin@facility:fac-a, facility_admin@facility:fac-b" in out
    assert PW not in out
    listed = ok(db, "user", "list")
    assert listed.splitlines()[0].split() == ["USER", "ROLES", "STATE", "LAST", "LOGIN"]
    assert "alice" in listed and "active" in listed
    [user] = json.loads(ok(db, "user", "list", "--json"))
    assert user["grants"] == ["facility_admin@facility:fac-a", "facility_admin@facility:fac-b"]
    assert "password_hash" not in user


def test_add_with_password_file(db: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text(PW + "\n")
    ok(
        db,
        *("user", "add", "rui", "--role", "responder", "--region", "north"),
        *("--password-file", str(secret)),
    )
    engine = open_engine(db)
    with engine.begin() as conn:
        outcome = store.authenticate(conn, "rui", PW, client="t", now=T0)
    engine.dispose()
    assert isinstance(outcome, store.LoginOk)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        pytest.param(
            ("user", "add", "bob", "--role", "ops"), "short\nshort\n", "at least 12", id="weak"
        ),
        pytest.param(
            ("user", "add", "bob", "--role", "facility_admin"),
            None,
            "needs one or more --facility",
            id="admin-without-facility",
        ),
        pytest.param(
            ("user", "add", "bob", "--role", "ops", "--region", "north"),
            None,
            "fleet-wide",
            id="ops-with-region",
        ),
        pytest.param(
            ("user", "add", "bob", "--role", "facility_admin", "--facility", "fac-zz"),
            f"{PW}\n{PW}\n",
            "fac-zz",
            id="unknown-facility",
        ),
        pytest.param(("user", "passwd", "nobody"), f"{PW}\n{PW}\n", "no user", id="passwd-unknown"),
        pytest.param(("user", "role", "nobody"), None, "exactly one of", id="role-no-change"),
        pytest.param(("token", "revoke", "tok-nope"), None, "no API token", id="revoke-unknown"),
        pytest.param(
            ("token", "create", "t", "--role", "auditor", "--ttl", "soon"),
            None,
            "--ttl",
            id="bad-ttl",
        ),
    ],
)
def test_refusals_are_one_line(
    db: str, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    assert message in refused(db, *args, input=stdin)


def test_mismatched_confirmation_asks_again(db: str) -> None:
    result = run(db, "user", "add", "bob", "--role", "ops", input=f"{PW}\n{PW}x\n{PW}\n{PW}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


def test_role_passwd_disable(db: str) -> None:
    ok(db, "user", "add", "olga", "--role", "ops", input=f"{PW}\n{PW}\n")
    ok(db, "user", "add", "alice", "--role", "auditor", input=f"{PW}\n{PW}\n")
    out = ok(db, "user", "role", "alice", "--add", "responder", "--region", "north")
    assert out == "responder@region:north granted to alice\n"
    out = ok(db, "user", "role", "alice", "--add", "responder", "--region", "north")
    assert out == "unchanged (already so): responder@region:north\n"
    assert ok(db, "user", "role", "alice", "--remove", "auditor") == "auditor taken from alice\n"
    assert "last enabled ops user" in refused(db, "user", "role", "olga", "--remove", "ops")
    new = "a different long passphrase"
    assert "sessions were ended" in ok(db, "user", "passwd", "alice", input=f"{new}\n{new}\n")
    assert ok(db, "user", "disable", "alice") == "alice disabled\n"
    assert ok(db, "user", "disable", "alice") == "alice was already disabled\n"
    assert "disabled" in ok(db, "user", "list")
    assert ok(db, "user", "enable", "alice") == "alice enabled\n"
    engine = open_engine(db)
    with engine.connect() as conn:
        actions = [e.action for e in audit_log.entries(conn, subject="alice")]
        actors = {e.actor for e in audit_log.entries(conn, subject="alice")}
    engine.dispose()
    assert actions == [
        "user.created",
        "user.role_granted",
        "user.role_revoked",
        "user.password_changed",
        "user.disabled",
        "user.enabled",
    ]
    assert all(a.startswith("cli:") for a in actors)


def test_token_create_list_revoke(db: str) -> None:
    out = ok(db, "token", "create", "exporter", "--role", "auditor", "--ttl", "90d")
    secret = next(line.strip() for line in out.splitlines() if line.strip().startswith("bct_"))
    assert "not shown again" in out
    engine = open_engine(db)
    with engine.begin() as conn:
        principal = token_store.verify_api_token(conn, secret, now=T0)
    assert principal is not None
    listed = ok(db, "token", "list")
    assert secret[:12] + "…" in listed and secret not in listed
    [row] = json.loads(ok(db, "token", "list", "--json"))
    assert row["grants"] == ["auditor"] and "token" not in row and "token_hash" not in row
    assert ok(db, "token", "revoke", principal.id) == f"revoked {principal.id}\n"
    assert ok(db, "token", "list") == "no API tokens\n"
    assert "revoked" in ok(db, "token", "list", "--all")
    with engine.begin() as conn:
        assert token_store.verify_api_token(conn, secret, now=T0) is None
    engine.dispose()


def test_token_json_shows_the_secret_once(db: str) -> None:
    created = json.loads(
        ok(db, "token", "create", "ci", "--role", "facility_admin", "--facility", "fac-a", "--json")
    )
    assert created["token"].startswith("bct_")
    assert created["grants"] == ["facility_admin@facility:fac-a"]
