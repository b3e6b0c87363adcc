"""What every API and console router is built from (one object, so adding a router does not
change every signature)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from fleet_manager.api.auth import Authenticator
from fleet_manager.api.guard import Guard
from fleet_manager.config import FleetConfig
from fleet_manager.console.web import Console
from fleet_manager.metrics import Counters


@dataclass(frozen=True)
class AppContext:
    auth: Authenticator
    guard: Guard
    console: Console
    config: FleetConfig | None  # None in tests that build the app without a fleet config
    repository: Path | None  # the TUF content repository, if this fleet has one

    @property
    def engine(self) -> sa.Engine:
        return self.auth.engine

    @property
    def counters(self) -> Counters:
        return self.auth.counters

    def now(self) -> float:
        return self.auth.clock()
