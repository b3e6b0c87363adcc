"""Training reminders by email (issue 8) against a real SMTP server on loopback (aiosmtpd).

A SQLite store is seeded the way the console does it (invitation, accepted, profile with a Texas
licence renewing in 30 days); ``send_reminders`` talks SMTP to a sink that keeps what it got.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from beacon.cli_training import add_training_commands
from fleet_manager.config import (
    ConfigError,
    SmtpSettings,
    TrainingSettings,
    load_config,
)
from fleet_manager.store import registry, training_store
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.training.mailer import MailerError, ReminderRun, send_reminders
from fleet_manager.training.rules import load_rules

PW = "correct horse battery staple 42"
TODAY = date(2026, 6, 15)
T0 = datetime(2026, 6, 15, 8, 0, tzinfo=UTC).timestamp()
RENEWAL = TODAY + timedelta(days=30)
FROM = "training@st-mary.example.org"
TX_RULES = tuple(r for r in load_rules() if r.id == "tx-every-renewal")


@dataclass
class Sink:
    """Keeps every message; refuses recipients in ``refuse``."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(content, policy=email.policy.default)
            for _, _, content in self.messages
        ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def settings(port: int) -> TrainingSettings:
    smtp = SmtpSettings(host="127.0.0.1", port=port, starttls=False, from_address=FROM)
    return TrainingSettings(due_within_days=60, smtp=smtp)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[sa.Engine, str]]:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    engine = open_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        registry.create_facility(conn, "fac-a", "St Mary", "north", T0)
    try:
        yield engine, url
    finally:
        engine.dispose()


def staff(
    engine: sa.Engine,
    username: str,
    full_name: str,
    email_address: str | None,
    renewal: date | None = RENEWAL,
) -> None:
    with engine.begin() as conn:
        _, token = training_store.create_invite(
            conn, facility_id="fac-a", full_name=full_name, email=None, actor="admin", now=T0
        )
        training_store.accept_invite(conn, token, username, PW, T0)
        training_store.update_profile(
            conn,
            username,
            profession="nurse",
            licence_state="TX",
            licence_renewal=renewal,
            email=email_address,
            actor=username,
            now=T0,
        )


def remind(engine: sa.Engine, port: int) -> ReminderRun:
    return send_reminders(engine, TX_RULES, settings(port), TODAY)


def test_one_reminder_then_none(db: tuple[sa.Engine, str], sink: tuple[Sink, int]) -> None:
    engine, _ = db
    handler, port = sink
    staff(engine, "ana", "Ana Gómez", "ana@example.org")
    assert remind(engine, port) == ReminderRun(sent=1, failed=0, already=0, no_email=0)
    [(mail_from, rcpt_tos, _)] = handler.messages
    assert mail_from == FROM and rcpt_tos == ["ana@example.org"]
    [message] = handler.parsed()
    assert message["To"] == "ana@example.org"
    assert message["From"] == FROM
    assert message["Subject"] == f"Training reminder: a requirement is due by {RENEWAL}"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert body.startswith("Hello Ana Gómez,")
    assert "'tx-every-renewal'" in body and f"({RENEWAL.isoformat()}), in 30 days." in body
    assert "open the Training page" in body
    with engine.connect() as conn:
        assert training_store.reminded(conn) == {("ana", "tx-every-renewal", RENEWAL.isoformat())}

    again = remind(engine, port)
    assert again == ReminderRun(sent=0, failed=0, already=1, no_email=0)
    assert len(handler.messages) == 1


def test_nobody_without_an_email_is_reminded(
    db: tuple[sa.Engine, str], sink: tuple[Sink, int]
) -> None:
    engine, _ = db
    handler, port = sink
    staff(engine, "ana", "Ana Gómez", "ana@example.org")
    staff(engine, "ben", "Ben Okafor", None)
    staff(engine, "cy", "Cy Far", "cy@example.org", renewal=TODAY + timedelta(days=400))
    run = remind(engine, port)
    assert run == ReminderRun(sent=1, failed=0, already=0, no_email=1)
    assert run.skipped == 1
    assert [rcpt for _, rcpt, _ in handler.messages] == [["ana@example.org"]]


def test_a_server_that_is_down_is_a_count_not_a_crash(
    db: tuple[sa.Engine, str], sink: tuple[Sink, int]
) -> None:
    engine, _ = db
    handler, port = sink
    staff(engine, "ana", "Ana Gómez", "ana@example.org")
    staff(engine, "dan", "Dan Ek", "dan@example.org")
    down = free_port()  # nothing listens there
    assert remind(engine, down) == ReminderRun(sent=0, failed=2, already=0, no_email=0)
    with engine.connect() as conn:
        assert training_store.reminded(conn) == set()
    # The next run, with the server back, sends them.
    assert remind(engine, port).sent == 2
    assert sorted(r for _, [r], _ in handler.messages) == ["ana@example.org", "dan@example.org"]


def test_a_refused_recipient_does_not_stop_the_others(
    db: tuple[sa.Engine, str], sink: tuple[Sink, int]
) -> None:
    engine, _ = db
    handler, port = sink
    handler.refuse.add("ana@example.org")
    staff(engine, "ana", "Ana Gómez", "ana@example.org")
    staff(engine, "dan", "Dan Ek", "dan@example.org")
    assert remind(engine, port) == ReminderRun(sent=1, failed=1, already=0, no_email=0)
    with engine.connect() as conn:
        assert training_store.reminded(conn) == {("dan", "tx-every-renewal", RENEWAL.isoformat())}
    handler.refuse.clear()
    assert remind(engine, port) == ReminderRun(sent=1, failed=0, already=1, no_email=0)


