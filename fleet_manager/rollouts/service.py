"""Rollouts in the fleet database: start, operator actions, ticks and kiosk reports.

The imperative shell around :mod:`fleet_manager.rollouts.plan`: it resolves which kiosks a
rollout targets (channel, then region / facility / explicit devices), loads the stored record,
asks the pure machine, and writes the result back with an optimistic revision check, so several
fleet managers and an operator's CLI apply each change once. The nudge each channel should
carry comes from :func:`nudge_for`; the fleet manager signs and publishes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.rollouts import plan
from fleet_manager.rollouts.admission import cutoff
from fleet_manager.store import audit_log
from fleet_manager.store.schema import devices, facilities, locations, rollouts
from protocol.content_delivery import ContentNudge, RolloutScope
from transport.log import get_logger

log = get_logger("fleet_manager.rollouts")

ACTIVE = ("running", "paused")
MAX_SAVE_ATTEMPTS = 5


class RolloutError(ValueError):
    """A rollout request that cannot be done; the message is for people."""


@dataclass(frozen=True)
class RolloutRow:
    rollout_id: str
    channel: str
    version: str
    baseline: str | None
    scope: RolloutScope
    rollout: plan.Rollout
    revision: int
    created_by: str
    created_at: float
    updated_at: float


def _row(data: sa.RowMapping) -> RolloutRow:
    return RolloutRow(
        rollout_id=data["rollout_id"],
        channel=data["channel"],
        version=data["version"],
        baseline=data["baseline"],
        scope=RolloutScope.model_validate(data["scope"]),
        rollout=plan.Rollout.from_dict(data["record"]),
        revision=data["revision"],
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
    )


def get(conn: sa.Connection, rollout_id: str) -> RolloutRow | None:
    found = conn.execute(sa.select(rollouts).where(rollouts.c.rollout_id == rollout_id)).first()
    return None if found is None else _row(found._mapping)


def list_rollouts(
    conn: sa.Connection, channel: str | None = None, active_only: bool = False
) -> list[RolloutRow]:
    query = sa.select(rollouts).order_by(rollouts.c.created_at, rollouts.c.rollout_id)
    if channel is not None:
        query = query.where(rollouts.c.channel == channel)
    if active_only:
        query = query.where(rollouts.c.state.in_(ACTIVE))
    return [_row(r._mapping) for r in conn.execute(query)]


def latest_for_channel(conn: sa.Connection, channel: str) -> RolloutRow | None:
    found = list_rollouts(conn, channel)
    return found[-1] if found else None


def target_devices(conn: sa.Connection, channel: str, scope: RolloutScope) -> list[str]:
    """Active, registered kiosks on ``channel`` within ``scope``, sorted."""
    query = (
        sa.select(devices.c.device_id)
        .select_from(devices.join(locations).join(facilities))
        .where(
            devices.c.registered.is_(True),
            devices.c.lifecycle == "active",
            devices.c.channel == channel,
        )
        .order_by(devices.c.device_id)
    )
    if scope.regions:
        query = query.where(facilities.c.region.in_(scope.regions))
    if scope.facilities:
        query = query.where(facilities.c.facility_id.in_(scope.facilities))
    if scope.devices:
        query = query.where(devices.c.device_id.in_(scope.devices))
    return list(conn.execute(query).scalars())


def start(
    engine: sa.Engine,
    *,
    channel: str,
    version: str,
    baseline: str | None,
    scope: RolloutScope,
    waves: Sequence[plan.WaveSize],
    success_threshold: float,
    error_threshold: float,
    timeout_s: float,
    actor: str,
    now: float,
) -> RolloutRow:
    """Create a rollout (one active rollout per channel); its first wave opens at the next tick."""
    rollout_id = "ro-" + secrets.token_hex(6)
    with engine.begin() as conn:
        active = list_rollouts(conn, channel, active_only=True)
        if active:
            raise RolloutError(
                f"rollout {active[0].rollout_id} of {active[0].version} is still"
                f" {active[0].rollout.state} on channel {channel}: finish or abort it first"
            )
        if baseline is None:
            previous = latest_for_channel(conn, channel)
            if previous is not None and previous.rollout.state == "completed":
                baseline = previous.version
        targets = target_devices(conn, channel, scope)
        try:
            rollout = plan.new_rollout(
                rollout_id,
                version,
                targets,
                waves,
                success_threshold,
                error_threshold,
                timeout_s,
                seed=secrets.token_hex(8),
                now=now,
            )
        except ValueError as exc:
            raise RolloutError(str(exc)) from None
        conn.execute(
            rollouts.insert().values(
                rollout_id=rollout_id,
                channel=channel,
                version=version,
                baseline=baseline,
                state=rollout.state,
                scope=scope.model_dump(mode="json"),
                record=rollout.to_dict(),
                revision=1,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
        )
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action="rollout.started",
            subject=rollout_id,
            outcome="ok",
            detail={"channel": channel, "version": version, "kiosks": len(targets)},
        )
        found = get(conn, rollout_id)
    assert found is not None
    log.info("rollout_started", rollout=rollout_id, channel=channel, kiosks=len(targets))
    return found


def _save(conn: sa.Connection, row: RolloutRow, new: plan.Rollout, now: float) -> bool:
    updated = conn.execute(
        rollouts.update()
        .where(rollouts.c.rollout_id == row.rollout_id, rollouts.c.revision == row.revision)
        .values(record=new.to_dict(), state=new.state, revision=row.revision + 1, updated_at=now)
    ).rowcount
    return updated == 1


def _change(
    engine: sa.Engine,
    rollout_id: str,
    change: Callable[[sa.Connection, RolloutRow], plan.Transition],
    now: float,
) -> tuple[RolloutRow, plan.Transition]:
    """Apply ``change`` to the stored rollout, retrying if someone else wrote it meanwhile."""
    for _ in range(MAX_SAVE_ATTEMPTS):
        with engine.begin() as conn:
            row = get(conn, rollout_id)
            if row is None:
                raise RolloutError(f"no rollout {rollout_id!r}")
            transition = change(conn, row)
            if transition.rollout == row.rollout:
                return row, transition
            if _save(conn, row, transition.rollout, now):
                for event in transition.events:
                    log.info(
                        "rollout_event", rollout=rollout_id, what=event.event, actor=event.actor
                    )
                saved = get(conn, rollout_id)
                assert saved is not None
                return saved, transition
    raise RolloutError(f"rollout {rollout_id} kept changing under us; try again")


def operate(
    engine: sa.Engine, rollout_id: str, action: plan.OperatorAction, actor: str, now: float
) -> RolloutRow:
    def act(conn: sa.Connection, row: RolloutRow) -> plan.Transition:
        transition = plan.apply_operator(row.rollout, action, actor, now)
        audit_log.record(
            conn,
            at=now,
            actor=actor,
            action=f"rollout.{action}",
            subject=rollout_id,
            outcome="refused" if transition.refused else "ok",
            detail={"why": transition.refused} if transition.refused else {},
        )
        if transition.refused:
            raise RolloutError(f"cannot {action} {rollout_id}: {transition.refused}")
        return transition

    row, _ = _change(engine, rollout_id, act, now)
    return row


def tick(engine: sa.Engine, now: float) -> list[RolloutRow]:
    """Follow each active rollout's target set, time kiosks out, open or pause waves."""
    with engine.connect() as conn:
        active = [r.rollout_id for r in list_rollouts(conn, active_only=True)]
    result = []
    for rollout_id in active:

        def advance(conn: sa.Connection, row: RolloutRow) -> plan.Transition:
            targets = target_devices(conn, row.channel, row.scope)
            moved = plan.retarget(row.rollout, targets, now)
            stepped = plan.step(moved.rollout, now)
            return plan.Transition(stepped.rollout, stepped.notify, moved.events + stepped.events)

        row, _ = _change(engine, rollout_id, advance, now)
        result.append(row)
    return result


