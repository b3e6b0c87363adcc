"""``beacon content``: build bundles, hold the TUF keys, publish, move channels, rotate keys.

    beacon content build content/sample -o dist                 # check, then pack reproducibly
    beacon content keys init --out /media/content-keys           # the key ceremony
    beacon content repo init --repo var/tuf --keys /media/content-keys
    beacon content publish dist/beacon-content-2026.11.1.tar.gz --channel stable \\
        --repo var/tuf --keys /media/content-keys
    beacon content channel set stable 2026.11.1 --repo var/tuf --keys /media/content-keys
    beacon content keys rotate timestamp --repo var/tuf --keys /media/content-keys
    beacon content repo status --repo var/tuf
    beacon content repo renew targets --repo var/tuf --keys /media/content-keys

Each command is a thin wrapper over :mod:`content.build` or :mod:`content_repo` (same names).
Offline keys (root, targets) are passphrase-protected: asked for, hidden, unless
``--passphrase-file`` names a file holding it. The online keys (snapshot, timestamp) are read
from the key directory unless ``--snapshot-key``/``--timestamp-key`` point elsewhere (the
fleet manager's copies). A problem prints one line ``Error: …`` and exits 1; the repository is
left as it was. Ceremonies and rotation: docs/content-keys.md.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import click

if TYPE_CHECKING:
    from content_repo.expiry import RoleName
    from content_repo.tuf_types import Signer

# content_repo (python-tuf, cryptography) is imported inside the commands: every `beacon`
# command imports this module.

ROLE_NAMES: tuple[RoleName, ...] = ("root", "targets", "snapshot", "timestamp")
F = TypeVar("F", bound=Callable[..., Any])


def _read_passphrase_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read passphrase file {path}: {exc.strerror}") from None
    # Editors and `echo` add one line break; it is not part of the passphrase.
    data = data.removesuffix(b"\n").removesuffix(b"\r")
    if not data:
        raise click.ClickException(f"passphrase file {path} is empty")
    return data


class TargetsSigners(TypedDict):
    targets: Signer
    snapshot: Signer
    timestamp: Signer


class _Keys:
    """Loads the signers a command needs, asking for each offline passphrase at most once."""

    def __init__(
        self,
        key_dir: Path,
        passphrase_file: Path | None,
        snapshot_key: Path | None = None,
        timestamp_key: Path | None = None,
    ) -> None:
        self.key_dir = key_dir
        self.passphrase_file = passphrase_file
        self.paths: dict[str, Path | None] = {"snapshot": snapshot_key, "timestamp": timestamp_key}

    def path(self, role: RoleName) -> Path:
        from content_repo.keys import key_path

        return self.paths.get(role) or key_path(self.key_dir, role)

    def passphrase(self, role: RoleName) -> bytes:
        if self.passphrase_file is not None:
            return _read_passphrase_file(self.passphrase_file)
        text: str = click.prompt(f"Passphrase of the {role} key", hide_input=True)
        return text.encode("utf-8")

    def targets_signers(self) -> TargetsSigners:
        """What a change to the targets metadata (publish, channel move, renewal) is signed
        with, as keyword arguments."""
        return TargetsSigners(
            targets=self.signer("targets"),
            snapshot=self.signer("snapshot"),
            timestamp=self.signer("timestamp"),
        )

    def signer(self, role: RoleName) -> Signer:
        from content_repo.expiry import OFFLINE_ROLES
        from content_repo.keys import load_signer

        path = self.path(role)
        if not path.is_file():
            raise click.ClickException(f"{role} key {path} not found")
        passphrase = self.passphrase(role) if role in OFFLINE_ROLES else None
        try:
            return load_signer(path, passphrase)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None


def _new_passphrase(role: str, passphrase_file: Path | None) -> bytes:
    from content_repo.keys import MIN_PASSPHRASE_CHARS

    if passphrase_file is not None:
        passphrase = _read_passphrase_file(passphrase_file)
    else:
        text: str = click.prompt(
            f"New passphrase for the {role} key", hide_input=True, confirmation_prompt=True
        )
        passphrase = text.encode("utf-8")
    if len(passphrase.decode("utf-8", errors="replace")) < MIN_PASSPHRASE_CHARS:
        raise click.ClickException(
            f"the {role} key passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
        )
    return passphrase


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(exc: Exception) -> click.ClickException:
    message = " ".join(str(exc).split())  # one line, whatever the library's message held
    return click.ClickException(message)


def _repo_option(fn: F) -> F:
    return click.option(
        "--repo",
        "repo",
        required=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="The TUF repository directory (metadata/, targets/).",
    )(fn)


def _key_options(fn: F) -> F:
    fn = click.option(
        "--timestamp-key",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The online timestamp key (default: KEYDIR/timestamp.key.pem).",
    )(fn)
    fn = click.option(
        "--snapshot-key",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The online snapshot key (default: KEYDIR/snapshot.key.pem).",
    )(fn)
    fn = click.option(
        "--passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="A file holding the offline keys' passphrase (otherwise it is asked for).",
    )(fn)
    return click.option(
        "--keys",
        "key_dir",
        required=True,
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        help="The key directory made by `beacon content keys init`.",
    )(fn)


# -- build ------------------------------------------------------------------------------


@click.command("build")
@click.argument(
    "bundle_dir", metavar="DIR", type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    default=Path("dist"),
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write beacon-content-{version}.tar.gz.",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="An origin QR codes may point to (as for `check`); repeat for more.",
)
def build(bundle_dir: Path, out_dir: Path, allowed_origins: tuple[str, ...]) -> None:
    """Run `beacon content check` on DIR, then pack it as a reproducible bundle archive."""
    from content.build import build_bundle
    from content.bundle import BundleError
    from content.check import DEFAULT_ALLOWED_ORIGINS

    try:
        built = build_bundle(
            bundle_dir, out_dir, allowed_origins=allowed_origins or DEFAULT_ALLOWED_ORIGINS
        )
    except BundleError as exc:
        for problem in exc.problems:
            click.echo(problem)
        count = len(exc.problems)
        raise click.ClickException(
            f"{bundle_dir} fails the content check ({count} problem{'s' if count > 1 else ''}); "
            "nothing was built"
        ) from None
    except OSError as exc:
        raise _fail(exc) from None
    click.echo(f"version: {built.version}")
    click.echo(f"sha256:  {built.sha256}")
    click.echo(f"path:    {built.path}")


# -- keys -------------------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """The TUF role keys: root and targets offline, snapshot and timestamp online."""


@keys_group.command("init")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A new directory (a removable medium) for the four role keys.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A file holding the offline keys' passphrase (otherwise asked for twice, per key).",
)
def keys_init(out_dir: Path, passphrase_file: Path | None) -> None:
    """Create root and targets keys (encrypted) and snapshot and timestamp keys (0600)."""
    from content_repo.keys import create_role_key, key_path

    existing = [key_path(out_dir, r) for r in ROLE_NAMES if key_path(out_dir, r).exists()]
    if existing:
        raise click.ClickException(
            f"{existing[0]} already exists: refusing to overwrite a key (use a new directory)"
        )
    passphrases: dict[RoleName, bytes] = {
        r: _new_passphrase(r, passphrase_file) for r in ("root", "targets")
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    try:
        for role in ROLE_NAMES:
            public = create_role_key(out_dir, role, passphrases.get(role))
            created.append(key_path(out_dir, role))
            state = "encrypted" if role in passphrases else "unencrypted, 0600"
            click.echo(f"{role:9} {public.keyid}  {key_path(out_dir, role)} ({state})")
    except (OSError, ValueError) as exc:
        for path in created:  # all four or none: a partial set would be a puzzle later
            path.unlink(missing_ok=True)
        raise _fail(exc) from None


def _retire(key_file: Path, keyid: str) -> Path:
    retired = key_file.parent / "retired"
    retired.mkdir(mode=0o700, exist_ok=True)
    target = retired / f"{key_file.name.removesuffix('.key.pem')}-{keyid[:12]}.key.pem"
    os.replace(key_file, target)
    return target


@keys_group.command("rotate")
@click.argument("role", type=click.Choice(ROLE_NAMES))
@_repo_option
@_key_options
@click.option(
    "--new-passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="For root or targets: a file holding the new key's passphrase (otherwise asked twice).",
)
@click.option(
    "--old-key-lost",
    is_flag=True,
    help="Rotate targets, snapshot or timestamp without its old key (lost or destroyed).",
)
def keys_rotate(
    role: RoleName,
    repo: Path,
    key_dir: Path,
    passphrase_file: Path | None,
    snapshot_key: Path | None,
    timestamp_key: Path | None,
    new_passphrase_file: Path | None,
    old_key_lost: bool,
) -> None:
    """Replace ROLE's key with a new one, in a new root version that kiosks chain to.

    The old key file moves to KEYDIR/retired/ once the repository trusts the new key.
    """
    from content_repo.expiry import OFFLINE_ROLES
    from content_repo.keys import create_key, load_signer
    from content_repo.rotation import rotate_key

    if old_key_lost and role == "root":
        raise click.ClickException("the root key cannot be rotated without the old root key")
    keys = _Keys(key_dir, passphrase_file, snapshot_key, timestamp_key)
    current = keys.path(role)
    new_file = current.with_name(current.name + ".new")
    if new_file.exists():
        raise click.ClickException(
            f"{new_file} exists (left by an interrupted rotation?): check it, then remove it"
        )
    root = keys.signer("root")
    old = None if old_key_lost else (root if role == "root" else keys.signer(role))
    below = ROLE_NAMES[ROLE_NAMES.index(role) + 1 :] if role != "root" else ()
    others = {r: keys.signer(r) for r in below}
    new_passphrase = _new_passphrase(role, new_passphrase_file) if role in OFFLINE_ROLES else None
    try:
        create_key(new_file, new_passphrase)
        new = load_signer(new_file, new_passphrase)
        result = rotate_key(
            repo,
            role,
            root_signers_old=[root],
            root_signers_new=[new] if role == "root" else (),
            new_signer=None if role == "root" else new,
            targets=others.get("targets", old if role == "targets" else None),
            snapshot=others.get("snapshot", old if role == "snapshot" else None),
            timestamp=others.get("timestamp", old if role == "timestamp" else None),
            now=_now(),
        )
    except ValueError as exc:  # a refusal, before anything was written
        new_file.unlink(missing_ok=True)
        raise _fail(exc) from None
    except OSError as exc:  # writing failed part-way: the repository may trust the new key
        raise click.ClickException(
            f"{' '.join(str(exc).split())}; the new key is kept at {new_file}: see "
            "'Interrupted commands' in docs/content-keys.md"
        ) from None
    retired = _retire(current, result.old_keyids[0]) if current.exists() else None
    os.replace(new_file, current)
    click.echo(
        f"rotated the {role} key: {', '.join(k[:12] for k in result.old_keyids)} -> "
        f"{', '.join(k[:12] for k in result.new_keyids)}; root is now v{result.root_version}"
    )
    click.echo(f"new key: {current}" + (f"; old key moved to {retired}" if retired else ""))
    if role not in OFFLINE_ROLES:
        click.echo(
            f"install {current} as the fleet manager's content.{role}_key now: it can no longer "
            f"sign with the old key"
        )


# -- repo -------------------------------------------------------------------------------


@click.group("repo")
def repo_group() -> None:
    """The TUF repository the fleet manager serves at /tuf/."""


@repo_group.command("init")
@_repo_option
@_key_options
def repo_init(
    repo: Path,
    key_dir: Path,
    passphrase_file: Path | None,
    snapshot_key: Path | None,
    timestamp_key: Path | None,
) -> None:
    """Create version 1 of every role's metadata, signed by the keys in KEYDIR."""
    from content_repo.repository import init_repository, trusted_root

    keys = _Keys(key_dir, passphrase_file, snapshot_key, timestamp_key)
    signers = {r: keys.signer(r) for r in ROLE_NAMES}
    try:
        init_repository(
            repo,
            root_signers=[signers["root"]],
            targets=signers["targets"],
            snapshot=signers["snapshot"],
            timestamp=signers["timestamp"],
            now=_now(),
        )
        root = trusted_root(repo)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    click.echo(f"initialised {repo}: root v1 ({len(root)} bytes)")
    click.echo(f"root sha256: {hashlib.sha256(root).hexdigest()}")