def test_an_address_that_cannot_be_a_header_is_counted(db: tuple[sa.Engine, str]) -> None:
    engine, _ = db
    staff(engine, "eve", "Eve", "eve@example.org\r\nBcc: everyone@example.org")
    staff(engine, "dan", "Dan Ek", "dan@example.org")
    got: list[EmailMessage] = []
    run = send_reminders(engine, TX_RULES, settings(1), TODAY, got.append)
    assert run == ReminderRun(sent=1, failed=1, already=0, no_email=0)
    assert [m["To"] for m in got] == ["dan@example.org"]


def test_without_smtp_settings_it_says_so(db: tuple[sa.Engine, str]) -> None:
    engine, _ = db
    with pytest.raises(MailerError, match=r"training\.smtp"):
        send_reminders(engine, TX_RULES, TrainingSettings(), TODAY)


# -- the command and its config ---------------------------------------------------------------


def fleet_config(tmp_path: Path, database_url: str, training: dict[str, Any] | None) -> Path:
    for name in ("routing.yaml", "command-key.pem", "ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("")
    data: dict[str, Any] = {
        "database_url": database_url,
        "broker": {"port": 8883, "ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
        "routing_policy": "routing.yaml",
        "command_signing_key": "command-key.pem",
        "default_region": "north",
    }
    if training is not None:
        data["training"] = training
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(data))
    return config


@click.group()
def beacon() -> None:
    """Stand-in for `beacon`."""


add_training_commands(beacon)


def test_remind_command(tmp_path: Path, db: tuple[sa.Engine, str], sink: tuple[Sink, int]) -> None:
    engine, url = db
    handler, port = sink
    staff(engine, "ana", "Ana Gómez", "ana@example.org")
    smtp = {"host": "127.0.0.1", "port": port, "starttls": False, "from_address": FROM}
    config = fleet_config(tmp_path, url, {"smtp": smtp})
    args = ["training", "remind", "--config", str(config), "--today", TODAY.isoformat()]
    first = CliRunner().invoke(beacon, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    # Every shipped rule: the Texas renewal and the facility's yearly module (new staff: due
    # within 30 days of joining).
    assert first.stdout.strip() == (
        "sent 2 reminder(s), 0 failed; skipped 0 (0 reminded before, 0 without email)"
    )
    second = CliRunner().invoke(beacon, args, catch_exceptions=False)
    assert second.stdout.strip() == (
        "sent 0 reminder(s), 0 failed; skipped 2 (2 reminded before, 0 without email)"
    )
    # Joined on TODAY with 30 days' grace, renewing in 30 days: the same deadline twice.
    subjects = [m["Subject"] for m in handler.parsed()]
    assert subjects == [f"Training reminder: a requirement is due by {RENEWAL}"] * 2
    assert {"'tx-every-renewal'", "'facility-annual-protocol'"} == {
        word for m in handler.parsed() for word in m.get_content().split() if word.startswith("'")
    }


def test_remind_command_exits_1_when_some_could_not_be_sent(
    tmp_path: Path, db: tuple[sa.Engine, str]
) -> None:
    engine, url = db
    staff(engine, "ana", "Ana Gómez", "ana@example.org")
    smtp = {"host": "127.0.0.1", "port": free_port(), "starttls": False, "from_address": FROM}
    config = fleet_config(tmp_path, url, {"smtp": smtp})
    result = CliRunner().invoke(
        beacon,
        ["training", "remind", "--config", str(config), "--today", TODAY.isoformat()],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "sent 0 reminder(s), 2 failed" in result.stdout
    assert "could not be sent" in result.stderr and "Traceback" not in result.output


def test_remind_command_without_smtp_is_refused(tmp_path: Path, db: tuple[sa.Engine, str]) -> None:
    _, url = db
    config = fleet_config(tmp_path, url, None)
    result = CliRunner().invoke(beacon, ["training", "remind", "--config", str(config)])
    assert result.exit_code == 1
    assert "no training.smtp section" in result.stderr


def test_training_config_section(tmp_path: Path) -> None:
    (tmp_path / "smtp-password.txt").write_text("s3cret\nignored\n")
    smtp = {
        "host": "smtp.example.org",
        "username": "beacon",
        "password_file": "smtp-password.txt",
        "from_address": FROM,
    }
    config = load_config(fleet_config(tmp_path, "sqlite://", {"smtp": smtp}))
    assert config.training.due_within_days == 60
    assert config.training.smtp is not None
    assert config.training.smtp.port == 587 and config.training.smtp.starttls is True
    assert config.training.smtp.password_file == tmp_path.resolve() / "smtp-password.txt"
    assert config.training.smtp.password() == "s3cret"
    assert load_config(fleet_config(tmp_path, "sqlite://", None)).training == TrainingSettings()


@pytest.mark.parametrize(
    ("training", "message"),
    [
        (
            {
                "smtp": {
                    "host": "h",
                    "from_address": FROM,
                    "password_file": "nope.txt",
                    "username": "u",
                }
            },
            "training.smtp.password_file: file",
        ),
        (
            {"smtp": {"host": "h", "from_address": FROM, "username": "u"}},
            "training.smtp: Value error, give both username and password_file",
        ),
        ({"smtp": {"host": "h", "from_address": "not an address"}}, "training.smtp.from_address"),
        ({"smtp": {"host": "h", "from_address": FROM, "tls": True}}, "training.smtp.tls"),
        ({"due_within_days": 0}, "training.due_within_days"),
        ({"reminders": True}, "training.reminders"),
    ],
)
def test_training_config_errors_name_the_field(
    tmp_path: Path, training: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="fleet.yaml: .*" + message.replace(".", r"\.")):
        load_config(fleet_config(tmp_path, "sqlite://", training))
