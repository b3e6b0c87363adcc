"""The routing policy as edited in the console: every saved version kept, the highest in force.

Table ``routing_policies`` holds each saved version (YAML text, who, when). Without any row the
policy file named in the fleet config is in force; it is "version 0", and the first console
edit starts from it. A save names the version it was edited from (``base_version``): if someone
saved meanwhile it is refused (:class:`PolicyConflict`) instead of silently overwriting their
change, and a policy that does not load is refused before anything is written
(:class:`PolicyInvalid`, with the loader's message naming the route and field).

The fleet manager asks :func:`current_version` (one indexed query) to notice a new version and
then loads it with :func:`current`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from fleet_manager.routing.policy import PolicyError, RoutingPolicy, load_policy
from fleet_manager.store import audit_log
from fleet_manager.store.schema import routing_policies
from transport.log import get_logger

log = get_logger("fleet_manager.routing")

MAX_POLICY_CHARS = 64 * 1024
FILE_ACTOR = "file"


class PolicyInvalid(ValueError):
    """The policy does not load; the message says what is wrong and where."""


class PolicyConflict(ValueError):
    """Someone saved another version since the one this edit started from."""

    def __init__(self, base_version: int, current_version: int) -> None:
        super().__init__(
            f"the policy was saved as version {current_version} since you opened version"
            f" {base_version}: reload it and apply your change again"
        )
        self.base_version = base_version
        self.current_version = current_version


@dataclass(frozen=True)
class StoredPolicy:
    version: int  # 0: the file named in the fleet config (nothing saved from the console yet)
    policy_yaml: str
    saved_by: str  # an audit actor ("user:olga"), or "file"
    saved_at: float | None  # None when the file cannot be read


def current_version(conn: sa.Connection) -> int:
    """The version in force (0 while only the config file exists). Cheap: for polling."""
    found = conn.execute(sa.select(sa.func.max(routing_policies.c.version))).scalar()
    return int(found) if found is not None else 0


def get_version(conn: sa.Connection, version: int) -> StoredPolicy | None:
    row = conn.execute(
        sa.select(routing_policies).where(routing_policies.c.version == version)
    ).first()
    if row is None:
        return None
    return StoredPolicy(row.version, row.policy_yaml, row.saved_by, row.saved_at)


def from_file(fallback_file: Path | None) -> StoredPolicy:
    """Version 0: the policy file (empty text if there is none or it cannot be read, which
    :func:`parse` then reports)."""
    if fallback_file is None:
        return StoredPolicy(0, "", FILE_ACTOR, None)
    try:
        text = fallback_file.read_text(encoding="utf-8")
        mtime: float | None = fallback_file.stat().st_mtime
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("routing_policy_file_unreadable", path=str(fallback_file), problem=str(exc))
        return StoredPolicy(0, "", FILE_ACTOR, None)
    return StoredPolicy(0, text, FILE_ACTOR, mtime)


def current(conn: sa.Connection, fallback_file: Path | None) -> StoredPolicy:
    """The policy in force: the highest saved version, else the config's policy file."""
    row = conn.execute(
        sa.select(routing_policies).order_by(routing_policies.c.version.desc()).limit(1)
    ).first()
    if row is None:
        return from_file(fallback_file)
    return StoredPolicy(row.version, row.policy_yaml, row.saved_by, row.saved_at)


def parse(policy_yaml: str, source: str = "policy") -> RoutingPolicy:
    """Load the text as a policy, or :class:`PolicyInvalid` saying what and where."""
    if len(policy_yaml) > MAX_POLICY_CHARS:
        raise PolicyInvalid(f"{source}: longer than {MAX_POLICY_CHARS} characters")
    if not policy_yaml.strip():
        raise PolicyInvalid(f"{source}: is empty")
    try:
        return load_policy(policy_yaml, source)
    except PolicyError as exc:
        raise PolicyInvalid(str(exc)) from None
    except (RecursionError, ValueError, TypeError) as exc:  # pathological YAML
        raise PolicyInvalid(f"{source}: cannot be read ({type(exc).__name__})") from None


def problem(policy_yaml: str, source: str = "policy") -> str | None:
    """Why the text is not a usable policy, or None."""
    try:
        parse(policy_yaml, source)
    except PolicyInvalid as exc:
        return str(exc)
    return None


def save(
    conn: sa.Connection, policy_yaml: str, base_version: int, actor: str, now: float
) -> StoredPolicy:
    """Store ``policy_yaml`` as the next version, in the caller's transaction.

    Refused with :class:`PolicyInvalid` if it does not load, :class:`PolicyConflict` if the
    version in force is not ``base_version``. Two savers racing from the same base: the
    primary key lets one insert and the other gets :class:`PolicyConflict`.
    """
    parse(policy_yaml)
    old = current_version(conn)
    if base_version != old:
        raise PolicyConflict(base_version, old)
    new = old + 1
    try:
        with conn.begin_nested():
            conn.execute(
                routing_policies.insert().values(
                    version=new, policy_yaml=policy_yaml, saved_by=actor, saved_at=now
                )
            )
    except sa.exc.IntegrityError:
        raise PolicyConflict(base_version, current_version(conn)) from None
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="routing.saved",
        subject=f"routing-policy/{new}",
        outcome="ok",
        detail={
            "old_version": old,
            "new_version": new,
            "sha256": hashlib.sha256(policy_yaml.encode()).hexdigest(),
        },
    )
    log.info("routing_policy_saved", version=new, actor=actor)
    return StoredPolicy(new, policy_yaml, actor, now)
