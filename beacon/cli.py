"""The ``beacon`` command: parses, calls a library function, prints. Nothing else lives here."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import click

from beacon.defaults import DEFAULT_CONNECTION, DEMO_BASE
from provisioning.tls import TlsFiles
from transport.log import configure_logging

# Heavy imports (cryptography, pydantic, Kivy …) happen inside the commands that need them, so
# that `beacon kiosk run` reaches its first frame sooner.


@click.group()
def main() -> None:
    """Beacon: discreet help kiosks, fleet manager and responder tools."""


# -- kiosk ------------------------------------------------------------------------------


@main.group()
def kiosk() -> None:
    """The kiosk's device agent."""


@kiosk.command("run")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--headless", is_flag=True, help="Run the device agent without the touch UI.")
@click.option("--demo", is_flag=True, help="A built-in sample identity and content, no broker.")
@click.option("--bundle", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--size", help="Window size WIDTHxHEIGHT instead of full screen (testing).")
@click.option(
    "--heartbeat-interval", type=click.FloatRange(min=0.05), default=60.0, show_default=True
)
@click.option("--log-level", default="INFO", show_default=True)
def kiosk_run(
    state_dir: Path | None,
    headless: bool,
    demo: bool,
    bundle: Path | None,
    size: str | None,
    heartbeat_interval: float,
    log_level: str,
) -> None:
    """Run the kiosk: the touch UI with its agent, or the agent alone (--headless)."""
    from device.agent.agent import AgentSettings
    from device.agent.device_config import DeviceConfigError
    from device.agent.identity import IdentityError

    configure_logging(log_level, process="kiosk")
    if demo:
        from beacon.kiosk_demo import DEMO_PIN, make_demo_state

        state_dir = make_demo_state(state_dir or Path("var/kiosk-demo"))
        click.echo(f"demo kiosk in {state_dir}; staff PIN {DEMO_PIN}", err=True)
    if state_dir is None:
        raise click.UsageError("--state-dir is required (or --demo)")
    settings = AgentSettings(heartbeat_interval_s=heartbeat_interval)
    window = None
    if size:
        try:
            width, height = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise click.BadParameter(
                "use WIDTHxHEIGHT, e.g. 800x480", param_hint="--size"
            ) from None
        window = (width, height)
    try:
        if headless:
            from device.agent.run import run_headless

            run_headless(state_dir, settings)
        else:
            from content.bundle import BundleError
            from device.ui.run import run_with_ui

            try:
                run_with_ui(state_dir, settings, bundle, size=window, fullscreen=window is None)
            except BundleError as exc:
                raise click.ClickException(str(exc)) from None
    except (IdentityError, DeviceConfigError) as exc:
        raise click.ClickException(str(exc)) from None


@kiosk.command("set-pin")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
def kiosk_set_pin(state_dir: Path, pin: str) -> None:
    """Set the staff panel PIN (stored as an Argon2 hash in STATE_DIR/staff.toml)."""
    from device.ui.staff_access import hash_pin, save_pin_hash

    try:
        save_pin_hash(state_dir, hash_pin(pin))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pin") from None
    click.echo(f"staff PIN set in {state_dir / 'staff.toml'}")


@kiosk.command("enrol")
@click.option("--server", required=True, help="The fleet's enrolment API, https://host:port.")
@click.option("--token", help="The one-time enrolment token (or use --token-file).")
@click.option(
    "--token-file",
    type=click.File("r"),
    help="Read the token from this file ('-' for stdin): keeps it out of the process list.",
)
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Trust this CA for the enrolment server (default: the system's CAs).",
)
@click.option("--no-wait", is_flag=True, help="If approval is needed, do not wait for it.")
@click.option("--log-level", default="INFO", show_default=True)
def kiosk_enrol(
    server: str,
    token: str | None,
    token_file: Any,
    state_dir: Path,
    ca_file: Path | None,
    no_wait: bool,
    log_level: str,
) -> None:
    """Enrol this kiosk: make its key, get its certificate and identity, save them.

    Exit status: 0 enrolled (or already), 1 refused, 3 still waiting for approval,
    75 server unreachable (try again later).
    """
    from device.agent.enrolment import EnrolmentFailed, EnrolOptions, enrol

    if (token is None) == (token_file is None):
        raise click.UsageError("give exactly one of --token and --token-file")
    secret = token if token is not None else token_file.read().strip()
    if not server.startswith("https://"):
        raise click.BadParameter("must start with https://", param_hint="--server")
    configure_logging(log_level, process="kiosk-enrol")
    options = EnrolOptions(
        server=server, token=secret, state_dir=state_dir, ca_file=ca_file, wait=not no_wait
    )
    try:
        profile = enrol(options)
    except EnrolmentFailed as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    click.echo(
        f"enrolled as {profile.device_id} at {profile.location} ({profile.facility},"
        f" {profile.region})"
    )


@kiosk.command("ctl")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.argument("action", type=click.Choice(["status", "press-help", "drill", "renew-cert"]))
@click.option(
    "--source", type=click.Choice(["touch", "button"]), default="touch", show_default=True
)
def kiosk_ctl(state_dir: Path, action: str, source: str) -> None:
    """Talk to a running kiosk agent through its control socket."""
    from device.agent.control import ControlError, control_request

    request: dict[str, Any] = {"cmd": action}
    if action == "press-help":
        request["source"] = source
    try:
        reply = control_request(state_dir, request)
    except ControlError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(reply, indent=2))
    if not reply.get("ok"):
        sys.exit(1)


