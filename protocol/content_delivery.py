"""The content delivery contract (issue 5): TUF target names, the repository's URL layout, the
channel pointer, the signed nudge on ``beacon/v1/content/{channel}`` and the kiosk's reports.

Trust comes from TUF (python-tuf), never from this module: the nudge only tells a kiosk *which*
signed target to fetch and whether a staged rollout has reached it yet. It is itself signed
with the fleet's command key, so nobody else can move kiosks between signed versions.

Repository (served by the fleet API over HTTPS, consistent snapshots on):

    {api}/tuf/metadata/{N}.root.json, timestamp.json, {N}.snapshot.json, {N}.targets.json
    {api}/tuf/targets/{sha256}.{target name}

Targets:

    bundles/beacon-content-{version}.tar.gz     a bundle built by ``beacon content build``
    channels/{channel}.json                     a :class:`ChannelPointer` (which bundle)

Rollout admission: each kiosk's bucket is ``sha256(seed + device_id)`` read as a number in
[0, 1). A nudge admits a kiosk when it is in scope and ``bucket < cutoff``; the fleet manager
raises ``cutoff`` wave by wave (the rollout state machine orders kiosks by the same bucket).
A kiosk that enrols later computes its bucket the same way, so it joins the wave it would have
been in. Not admitted, it keeps its content; with none yet, it installs ``baseline``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.errors import EnvelopeError

TUF_PREFIX = "/tuf"
METADATA_PATH = f"{TUF_PREFIX}/metadata/"
TARGETS_PATH = f"{TUF_PREFIX}/targets/"

_VERSION = re.compile(r"^[0-9]{4}\.[0-9]{1,2}\.[0-9]{1,3}$")  # as content.manifest's version


def bundle_target(version: str) -> str:
    if not _VERSION.match(version):
        raise ValueError(f"{version!r} is not a content version such as 2026.11.1")
    return f"bundles/beacon-content-{version}.tar.gz"


def channel_target(channel: str) -> str:
    if not re.fullmatch(r"[a-z0-9_-]{1,32}", channel):
        raise ValueError(f"{channel!r} is not a channel name")
    return f"channels/{channel}.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelPointer(_Strict):
    """The TUF target ``channels/{channel}.json``: the bundle a channel runs once rolled out."""

    channel: str
    version: str
    target: str
    published_at: float


class RolloutScope(_Strict):
    """Who a rollout is for, besides the channel. Empty lists mean "no restriction"."""

    regions: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    devices: tuple[str, ...] = Field(default=(), max_length=1000)


class ContentNudge(_Strict):
    """Retained on ``beacon/v1/content/{channel}``, signed with the fleet's command key."""

    channel: str
    version: str  # the version being rolled out (a TUF target must exist for it)
    baseline: str | None = None  # what a new kiosk not yet admitted installs
    rollout_id: str
    seed: str
    cutoff: float = Field(ge=0.0, le=1.0)
    scope: RolloutScope = RolloutScope()
    issued: float


def bucket(seed: str, device_id: str) -> float:
    """A kiosk's place in [0, 1) for a rollout: stable, spread, the same on both sides."""
    # The first 64 bits of fleet_manager.rollouts.plan.rank_key: both sides order kiosks alike.
    digest = hashlib.sha256((seed + device_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def admitted(nudge: ContentNudge, device_id: str, region: str, facility: str) -> bool:
    scope = nudge.scope
    if scope.devices and device_id not in scope.devices:
        return False
    if scope.regions and region not in scope.regions:
        return False
    if scope.facilities and facility not in scope.facilities:
        return False
    return bucket(nudge.seed, device_id) < nudge.cutoff


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_nudge(nudge: ContentNudge, key: Ed25519PrivateKey) -> bytes:
    body = nudge.model_dump(mode="json")
    signature = key.sign(_canonical(body))
    return _canonical({**body, "sig": base64.b64encode(signature).decode()})


def verify_nudge(payload: bytes, key: Ed25519PublicKey) -> ContentNudge:
    """Raise :class:`EnvelopeError` unless ``payload`` is a nudge signed with ``key``."""
    if len(payload) > 64 * 1024:
        raise EnvelopeError("content nudge is too large")
    try:
        wire = json.loads(payload)
        if not isinstance(wire, dict):
            raise EnvelopeError("content nudge must be a JSON object")
        sig = base64.b64decode(str(wire.pop("sig")), validate=True)
        nudge = ContentNudge.model_validate(wire)
    except (KeyError, ValueError, ValidationError) as exc:
        raise EnvelopeError(f"content nudge is malformed: {exc}") from None
    try:
        key.verify(sig, _canonical(nudge.model_dump(mode="json")))
    except InvalidSignature:
        raise EnvelopeError("content nudge signature does not verify") from None
    return nudge


# What kiosks report on their event topic (``EventMessage.event`` and its ``detail``).
ContentEvent = Literal[
    "content_applied",  # {version}: unpacked and switched to; health check running
    "content_healthy",  # {version}: the UI loaded and showed it within the health window
    "content_failed",  # {version, stage, reason}: refused or failed; last good kept
    "content_rolled_back",  # {version, to, reason}: unhealthy, back to the last good
    "content_metadata_stale",  # {reason}: cannot verify fresh metadata; new content refused
]
