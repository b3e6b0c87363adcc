"""Requests from the console and the API to the fleet manager (see ``schema.console_requests``).

The API submits; a fleet manager instance claims (an UPDATE that only one instance can win),
applies, and finishes with an outcome the API can show. Nothing here decides anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, get_args

import sqlalchemy as sa

from fleet_manager.store.schema import console_requests

RequestKind = Literal["ack", "resolve", "note", "identify", "drill"]
REQUEST_KINDS: tuple[RequestKind, ...] = get_args(RequestKind)
INCIDENT_REQUESTS: frozenset[str] = frozenset({"ack", "resolve", "note"})
RequestState = Literal["queued", "claimed", "done", "refused"]


@dataclass(frozen=True)
class ConsoleRequest:
    request_id: str
    kind: str
    target: str
    actor: str
    note: str | None
    created_at: float
    state: str
    claimed_by: str | None
    done_at: float | None
    outcome: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "target": self.target,
            "actor": self.actor,
            "state": self.state,
            "created_at": self.created_at,
            "done_at": self.done_at,
            "outcome": self.outcome,
        }


def submit(
    conn: sa.Connection,
    kind: RequestKind,
    target: str,
    actor: str,
    now: float,
    note: str | None = None,
) -> str:
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown request kind {kind!r}")
    request_id = uuid.uuid4().hex
    conn.execute(
        console_requests.insert().values(
            request_id=request_id,
            kind=kind,
            target=target,
            actor=actor[:64],
            note=note,
            created_at=now,
            state="queued",
        )
    )
    return request_id


def get(conn: sa.Connection, request_id: str) -> ConsoleRequest | None:
    row = conn.execute(
        sa.select(console_requests).where(console_requests.c.request_id == request_id)
    ).first()
    return None if row is None else ConsoleRequest(**row._mapping)


def claim_queued(
    engine: sa.Engine,
    instance: str,
    now: float,
    limit: int = 20,
    stale_before: float | None = None,
) -> list[ConsoleRequest]:
    """Claim up to ``limit`` queued requests for ``instance``, oldest first. A request claimed
    by an instance that died before finishing it (claimed before ``stale_before``) is queued
    again by whoever looks next, so none is lost."""
    with engine.begin() as conn:
        if stale_before is not None:
            conn.execute(
                console_requests.update()
                .where(
                    console_requests.c.state == "claimed",
                    console_requests.c.done_at < stale_before,
                )
                .values(state="queued", claimed_by=None)
            )
        ids = list(
            conn.execute(
                sa.select(console_requests.c.request_id)
                .where(console_requests.c.state == "queued")
                .order_by(console_requests.c.created_at)
                .limit(limit)
            ).scalars()
        )
    claimed = []
    for request_id in ids:
        with engine.begin() as conn:
            # done_at holds the claim time until the request is finished.
            won = conn.execute(
                console_requests.update()
                .where(
                    console_requests.c.request_id == request_id,
                    console_requests.c.state == "queued",
                )
                .values(state="claimed", claimed_by=instance, done_at=now)
            ).rowcount
            if won:
                found = get(conn, request_id)
                if found is not None:
                    claimed.append(found)
    return claimed


def finish(
    conn: sa.Connection, request_id: str, *, refused: bool, outcome: str, now: float
) -> None:
    conn.execute(
        console_requests.update()
        .where(console_requests.c.request_id == request_id)
        .values(state="refused" if refused else "done", outcome=outcome[:200], done_at=now)
    )