# -- fleet ------------------------------------------------------------------------------


@main.group()
def fleet() -> None:
    """The fleet manager."""


def load_fleet_config(config_path: Path) -> Any:
    """The fleet config, or a clean exit naming the file and field that are wrong."""
    from fleet_manager.config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@fleet.command("serve")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), required=True
)
def fleet_serve(config_path: Path) -> None:
    """Consume from the fleet broker, route and escalate incidents, until SIGTERM."""
    from fleet_manager.routing.policy import PolicyError
    from fleet_manager.service import serve

    config = load_fleet_config(config_path)
    configure_logging(config.log_level, process=config.identity)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        serve(config, stop)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


@fleet.command("api")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), required=True
)
def fleet_api(config_path: Path) -> None:
    """Serve the HTTPS API (kiosk enrolment) named by the config's 'enrolment' section."""
    from fleet_manager.api.serve import serve

    config = load_fleet_config(config_path)
    if config.enrolment is None:
        raise click.ClickException(f"{config_path}: no 'enrolment' section")
    configure_logging(config.log_level, process=f"{config.identity}-api")
    try:
        serve(config)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


# -- landing page -----------------------------------------------------------------------


@main.group()
def landing() -> None:
    """The QR landing page and its report form."""


@landing.command("serve")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), required=True
)
def landing_serve(config_path: Path) -> None:
    """Serve the landing page over HTTPS (the config's 'landing' section), until SIGTERM."""
    from content.bundle import BundleError
    from fleet_manager.landing.serve import serve
    from fleet_manager.landing.texts import LandingTextsError

    config = load_fleet_config(config_path)
    if config.landing is None:
        raise click.ClickException(f"{config_path}: no 'landing' section")
    configure_logging(config.log_level, process=f"landing-{config.instance}")
    try:
        serve(config)
    except (OSError, ValueError, BundleError, LandingTextsError) as exc:
        raise click.ClickException(str(exc)) from None


# -- responder --------------------------------------------------------------------------


@main.group()
def responder() -> None:
    """Watch and answer incidents on a responder broker."""


def _common_name(cert_path: Path) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _responder_endpoints(
    connection: Path,
    region: str | None,
    host: str | None,
    port: int | None,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
) -> list[tuple[str, Any, str]]:
    """(region, endpoint, identity) to try, from explicit options or a connection file."""
    from transport.mqtt import BrokerEndpoint

    if host and port and ca and cert and key:
        if region is None:
            raise click.UsageError("--region is required with explicit broker options")
        return [(region, BrokerEndpoint(host, port, TlsFiles(ca, cert, key)), _common_name(cert))]
    try:
        info = json.loads(connection.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"{connection}: cannot read connection details ({exc}); is `beacon demo` running?"
        ) from None
    regions = [region] if region else sorted(info["responders"])
    out = []
    for r in regions:
        if r not in info["responders"]:
            raise click.ClickException(f"{connection}: no responder broker for region {r!r}")
        b, cred = info["brokers"]["responders"][r], info["responders"][r]
        tls = TlsFiles(Path(cred["ca"]), Path(cred["cert"]), Path(cred["key"]))
        out.append((r, BrokerEndpoint(b["host"], b["port"], tls), cred["identity"]))
    return out


_broker_options = [
    click.option(
        "--connection",
        type=click.Path(path_type=Path),
        default=DEFAULT_CONNECTION,
        show_default=True,
    ),
    click.option("--region"),
    click.option("--host"),
    click.option("--port", type=int),
    click.option("--ca", type=click.Path(path_type=Path, exists=True)),
    click.option("--cert", type=click.Path(path_type=Path, exists=True)),
    click.option("--key", type=click.Path(path_type=Path, exists=True)),
]


def broker_options(fn: Any) -> Any:
    for option in reversed(_broker_options):
        fn = option(fn)
    return fn


@responder.command("watch")
@broker_options
def responder_watch(
    connection: Path,
    region: str | None,
    host: str | None,
    port: int | None,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
) -> None:
    """Print each incident of a region as it arrives and changes."""
    from responder.client import IncidentWatcher
    from responder.format import format_incident

    configure_logging("WARNING", process="responder")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watchers = []
    for r, endpoint, identity in _responder_endpoints(
        connection, region, host, port, ca, cert, key
    ):
        watcher = IncidentWatcher(
            endpoint,
            identity,
            r,
            lambda inc: click.echo(format_incident(inc, time.time()), nl=True),
        )
        watcher.start()
        watchers.append(watcher)
    while not stop.wait(0.5):
        pass
    for watcher in watchers:
        watcher.stop()


