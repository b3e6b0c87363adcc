"""Staged content rollouts as a pure state machine: waves of kiosks move to one content version.

The fleet manager restarts, runs more than once and sees MQTT reports twice, so every decision is
a function of the stored :class:`Rollout`, the report or action at hand and the time the caller
passes in. The shell stores ``Rollout.to_dict()`` in a JSON column, sends the notifications a
:class:`Transition` lists and logs its events; it never decides.

Waves are running totals (``1%,10%,50%,100%`` or ``5,50,all``): wave k adds the kiosks ranked
after wave k-1's total up to its own. Percentages round up, each wave takes at least one kiosk
while any remain and the last wave is everyone, so with few kiosks later waves may be empty (an
empty wave passes at once). Kiosks are ranked by ``sha256(seed + device_id)`` so the canary is a
spread, not the alphabetically first; the wave is stored per kiosk and :func:`retarget` never
moves a kiosk already in the rollout.

Only the newest open wave is judged, by :func:`step`: it pauses the rollout when its failures and
timeouts exceed ``error_threshold`` of it, else it opens the next wave once ``success_threshold``
of it reported HEALTHY (applied is not enough). A kiosk without a healthy report ``timeout_s``
after being notified is timed out. Reports are facts, recorded in every rollout state, and the
kiosk's newest report wins: a kiosk that timed out or failed and later reports healthy counts
healthy, and the next step judges the wave again. Only the operator lifts a pause; resuming sets
the failures seen so far aside (they stay failed, but count neither for nor against their wave).

    (new) ─step─▶ running ─wave passes─▶ running, next wave ─last wave passes─▶ completed
    running ─too many failures, or operator pause─▶ paused ─operator resume─▶ running
    running | paused ─operator abort─▶ aborted;   completed | aborted refuse every action

Wave indices in data are 0-based; text for people says "wave 1 of 4".
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

from fleet_manager.rollouts.waves import (
    WaveKind,
    WaveSize,
    assign_waves,
    check_waves,
    exact,
    parse_waves,
    rank_key,
    wave_sizes,
)

__all__ = [
    "IgnoreReason",
    "IgnoredReport",
    "KioskState",
    "KioskStatus",
    "OperatorAction",
    "Pause",
    "Progress",
    "Report",
    "ReportKind",
    "Rollout",
    "RolloutEvent",
    "RolloutState",
    "StateCounts",
    "Transition",
    "WaveKind",
    "WaveProgress",
    "WaveSize",
    "apply_operator",
    "assign_waves",
    "new_rollout",
    "parse_waves",
    "progress",
    "rank_key",
    "record_report",
    "retarget",
    "step",
    "wave_sizes",
]

RolloutState = Literal["running", "paused", "completed", "aborted"]
KioskState = Literal["pending", "notified", "applied", "healthy", "failed", "timed_out"]
ReportKind = Literal["applied", "healthy", "failed"]
OperatorAction = Literal["pause", "resume", "abort"]
IgnoreReason = Literal["other_version", "unknown_device", "stale", "duplicate", "not_applicable"]

RECORD_FORMAT = 1
_IN_PROGRESS = ("notified", "applied")
_BAD = ("failed", "timed_out")
# The kiosk states each report may follow; the newest word from a kiosk wins, except that
# "applied" is progress, not a verdict, and never overrides one.
_ACCEPTED_AFTER: dict[ReportKind, tuple[KioskState, ...]] = {
    "applied": ("notified",),
    "healthy": ("pending", "notified", "applied", "failed", "timed_out"),
    "failed": ("notified", "applied", "healthy", "timed_out"),
}


@dataclass(frozen=True)
class KioskStatus:
    device_id: str
    wave: int
    state: KioskState = "pending"
    notified_at: float | None = None
    reported_at: float | None = None  # the kiosk's own time of its newest accepted report
    reason: str | None = None  # why it failed or timed out
    excused: bool = False  # failed when the operator resumed: set aside from judging


@dataclass(frozen=True)
class Pause:
    by: Literal["threshold", "operator"]
    actor: str  # "system" or the operator
    at: float
    wave: int | None
    reason: str
    failed: int = 0
    timed_out: int = 0
    judged: int = 0  # kiosks of the wave that were judged (set-aside ones excluded)


@dataclass(frozen=True)
class Rollout:
    """One rollout. ``open_waves`` waves have been opened (0 before the first :func:`step`);
    ``kiosks`` is sorted by device id."""

    rollout_id: str
    version: str
    seed: str
    waves: tuple[WaveSize, ...]
    success_threshold: float
    error_threshold: float
    timeout_s: float
    created_at: float
    state: RolloutState
    open_waves: int
    kiosks: tuple[KioskStatus, ...]
    pause: Pause | None = None
    finished_at: float | None = None

    @property
    def current_wave(self) -> int | None:
        return self.open_waves - 1 if self.open_waves else None

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "aborted")

    def kiosk(self, device_id: str) -> KioskStatus | None:
        i = bisect_left(self.kiosks, device_id, key=lambda k: k.device_id)
        found = i < len(self.kiosks) and self.kiosks[i].device_id == device_id
        return self.kiosks[i] if found else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` reads it back equal."""
        data = asdict(self)
        data["waves"] = [str(w) for w in self.waves]
        data["kiosks"] = [asdict(k) for k in self.kiosks]
        return {"format": RECORD_FORMAT, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rollout:
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"rollout record format {data.get('format')!r} is not {RECORD_FORMAT}")
        try:
            fields = {k: v for k, v in data.items() if k != "format"}
            kiosks = tuple(
                sorted((KioskStatus(**k) for k in fields.pop("kiosks")), key=lambda k: k.device_id)
            )
            waves = parse_waves(",".join(fields.pop("waves")))
            pause = fields.pop("pause")
            rollout = cls(
                **fields,
                waves=waves,
                kiosks=kiosks,
                pause=None if pause is None else Pause(**pause),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"rollout record is malformed: {exc}") from None
        _one_of(rollout.state, RolloutState, "rollout state")
        for kiosk in kiosks:
            _one_of(kiosk.state, KioskState, f"state of {kiosk.device_id}")
        return rollout