REPORT_KINDS: dict[str, plan.ReportKind] = {
    "content_applied": "applied",
    "content_healthy": "healthy",
    "content_failed": "failed",
    "content_rolled_back": "failed",
}


@dataclass(frozen=True)
class KioskEvent:
    """A content event as a kiosk sent it (``content_applied`` …, with its detail)."""

    device_id: str
    event: str
    detail: dict[str, Any]
    at: float


def _as_report(item: KioskEvent) -> plan.Report | None:
    kind = REPORT_KINDS.get(item.event)
    version = item.detail.get("version")
    if kind is None or not isinstance(version, str):
        return None
    reason = item.detail.get("reason")
    return plan.Report(
        kind, item.device_id, version, item.at, str(reason)[:200] if reason is not None else None
    )


def record_reports(engine: sa.Engine, items: Sequence[KioskEvent], now: float) -> list[str | None]:
    """Apply kiosks' content events to their channels' active rollouts, each rollout loaded and
    saved once for the whole batch (a fleet reports thousands at once). For each item: the
    reason it was ignored (for a counter), or None if it counted."""
    reports = [_as_report(item) for item in items]
    outcome: list[str | None] = ["not_a_report" if r is None else None for r in reports]
    ids = sorted({r.device_id for r in reports if r is not None})
    if not ids:
        return outcome
    with engine.connect() as conn:
        channel_of = dict(
            conn.execute(
                sa.select(devices.c.device_id, devices.c.channel).where(
                    devices.c.device_id.in_(ids)
                )
            ).all()
        )
        active = {
            row.channel: row.rollout_id
            for row in list_rollouts(conn, active_only=True)
            if row.channel in set(channel_of.values())
        }
    batches: dict[str, list[int]] = {}
    for i, report in enumerate(reports):
        if report is None:
            continue
        rollout_id = active.get(channel_of.get(report.device_id, ""))
        if rollout_id is None:
            outcome[i] = "no_active_rollout"
        else:
            batches.setdefault(rollout_id, []).append(i)
    for rollout_id, indexes in batches.items():

        def apply_all(
            _conn: sa.Connection, row: RolloutRow, indexes: list[int] = indexes
        ) -> plan.Transition:
            rollout = row.rollout
            events: list[plan.RolloutEvent] = []
            for i in indexes:
                report = reports[i]
                assert report is not None
                transition = plan.record_report(rollout, report)
                rollout = transition.rollout
                events.extend(transition.events)
                outcome[i] = transition.ignored.reason if transition.ignored else None
            return plan.Transition(rollout, events=tuple(events))

        _change(engine, rollout_id, apply_all, now)
    return outcome


def record_report(
    engine: sa.Engine, device_id: str, event: str, detail: dict[str, Any], at: float, now: float
) -> str | None:
    """One kiosk event (see :func:`record_reports`)."""
    return record_reports(engine, [KioskEvent(device_id, event, detail, at)], now)[0]


def nudge_for(row: RolloutRow, now: float) -> ContentNudge:
    return ContentNudge(
        channel=row.channel,
        version=row.version,
        baseline=row.baseline,
        rollout_id=row.rollout_id,
        seed=row.rollout.seed,
        cutoff=cutoff(row.rollout),
        scope=row.scope,
        issued=now,
    )
