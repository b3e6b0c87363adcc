"""Where `beacon demo` keeps its files, and so where the other commands look by default."""

from __future__ import annotations

from pathlib import Path

DEMO_BASE = Path("var/demo")
DEFAULT_CONNECTION = DEMO_BASE / "connection.json"
