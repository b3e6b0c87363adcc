"""``beacon config``: a kiosk's Pi image configuration from its device profile."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("config")
def config_group() -> None:
    """Device profiles: check them, render a kiosk's boot folder."""


_profile_argument = click.argument(
    "profile", type=click.Path(path_type=Path, dir_okay=False, exists=True)
)


@config_group.command("check")
@_profile_argument
def config_check(profile: Path) -> None:
    """Print every problem with PROFILE (exit 1 if there is any) and placeholder warnings."""
    from firmware_config import ProfileError, load_profile, profile_warnings

    try:
        loaded = load_profile(profile)
    except ProfileError as exc:
        for problem in exc.problems:
            click.echo(problem)
        sys.exit(1)
    for warning in profile_warnings(loaded, str(profile)):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"OK: {profile} ({loaded.system.hostname})")


@config_group.command("render")
@_profile_argument
@click.argument("out_dir", metavar="OUT/", type=click.Path(path_type=Path, file_okay=False))
def config_render(profile: Path, out_dir: Path) -> None:
    """Write the boot folder for PROFILE into OUT/ (then copy it onto the boot partition)."""
    from firmware_config import ProfileError, load_profile, profile_warnings, write_boot_folder

    try:
        loaded = load_profile(profile)
    except ProfileError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    for warning in profile_warnings(loaded, str(profile)):
        click.echo(f"warning: {warning}", err=True)
    for path in write_boot_folder(loaded, out_dir):
        click.echo(str(path))
