"""``beacon fleet user`` and ``beacon fleet token``: console accounts and API tokens.

    beacon fleet user add alice --role facility_admin --facility fac-st-mary --config fleet.yaml
    beacon fleet user add rui --role responder --region north --password-file pw.txt --config …
    beacon fleet user passwd alice --config fleet.yaml
    beacon fleet user role alice --add facility_admin --facility fac-north --config fleet.yaml
    beacon fleet user role alice --remove facility_admin --facility fac-north --config fleet.yaml
    beacon fleet user list --config fleet.yaml
    beacon fleet user disable alice --config fleet.yaml
    beacon fleet token create nightly-export --role auditor --ttl 90d --config fleet.yaml
    beacon fleet token list --config fleet.yaml
    beacon fleet token revoke tok-3f9a1c2b7d4e --config fleet.yaml

Thin wrappers over ``fleet_manager.accounts.store`` and ``token_store``: parse, call, print.
Passwords are prompted twice without echo, or read from the first line of --password-file;
never taken as an argument (it would stay in shell history and ``ps``). Every change is
written to the audit log with the operator's login name.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from beacon.cli_enrolment import operator
from beacon.cli_provision import (
    _echo_json,
    _transaction,
    _when,
    database_options,
    format_table,
    json_option,
)

if TYPE_CHECKING:
    from fleet_manager.accounts.policy import Grant

ROLE_CHOICE = click.Choice(["ops", "facility_admin", "responder", "auditor"])


@contextmanager
def _account_errors() -> Iterator[None]:
    """Refusals from the accounts package become ``Error: …``, exit 1."""
    from fleet_manager.accounts.passwords import WeakPasswordError
    from fleet_manager.accounts.policy import GrantError
    from fleet_manager.accounts.store import AccountError

    try:
        yield
    except (AccountError, WeakPasswordError, GrantError) as exc:
        raise click.ClickException(str(exc)) from None


def grants_from_options(
    role: str, facilities: tuple[str, ...], regions: tuple[str, ...]
) -> list[Grant]:
    """One grant per --facility (facility_admin) or --region (responder); one for the others."""
    from fleet_manager.accounts.policy import ROLE_SCOPE, Grant, GrantError

    scope = ROLE_SCOPE[role]  # type: ignore[index]
    if scope == "facility" and facilities and not regions:
        return [Grant(role, facility_id=f) for f in facilities]  # type: ignore[arg-type]
    if scope == "region" and regions and not facilities:
        return [Grant(role, region=r) for r in regions]  # type: ignore[arg-type]
    if scope == "fleet" and not facilities and not regions:
        return [Grant(role)]  # type: ignore[arg-type]
    needs = {
        "fleet": "is fleet-wide: give no --facility or --region",
        "facility": "needs one or more --facility F (and no --region)",
        "region": "needs one or more --region R (and no --facility)",
    }[scope]
    raise GrantError(f"the {role} role {needs}")


def scope_options(fn: Any) -> Any:
    fn = click.option(
        "--region", "regions", multiple=True, metavar="R", help="For responder: the region(s)."
    )(fn)
    return click.option(
        "--facility",
        "facilities",
        multiple=True,
        metavar="F",
        help="For facility_admin: the facility (repeat for several).",
    )(fn)


def password_file_option(fn: Any) -> Any:
    return click.option(
        "--password-file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="Read the password from the first line of this file instead of prompting.",
    )(fn)


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        lines = password_file.read_text().splitlines()
        return lines[0] if lines else ""
    value: str = click.prompt(
        "Password (at least 12 characters)", hide_input=True, confirmation_prompt=True
    )
    return value


def _user_json(user: Any) -> dict[str, Any]:
    data = asdict(user)
    data["grants"] = [g.describe() for g in user.grants]
    return data


@click.group("user")
def user_group() -> None:
    """Console accounts: who may log in, with which roles."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=ROLE_CHOICE, help="The user's first role.")
@scope_options
@click.option("--display-name", help="Shown in the console (default: the username).")
@password_file_option
@database_options
def user_add(
    username: str,
    role: str,
    facilities: tuple[str, ...],
    regions: tuple[str, ...],
    display_name: str | None,
    password_file: Path | None,
    config_path: Path | None,
    database_url: str | None,
) -> None:
    """Add a console user with one role (add more with `user role --add`)."""
    from fleet_manager.accounts import store

    with _account_errors():
        grants = grants_from_options(role, facilities, regions)
        password = _read_password(password_file)
        with _transaction(config_path, database_url) as conn:
            user = store.create_user(
                conn,
                username,
                password,
                grants,
                actor=operator(),
                now=time.time(),
                display_name=display_name,
            )
    click.echo(f"added user {user.username}: {', '.join(g.describe() for g in user.grants)}")


@user_group.command("passwd")
@click.argument("username")
@password_file_option
@database_options
def user_passwd(
    username: str, password_file: Path | None, config_path: Path | None, database_url: str | None
) -> None:
    """Set a user's password; their open console sessions end."""
    from fleet_manager.accounts import store

    with _account_errors():
        password = _read_password(password_file)
        with _transaction(config_path, database_url) as conn:
            store.set_password(conn, username, password, actor=operator(), now=time.time())
    click.echo(f"password of {username} changed; their sessions were ended")


