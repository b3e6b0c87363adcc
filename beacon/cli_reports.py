"""Report keys and reading reports.

    beacon responder keys create --region north --out north-report.key [--passphrase-file F]
    beacon fleet report-key add --region north --public-key north-report.key.pub --config fleet.yaml
    beacon fleet report-key list --config fleet.yaml
    beacon fleet report-key retire KEY_ID --config fleet.yaml
    beacon responder decrypt INCIDENT_ID [--key F --passphrase-file F]
                             [--api URL --token-file F --ca F]
    beacon responder disclose INCIDENT_ID --recipient-kind law_enforcement --recipient "…"
                              --purpose "…" [--legal-basis imminent_danger] (+ decrypt's options)

Without --api/--key the demo's ``connection.json`` supplies the API, a responder token and the
region's key. The private key is made and kept on the responders' side; only its public half
goes to the fleet (``report-key add``). Decrypting and disclosing are written to the audit log
before anything is shown.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import click

from beacon.defaults import DEFAULT_CONNECTION
from fleet_manager.reports.disclosure import LEGAL_BASES, RECIPIENTS


def _read_secret(path: Path | None, prompt: str, confirm: bool = False) -> bytes | None:
    """First line of a file, or a prompt without echo; empty means no passphrase."""
    if path is not None:
        lines = path.read_text().splitlines()
        return lines[0].encode() if lines and lines[0] else None
    text = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, default="")
    return text.encode() if text else None


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True)
class _Access:
    api: Any  # responder.reports.ApiAccess
    keys: dict[str, tuple[Path, Path | None]]  # region → (key file, passphrase file)


def _access(
    connection: Path,
    api_url: str | None,
    token_file: Path | None,
    ca: Path | None,
    key: Path | None,
    passphrase_file: Path | None,
) -> _Access:
    from responder.reports import ApiAccess

    info: dict[str, Any] = {}
    if api_url is None or token_file is None or key is None:
        try:
            info = json.loads(connection.read_text())
        except (OSError, ValueError) as exc:
            raise click.ClickException(
                f"give --api, --token-file and --key, or a readable {connection} ({exc})"
            ) from None
    url = api_url or info.get("api_url")
    if not url:
        raise click.ClickException("no API address: give --api")
    if token_file is not None:
        token = token_file.read_text().strip()
    else:
        tokens = [r.get("api_token") for r in info.get("responders", {}).values()]
        token = next((t for t in tokens if t), "")
    if not token:
        raise click.ClickException("no API token: give --token-file")
    ca_file = ca or (Path(info["brokers"]["fleet"]["ca"]) if info.get("brokers") else None)
    keys: dict[str, tuple[Path, Path | None]] = {}
    if key is None:
        for region, entry in info.get("report_keys", {}).items():
            phrase = entry.get("passphrase_file")
            keys[region] = (Path(entry["key"]), Path(phrase) if phrase else None)
    return _Access(
        ApiAccess(url, token, ca_file), keys if key is None else {"*": (key, passphrase_file)}
    )


def _key_loader(access: _Access) -> Any:
    from fleet_manager.reports.sealing import SealError, load_private_key

    def key_for(region: str) -> Any:
        found = access.keys.get(region) or access.keys.get("*")
        if found is None:
            raise click.ClickException(f"no private key for region {region!r}: give --key")
        path, phrase_file = found
        pem = path.read_bytes()
        passphrase = (
            _read_secret(phrase_file, f"passphrase of {path}")
            if phrase_file is not None or b"ENCRYPTED" in pem
            else None
        )
        try:
            return load_private_key(pem, passphrase)
        except SealError as exc:
            raise click.ClickException(f"{path}: {exc}") from None

    return key_for


_api_options = [
    click.option(
        "--connection",
        type=click.Path(path_type=Path),
        default=DEFAULT_CONNECTION,
        show_default=True,
    ),
    click.option("--api", "api_url", help="The fleet API, https://host:port."),
    click.option("--token-file", type=click.Path(path_type=Path, exists=True, dir_okay=False)),
    click.option("--ca", type=click.Path(path_type=Path, exists=True, dir_okay=False)),
    click.option("--key", type=click.Path(path_type=Path, exists=True, dir_okay=False)),
    click.option("--passphrase-file", type=click.Path(path_type=Path, exists=True, dir_okay=False)),
]


def api_options(fn: Any) -> Any:
    for option in reversed(_api_options):
        fn = option(fn)
    return fn


def _open(incident_id: str, access: _Access) -> Any:
    from responder.reports import ReportAccessError, read_report

    try:
        return read_report(access.api, incident_id, _key_loader(access))
    except (ReportAccessError, ValueError) as exc:  # SealError and unreadable entries too
        raise click.ClickException(str(exc)) from None


def add_report_commands(responder: click.Group, fleet: click.Group) -> None:
    @responder.group("keys")
    def keys_group() -> None:
        """The region's report key pair (kept by responders)."""

    @keys_group.command("create")
    @click.option("--region", required=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.option("--passphrase-file", type=click.Path(path_type=Path, exists=True))
    def keys_create(region: str, out: Path, passphrase_file: Path | None) -> None:
        """Make a key pair: OUT (private, 0600, passphrase-protected) and OUT.pub."""
        from fleet_manager.reports.sealing import (
            key_id,
            new_private_key,
            private_key_pem,
            public_key_pem,
        )

        if out.exists():
            raise click.ClickException(
                f"{out} exists: never overwrite a key that may still open reports"
            )
        passphrase = _read_secret(passphrase_file, "passphrase for the new key", confirm=True)
        if passphrase is None:
            click.echo("warning: the private key is not protected by a passphrase", err=True)
        key = new_private_key()
        _write_private(out, private_key_pem(key, passphrase))
        public = out.with_name(out.name + ".pub")
        public.write_text(public_key_pem(key.public_key()))
        click.echo(
            f"key {key_id(key.public_key())} for region {region}: private {out}, public {public}"
        )
        click.echo(
            f"next: beacon fleet report-key add --region {region} --public-key {public} --config …"
        )

    @responder.command("decrypt")
    @click.argument("incident_id")
    @api_options
    def decrypt(
        incident_id: str,
        connection: Path,
        api_url: str | None,
        token_file: Path | None,
        ca: Path | None,
        key: Path | None,
        passphrase_file: Path | None,
    ) -> None:
        """Show the report behind an incident (the reading is audited first)."""
        from responder.reports import format_report

        access = _access(connection, api_url, token_file, ca, key, passphrase_file)
        click.echo(format_report(_open(incident_id, access)))

    @responder.command("disclose")
    @click.argument("incident_id")
    @click.option(
        "--recipient-kind",
        required=True,
        type=click.Choice(RECIPIENTS),
    )
    @click.option("--recipient", required=True, help="Who receives it (agency, office, person).")
    @click.option("--purpose", required=True, help="Why it is disclosed.")
    @click.option(
        "--legal-basis",
        type=click.Choice(LEGAL_BASES),
    )
    @click.option(
        "--out",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write the disclosed report here (0600) instead of printing it.",
    )
    @api_options
    def disclose(
        incident_id: str,
        recipient_kind: str,
        recipient: str,
        purpose: str,
        legal_basis: str | None,
        out: Path | None,
        connection: Path,
        api_url: str | None,
        token_file: Path | None,
        ca: Path | None,
        key: Path | None,
        passphrase_file: Path | None,
    ) -> None:
        """Record a disclosure (refused without the reporter's consent or a legal basis for law
        enforcement), then hand over the report."""
        from fleet_manager.reports.disclosure import LegalBasis, Recipient
        from responder.reports import ReportAccessError, format_report, record_disclosure

        access = _access(connection, api_url, token_file, ca, key, passphrase_file)
        report = _open(incident_id, access)
        try:
            reason = record_disclosure(
                access.api,
                report,
                cast(Recipient, recipient_kind),  # click.Choice(RECIPIENTS) checked it
                recipient,
                purpose,
                cast(LegalBasis | None, legal_basis),
            )
        except ReportAccessError as exc:
            raise click.ClickException(str(exc)) from None
        header = (
            f"Disclosed to {recipient} ({recipient_kind}) for: {purpose}\nRecorded: {reason}\n\n"
        )
        if out is not None:
            _write_private(out, (header + format_report(report) + "\n").encode())
            click.echo(f"recorded ({reason}); report written to {out}")
        else:
            click.echo(header + format_report(report))

    @fleet.group("report-key")
    def report_key() -> None:
        """Regions' public report keys (new reports are sealed to the newest one)."""

    config_option = click.option(
        "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), required=True
    )

    def _engine(config_path: Path) -> Any:
        from beacon.cli import load_fleet_config  # at call time: beacon.cli imports this module
        from fleet_manager.store.database import migrate, open_engine

        engine = open_engine(load_fleet_config(config_path).database_url)
        migrate(engine)
        return engine

    @report_key.command("add")
    @click.option("--region", required=True)
    @click.option(
        "--public-key", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True
    )
    @config_option
    def key_add(region: str, public_key: Path, config_path: Path) -> None:
        """Register a region's public key; from now on new reports there are sealed to it."""
        from fleet_manager.reports.sealing import SealError, key_id, load_public_key, public_key_pem
        from fleet_manager.store import audit_log, report_store
        from protocol.identities import is_valid_segment

        if not is_valid_segment(region):
            raise click.BadParameter(
                "lower-case letters, digits, '-' or '_'", param_hint="--region"
            )
        try:
            key = load_public_key(public_key.read_text())
        except (SealError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{public_key}: {exc}") from None
        kid, actor, now = key_id(key), f"cli:{os.environ.get('USER', 'unknown')}", time.time()
        engine = _engine(config_path)
        try:
            with engine.begin() as conn:
                report_store.add_key(
                    conn,
                    key_id=kid,
                    region=region,
                    public_key=public_key_pem(key),
                    by=actor,
                    now=now,
                )
                audit_log.record(
                    conn,
                    at=now,
                    actor=actor,
                    action="report_key.added",
                    subject=kid,
                    outcome="ok",
                    detail={"region": region},
                )
        except report_store.ReportStoreError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            engine.dispose()
        click.echo(f"key {kid} now seals new reports from region {region}")

    @report_key.command("list")
    @config_option
    def key_list(config_path: Path) -> None:
        """Every key: region, id, added, retired, and which one is in use."""
        from fleet_manager.store import report_store

        engine = _engine(config_path)
        with engine.connect() as conn:
            keys, active = report_store.keys(conn), report_store.active_keys(conn)
        engine.dispose()
        in_use = {k.key_id for k in active.values()}
        for k in keys:
            state = (
                "in use" if k.key_id in in_use else ("retired" if k.retired_at else "superseded")
            )
            added = time.strftime("%Y-%m-%d %H:%M", time.gmtime(k.added_at))
            click.echo(f"{k.region:<16} {k.key_id}  added {added} by {k.added_by}  {state}")

    @report_key.command("retire")
    @click.argument("key_id")
    @config_option
    def key_retire(key_id: str, config_path: Path) -> None:
        """Stop sealing new reports to a key (responders keep it to open older ones)."""
        from fleet_manager.store import audit_log, report_store

        actor, now = f"cli:{os.environ.get('USER', 'unknown')}", time.time()
        engine = _engine(config_path)
        with engine.begin() as conn:
            done = report_store.retire_key(conn, key_id, now)
            if done:
                audit_log.record(
                    conn,
                    at=now,
                    actor=actor,
                    action="report_key.retired",
                    subject=key_id,
                    outcome="ok",
                )
        engine.dispose()
        if not done:
            raise click.ClickException(f"no key {key_id} in use")
        click.echo(f"key {key_id} retired: new reports of its region need another key")