@dataclass(frozen=True)
class Report:
    """A kiosk's word on a content version: applied, healthy, or failed (with its reason)."""

    kind: ReportKind
    device_id: str
    version: str
    at: float
    reason: str | None = None


@dataclass(frozen=True)
class RolloutEvent:
    at: float
    event: str  # wave_opened, timed_out, paused, resumed, completed, aborted, retargeted, a report
    actor: str  # "system", a kiosk id, or the operator
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IgnoredReport:
    reason: IgnoreReason
    message: str


@dataclass(frozen=True)
class Transition:
    """The rollout after a report, tick or action, and what the shell should do about it."""

    rollout: Rollout
    notify: tuple[str, ...] = ()  # kiosks to tell to fetch the version now
    events: tuple[RolloutEvent, ...] = ()
    ignored: IgnoredReport | None = None  # a report that changed nothing, for counting
    refused: str | None = None  # an action that does not apply, for the operator


@dataclass(frozen=True)
class StateCounts:
    pending: int = 0
    notified: int = 0
    applied: int = 0
    healthy: int = 0
    failed: int = 0
    timed_out: int = 0


@dataclass(frozen=True)
class WaveProgress:
    wave: int
    size: str  # as planned: "10%", "50", "all"
    devices: int
    opened: bool
    counts: StateCounts


