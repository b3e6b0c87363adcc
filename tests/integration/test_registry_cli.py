"""`beacon provision facility|location` against a SQLite file, as staff run it.

Most runs go through click's test runner (the real ``beacon`` group, in-process, quick); one
runs ``python -m beacon`` for real to prove the command is wired into ``beacon``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from beacon.cli import main
from beacon.cli_provision import LOCATION_KINDS_HELP, format_table
from fleet_manager.store import registry
from fleet_manager.store.database import open_engine
from fleet_manager.store.registry import DAY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fleet.db'}"


def run(db: str | None, *args: str) -> Result:
    extra = ("--database-url", db) if db else ()
    return CliRunner().invoke(main, ["provision", *args, *extra], catch_exceptions=False)


def ok(db: str, *args: str) -> str:
    result = run(db, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(db: str | None, *args: str) -> str:
    """The command fails with exit 1 and one ``Error: …`` message, never a traceback."""
    result = run(db, *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: "), result.stderr
    return result.stderr.removeprefix("Error: ").strip()


def _populate(db: str) -> None:
    ok(db, "facility", "add", "fac-st-mary", "--name", "St Mary's Hospital", "--region", "north")
    ok(db, "facility", "add", "fac-north", "--name", "North Clinic", "--region", "north")
    ok(
        db,
        *("location", "add", "loc-wait-1", "--facility", "fac-st-mary"),
        *("--name", "Waiting room 1", "--kind", "waiting_room", "--floor", "1", "--room", "104"),
    )
    ok(
        db,
        *("location", "add", "loc-bath-2", "--facility", "fac-st-mary"),
        *("--name", "Bathroom", "--kind", "bathroom", "--floor", "2"),
    )
    ok(
        db,
        *("location", "add", "loc-exam-1", "--facility", "fac-north"),
        *("--name", "Exam 1", "--kind", "exam_room"),
    )


def test_add_and_list_as_tables(db: str) -> None:
    added = ok(
        db, "facility", "add", "fac-st-mary", "--name", "St Mary's Hospital", "--region", "north"
    )
    assert added == "added facility fac-st-mary (St Mary's Hospital, region north)\n"
    assert ok(db, "location", "list") == (
        "no locations in any facility yet: add one with `beacon provision location add`\n"
    )
    added = ok(
        db,
        *("location", "add", "loc-wait-1", "--facility", "fac-st-mary"),
        *("--name", "Waiting room 1", "--kind", "waiting_room", "--floor", "1", "--room", "104"),
    )
    assert added.startswith(
        "added location loc-wait-1 (Waiting room 1, waiting_room) to fac-st-mary; QR token "
    )
    token = added.split()[-1]
    assert len(token) == 22

    facilities = ok(db, "facility", "list").splitlines()
    assert facilities[0].split() == ["ID", "NAME", "REGION", "LOCATIONS", "CREATED"]
    assert facilities[1].startswith("fac-st-mary  St Mary's Hospital  north   1          20")
    assert facilities[1].endswith(" UTC")
    assert ok(db, "location", "list", "--facility", "fac-st-mary").splitlines() == [
        "ID          FACILITY     NAME            KIND          FLOOR  ROOM  TOKEN",
        f"loc-wait-1  fac-st-mary  Waiting room 1  waiting_room  1      104   {token}",
    ]


def test_lists_as_json(db: str) -> None:
    _populate(db)
    facilities = json.loads(ok(db, "facility", "list", "--json"))
    assert [(f["facility_id"], f["name"], f["region"], f["locations"]) for f in facilities] == [
        ("fac-north", "North Clinic", "north", 1),
        ("fac-st-mary", "St Mary's Hospital", "north", 2),
    ]
    everywhere = json.loads(ok(db, "location", "list", "--json"))
    assert [loc["location_id"] for loc in everywhere] == ["loc-exam-1", "loc-bath-2", "loc-wait-1"]
    at_st_mary = json.loads(ok(db, "location", "list", "--facility", "fac-st-mary", "--json"))
    assert [
        {k: v for k, v in loc.items() if k not in ("qr_token", "created_at")} for loc in at_st_mary
    ] == [
        {
            "location_id": "loc-bath-2",
            "facility_id": "fac-st-mary",
            "name": "Bathroom",
            "kind": "bathroom",
            "floor": "2",
            "room": None,
        },
        {
            "location_id": "loc-wait-1",
            "facility_id": "fac-st-mary",
            "name": "Waiting room 1",
            "kind": "waiting_room",
            "floor": "1",
            "room": "104",
        },
    ]
    at_north = json.loads(ok(db, "location", "list", "--facility", "fac-north", "--json"))
    assert [loc["kind"] for loc in at_north] == ["exam_room"]
    add_x = (
        "location",
        "add",
        "loc-x",
        "--facility",
        "fac-north",
        "--name",
        "X",
        "--kind",
        "other",
    )
    added = json.loads(ok(db, *add_x, "--json"))
    assert added["location_id"] == "loc-x" and len(added["qr_token"]) == 22
    facility = json.loads(
        ok(db, "facility", "add", "fac-s", "--name", "S", "--region", "south", "--json")
    )
    assert {k: v for k, v in facility.items() if k != "created_at"} == {
        "facility_id": "fac-s",
        "name": "S",
        "region": "south",
    }


def test_rotate_token(db: str) -> None:
    _populate(db)
    before = json.loads(ok(db, "location", "list", "--json"))
    old = next(loc["qr_token"] for loc in before if loc["location_id"] == "loc-wait-1")
    started = time.time()
    out = ok(db, "location", "rotate-token", "loc-wait-1", "--grace", "7d")
    lines = out.splitlines()
    assert lines[0].startswith("location loc-wait-1 has a new QR token: ")
    new = lines[0].split()[-1]
    assert lines[1].startswith(f"the old token {old} keeps working until 20")
    assert lines[1].endswith("UTC: print and put up new stickers before then")

    engine = open_engine(db)
    with engine.connect() as conn:
        location = registry.get_location(conn, "loc-wait-1")
        assert location is not None and location.qr_token == new
        history = registry.token_history(conn, "loc-wait-1")
        assert [r.token for r in history] == [old, new]
        assert history[0].valid_until == pytest.approx(started + 7 * DAY, abs=60)
        assert registry.resolve_token(conn, old, started + 6.9 * DAY) == "loc-wait-1"
        assert registry.resolve_token(conn, old, started + 7.1 * DAY) is None
        assert registry.resolve_token(conn, new, started + 7.1 * DAY) == "loc-wait-1"
    engine.dispose()

    rotation = json.loads(ok(db, "location", "rotate-token", "loc-wait-1", "--json"))
    assert rotation["old_token"] == new
    assert rotation["old_valid_until"] == pytest.approx(time.time() + 30 * DAY, abs=60)
    stopped = json.loads(ok(db, "location", "rotate-token", "loc-bath-2", "--grace", "0", "--json"))
    assert stopped["old_valid_until"] == pytest.approx(time.time(), abs=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("facility", "add", "fac-st-mary", "--name", "Again", "--region", "north"),
            "facility 'fac-st-mary' already exists",
            id="duplicate-facility",
        ),
        pytest.param(
            ("facility", "add", "Fac 1", "--name", "X", "--region", "north"),
            "facility id 'Fac 1' is not a valid id",
            id="bad-facility-id",
        ),
        pytest.param(
            ("facility", "add", "fac-z", "--name", "Z", "--region", "North/#"),
            "region 'North/#' is not a valid id",
            id="bad-region",
        ),
        pytest.param(
            (
                "location",
                "add",
                "loc-wait-1",
                "--facility",
                "fac-st-mary",
                "--name",
                "W",
                "--kind",
                "other",
            ),
            "location 'loc-wait-1' already exists",
            id="duplicate-location",
        ),
        pytest.param(
            (
                "location",
                "add",
                "loc-x",
                "--facility",
                "fac-nowhere",
                "--name",
                "X",
                "--kind",
                "other",
            ),
            "facility 'fac-nowhere' does not exist",
            id="unknown-facility",
        ),
        pytest.param(
            (
                "location",
                "add",
                "loc-x",
                "--facility",
                "fac-st-mary",
                "--name",
                "X",
                "--kind",
                "kitchen",
            ),
            "location kind 'kitchen' must be one of waiting_room, bathroom, exam_room, other",
            id="bad-kind",
        ),
        pytest.param(
            (
                "location",
                "add",
                "loc-x",
                "--facility",
                "fac-st-mary",
                "--name",
                "X",
                "--kind",
                "other",
                "--floor",
                "",
            ),
            "floor must not be empty",
            id="empty-floor",
        ),
        pytest.param(
            ("location", "list", "--facility", "fac-nowhere"),
            "facility 'fac-nowhere' does not exist",
            id="list-unknown-facility",
        ),
        pytest.param(
            ("location", "rotate-token", "loc-nowhere"),
            "location 'loc-nowhere' does not exist",
            id="rotate-unknown-location",
        ),
        pytest.param(
            ("location", "rotate-token", "loc-wait-1", "--grace", "a month"),
            "--grace: duration 'a month' is not a number with a unit s, m, h, d or w",
            id="bad-grace",
        ),
    ],
)
def test_refusals_are_one_clear_line(db: str, args: tuple[str, ...], message: str) -> None:
    _populate(db)
    before = ok(db, "location", "list", "--json")
    assert refused(db, *args).startswith(message)
    assert ok(db, "location", "list", "--json") == before  # nothing changed


def test_database_must_be_named_once(db: str, tmp_path: Path) -> None:
    assert refused(None, "facility", "list") == (
        "give the fleet database: --config FLEET_YAML or --database-url URL"
    )
    config = _fleet_config(tmp_path, db)
    assert refused(db, "facility", "list", "--config", str(config)).startswith(
        "give the fleet database"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "cannot use database URL 'nonsense'"),
        ("nosuchdb://x", "cannot use database URL nosuchdb://x"),
        ("sqlite:////nonexistent-dir/x/fleet.db", "cannot use the database sqlite:////nonexistent"),
    ],
)
def test_unusable_database_urls(url: str, message: str) -> None:
    assert refused(url, "facility", "list").startswith(message)


def _fleet_config(tmp_path: Path, database_url: str) -> Path:
    for name in ("routing.yaml", "command-key.pem", "ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("")
    config = tmp_path / "fleet.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": database_url,
                "broker": {"port": 8883, "ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
                "routing_policy": "routing.yaml",
                "command_signing_key": "command-key.pem",
                "default_region": "north",
            }
        )
    )
    return config


def test_config_file_gives_the_database(db: str, tmp_path: Path) -> None:
    config = _fleet_config(tmp_path, db)
    result = CliRunner().invoke(
        main,
        [
            "provision",
            "facility",
            "add",
            "fac-a",
            "--name",
            "A",
            "--region",
            "north",
            "--config",
            str(config),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fac-a" in ok(db, "facility", "list")
    (tmp_path / "key.pem").unlink()
    message = refused(None, "facility", "list", "--config", str(config))
    assert "broker.key: file" in message and "does not exist" in message
    assert message.endswith("(or give --database-url URL instead of --config)")


def test_kinds_in_help_are_the_registry_kinds() -> None:
    assert LOCATION_KINDS_HELP.split("|") == list(registry.LOCATION_KINDS)


def test_format_table() -> None:
    assert format_table(("A", "LONGER"), [("xxx", "1"), ("y", "")]) == "A    LONGER\nxxx  1\ny"


def test_python_m_beacon_provision(db: str) -> None:
    def beacon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "beacon", "provision", *args, "--database-url", db],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )

    added = beacon("facility", "add", "fac-a", "--name", "A", "--region", "north")
    assert added.returncode == 0, added.stderr
    again = beacon("facility", "add", "fac-a", "--name", "A", "--region", "north")
    assert (again.returncode, again.stdout, again.stderr) == (
        1,
        "",
        "Error: facility 'fac-a' already exists\n",
    )
