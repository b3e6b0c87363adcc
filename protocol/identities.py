"""Names of the parties on the fleet broker, and the rules for ids used as topic segments.

The broker takes a client's certificate CN as its username and client id, and the ACL grants
topics by that name. So a CN is a capability: device ids must never collide with a service
identity, and no id may contain MQTT wildcard or level characters.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

DEVICE_PREFIX = "kiosk-"
FLEET_MANAGER_PREFIX = "fleet-manager-"
BRIDGE_PREFIX = "bridge-"
RESPONDER_PREFIX = "responder-"
RESERVED_PREFIXES = (FLEET_MANAGER_PREFIX, BRIDGE_PREFIX, RESPONDER_PREFIX)


def is_valid_segment(value: str) -> bool:
    """True if ``value`` can stand as one topic level: lower-case, short, no ``/ + #``."""
    # fullmatch, not match: "$" also matches before a trailing newline, which let "kiosk-a\n" pass.
    return bool(_SEGMENT.fullmatch(value))


def require_segment(value: str, what: str) -> str:
    if not is_valid_segment(value):
        raise ValueError(
            f"{what} {value!r} is not a valid id: use 1-63 lower-case letters, digits, '-' or '_',"
            " starting with a letter or digit"
        )
    return value


def is_device_id(value: str) -> bool:
    return value.startswith(DEVICE_PREFIX) and is_valid_segment(value)


def require_device_id(value: str) -> str:
    if not is_device_id(value):
        raise ValueError(f"device id {value!r} must be a valid id starting with {DEVICE_PREFIX!r}")
    return value


def fleet_manager_identity(instance: str) -> str:
    return require_segment(f"{FLEET_MANAGER_PREFIX}{instance}", "fleet manager identity")


def bridge_identity(region: str) -> str:
    """CN of the fleet broker's bridge client on the responder broker of ``region``."""
    return require_segment(f"{BRIDGE_PREFIX}{region}", "bridge identity")


def responder_identity(region: str, name: str) -> str:
    return require_segment(f"{RESPONDER_PREFIX}{region}-{name}", "responder identity")
