"""Supervision (pure): which kiosks need someone to look at them.

A help kiosk that is silently off, or that shows outdated numbers, fails the person who needs
it without anyone noticing. Two findings are raised as incidents of kind ``supervision``
through the same routing as help alerts (a policy can send them to a facilities team):

- ``offline``: an active, registered kiosk whose Last Will (or missing heartbeat) has kept it
  offline for longer than ``offline_after_s``;
- ``stale_content``: an online kiosk still on another version than its channel's, more than
  ``stale_content_after_s`` after the channel's rollout completed.

Tamper alerts come from the kiosk's own sensor as alerts of kind ``tamper`` and are already
routed as incidents of that kind (see docs/decisions.md).

Each finding names the moment its episode began (``since``), so every fleet manager instance
derives the same incident id for it and the incident is opened once; a new episode (the kiosk
came back, then went away again) opens a new incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Reason = Literal["offline", "stale_content"]

# Fixed namespace: the same (device, reason, since) gives the same alert id everywhere.
_NAMESPACE = uuid.UUID("6d0c2b9e-3f43-4f6a-9a34-5b1f0c7e2a10")


@dataclass(frozen=True)
class SupervisionRules:
    offline_after_s: float = 900.0
    stale_content_after_s: float = 86400.0


@dataclass(frozen=True)
class KioskHealth:
    device_id: str
    registered: bool
    lifecycle: str
    online: bool
    status_at: float | None
    last_heartbeat_at: float | None
    channel: str
    content_version: str | None


@dataclass(frozen=True)
class ChannelState:
    """A channel's version and when the rollout that put it there completed."""

    version: str
    since: float


@dataclass(frozen=True)
class Finding:
    device_id: str
    reason: Reason
    since: float

    @property
    def alert_id(self) -> str:
        """Stable across instances and restarts: one incident per episode."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.device_id}|{self.reason}|{self.since!r}"))

    def detail(self) -> dict[str, object]:
        return {"reason": self.reason, "since": self.since}


def offline_since(kiosk: KioskHealth) -> float | None:
    """When the kiosk was last heard of, if it is offline."""
    if kiosk.online:
        return None
    heard = [t for t in (kiosk.status_at, kiosk.last_heartbeat_at) if t is not None]
    return max(heard) if heard else None


def findings(
    kiosks: Iterable[KioskHealth],
    channels: Mapping[str, ChannelState],
    rules: SupervisionRules,
    now: float,
) -> list[Finding]:
    found: list[Finding] = []
    for kiosk in kiosks:
        if not kiosk.registered or kiosk.lifecycle != "active":
            continue  # revoked or decommissioned kiosks are meant to be gone
        since = offline_since(kiosk)
        if since is not None and now - since >= rules.offline_after_s:
            found.append(Finding(kiosk.device_id, "offline", since))
            continue
        channel = channels.get(kiosk.channel)
        if (
            kiosk.online
            and channel is not None
            and kiosk.content_version is not None
            and kiosk.content_version != channel.version
            and now - channel.since >= rules.stale_content_after_s
        ):
            found.append(Finding(kiosk.device_id, "stale_content", channel.since))
    return found
