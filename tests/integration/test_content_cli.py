"""`beacon content check` as ops run it: the sample passes, a broken copy fails and says why."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content" / "sample"


def beacon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_sample_passes() -> None:
    result = beacon("content", "check", "content/sample")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "OK: 9 slides, 11 languages, version 2026.11.1\n"


def test_sample_passes_with_explicit_allowed_origins() -> None:
    result = beacon(
        "content",
        "check",
        str(SAMPLE),
        "--allowed-origin",
        "help.example.org",
        "--allowed-origin",
        "localhost:8443",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: 9 slides")


def test_broken_copy_fails_with_each_problem_on_its_own_line(tmp_path: Path) -> None:
    bundle = tmp_path / "broken"
    shutil.copytree(SAMPLE, bundle)
    manifest = bundle / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace('id = "sleep"\nkind = "neutral"', 'id = "sleep"\nkind = "bogus"')
    text = text.replace("hold_seconds = 2.0", "hold_seconds = 0.2")
    manifest.write_text(text, encoding="utf-8")

    result = beacon("content", "check", str(bundle))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bundle}/manifest.toml: help_control.hold_seconds: must be >= 1.0",
        f'{bundle}/manifest.toml: slides[3].kind: must be "neutral" or "help"',
    ]


def test_forbidden_word_fails(tmp_path: Path) -> None:
    bundle = tmp_path / "loud"
    shutil.copytree(SAMPLE, bundle)
    po = bundle / "po" / "en.po"
    text = po.read_text(encoding="utf-8")
    old = 'msgstr "Do you feel safe? Confidential help, any language, 24/7. Scan or call."'
    assert old in text
    po.write_text(text.replace(old, 'msgstr "Human trafficking? Scan or call."'), encoding="utf-8")

    result = beacon("content", "check", str(bundle))
    assert result.returncode == 1
    assert result.stdout == (
        f'{bundle}/po/en.po: msgid "slide.help-safe.message": msgstr contains "trafficking", '
        "which could alert someone watching the screen (see FORBIDDEN_WORDS in "
        "content/manifest.py)\n"
    )


def test_bad_allowed_origin_fails() -> None:
    result = beacon("content", "check", "content/sample", "--allowed-origin", "http://x.org")
    assert result.returncode == 1
    assert "allowed origin 'http://x.org'" in result.stdout


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = beacon("content", "check", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
