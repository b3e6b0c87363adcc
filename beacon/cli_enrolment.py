"""``beacon provision``: enrolment tokens, approvals, and a kiosk's end of life.

    beacon provision token create --location loc-wait-1 --ttl 24h --config fleet.yaml
    beacon provision facility require-approval fac-st-mary --on --config fleet.yaml
    beacon provision pending --config fleet.yaml
    beacon provision approve kiosk-7k2m9xq4ab --config fleet.yaml
    beacon provision reject kiosk-7k2m9xq4ab --config fleet.yaml
    beacon provision move kiosk-7k2m9xq4ab --location loc-exam-2 --config fleet.yaml
    beacon provision decommission kiosk-7k2m9xq4ab --config fleet.yaml
    beacon provision revoke kiosk-7k2m9xq4ab --config fleet.yaml

Every change is written to the audit log with the operator's login name.
"""

from __future__ import annotations

import getpass
import io
import time
from dataclasses import asdict
from pathlib import Path

import click

from beacon.cli_provision import (
    _echo_json,
    _transaction,
    _when,
    database_options,
    format_table,
    json_option,
)


def operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@click.group("token")
def token_group() -> None:
    """One-time enrolment tokens: each lets one new kiosk claim one location."""


@token_group.command("create")
@click.option("--location", "location_id", required=True, help="The location the kiosk serves.")
@click.option("--ttl", default="24h", show_default=True, help="How long it can be used: 30m, 24h …")
@click.option(
    "--qr",
    "qr_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the token as a QR code (.svg or .png).",
)
@database_options
@json_option
def token_create(
    location_id: str,
    ttl: str,
    qr_path: Path | None,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Make a single-use enrolment token for a location; it is shown once and never stored."""
    import segno

    from fleet_manager.enrolment import tokens
    from fleet_manager.enrolment.service import CreatedToken
    from fleet_manager.store import audit_log, enrolment_store, registry

    try:
        ttl_s = registry.parse_duration(ttl)
    except ValueError as exc:
        raise click.ClickException(f"--ttl: {exc}") from None
    if not 0 < ttl_s <= tokens.MAX_TTL_S:
        raise click.ClickException("--ttl: must be more than 0 and at most 30d")
    now = time.time()
    token = tokens.new_token()
    digest = tokens.token_hash(token)
    assert digest is not None
    with _transaction(config_path, database_url) as conn:
        enrolment_store.add_token(
            conn, digest, location_id, now=now, expires_at=now + ttl_s, created_by=operator()
        )
        audit_log.record(
            conn,
            at=now,
            actor=operator(),
            action="enrolment_token.created",
            subject=location_id,
            outcome="ok",
            detail={"expires_at": now + ttl_s, "token_sha256_prefix": digest[:12]},
        )
    created = CreatedToken(token, location_id, now + ttl_s)
    qr = segno.make(token, error="m")
    if qr_path is not None:
        qr.save(str(qr_path), scale=8, border=4)
    if as_json:
        _echo_json(asdict(created))
        return
    click.echo(f"enrolment token for {location_id}, valid until {_when(created.expires_at)}:")
    click.echo(f"\n    {token}\n")
    buffer = io.StringIO()
    qr.terminal(out=buffer, compact=True)
    click.echo(buffer.getvalue())
    click.echo("It works once. Type or scan it on the new kiosk, or put it in its boot profile.")


@click.command("pending")
@click.option("--facility", "facility_id", help="Only this facility's kiosks.")
@click.option("--all", "show_all", is_flag=True, help="Every enrolment, not only pending ones.")
@database_options
@json_option
def pending_list(
    facility_id: str | None,
    show_all: bool,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Kiosks waiting for approval."""
    from fleet_manager.store import enrolment_store

    with _transaction(config_path, database_url) as conn:
        found = enrolment_store.list_enrolments(
            conn, state=None if show_all else "pending", facility_id=facility_id
        )
    if as_json:
        _echo_json(
            [{k: v for k, v in asdict(e).items() if k != "csr_pem"} for e in found],
        )
        return
    if not found:
        click.echo("no kiosks are waiting for approval" if not show_all else "no enrolments")
        return
    rows = [
        (e.device_id, e.facility_id, e.location_id, e.state, _when(e.created_at)) for e in found
    ]
    click.echo(format_table(("DEVICE", "FACILITY", "LOCATION", "STATE", "ASKED"), rows))


def _decide(ref: str, approve: bool, config_path: Path | None, database_url: str | None) -> None:
    from fleet_manager.enrolment.service import record_decision
    from fleet_manager.store.enrolment_store import EnrolmentError

    with _transaction(config_path, database_url) as conn:
        try:
            record = record_decision(conn, ref, approve, operator(), time.time())
        except EnrolmentError as exc:
            raise click.ClickException(str(exc)) from None
    verb = "approved" if approve else "rejected"
    click.echo(f"{verb} {record.device_id} at {record.location_id}")
    if approve:
        click.echo("it receives its certificate the next time it asks (within a minute)")


@click.command("approve")
@click.argument("ref", metavar="DEVICE_OR_ENROLMENT")
@database_options
def approve(ref: str, config_path: Path | None, database_url: str | None) -> None:
    """Let a pending kiosk have its certificate."""
    _decide(ref, True, config_path, database_url)


@click.command("reject")
@click.argument("ref", metavar="DEVICE_OR_ENROLMENT")
@database_options
def reject(ref: str, config_path: Path | None, database_url: str | None) -> None:
    """Refuse a pending kiosk; it needs a new token to try again."""
    _decide(ref, False, config_path, database_url)


@click.command("require-approval")
@click.argument("facility_id", metavar="FACILITY")
@click.option("--on/--off", "required", default=True, show_default=True)
@database_options
def facility_require_approval(
    facility_id: str, required: bool, config_path: Path | None, database_url: str | None
) -> None:
    """Make new kiosks of a facility wait for approval (or not)."""
    from fleet_manager.store import audit_log, enrolment_store

    now = time.time()
    with _transaction(config_path, database_url) as conn:
        if not enrolment_store.set_require_approval(conn, facility_id, required):
            raise click.ClickException(f"no facility {facility_id!r}")
        audit_log.record(
            conn,
            at=now,
            actor=operator(),
            action="facility.require_approval",
            subject=facility_id,
            outcome="ok",
            detail={"required": required},
        )
    state = "must now be approved" if required else "no longer need approval"
    click.echo(f"new kiosks at {facility_id} {state}")


@click.command("move")
@click.argument("device_id", metavar="DEVICE")
@click.option("--location", "location_id", required=True, help="Its new location.")
@database_options
def move(
    device_id: str, location_id: str, config_path: Path | None, database_url: str | None
) -> None:
    """Move a kiosk to another location (alerts route there at once; restart it to show the
    new location's QR codes)."""
    from fleet_manager.store import audit_log, enrolment_store, registry

    now = time.time()
    with _transaction(config_path, database_url) as conn:
        before = registry.placement(conn, device_id)
        if before is None:
            raise click.ClickException(f"no registered kiosk {device_id!r}")
        enrolment_store.move_device(conn, device_id, location_id)
        audit_log.record(
            conn,
            at=now,
            actor=operator(),
            action="device.moved",
            subject=device_id,
            outcome="ok",
            detail={"from": before.location_id, "to": location_id},
        )
    click.echo(f"{device_id} moved from {before.location_id} to {location_id}")


def _revoke(device_id: str, lifecycle: str, reason: str, config_path: Path | None) -> None:
    import sqlalchemy as sa

    from fleet_manager.config import ConfigError, load_config
    from fleet_manager.enrolment.revocation import RevocationError, revoke_device
    from fleet_manager.store.database import migrate, open_engine

    if config_path is None:
        raise click.ClickException(
            "give --config FLEET_YAML: revocation needs the issuing CA and the broker's files"
        )
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    engine = open_engine(config.database_url)
    try:
        migrate(engine)
        result = revoke_device(
            config,
            engine,
            device_id,
            actor=operator(),
            lifecycle="revoked" if lifecycle == "revoked" else "decommissioned",
            reason=reason,
            now=time.time(),
        )
    except (RevocationError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise click.ClickException(f"cannot use the database: {exc.orig}") from None
    finally:
        engine.dispose()
    report = result.report
    click.echo(f"{device_id} is {result.lifecycle}; {len(result.serials)} certificate(s) revoked")
    if report.crl is not None:
        click.echo(f"  CRL {report.crl.crl_number} published: reconnects are refused at TLS")
    click.echo(f"  ACL deny and broker reload: {'done' if report.reloaded_pid else 'NOT done'}")
    click.echo(f"  disconnected (session taken over): {'yes' if report.kicked else 'NO'}")
    if not report.complete:
        for problem in report.problems:
            click.echo(f"  problem: {problem}", err=True)
        raise click.ClickException("not every step worked: fix the problem and run this again")


fleet_config_option = click.option(
    "--config",
    "config_path",
    metavar="FLEET_YAML",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The fleet manager's config (issuing CA, broker ACL, CRL folder, pid file).",
)


@click.command("revoke")
@click.argument("device_id", metavar="DEVICE")
@click.option("--reason", default="", help="Why (kept in the audit log), e.g. 'stolen'.")
@fleet_config_option
def revoke(device_id: str, reason: str, config_path: Path | None) -> None:
    """Cut a kiosk off at once (lost, stolen, tampered); it can never connect again."""
    _revoke(device_id, "revoked", reason, config_path)


@click.command("decommission")
@click.argument("device_id", metavar="DEVICE")
@click.option("--reason", default="", help="Kept in the audit log.")
@fleet_config_option
def decommission(device_id: str, reason: str, config_path: Path | None) -> None:
    """Retire a kiosk for good: its certificates are revoked as for a lost one."""
    _revoke(device_id, "decommissioned", reason, config_path)


def add_enrolment_commands(provision: click.Group, facility: click.Group) -> None:
    provision.add_command(token_group)
    provision.add_command(pending_list)
    provision.add_command(approve)
    provision.add_command(reject)
    provision.add_command(move)
    provision.add_command(revoke)
    provision.add_command(decommission)
    facility.add_command(facility_require_approval)