@dataclass(frozen=True)
class Progress:
    rollout_id: str
    version: str
    state: RolloutState
    current_wave: int | None
    waves: tuple[WaveProgress, ...]
    counts: StateCounts
    percent_healthy: float  # 100.0 for a rollout without kiosks: nothing is left to update
    pause: Pause | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_rollout(
    rollout_id: str,
    version: str,
    devices: Sequence[str],
    waves: Sequence[WaveSize],
    success_threshold: float,
    error_threshold: float,
    timeout_s: float,
    seed: str,
    now: float,
) -> Rollout:
    """A rollout with no wave open yet (the first :func:`step` opens the canary), or completed at
    once when there are no kiosks. Bad plans are programmer errors: ValueError."""
    waves = tuple(waves)
    check_waves(waves)
    if not 0 < success_threshold <= 1:
        raise ValueError(
            f"success_threshold must be above 0 and at most 1, not {success_threshold}"
        )
    if not 0 <= error_threshold <= 1:
        raise ValueError(f"error_threshold must be from 0 to 1, not {error_threshold}")
    if exact(success_threshold) + exact(error_threshold) > 1:
        raise ValueError(
            f"error_threshold {error_threshold} is above 1 - success_threshold: a wave with "
            "failures between the two could neither pass nor pause"
        )
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, not {timeout_s}")
    members = assign_waves(_unique(devices), waves, seed)
    kiosks = tuple(
        sorted(
            (KioskStatus(d, wave) for wave, ids in enumerate(members) for d in ids),
            key=lambda k: k.device_id,
        )
    )
    return Rollout(
        rollout_id=rollout_id,
        version=version,
        seed=seed,
        waves=waves,
        success_threshold=success_threshold,
        error_threshold=error_threshold,
        timeout_s=timeout_s,
        created_at=now,
        state="running" if kiosks else "completed",
        open_waves=0 if kiosks else len(waves),
        kiosks=kiosks,
        finished_at=None if kiosks else now,
    )


def record_report(rollout: Rollout, report: Report) -> Transition:
    """Record one kiosk report. A report that changes nothing returns the rollout unchanged with
    ``ignored`` set. The wave is judged at the next :func:`step`, not here."""
    if report.version != rollout.version:
        msg = f"report is for {report.version}; rollout {rollout.rollout_id} is {rollout.version}"
        return _ignore(rollout, "other_version", msg)
    kiosk = rollout.kiosk(report.device_id)
    if kiosk is None:
        msg = f"{report.device_id} is not in rollout {rollout.rollout_id}"
        return _ignore(rollout, "unknown_device", msg)
    if kiosk.reported_at is not None and report.at < kiosk.reported_at:
        msg = f"report from {report.at} is older than the kiosk's last one ({kiosk.reported_at})"
        return _ignore(rollout, "stale", msg)
    if kiosk.state == report.kind:
        return _ignore(rollout, "duplicate", f"{kiosk.device_id} is already {kiosk.state}")
    if kiosk.state not in _ACCEPTED_AFTER[report.kind]:
        msg = f"{report.kind} does not apply to {kiosk.device_id}, which is {kiosk.state}"
        return _ignore(rollout, "not_applicable", msg)
    reason = (report.reason or "no reason given") if report.kind == "failed" else None
    updated = replace(
        kiosk,
        state=report.kind,
        reported_at=report.at,
        reason=reason,
        excused=kiosk.excused and report.kind != "healthy",
    )
    detail: dict[str, Any] = {"from": kiosk.state}
    if reason:
        detail["reason"] = reason
    event = RolloutEvent(report.at, report.kind, kiosk.device_id, detail)
    return Transition(_with_kiosks(rollout, {kiosk.device_id: updated}), events=(event,))


