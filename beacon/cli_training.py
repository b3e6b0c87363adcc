"""``beacon training``: the staff training jobs (issue 8).

    beacon training remind --config fleet.yaml [--today YYYY-MM-DD]
    beacon training retention --config fleet.yaml [--years 6] [--dry-run]

``remind`` emails each person whose training is due or overdue, once per deadline (run it
daily from a timer); it exits 1 if some could not be sent, which the next run tries again.
``retention`` is the only way training records are deleted: those of people whose account has
been disabled for more than --years (at least six), each deletion in the audit log. See
docs/operations.md, "Training records: reminders and retention".
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import click

from beacon.cli_enrolment import operator
from transport.log import configure_logging

MIN_RETENTION_YEARS = 6

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The fleet manager's config file.",
)


@click.group("training")
def training_group() -> None:
    """Staff training: email reminders and the retention job."""


@training_group.command("remind")
@_config_option
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Compute who is due as on this day (default: today).",
)
def remind(config_path: Path, today: datetime | None) -> None:
    """Email the people whose training is due or overdue (once per deadline)."""
    from beacon.cli import load_fleet_config  # here: beacon.cli imports this module
    from fleet_manager.store.database import migrate, open_engine
    from fleet_manager.training.mailer import MailerError, send_reminders
    from fleet_manager.training.rules import RulesError, load_rules

    config = load_fleet_config(config_path)
    configure_logging(config.log_level, process="training-remind")
    try:
        rules = load_rules()
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    engine = open_engine(config.database_url)
    try:
        migrate(engine)
        run = send_reminders(
            engine, rules, config.training, today.date() if today else date.today()
        )
    except MailerError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(
        f"sent {run.sent} reminder(s), {run.failed} failed;"
        f" skipped {run.skipped} ({run.already} reminded before, {run.no_email} without email)"
    )
    if run.failed:
        click.echo(
            f"Error: {run.failed} reminder(s) could not be sent (see the log); the next run"
            " tries again",
            err=True,
        )
        sys.exit(1)


def retention_cutoff(now: float, years: int) -> float:
    """The moment ``years`` calendar years before ``now`` (29 February → 28 February)."""
    moment = datetime.fromtimestamp(now, UTC)
    try:
        return moment.replace(year=moment.year - years).timestamp()
    except ValueError:
        return moment.replace(year=moment.year - years, day=28).timestamp()


@training_group.command("retention")
@_config_option
@click.option(
    "--years",
    type=int,
    default=MIN_RETENTION_YEARS,
    show_default=True,
    help="Delete the records of people whose account was disabled more than this long ago.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
def retention(config_path: Path, years: int, dry_run: bool) -> None:
    """Delete the training records of people who left more than --years ago (audited)."""
    from beacon.cli import load_fleet_config
    from fleet_manager.store import audit_log, training_store
    from fleet_manager.store.database import migrate, open_engine

    if years < MIN_RETENTION_YEARS:
        raise click.ClickException(
            f"training records are kept at least {MIN_RETENTION_YEARS} years after an account"
            f" is disabled: --years {years} is refused"
        )
    config = load_fleet_config(config_path)
    now = time.time()
    cutoff = retention_cutoff(now, years)
    since = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%d %H:%M UTC")
    actor = operator()
    engine = open_engine(config.database_url)
    people = rows = 0
    try:
        migrate(engine)
        with engine.connect() as conn, conn.begin() as transaction:
            for username in training_store.departed_before(conn, cutoff):
                deleted = training_store.delete_training_of(conn, username)
                if deleted == 0:
                    continue  # deleted by an earlier run; the profile stays
                people, rows = people + 1, rows + deleted
                if dry_run:
                    click.echo(f"would delete {deleted} training row(s) of {username}")
                    continue
                audit_log.record(
                    conn,
                    at=now,
                    actor=actor,
                    action="training.retention_deleted",
                    subject=username,
                    outcome="ok",
                    detail={"rows": deleted, "years": years, "disabled_before": since},
                )
                click.echo(f"deleted {deleted} training row(s) of {username}")
            if dry_run:
                transaction.rollback()  # the counts above are exact; nothing is kept
    finally:
        engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"retention: {verb} {rows} training row(s) of {people} person(s) whose account was"
        f" disabled before {since} ({years} years)"
        + (" (dry run: nothing deleted)" if dry_run else "")
    )


def add_training_commands(main: click.Group) -> None:
    main.add_command(training_group, "training")