@repo_group.command("status")
@_repo_option
def repo_status(repo: Path) -> None:
    """Version, expiry and keys of every role; published versions; channels."""
    from content_repo.status import repository_status

    try:
        status = repository_status(repo)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    now = _now()
    for role in status.roles:
        days = (role.expires - now).days
        keys = ", ".join(k[:12] for k in role.keyids)
        click.echo(
            f"{role.role:9} v{role.version:<4} expires {role.expires:%Y-%m-%d %H:%M} UTC "
            f"({days} days)  keys {keys} (threshold {role.threshold})"
        )
    click.echo(f"bundles:  {', '.join(status.bundles) or 'none'}")
    for channel, version in status.channels.items():
        click.echo(f"channel {channel}: {version}")


@repo_group.command("renew")
@click.argument("role", type=click.Choice(("root", "targets")))
@_repo_option
@_key_options
def repo_renew(
    role: RoleName,
    repo: Path,
    key_dir: Path,
    passphrase_file: Path | None,
    snapshot_key: Path | None,
    timestamp_key: Path | None,
) -> None:
    """Re-sign ROLE's metadata with a new expiry (offline keys; same keys, same content)."""
    from content_repo.rotation import renew_root, renew_targets

    keys = _Keys(key_dir, passphrase_file, snapshot_key, timestamp_key)
    try:
        if role == "root":
            version = renew_root(repo, root_signers=[keys.signer("root")], now=_now())
        else:
            version = renew_targets(
                repo,
                **keys.targets_signers(),
                now=_now(),
            )
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    click.echo(f"renewed {role}: now v{version}")