def step(rollout: Rollout, now: float) -> Transition:
    """The tick: time out silent kiosks, then, while running, notify kiosks of open waves, judge
    the current wave and open the next (several in one tick when later waves are empty or already
    healthy). A tick with nothing due returns the rollout unchanged and no actions."""
    timed_out = {
        k.device_id: replace(
            k, state="timed_out", reason=f"no healthy report {rollout.timeout_s:g}s after notice"
        )
        for k in rollout.kiosks
        if k.state in _IN_PROGRESS
        and k.notified_at is not None
        and now >= k.notified_at + rollout.timeout_s
    }
    events: list[RolloutEvent] = []
    notify: list[str] = []
    r = _with_kiosks(rollout, timed_out)
    if timed_out:
        events.append(RolloutEvent(now, "timed_out", "system", {"devices": sorted(timed_out)}))
    if r.state == "running":
        r = _notify_open(r, now, notify)
    while r.state == "running":
        wave = r.current_wave
        if wave is None:
            r = _open_next(r, now, events, notify)
            continue
        judged, healthy, failed, timed = _judge(r, wave)
        if failed + timed > exact(r.error_threshold) * judged:
            reason = (
                f"wave {wave + 1} of {len(r.waves)}: {failed + timed} of {judged} kiosks failed "
                f"({failed}) or timed out ({timed}), more than the error threshold of "
                f"{_percent(r.error_threshold)}"
            )
            pause = Pause("threshold", "system", now, wave, reason, failed, timed, judged)
            r = replace(r, state="paused", pause=pause)
            events.append(RolloutEvent(now, "paused", "system", asdict(pause)))
        elif healthy < exact(r.success_threshold) * judged:
            break
        elif wave == len(r.waves) - 1:
            r = replace(r, state="completed", finished_at=now)
            events.append(RolloutEvent(now, "completed", "system", {"healthy": healthy}))
        else:
            r = _open_next(r, now, events, notify)
    return Transition(r, tuple(notify), tuple(events))


def apply_operator(
    rollout: Rollout, action: OperatorAction, actor: str, now: float, note: str | None = None
) -> Transition:
    """Pause, resume or abort. Misuse (resuming a running rollout, acting on a finished one) is
    refused with a message, not raised; an unknown action is a programmer error (ValueError)."""
    if action not in get_args(OperatorAction):
        raise ValueError(f"unknown operator action {action!r}; use pause, resume or abort")
    if rollout.finished:
        return _refuse(rollout, f"it is {rollout.state} and accepts no further actions")
    detail: dict[str, Any] = {"note": note} if note else {}
    if action == "pause":
        if rollout.pause is not None:
            return _refuse(rollout, f"it is already paused ({rollout.pause.reason})")
        reason = f"paused by {actor}" + (f": {note}" if note else "")
        pause = Pause("operator", actor, now, rollout.current_wave, reason)
        new = replace(rollout, state="paused", pause=pause)
    elif action == "resume":
        if rollout.pause is None:
            return _refuse(rollout, "it is running, not paused")
        aside = {
            k.device_id: replace(k, excused=True)
            for k in rollout.kiosks
            if k.wave < rollout.open_waves and k.state in _BAD and not k.excused
        }
        new = replace(_with_kiosks(rollout, aside), state="running", pause=None)
        detail["set_aside"] = sorted(aside)
    else:
        new = replace(rollout, state="aborted", finished_at=now)
    event = {"pause": "paused", "resume": "resumed", "abort": "aborted"}[action]
    return Transition(new, events=(RolloutEvent(now, event, actor, detail),))


def retarget(rollout: Rollout, devices: Sequence[str], now: float) -> Transition:
    """Follow a recomputed target set without moving anyone: kiosks still targeted keep their wave
    and state, kiosks no longer targeted leave, newcomers take the wave their rank gives them in
    the new set (and are notified at the next running step if that wave is open)."""
    if rollout.finished:
        return _refuse(rollout, f"it is {rollout.state}")
    ids = _unique(devices)
    members = assign_waves(ids, rollout.waves, rollout.seed)
    fresh = {d: wave for wave, in_wave in enumerate(members) for d in in_wave}
    kept = [k for k in rollout.kiosks if k.device_id in fresh]
    known = {k.device_id for k in kept}
    added = sorted(d for d in ids if d not in known)
    removed = sorted(k.device_id for k in rollout.kiosks if k.device_id not in fresh)
    if not added and not removed:
        return Transition(rollout)
    kiosks = sorted([*kept, *(KioskStatus(d, fresh[d]) for d in added)], key=lambda k: k.device_id)
    event = RolloutEvent(now, "retargeted", "system", {"added": added, "removed": removed})
    return Transition(replace(rollout, kiosks=tuple(kiosks)), events=(event,))


