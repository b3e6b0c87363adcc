"""Fixtures that start real systems (Mosquitto, fleet manager, kiosk agents) in temp dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveSystem


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveSystem]:
    """A fresh system per test, for tests that kill, restart or cut things."""
    system = LiveSystem(tmp_path / "system")
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def shared_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """One system for a module of tests that only press, ack and watch."""
    system = LiveSystem(tmp_path_factory.mktemp("shared") / "system")
    try:
        system.start()
        yield system
    finally:
        system.stop()
