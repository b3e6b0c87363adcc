"""``beacon provision``: facilities, locations, their QR tokens, and location QR sticker sheets.

Every command opens the fleet database named by ``--config FLEET_YAML`` (its ``database_url``)
or, where the fleet config cannot be read here (its broker certificates live elsewhere), by
``--database-url URL``; exactly one of the two. The schema is brought up to date first, as
``beacon fleet serve`` does. Lists print a plain table, or JSON with ``--json``. A problem
(unknown facility, taken id, bad kind …) prints one line ``Error: …`` and exits 1.

    beacon provision facility add fac-st-mary --name "St Mary's" --region north --config fleet.yaml
    beacon provision location add loc-wait-1 --facility fac-st-mary --name "Waiting room 1" \\
        --kind waiting_room --floor 1 --room 104 --config fleet.yaml
    beacon provision location list --facility fac-st-mary --json --config fleet.yaml
    beacon provision location rotate-token loc-wait-1 --grace 30d --config fleet.yaml
    beacon provision stickers --facility fac-st-mary --langs en,es,ar,zh-Hans \\
        --origin help.example.org --sheet avery-5163 -o stickers.pdf --config fleet.yaml
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import sqlalchemy as sa

# SQLAlchemy, reportlab and fontTools are imported inside the commands: every `beacon` command
# imports this module, and `beacon kiosk run` should not wait for them.

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "content" / "sample"
# As registry.LOCATION_KINDS (a test keeps them equal).
LOCATION_KINDS_HELP = "waiting_room|bathroom|exam_room|other"


def database_options(fn: F) -> F:
    fn = click.option(
        "--database-url",
        metavar="URL",
        help="The fleet database (e.g. sqlite:///var/fleet.db), instead of --config.",
    )(fn)
    fn = click.option(
        "--config",
        "config_path",
        metavar="FLEET_YAML",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The fleet manager's config file: its database_url is used.",
    )(fn)
    return fn


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )


def _database_url(config_path: Path | None, database_url: str | None) -> str:
    if (config_path is None) == (database_url is None):
        raise click.ClickException(
            "give the fleet database: --config FLEET_YAML or --database-url URL"
        )
    if database_url is not None:
        return database_url
    from fleet_manager.config import ConfigError, load_config

    assert config_path is not None
    try:
        return load_config(config_path).database_url
    except ConfigError as exc:
        raise click.ClickException(
            f"{exc} (or give --database-url URL instead of --config)"
        ) from None


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return repr(url)


@contextmanager
def _transaction(config_path: Path | None, database_url: str | None) -> Iterator[sa.Connection]:
    """One transaction on the migrated fleet database; problems become ``Error: …``, exit 1."""
    import sqlalchemy as sa

    from fleet_manager.store import registry
    from fleet_manager.store.database import migrate, open_engine

    url = _database_url(config_path, database_url)
    try:
        engine = open_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise click.ClickException(f"cannot use database URL {_safe_url(url)}: {exc}") from None
    try:
        try:
            migrate(engine)
            with engine.begin() as conn:
                yield conn
        except registry.RegistryError as exc:
            raise click.ClickException(str(exc)) from None
        except sa.exc.IntegrityError as exc:
            raise click.ClickException(
                f"the database refused the change (written at the same time by someone else?): "
                f"{exc.orig}"
            ) from None
        except sa.exc.OperationalError as exc:
            raise click.ClickException(
                f"cannot use the database {_safe_url(url)}: {exc.orig}"
            ) from None
    finally:
        engine.dispose()


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing spaces."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (headers, *rows)
    ]
    return "\n".join(lines)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group("provision")
def provision_group() -> None:
    """Facilities, locations, QR stickers, kiosk enrolment and revocation, the fleet CA."""


# -- facilities -------------------------------------------------------------------------------


@provision_group.group("facility")
def facility_group() -> None:
    """Facilities (clinics, hospitals); each belongs to a region."""


@facility_group.command("add")
@click.argument("facility_id", metavar="ID")
@click.option("--name", required=True, help="Shown to staff and responders.")
@click.option("--region", required=True, help="The region whose responders it alerts.")
@database_options
@json_option
def facility_add(
    facility_id: str,
    name: str,
    region: str,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add a facility."""
    from fleet_manager.store import registry

    with _transaction(config_path, database_url) as conn:
        facility = registry.create_facility(conn, facility_id, name, region, time.time())
    if as_json:
        _echo_json(asdict(facility))
    else:
        click.echo(f"added facility {facility.facility_id} ({facility.name}, region {region})")


@facility_group.command("list")
@database_options
@json_option
def facility_list(config_path: Path | None, database_url: str | None, as_json: bool) -> None:
    """List facilities with their number of locations."""
    from fleet_manager.store import registry

    with _transaction(config_path, database_url) as conn:
        found = registry.list_facilities(conn)
        counts: dict[str, int] = {}
        for location in registry.list_locations(conn):
            counts[location.facility_id] = counts.get(location.facility_id, 0) + 1
    if as_json:
        _echo_json([{**asdict(f), "locations": counts.get(f.facility_id, 0)} for f in found])
        return
    if not found:
        click.echo("no facilities yet: add one with `beacon provision facility add`")
        return
    rows = [
        (f.facility_id, f.name, f.region, str(counts.get(f.facility_id, 0)), _when(f.created_at))
        for f in found
    ]
    click.echo(format_table(("ID", "NAME", "REGION", "LOCATIONS", "CREATED"), rows))


# -- locations --------------------------------------------------------------------------------


@provision_group.group("location")
def location_group() -> None:
    """Locations (rooms) of facilities, each with an opaque QR token."""