def progress(rollout: Rollout) -> Progress:
    """Counts per wave and per state, for ``beacon content rollout status`` and the API."""
    waves = tuple(
        WaveProgress(
            wave=i,
            size=str(size),
            devices=sum(1 for k in rollout.kiosks if k.wave == i),
            opened=i < rollout.open_waves,
            counts=_count(k.state for k in rollout.kiosks if k.wave == i),
        )
        for i, size in enumerate(rollout.waves)
    )
    counts = _count(k.state for k in rollout.kiosks)
    total = len(rollout.kiosks)
    return Progress(
        rollout_id=rollout.rollout_id,
        version=rollout.version,
        state=rollout.state,
        current_wave=rollout.current_wave,
        waves=waves,
        counts=counts,
        percent_healthy=100.0 * counts.healthy / total if total else 100.0,
        pause=rollout.pause,
    )


def _unique(devices: Sequence[str]) -> tuple[str, ...]:
    repeated = sorted(d for d, n in Counter(devices).items() if n > 1)
    if repeated:
        raise ValueError(f"device ids must be unique; repeated: {', '.join(repeated)}")
    return tuple(devices)


def _percent(value: float) -> str:
    return f"{float(exact(value) * 100):g}%"


def _with_kiosks(rollout: Rollout, changed: Mapping[str, KioskStatus]) -> Rollout:
    if not changed:
        return rollout
    kiosks = tuple(changed.get(k.device_id, k) for k in rollout.kiosks)
    return replace(rollout, kiosks=kiosks)


def _notify_open(rollout: Rollout, now: float, notify: list[str]) -> Rollout:
    due = {
        k.device_id: replace(k, state="notified", notified_at=now)
        for k in rollout.kiosks
        if k.state == "pending" and k.wave < rollout.open_waves
    }
    notify.extend(sorted(due))
    return _with_kiosks(rollout, due)


def _open_next(
    rollout: Rollout, now: float, events: list[RolloutEvent], notify: list[str]
) -> Rollout:
    wave = rollout.open_waves
    sent: list[str] = []
    opened = _notify_open(replace(rollout, open_waves=wave + 1), now, sent)
    notify.extend(sent)
    size = sum(1 for k in opened.kiosks if k.wave == wave)
    detail = {"wave": wave, "devices": size, "notified": len(sent)}
    events.append(RolloutEvent(now, "wave_opened", "system", detail))
    return opened


def _judge(rollout: Rollout, wave: int) -> tuple[int, int, int, int]:
    """(judged kiosks, healthy, failed, timed out) of one wave, set-aside kiosks excluded."""
    states = [
        k.state for k in rollout.kiosks if k.wave == wave and not (k.excused and k.state in _BAD)
    ]
    return len(states), states.count("healthy"), states.count("failed"), states.count("timed_out")


def _count(states: Iterable[KioskState]) -> StateCounts:
    seen = Counter(states)
    return StateCounts(**{state: seen[state] for state in get_args(KioskState)})


def _ignore(rollout: Rollout, reason: IgnoreReason, message: str) -> Transition:
    return Transition(rollout, ignored=IgnoredReport(reason, message))


def _refuse(rollout: Rollout, why: str) -> Transition:
    return Transition(rollout, refused=f"rollout {rollout.rollout_id}: {why}")


def _one_of(value: object, options: object, name: str) -> None:
    allowed = get_args(options)
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