def _act(
    action: str,
    incident_id: str,
    note: str | None,
    as_name: str | None,
    endpoints: list[tuple[str, Any, str]],
) -> None:
    from responder.client import ActionNotConfirmed, send_action

    configure_logging("ERROR", process="responder")
    from protocol.messages import ResponderActionKind

    kind = cast(ResponderActionKind, action)
    last_error = "no responder broker to try"
    for r, endpoint, identity in endpoints:
        try:
            result = send_action(
                endpoint, identity, r, incident_id, kind, as_name or identity, note, timeout=10
            )
        except ActionNotConfirmed as exc:
            last_error = str(exc)
            continue
        if result is None:
            click.echo(f"{action} sent for {incident_id}")
        else:
            click.echo(f"{incident_id}: {result.state} (version {result.version})")
        return
    raise click.ClickException(last_error)


for _action, _help in (
    ("ack", "Acknowledge an incident (stops its escalation)."),
    ("resolve", "Resolve an incident."),
    ("note", "Add a note to an incident's timeline."),
):

    def _make(action: str, help_text: str) -> None:
        @responder.command(action, help=help_text)
        @click.argument("incident_id")
        @click.option("--note", help="A short note for the timeline (no personal data).")
        @click.option(
            "--as", "as_name", help="Your name as shown in the timeline (default: certificate CN)."
        )
        @broker_options
        def command(
            incident_id: str,
            note: str | None,
            as_name: str | None,
            connection: Path,
            region: str | None,
            host: str | None,
            port: int | None,
            ca: Path | None,
            cert: Path | None,
            key: Path | None,
        ) -> None:
            _act(
                action,
                incident_id,
                note,
                as_name,
                _responder_endpoints(connection, region, host, port, ca, cert, key),
            )

    _make(_action, _help)


# -- demo -------------------------------------------------------------------------------


@main.command("demo")
@click.option("--headless", is_flag=True, help="Keep every kiosk headless (no screen window).")
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after this many seconds.")
@click.option(
    "--press-help",
    "press_help",
    type=click.FloatRange(min=0),
    help="Press help on a kiosk at this second.",
)
@click.option(
    "--base",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEMO_BASE,
    show_default=True,
)
@click.option("--log-level", default="WARNING", show_default=True)
def demo(
    headless: bool, duration: float | None, press_help: float | None, base: Path, log_level: str
) -> None:
    """Run the whole system on this machine with embedded defaults."""
    from beacon.demo import run_demo

    configure_logging(log_level, process="demo")
    sys.exit(
        run_demo(
            base,
            duration=duration,
            press_help_at=press_help,
            headless=headless,
            say=lambda s: click.echo(s),
        )
    )


# -- content ----------------------------------------------------------------------------


@main.group("content")
def content_group() -> None:
    """Content bundles: slides, translations, hotlines."""


@content_group.command("check")
@click.argument(
    "bundle_dir", metavar="DIR", type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="An origin (host[:port]) QR codes may point to; repeat for more. "
    "Default: help.example.org.",
)
def content_check(bundle_dir: Path, allowed_origins: tuple[str, ...]) -> None:
    """Validate a bundle: manifest, catalogs, QR targets, glyphs in every language's font."""
    from content.bundle import load_bundle
    from content.check import DEFAULT_ALLOWED_ORIGINS, check_bundle

    problems = check_bundle(bundle_dir, allowed_origins=allowed_origins or DEFAULT_ALLOWED_ORIGINS)
    if problems:
        for problem in problems:
            click.echo(problem)
        sys.exit(1)
    bundle = load_bundle(bundle_dir)
    click.echo(
        f"OK: {len(bundle.slides)} slides, {len(bundle.languages)} languages, "
        f"version {bundle.version}"
    )


# -- provision and config (their commands live in their own modules) -----------------


def _add_groups() -> None:
    from beacon.cli_config import config_group
    from beacon.cli_enrolment import add_enrolment_commands
    from beacon.cli_provision import facility_group, provision_group

    add_enrolment_commands(provision_group, facility_group)
    from beacon.cli_ca import ca_group

    provision_group.add_command(ca_group, "ca")
    from beacon.cli_content import add_content_commands
    from beacon.cli_rollout import add_rollout_commands

    add_content_commands(content_group)
    add_rollout_commands(content_group)
    from beacon.cli_users import add_user_commands

    add_user_commands(fleet)
    from beacon.cli_reports import add_report_commands

    add_report_commands(responder, fleet)
    main.add_command(provision_group, "provision")
    main.add_command(config_group, "config")
    from beacon.cli_training import add_training_commands

    add_training_commands(main)


_add_groups()