@location_group.command("add")
@click.argument("location_id", metavar="ID")
@click.option("--facility", "facility_id", required=True, help="The facility's id.")
@click.option("--name", required=True, help="E.g. 'Waiting room 1'.")
@click.option(
    "--kind",
    required=True,
    metavar=LOCATION_KINDS_HELP,
    help="What kind of room it is.",
)
@click.option("--floor", help="Optional, e.g. 2 or B1.")
@click.option("--room", help="Optional room number.")
@database_options
@json_option
def location_add(
    location_id: str,
    facility_id: str,
    name: str,
    kind: str,
    floor: str | None,
    room: str | None,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add a location to a facility; it gets a new random QR token."""
    from fleet_manager.store import registry

    with _transaction(config_path, database_url) as conn:
        location = registry.create_location(
            conn, location_id, facility_id, name, kind, time.time(), floor=floor, room=room
        )
    if as_json:
        _echo_json(asdict(location))
    else:
        click.echo(
            f"added location {location.location_id} ({location.name}, {location.kind}) "
            f"to {location.facility_id}; QR token {location.qr_token}"
        )


@location_group.command("list")
@click.option("--facility", "facility_id", help="Only this facility's locations.")
@database_options
@json_option
def location_list(
    facility_id: str | None, config_path: Path | None, database_url: str | None, as_json: bool
) -> None:
    """List locations with their current QR token."""
    from fleet_manager.store import registry

    with _transaction(config_path, database_url) as conn:
        found = registry.list_locations(conn, facility_id)
    if as_json:
        _echo_json([asdict(location) for location in found])
        return
    if not found:
        where = f"facility {facility_id}" if facility_id else "any facility"
        click.echo(f"no locations in {where} yet: add one with `beacon provision location add`")
        return
    rows = [
        (
            loc.location_id,
            loc.facility_id,
            loc.name,
            loc.kind,
            loc.floor or "-",
            loc.room or "-",
            loc.qr_token,
        )
        for loc in found
    ]
    click.echo(format_table(("ID", "FACILITY", "NAME", "KIND", "FLOOR", "ROOM", "TOKEN"), rows))


@location_group.command("rotate-token")
@click.argument("location_id", metavar="ID")
@click.option(
    "--grace",
    default="30d",
    show_default=True,
    metavar="DURATION",
    help="How long the old token keeps working: e.g. 30d, 12h, 0 (stops at once).",
)
@database_options
@json_option
def location_rotate_token(
    location_id: str,
    grace: str,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Give a location a new QR token; the old one keeps working for the grace period."""
    from fleet_manager.store import registry

    try:
        grace_s = registry.parse_duration(grace)
    except ValueError as exc:
        raise click.ClickException(f"--grace: {exc}") from None
    with _transaction(config_path, database_url) as conn:
        rotation = registry.rotate_location_token(conn, location_id, time.time(), grace_s)
    if as_json:
        _echo_json(asdict(rotation))
        return
    click.echo(f"location {rotation.location_id} has a new QR token: {rotation.new_token}")
    click.echo(
        f"the old token {rotation.old_token} keeps working until "
        f"{_when(rotation.old_valid_until)}: print and put up new stickers before then"
    )


# -- stickers ---------------------------------------------------------------------------------


@provision_group.command("stickers")
@click.option("--facility", "facility_id", required=True, help="Stickers for all its locations.")
@click.option("--langs", required=True, help="Comma-separated language codes, e.g. en,es,ar.")
@click.option(
    "--origin",
    required=True,
    help="The landing page's host[:port], e.g. help.example.org (no scheme).",
)
@click.option(
    "--bundle",
    "bundle_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_BUNDLE,
    show_default="the sample bundle",
    help="The content bundle the texts come from.",
)
@click.option(
    "--sheet",
    default="avery-5163",
    show_default=True,
    help="Label stock: avery-5163 (US Letter, 10), a4-l7165 (A4, 8), a4-l7163 (A4, 14).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The PDF to write; SVG page(s) go beside it (NAME.svg, or NAME-1.svg …).",
)
@database_options
def stickers(
    facility_id: str,
    langs: str,
    origin: str,
    bundle_dir: Path,
    sheet: str,
    output: Path,
    config_path: Path | None,
    database_url: str | None,
) -> None:
    """Sticker sheets: each location × each language.

    A print-ready PDF of QR stickers for every location of the facility in every language
    asked for, and SVG page(s) beside it.
    """
    from content.bundle import BundleError, load_bundle
    from fleet_manager.store import registry
    from provisioning.stickers import (
        StickerError,
        StickerLocation,
        check_sticker_origin,
        get_sheet,
        parse_languages,
        write_stickers,
    )

    try:
        languages = parse_languages(langs)
        check_sticker_origin(origin)
        get_sheet(sheet)
    except StickerError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as exc:
        raise click.ClickException(f"content bundle {bundle_dir}:\n{exc}") from None
    with _transaction(config_path, database_url) as conn:
        found = registry.list_locations(conn, facility_id)
    if not found:
        raise click.ClickException(
            f"facility {facility_id!r} has no locations: add them with "
            "`beacon provision location add`"
        )
    locations = [
        StickerLocation(loc.location_id, loc.name, loc.qr_token, loc.floor, loc.room)
        for loc in found
    ]
    try:
        files = write_stickers(locations, languages, origin, bundle, sheet, output)
    except StickerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"wrote {files.pdf} ({files.stickers} stickers on {files.pages} "
        f"page{'s' if files.pages != 1 else ''}) and {', '.join(str(p) for p in files.svgs)}"
    )