@user_group.command("role")
@click.argument("username")
@click.option("--add", "add_role", type=ROLE_CHOICE, help="Grant this role.")
@click.option("--remove", "remove_role", type=ROLE_CHOICE, help="Take this role away.")
@scope_options
@database_options
def user_role(
    username: str,
    add_role: str | None,
    remove_role: str | None,
    facilities: tuple[str, ...],
    regions: tuple[str, ...],
    config_path: Path | None,
    database_url: str | None,
) -> None:
    """Grant or take away a role (with its --facility or --region)."""
    from fleet_manager.accounts import store

    if (add_role is None) == (remove_role is None):
        raise click.ClickException("give exactly one of --add ROLE or --remove ROLE")
    role = add_role or remove_role
    assert role is not None
    change = store.grant_role if add_role else store.revoke_role
    with _account_errors():
        grants = grants_from_options(role, facilities, regions)
        with _transaction(config_path, database_url) as conn:
            now = time.time()
            changed = [g for g in grants if change(conn, username, g, actor=operator(), now=now)]
    verb = "granted to" if add_role else "taken from"
    unchanged = [g.describe() for g in grants if g not in changed]
    if changed:
        click.echo(f"{', '.join(g.describe() for g in changed)} {verb} {username}")
    if unchanged:
        click.echo(f"unchanged (already so): {', '.join(unchanged)}")


@user_group.command("list")
@database_options
@json_option
def user_list(config_path: Path | None, database_url: str | None, as_json: bool) -> None:
    """List users with their roles."""
    from fleet_manager.accounts import store

    with _transaction(config_path, database_url) as conn:
        found = store.list_users(conn)
    if as_json:
        _echo_json([_user_json(u) for u in found])
        return
    if not found:
        click.echo("no users yet: add one with `beacon fleet user add`")
        return
    rows = [
        (
            u.username,
            ", ".join(g.describe() for g in u.grants) or "-",
            "disabled" if u.disabled else "active",
            _when(u.last_login_at),
        )
        for u in found
    ]
    click.echo(format_table(("USER", "ROLES", "STATE", "LAST LOGIN"), rows))


def _set_disabled(
    username: str, disabled: bool, config_path: Path | None, database_url: str | None
) -> None:
    from fleet_manager.accounts import store

    with _account_errors(), _transaction(config_path, database_url) as conn:
        changed = store.set_disabled(conn, username, disabled, actor=operator(), now=time.time())
    state = "disabled" if disabled else "enabled"
    click.echo(f"{username} {state}" if changed else f"{username} was already {state}")


@user_group.command("disable")
@click.argument("username")
@database_options
def user_disable(username: str, config_path: Path | None, database_url: str | None) -> None:
    """Stop a user logging in; ends their sessions and stops tokens they own."""
    _set_disabled(username, True, config_path, database_url)


@user_group.command("enable")
@click.argument("username")
@database_options
def user_enable(username: str, config_path: Path | None, database_url: str | None) -> None:
    """Let a disabled user log in again."""
    _set_disabled(username, False, config_path, database_url)


@click.group("token")
def api_token_group() -> None:
    """API tokens for automation: scoped like users, shown once, revocable."""


@api_token_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=ROLE_CHOICE, help="The token's role.")
@scope_options
@click.option("--owner", help="A user the token acts for: it never holds more than they do.")
@click.option("--ttl", help="Expire after this long: 30d, 12h … (default: until revoked).")
@database_options
@json_option
def token_create(
    name: str,
    role: str,
    facilities: tuple[str, ...],
    regions: tuple[str, ...],
    owner: str | None,
    ttl: str | None,
    config_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Make an API token; it is shown once and only its hash is kept."""
    from fleet_manager.accounts import token_store
    from fleet_manager.store.registry import parse_duration

    now = time.time()
    expires_at = None
    if ttl is not None:
        try:
            expires_at = now + parse_duration(ttl)
        except ValueError as exc:
            raise click.ClickException(f"--ttl: {exc}") from None
    with _account_errors():
        grants = grants_from_options(role, facilities, regions)
        with _transaction(config_path, database_url) as conn:
            secret, token = token_store.create_api_token(
                conn,
                name,
                grants,
                creator=None,
                owner=owner,
                actor=operator(),
                now=now,
                expires_at=expires_at,
            )
    if as_json:
        _echo_json({**_user_json(token), "token": secret})
        return
    click.echo(f"API token {token.token_id} ({name}), valid until {_when(expires_at)}:")
    click.echo(f"\n    {secret}\n")
    click.echo("Store it now: it is not shown again. Send it as 'Authorization: Bearer …'.")


@api_token_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
@database_options
@json_option
def token_list(
    show_all: bool, config_path: Path | None, database_url: str | None, as_json: bool
) -> None:
    """List API tokens (never their secrets)."""
    from fleet_manager.accounts import token_store

    with _transaction(config_path, database_url) as conn:
        found = token_store.list_api_tokens(conn, include_revoked=show_all)
    if as_json:
        _echo_json([_user_json(t) for t in found])
        return
    if not found:
        click.echo("no API tokens")
        return
    rows = [
        (
            t.token_id,
            t.display_prefix + "…",
            t.name,
            ", ".join(g.describe() for g in t.grants),
            t.owner or "-",
            _when(t.last_used_at),
            "revoked" if t.revoked_at is not None else _when(t.expires_at),
        )
        for t in found
    ]
    headers = ("ID", "PREFIX", "NAME", "ROLES", "OWNER", "LAST USED", "EXPIRES")
    click.echo(format_table(headers, rows))


@api_token_group.command("revoke")
@click.argument("token_id")
@database_options
def token_revoke(token_id: str, config_path: Path | None, database_url: str | None) -> None:
    """Revoke an API token: it stops working at once."""
    from fleet_manager.accounts import token_store

    with _account_errors(), _transaction(config_path, database_url) as conn:
        changed = token_store.revoke_api_token(conn, token_id, actor=operator(), now=time.time())
    click.echo(f"revoked {token_id}" if changed else f"{token_id} was already revoked")


def add_user_commands(fleet_group: click.Group) -> None:
    fleet_group.add_command(user_group)
    fleet_group.add_command(api_token_group)