# -- publish and channels ---------------------------------------------------------------


@click.command("publish")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--channel", required=True, help="The channel to point at this bundle.")
@_repo_option
@_key_options
def publish(
    bundle: Path,
    channel: str,
    repo: Path,
    key_dir: Path,
    passphrase_file: Path | None,
    snapshot_key: Path | None,
    timestamp_key: Path | None,
) -> None:
    """Add BUNDLE (from `beacon content build`) as a TUF target and move CHANNEL to it."""
    from content_repo.repository import publish_bundle

    signers = _Keys(key_dir, passphrase_file, snapshot_key, timestamp_key).targets_signers()
    try:
        result = publish_bundle(
            repo,
            bundle,
            channel=channel,
            now=_now(),
            **signers,
        )
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    click.echo(
        f"published {result.version} ({result.target}) on channel {channel} "
        f"(targets v{result.targets_version})"
    )


@click.group("channel")
def channel_group() -> None:
    """Content channels: which published version each one runs."""


@channel_group.command("set")
@click.argument("channel")
@click.argument("version")
@_repo_option
@_key_options
def channel_set(
    channel: str,
    version: str,
    repo: Path,
    key_dir: Path,
    passphrase_file: Path | None,
    snapshot_key: Path | None,
    timestamp_key: Path | None,
) -> None:
    """Point CHANNEL at the published VERSION (also to roll a channel back)."""
    from content_repo.repository import move_channel

    signers = _Keys(key_dir, passphrase_file, snapshot_key, timestamp_key).targets_signers()
    try:
        result = move_channel(
            repo,
            channel,
            version,
            now=_now(),
            **signers,
        )
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    click.echo(f"channel {channel} -> {version} (targets v{result.targets_version})")


def add_content_commands(content_group: click.Group) -> None:
    """Add build, keys, repo, publish and channel to the ``beacon content`` group."""
    content_group.add_command(build)
    content_group.add_command(keys_group)
    content_group.add_command(repo_group)
    content_group.add_command(publish)
    content_group.add_command(channel_group)
