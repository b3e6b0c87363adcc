"""``beacon content rollout``: staged rollouts of a published content version.

    beacon content rollout start --channel stable --version 2026.12.1 --waves 1%,10%,50%,100% \\
        --config fleet.yaml
    beacon content rollout status [ROLLOUT_ID] [--channel stable] [--json] --config fleet.yaml
    beacon content rollout pause|resume|abort ROLLOUT_ID --config fleet.yaml

The fleet manager opens the waves, watches the kiosks' reports and pauses by itself when too
many fail; these commands only write the database (and the audit log).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

if TYPE_CHECKING:
    from fleet_manager.rollouts.plan import OperatorAction

from beacon.cli_enrolment import operator
from beacon.cli_provision import (
    _database_url,
    _echo_json,
    _when,
    database_options,
    format_table,
    json_option,
)


def _engine(config_path: Path | None, database_url: str | None) -> Any:
    from fleet_manager.store.database import migrate, open_engine

    engine = open_engine(_database_url(config_path, database_url))
    migrate(engine)
    return engine


@click.group("rollout")
def rollout_group() -> None:
    """Staged rollouts: waves that stop by themselves when kiosks fail."""


@rollout_group.command("start")
@click.option("--channel", required=True, help="The channel whose kiosks get the version.")
@click.option("--version", "version", required=True, help="A published content version.")
@click.option("--baseline", help="What new kiosks not yet admitted install (default: the last).")
@click.option("--waves", default="1%,10%,50%,100%", show_default=True)
@click.option("--success", default=0.95, show_default=True, help="Share healthy to advance.")
@click.option("--errors", default=0.05, show_default=True, help="Share failed that pauses.")
@click.option("--timeout", default="15m", show_default=True, help="Per kiosk, e.g. 15m.")
@click.option("--region", "regions", multiple=True, help="Only these regions (repeatable).")
@click.option("--facility", "facilities", multiple=True, help="Only these facilities.")
@click.option("--device", "device_ids", multiple=True, help="Only these kiosks.")
@database_options
@json_option
def rollout_start(
    channel: str,
    version: str,
    baseline: str | None,
    waves: str,
    success: float,
    errors: float,
    timeout: str,
    regions: tuple[str, ...],
    facilities: tuple[str, ...],
    device_ids: tuple[str, ...],
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Start rolling VERSION out to a channel's kiosks, wave by wave."""
    from fleet_manager.rollouts import plan
    from fleet_manager.rollouts.service import RolloutError, start
    from fleet_manager.store.registry import parse_duration
    from protocol.content_delivery import RolloutScope, bundle_target

    try:
        bundle_target(version)
        wave_sizes = plan.parse_waves(waves)
        timeout_s = parse_duration(timeout)
        scope = RolloutScope(regions=regions, facilities=facilities, devices=device_ids)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    engine = _engine(config_path, database_url)
    try:
        row = start(
            engine,
            channel=channel,
            version=version,
            baseline=baseline,
            scope=scope,
            waves=wave_sizes,
            success_threshold=success,
            error_threshold=errors,
            timeout_s=timeout_s,
            actor=operator(),
            now=time.time(),
        )
    except RolloutError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        _echo_json(plan.progress(row.rollout).to_dict())
        return
    click.echo(
        f"rollout {row.rollout_id}: {version} to {len(row.rollout.kiosks)} kiosk(s) on"
        f" {channel}, waves {waves}; the fleet manager opens the first wave now"
    )


@rollout_group.command("status")
@click.argument("rollout_id", required=False)
@click.option("--channel", help="Only this channel's rollouts.")
@database_options
@json_option
def rollout_status(
    rollout_id: str | None,
    channel: str | None,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Progress by wave (one rollout) or a line per rollout."""
    from fleet_manager.rollouts import plan
    from fleet_manager.rollouts.service import get, list_rollouts

    engine = _engine(config_path, database_url)
    try:
        with engine.connect() as conn:
            rows = [get(conn, rollout_id)] if rollout_id else list_rollouts(conn, channel)
    finally:
        engine.dispose()
    found = [r for r in rows if r is not None]
    if rollout_id and not found:
        raise click.ClickException(f"no rollout {rollout_id!r}")
    if as_json:
        _echo_json(
            [
                {"channel": r.channel, "baseline": r.baseline, **plan.progress(r.rollout).to_dict()}
                for r in found
            ]
        )
        return
    if not found:
        click.echo("no rollouts yet")
        return
    if rollout_id:
        row = found[0]
        p = plan.progress(row.rollout)
        click.echo(
            f"{row.rollout_id}  {row.version} on {row.channel}: {p.state},"
            f" {p.percent_healthy:.1f}% healthy"
        )
        if p.pause is not None:
            click.echo(f"  paused: {p.pause.reason}")
        table = [
            (
                f"{w.wave + 1}",
                w.size,
                str(w.devices),
                "open" if w.opened else "-",
                str(w.counts.healthy),
                str(w.counts.applied + w.counts.notified),
                str(w.counts.failed + w.counts.timed_out),
            )
            for w in p.waves
        ]
        click.echo(
            format_table(("WAVE", "SIZE", "KIOSKS", "OPEN", "HEALTHY", "WAITING", "FAILED"), table)
        )
        return
    lines = [
        (
            r.rollout_id,
            r.channel,
            r.version,
            r.rollout.state,
            f"{plan.progress(r.rollout).percent_healthy:.1f}%",
            _when(r.created_at),
        )
        for r in found
    ]
    click.echo(
        format_table(("ROLLOUT", "CHANNEL", "VERSION", "STATE", "HEALTHY", "STARTED"), lines)
    )


def _operate(action: str, rollout_id: str, config_path: Path | None, url: str | None) -> None:
    from fleet_manager.rollouts.service import RolloutError, operate

    engine = _engine(config_path, url)
    try:
        row = operate(engine, rollout_id, cast("OperatorAction", action), operator(), time.time())
    except RolloutError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"{row.rollout_id} is now {row.rollout.state}")


@rollout_group.command("pause")
@click.argument("rollout_id")
@database_options
def rollout_pause(rollout_id: str, config_path: Path | None, database_url: str | None) -> None:
    """Stop opening waves (kiosks already updated keep the new version)."""
    _operate("pause", rollout_id, config_path, database_url)


@rollout_group.command("resume")
@click.argument("rollout_id")
@database_options
def rollout_resume(rollout_id: str, config_path: Path | None, database_url: str | None) -> None:
    """Go on after a pause (failed kiosks so far are set aside)."""
    _operate("resume", rollout_id, config_path, database_url)


@rollout_group.command("abort")
@click.argument("rollout_id")
@database_options
def rollout_abort(rollout_id: str, config_path: Path | None, database_url: str | None) -> None:
    """End the rollout; no more kiosks are admitted. Roll back by rolling out the old version."""
    _operate("abort", rollout_id, config_path, database_url)


def add_rollout_commands(content: click.Group) -> None:
    content.add_command(rollout_group)
