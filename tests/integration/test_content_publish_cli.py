"""``beacon content build/keys/repo/publish/channel`` as ops run them (click's CliRunner), with a
real ngclient kiosk reading the result; every bad input is one ``Error:`` line and no change."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from beacon.cli_content import add_content_commands
from content.build import archive_bytes, read_bundle_archive
from tests.support.tuf_repo_server import TufClient, serve_directory

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "sample"
PASSPHRASE = "correct horse battery staple"
V1, V2 = "2026.11.1", "2026.12.1"


@click.group()
def content() -> None:
    """Stand-in for ``beacon content`` (beacon/cli.py adds the same commands to its group)."""


add_content_commands(content)


def run(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(content, [str(a) for a in args], input=input)


def ok(*args: str | Path, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def fails(*args: str | Path, input: str | None = None) -> str:
    """Run a command that must fail; return its one error line."""
    result = run(*args, input=input)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0].removeprefix("Error: ")


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


@pytest.fixture
def keys(tmp_path: Path, passfile: Path) -> Path:
    ok("keys", "init", "--out", tmp_path / "keys", "--passphrase-file", passfile)
    return tmp_path / "keys"


@pytest.fixture
def repo(tmp_path: Path, keys: Path, passfile: Path) -> Path:
    repo = tmp_path / "repo"
    ok("repo", "init", "--repo", repo, "--keys", keys, "--passphrase-file", passfile)
    return repo


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    result = ok("build", SAMPLE, "-o", tmp_path / "dist")
    path = Path(result.stdout.splitlines()[2].split()[1])
    assert path.is_file()
    return path


@pytest.fixture
def bundle_v2(bundle: Path) -> Path:
    files = dict(read_bundle_archive(bundle.read_bytes()).files)
    files["manifest.toml"] = files["manifest.toml"].replace(V1.encode(), V2.encode(), 1)
    path = bundle.with_name(f"beacon-content-{V2}.tar.gz")
    path.write_bytes(archive_bytes(files))
    return path


@pytest.fixture
def kiosk(repo: Path, tmp_path: Path) -> Iterator[TufClient]:
    root_v1 = (repo / "metadata" / "1.root.json").read_bytes()
    with serve_directory(repo) as base_url:
        yield TufClient(base_url, tmp_path / "kiosk", root_v1)


def publish(
    bundle: Path, repo: Path, keys: Path, passfile: Path, channel: str = "stable"
) -> Result:
    return ok(
        "publish", bundle, "--channel", channel, "--repo", repo, "--keys", keys,
        "--passphrase-file", passfile,
    )  # fmt: skip


def test_build_prints_version_hash_and_path(tmp_path: Path) -> None:
    result = ok("build", SAMPLE, "-o", tmp_path / "dist")
    lines = result.stdout.splitlines()
    path = tmp_path.resolve() / "dist" / f"beacon-content-{V1}.tar.gz"
    assert lines[0] == f"version: {V1}"
    assert lines[1].startswith("sha256:  ") and len(lines[1].split()[1]) == 64
    assert lines[2] == f"path:    {path}"
    again = ok("build", SAMPLE, "-o", tmp_path / "again")
    assert again.stdout.splitlines()[1] == lines[1]  # reproducible


def test_build_of_a_broken_bundle_lists_problems_and_builds_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.toml").write_text('version = "2026.11.1"\n', encoding="utf-8")
    result = run("build", broken, "-o", tmp_path / "dist")
    assert result.exit_code == 1
    assert f"{broken}/manifest.toml: default_language: is required" in result.stdout
    assert result.stderr.startswith(f"Error: {broken} fails the content check (")
    assert not (tmp_path / "dist").exists()


def test_keys_init_prompts_twice_hidden_per_offline_key(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    answers = f"{PASSPHRASE}\n{PASSPHRASE}\nanother long passphrase\nanother long passphrase\n"
    result = ok("keys", "init", "--out", out, input=answers)
    assert PASSPHRASE not in result.output  # hidden
    assert result.output.count("Repeat for confirmation") == 2
    for role, header in (
        ("root", b"ENCRYPTED PRIVATE KEY"),
        ("targets", b"ENCRYPTED PRIVATE KEY"),
        ("snapshot", b"BEGIN PRIVATE KEY"),
        ("timestamp", b"BEGIN PRIVATE KEY"),
    ):
        path = out / f"{role}.key.pem"
        assert header in path.read_bytes(), role
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert f"{role:9} " in result.stdout


def test_keys_init_refuses_short_passphrase_and_existing_keys(keys: Path, tmp_path: Path) -> None:
    before = files_of(keys)
    assert fails("keys", "init", "--out", keys, input="x\nx\n").startswith(
        f"{keys}/root.key.pem already exists"
    )
    assert files_of(keys) == before
    short = tmp_path / "short"
    assert fails("keys", "init", "--out", short, input="short\nshort\n") == (
        "the root key passphrase must have at least 12 characters"
    )
    assert not short.exists()


def test_publish_then_kiosk_sees_bundle_then_channel_moves(
    repo: Path, keys: Path, passfile: Path, bundle: Path, bundle_v2: Path, kiosk: TufClient
) -> None:
    result = publish(bundle, repo, keys, passfile)
    assert result.stdout == (
        f"published {V1} (bundles/beacon-content-{V1}.tar.gz) on channel stable (targets v2)\n"
    )
    assert kiosk.fetch(kiosk.channel("stable").target) == bundle.read_bytes()

    publish(bundle_v2, repo, keys, passfile)
    assert kiosk.channel("stable").version == V2

    moved = ok(
        "channel", "set", "stable", V1, "--repo", repo, "--keys", keys,
        "--passphrase-file", passfile,
    )  # fmt: skip
    assert moved.stdout == f"channel stable -> {V1} (targets v4)\n"
    assert kiosk.channel("stable").version == V1

    status = ok("repo", "status", "--repo", repo).stdout
    assert f"bundles:  {V1}, {V2}\n" in status
    assert f"channel stable: {V1}\n" in status
    assert status.startswith("root      v1 ")


def test_passphrase_is_asked_when_no_file(repo: Path, keys: Path, bundle: Path) -> None:
    result = ok(
        "publish", bundle, "--channel", "stable", "--repo", repo, "--keys", keys,
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert "Passphrase of the targets key" in result.output
    assert PASSPHRASE not in result.output


def test_bad_input_is_one_error_line_and_changes_nothing(
    repo: Path, keys: Path, passfile: Path, bundle: Path, tmp_path: Path
) -> None:
    publish(bundle, repo, keys, passfile)
    before = files_of(repo)
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bundle.read_bytes()[:300])
    common = ("--repo", repo, "--keys", keys, "--passphrase-file", passfile)

    assert fails("publish", corrupt, "--channel", "stable", *common).startswith(
        f"{corrupt} is not a valid content bundle: not a bundle archive (.tar.gz): "
    )
    assert fails("channel", "set", "stable", "2027.1.1", *common) == (
        f"version 2027.1.1 is not published (published: {V1})"
    )
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase at all", encoding="utf-8")
    assert fails(
        "publish", bundle, "--channel", "stable", "--repo", repo, "--keys", keys,
        "--passphrase-file", wrong,
    ) == f"wrong passphrase for key file {keys}/targets.key.pem"  # fmt: skip
    assert fails("publish", bundle, "--channel", "No Such!", *common).startswith(
        "'No Such!' is not a channel name"
    )
    files = dict(read_bundle_archive(bundle.read_bytes()).files)
    files["po/en.po"] = files["po/en.po"].replace(b"Scan or call.", b"Scan, or call.")
    other = tmp_path / "other.tar.gz"
    other.write_bytes(archive_bytes(files))
    assert fails("publish", other, "--channel", "stable", *common).startswith(
        f"version {V1} is already published with other content"
    )
    assert files_of(repo) == before

    missing = tmp_path / "no-repo"
    assert fails("publish", bundle, "--channel", "stable", "--repo", missing, "--keys", keys,
                 "--passphrase-file", passfile) == (
        f"{missing} is not a content repository (no such directory)"
    )  # fmt: skip
    assert not missing.exists()
    assert fails("repo", "status", "--repo", tmp_path).startswith(
        f"{tmp_path} is not a content repository (no metadata/1.root.json)"
    )
    assert fails("repo", "init", "--repo", repo, "--keys", keys, "--passphrase-file", passfile) == (
        f"{repo}/metadata already holds metadata: refusing to start a second repository there"
    )
    assert files_of(repo) == before


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_rotate_each_role_then_publish_with_the_new_key(
    role: str,
    repo: Path,
    keys: Path,
    passfile: Path,
    bundle: Path,
    bundle_v2: Path,
    kiosk: TufClient,
) -> None:
    publish(bundle, repo, keys, passfile)
    assert kiosk.channel("stable").version == V1
    old_key = (keys / f"{role}.key.pem").read_bytes()

    result = ok(
        "keys", "rotate", role, "--repo", repo, "--keys", keys, "--passphrase-file", passfile,
        "--new-passphrase-file", passfile,
    )  # fmt: skip
    assert f"rotated the {role} key: " in result.stdout
    assert "root is now v2" in result.stdout
    assert (keys / f"{role}.key.pem").read_bytes() != old_key
    retired = list((keys / "retired").iterdir())
    assert [p.read_bytes() for p in retired] == [old_key]
    assert not list(keys.glob("*.new"))
    if role in ("snapshot", "timestamp"):
        assert f"install {keys}/{role}.key.pem as the fleet manager's content.{role}_key" in (
            result.stdout
        )

    publish(bundle_v2, repo, keys, passfile)  # with the key files now in KEYDIR
    assert kiosk.channel("stable").version == V2


def test_rotate_refusal_leaves_keys_and_repository(
    repo: Path, keys: Path, passfile: Path, tmp_path: Path
) -> None:
    before_repo, before_keys = files_of(repo), files_of(keys)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase at all", encoding="utf-8")
    assert fails(
        "keys", "rotate", "targets", "--repo", repo, "--keys", keys, "--passphrase-file", wrong,
    ) == f"wrong passphrase for key file {keys}/root.key.pem"  # fmt: skip
    other = tmp_path / "other-repo"
    ok("keys", "init", "--out", tmp_path / "other-keys", "--passphrase-file", passfile)
    ok("repo", "init", "--repo", other, "--keys", tmp_path / "other-keys",
       "--passphrase-file", passfile)  # fmt: skip
    assert fails(
        "keys", "rotate", "timestamp", "--repo", other, "--keys", keys,
        "--passphrase-file", passfile,
    ).startswith("root keys: key ")  # fmt: skip
    assert files_of(repo) == before_repo
    assert files_of(keys) == before_keys


def test_renew_targets(repo: Path, keys: Path, passfile: Path) -> None:
    result = ok("repo", "renew", "targets", "--repo", repo, "--keys", keys,
                "--passphrase-file", passfile)  # fmt: skip
    assert result.stdout == "renewed targets: now v2\n"
    result = ok("repo", "renew", "root", "--repo", repo, "--keys", keys,
                "--passphrase-file", passfile)  # fmt: skip
    assert result.stdout == "renewed root: now v2\n"
