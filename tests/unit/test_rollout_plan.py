"""fleet_manager.rollouts.plan: wave sizes, stable assignment, and a table of reports, ticks and
operator actions with the rollout states and kiosk states they must produce."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from fleet_manager.rollouts.plan import (
    IgnoreReason,
    KioskState,
    OperatorAction,
    Report,
    Rollout,
    RolloutState,
    StateCounts,
    Transition,
    WaveSize,
    apply_operator,
    assign_waves,
    new_rollout,
    parse_waves,
    progress,
    record_report,
    retarget,
    step,
    wave_sizes,
)

V = "2026.11.2"
SEED = "rollout-7"
DEVICES = tuple(f"kiosk-{i:02d}" for i in range(20))
WAVES = parse_waves("1,5,all")  # waves of 1, 4 and 15 kiosks
W = assign_waves(DEVICES, WAVES, SEED)
CANARY = W[0][0]
TIMEOUT = 100.0


def _new(devices: tuple[str, ...] = DEVICES, waves: str = "1,5,all") -> Rollout:
    # 0.75 / 0.25: the second wave (4 kiosks) passes at 3 healthy and pauses at 2 failures.
    return new_rollout("r1", V, devices, parse_waves(waves), 0.75, 0.25, TIMEOUT, SEED, 0.0)


# A step: ("step", t) | ("applied" | "healthy", device, t) | ("failed", device, t, reason)
# | ("op", action, t).
Step = tuple[Any, ...]


def _apply(rollout: Rollout, s: Step) -> Transition:
    if s[0] == "step":
        return step(rollout, s[1])
    if s[0] == "op":
        return apply_operator(rollout, s[1], "ana", s[2])
    reason = s[3] if len(s) > 3 else None
    return record_report(rollout, Report(s[0], s[1], V, s[2], reason))


def _run(steps: list[Step], rollout: Rollout | None = None) -> Transition:
    result = Transition(rollout or _new())
    for s in steps:
        result = _apply(result.rollout, s)
    return result


def _all(kind: str, devices: tuple[str, ...], t: float) -> list[Step]:
    return [(kind, d, t) for d in devices]


SECOND_WAVE_OPEN: list[Step] = [("step", 0.0), ("healthy", CANARY, 5.0), ("step", 10.0)]
CANARY_FAILED_PAUSED: list[Step] = [("step", 0.0), ("failed", CANARY, 5.0, "disk"), ("step", 6)]
CANARY_TIMED_OUT: list[Step] = [("step", 0.0), ("step", TIMEOUT)]
RESUMED_PAST_CANARY: list[Step] = [*CANARY_FAILED_PAUSED, ("op", "resume", 20.0), ("step", 21.0)]
ALL_WAVES_PASSED: list[Step] = [
    *SECOND_WAVE_OPEN,
    *_all("healthy", W[1], 20.0),
    ("step", 30.0),
    *_all("healthy", W[2][:12], 40.0),
    ("step", 50.0),
]


def test_parse_waves_examples() -> None:
    assert parse_waves("1%,10%,50%,100%") == (
        WaveSize("percent", 1),
        WaveSize("percent", 10),
        WaveSize("percent", 50),
        WaveSize("percent", 100),
    )
    assert parse_waves(" 5 , 50 , ALL ") == (
        WaveSize("count", 5),
        WaveSize("count", 50),
        WaveSize("all"),
    )
    waves = parse_waves("0.5%,12.5%,20,all")
    assert parse_waves(",".join(str(w) for w in waves)) == waves


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "no waves given", id="empty"),
        pytest.param("5,,all", "'' is not a wave size", id="empty-entry"),
        pytest.param("five,all", "'five' is not a wave size", id="word"),
        pytest.param("0,all", "from 1", id="zero-count"),
        pytest.param("0%,all", "above 0%", id="zero-percent"),
        pytest.param("150%", "at most 100%", id="over-100-percent"),
        pytest.param("1%,10%", "last wave must be 'all' or '100%'", id="last-not-all"),
        pytest.param("all,50%", "'all' must be the last wave", id="all-not-last"),
        pytest.param("10%,10%,all", "must grow: '10%' after '10%'", id="not-growing"),
    ],
)
def test_parse_waves_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_waves(text)


@pytest.mark.parametrize(
    ("waves", "devices", "sizes"),
    [
        pytest.param("1%,10%,50%,100%", 1000, (10, 90, 400, 500), id="percent-of-1000"),
        pytest.param("1%,10%,50%,100%", 7, (1, 1, 2, 3), id="percent-rounds-up-min-1"),
        pytest.param("5%,all", 20, (1, 19), id="exact-percent-not-rounded-up"),
        pytest.param("12.3%,all", 1000, (123, 877), id="decimal-percent-read-exactly"),
        pytest.param("1%,10%,50%,100%", 2, (1, 1, 0, 0), id="fewer-kiosks-than-waves"),
        pytest.param("5,50,all", 30, (5, 25, 0), id="counts-capped-by-fleet"),
        pytest.param("5,50,all", 0, (0, 0, 0), id="no-kiosks"),
    ],
)
def test_wave_sizes(waves: str, devices: int, sizes: tuple[int, ...]) -> None:
    assert wave_sizes(parse_waves(waves), devices) == sizes
    assert sum(sizes) == devices


def test_assignment_ranks_by_sha256_of_seed_and_id() -> None:
    ranked = sorted(DEVICES, key=lambda d: hashlib.sha256((SEED + d).encode()).hexdigest())
    assert tuple(d for wave in W for d in wave) == tuple(ranked)
    assert W[0] != DEVICES[:1] and W[1] != DEVICES[1:5]  # a spread, not alphabetical


def test_assignment_is_deterministic_and_seeded() -> None:
    assert assign_waves(reversed(DEVICES), WAVES, SEED) == W
    assert assign_waves(DEVICES, WAVES, "another-seed") != W


def test_retarget_keeps_every_kiosk_in_its_wave() -> None:
    started = _run(SECOND_WAVE_OPEN).rollout
    removed = W[2][0]
    newcomers = tuple(f"kiosk-{i:02d}" for i in range(20, 60))
    result = retarget(started, tuple(d for d in DEVICES if d != removed) + newcomers, 20.0)
    after = result.rollout
    for kiosk in started.kiosks:
        if kiosk.device_id != removed:
            assert after.kiosk(kiosk.device_id) == kiosk
    assert after.kiosk(removed) is None
    assert {k.device_id for k in after.kiosks} == (set(DEVICES) - {removed}) | set(newcomers)
    assert result.events[0].detail == {"added": list(newcomers), "removed": [removed]}
    # Newcomers ranked into an open wave are notified by the next tick.
    early = [k.device_id for k in after.kiosks if k.device_id in newcomers and k.wave < 2]
    assert step(after, 21.0).notify == tuple(sorted(early))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"waves": ()}, "at least one wave", id="no-waves"),
        pytest.param({"waves": (WaveSize("count", 5),)}, "last wave", id="last-not-all"),
        pytest.param({"success_threshold": 0.0}, "success_threshold", id="success-zero"),
        pytest.param({"error_threshold": 1.5}, "error_threshold", id="error-above-one"),
        pytest.param({"error_threshold": 0.1}, "neither pass nor pause", id="dead-zone"),
        pytest.param({"timeout_s": 0.0}, "timeout_s", id="no-timeout"),
        pytest.param({"devices": ("a", "b", "a")}, "repeated: a", id="duplicate-device"),
    ],
)
def test_new_rollout_refuses_bad_plans(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "rollout_id": "r1",
        "version": V,
        "devices": DEVICES,
        "waves": WAVES,
        "success_threshold": 0.95,
        "error_threshold": 0.05,
        "timeout_s": TIMEOUT,
        "seed": SEED,
        "now": 0.0,
    }
    with pytest.raises(ValueError, match=message):
        new_rollout(**{**args, **change})


def test_rollout_without_kiosks_completes_at_once() -> None:
    empty = _new(devices=())
    assert (empty.state, empty.finished_at) == ("completed", 0.0)
    assert step(empty, 1.0) == Transition(empty)
    assert progress(empty).percent_healthy == 100.0
    assert apply_operator(empty, "pause", "ana", 1.0).refused


SCENARIOS = [
    pytest.param([("step", 0.0)], "running", 1, {CANARY: "notified"}, id="first-tick-canary"),
    pytest.param(
        [("step", 0.0), ("applied", CANARY, 5.0), ("step", 10.0)],
        "running",
        1,
        {CANARY: "applied"},
        id="applied-is-not-healthy",
    ),
    pytest.param(SECOND_WAVE_OPEN, "running", 2, {W[1][0]: "notified"}, id="canary-passes"),
    pytest.param(CANARY_FAILED_PAUSED, "paused", 1, {CANARY: "failed"}, id="canary-fails"),
    pytest.param(
        [*SECOND_WAVE_OPEN, *_all("healthy", W[1][:3], 20.0), ("step", 30.0)],
        "running",
        3,
        {W[1][3]: "notified", W[2][0]: "notified"},
        id="passes-at-success-threshold",
    ),
    pytest.param(
        [
            *SECOND_WAVE_OPEN,
            *_all("healthy", W[1][:2], 20),
            ("failed", W[1][2], 20, "sig"),
            ("step", 30),
        ],
        "running",
        2,
        {W[1][2]: "failed", W[1][3]: "notified"},
        id="one-failure-tolerated-waits",
    ),
    pytest.param(
        [*SECOND_WAVE_OPEN, *_all("failed", W[1][:2], 20.0), ("step", 30.0)],
        "paused",
        2,
        {W[1][0]: "failed", W[2][0]: "pending"},
        id="error-threshold-pauses",
    ),
    pytest.param(
        [*SECOND_WAVE_OPEN, ("step", 10.0 + TIMEOUT - 0.1)],
        "running",
        2,
        {W[1][0]: "notified"},
        id="no-timeout-before-deadline",
    ),
    pytest.param(
        [*SECOND_WAVE_OPEN, ("applied", W[1][0], 20.0), ("step", 10.0 + TIMEOUT)],
        "paused",
        2,
        {W[1][0]: "timed_out", W[1][3]: "timed_out"},
        id="silent-and-applied-time-out",
    ),
    pytest.param(
        [*CANARY_TIMED_OUT, ("healthy", CANARY, 150.0), ("step", 160.0)],
        "paused",
        1,
        {CANARY: "healthy"},
        id="late-healthy-counts-pause-stays",
    ),
    pytest.param(
        [*CANARY_TIMED_OUT, ("healthy", CANARY, 150.0), ("op", "resume", 155.0), ("step", 160)],
        "running",
        2,
        {CANARY: "healthy"},
        id="late-healthy-rejudged-after-resume",
    ),
    pytest.param(
        [("healthy", W[1][0], 1.0), *SECOND_WAVE_OPEN],
        "running",
        2,
        {W[1][0]: "healthy", W[1][1]: "notified"},
        id="healthy-while-pending-counts",
    ),
    pytest.param(
        [*_all("healthy", W[1][:3], 1.0), *SECOND_WAVE_OPEN],
        "running",
        3,
        {W[1][3]: "notified", W[2][0]: "notified"},
        id="already-healthy-wave-passes-same-tick",
    ),
    pytest.param(
        ALL_WAVES_PASSED,
        "completed",
        3,
        {W[2][14]: "notified"},
        id="last-wave-passes-completes",
    ),
    pytest.param(
        [("step", 0.0), ("op", "pause", 1.0), ("healthy", CANARY, 5.0), ("step", 10.0)],
        "paused",
        1,
        {CANARY: "healthy"},
        id="operator-pause-holds-waves",
    ),
    pytest.param(
        RESUMED_PAST_CANARY,
        "running",
        2,
        {CANARY: "failed", W[1][0]: "notified"},
        id="resume-sets-failure-aside",
    ),
    pytest.param(
        [*RESUMED_PAST_CANARY, *_all("failed", W[1][:2], 30.0), ("step", 40.0)],
        "paused",
        2,
        {CANARY: "failed", W[1][1]: "failed"},
        id="new-failures-after-resume-pause",
    ),
    pytest.param(
        [("step", 0.0), ("op", "abort", 1.0), ("healthy", CANARY, 5.0), ("step", 10.0)],
        "aborted",
        1,
        {CANARY: "healthy", W[1][0]: "pending"},
        id="abort-stops-waves-reports-recorded",
    ),
    pytest.param(
        [("step", 0.0), ("failed", CANARY, 5.0), ("healthy", CANARY, 6.0), ("step", 10.0)],
        "running",
        2,
        {CANARY: "healthy"},
        id="healthy-after-failed-wins",
    ),
    pytest.param(
        [("step", 0.0), ("healthy", CANARY, 5.0), ("failed", CANARY, 6.0), ("step", 10.0)],
        "paused",
        1,
        {CANARY: "failed"},
        id="failed-after-healthy-wins",
    ),
]


@pytest.mark.parametrize(("steps", "state", "open_waves", "kiosks"), SCENARIOS)
def test_rollout_scenario(
    steps: list[Step], state: RolloutState, open_waves: int, kiosks: dict[str, KioskState]
) -> None:
    rollout = _run(steps).rollout
    assert (rollout.state, rollout.open_waves) == (state, open_waves)
    assert {d: k.state for d, k in ((d, rollout.kiosk(d)) for d in kiosks) if k} == kiosks


def test_step_notifies_each_wave_once() -> None:
    first = step(_new(), 0.0)
    assert first.notify == (CANARY,)
    assert [e.event for e in first.events] == ["wave_opened"]
    assert step(first.rollout, 1.0) == Transition(first.rollout)
    second = _run([("healthy", CANARY, 5.0), ("step", 10.0)], first.rollout)
    assert second.notify == tuple(sorted(W[1]))
    pending = first.rollout.kiosk(W[1][0])
    assert pending is not None and pending.state == "pending"
    assert second.rollout.kiosk(W[1][0]) == replace(pending, state="notified", notified_at=10.0)


def test_threshold_pause_records_why_with_numbers() -> None:
    steps = [*SECOND_WAVE_OPEN, ("failed", W[1][0], 20.0, "disk full"), ("step", 10.0 + TIMEOUT)]
    result = _run(steps)
    pause = result.rollout.pause
    assert pause is not None
    assert (pause.by, pause.actor, pause.at, pause.wave) == ("threshold", "system", 110.0, 1)
    assert (pause.failed, pause.timed_out, pause.judged) == (1, 3, 4)
    assert pause.reason == (
        "wave 2 of 3: 4 of 4 kiosks failed (1) or timed out (3), "
        "more than the error threshold of 25%"
    )
    assert [e.event for e in result.events] == ["timed_out", "paused"]
    assert result.events[0].detail == {"devices": sorted(W[1][1:])}
    silent = result.rollout.kiosk(W[1][1])
    assert silent is not None and silent.reason == "no healthy report 100s after notice"


@pytest.mark.parametrize(
    ("steps", "report", "reason"),
    [
        pytest.param(
            [("step", 0.0)],
            Report("healthy", CANARY, "2026.11.1", 5.0),
            "other_version",
            id="other-version",
        ),
        pytest.param(
            [("step", 0.0)],
            Report("healthy", "kiosk-99", V, 5.0),
            "unknown_device",
            id="not-in-rollout",
        ),
        pytest.param(
            [("step", 0.0), ("applied", CANARY, 5.0)],
            Report("applied", CANARY, V, 3.0),
            "stale",
            id="older-than-last-report",
        ),
        pytest.param(
            [("step", 0.0), ("healthy", CANARY, 5.0)],
            Report("healthy", CANARY, V, 6.0),
            "duplicate",
            id="duplicate",
        ),
        pytest.param(
            [("step", 0.0), ("healthy", CANARY, 5.0)],
            Report("applied", CANARY, V, 6.0),
            "not_applicable",
            id="applied-after-healthy",
        ),
        pytest.param(
            [], Report("failed", CANARY, V, 6.0, "x"), "not_applicable", id="failed-while-pending"
        ),
    ],
)
def test_ignored_reports_change_nothing(
    steps: list[Step], report: Report, reason: IgnoreReason
) -> None:
    before = _run(steps).rollout
    result = record_report(before, report)
    assert result.rollout is before
    assert result.ignored is not None and result.ignored.reason == reason
    assert result.ignored.message
    assert (result.notify, result.events) == ((), ())


@pytest.mark.parametrize(
    ("steps", "action", "state", "refused"),
    [
        pytest.param([("step", 0.0)], "pause", "paused", None, id="pause-running"),
        pytest.param([("step", 0.0)], "resume", "running", "not paused", id="resume-running"),
        pytest.param(CANARY_FAILED_PAUSED, "pause", "paused", "already paused", id="pause-twice"),
        pytest.param(CANARY_FAILED_PAUSED, "resume", "running", None, id="resume-threshold"),
        pytest.param(CANARY_FAILED_PAUSED, "abort", "aborted", None, id="abort-paused"),
        pytest.param(
            [("step", 0.0), ("op", "abort", 1.0)], "resume", "aborted", "accepts no", id="aborted"
        ),
    ],
)
def test_operator_actions(
    steps: list[Step], action: OperatorAction, state: RolloutState, refused: str | None
) -> None:
    before = _run(steps).rollout
    result = apply_operator(before, action, "ana", 50.0, note="checking")
    assert result.rollout.state == state
    if refused is None:
        assert result.refused is None
        assert result.events[0].actor == "ana"
        assert result.events[0].detail["note"] == "checking"
    else:
        assert result.refused is not None and refused in result.refused
        assert result.rollout is before and result.events == ()


def test_completed_rollout_refuses_every_action() -> None:
    done = _run(ALL_WAVES_PASSED).rollout
    assert done.state == "completed"
    for action in ("pause", "resume", "abort"):
        result = apply_operator(done, action, "ana", 99.0)
        assert result.refused == "rollout r1: it is completed and accepts no further actions"
        assert result.rollout is done
    assert retarget(done, DEVICES[:3], 99.0).refused
    with pytest.raises(ValueError, match="unknown operator action 'skip'"):
        apply_operator(done, "skip", "ana", 99.0)  # type: ignore[arg-type]


def test_resume_keeps_failed_kiosks_failed_and_set_aside() -> None:
    resumed = _run([*CANARY_FAILED_PAUSED, ("op", "resume", 20.0)])
    canary = resumed.rollout.kiosk(CANARY)
    assert canary is not None
    assert (canary.state, canary.reason, canary.excused) == ("failed", "disk", True)
    assert resumed.events[0].detail["set_aside"] == [CANARY]
    assert resumed.rollout.pause is None
    recovered = _run([("healthy", CANARY, 30.0)], resumed.rollout).rollout.kiosk(CANARY)
    assert recovered is not None and not recovered.excused  # a new failure would count again


def test_progress_counts_per_wave_and_state() -> None:
    steps = [*SECOND_WAVE_OPEN, ("applied", W[1][0], 20.0), ("failed", W[1][1], 20.0, "sig")]
    report = progress(_run(steps).rollout)
    assert (report.state, report.current_wave) == ("running", 1)
    assert [(w.size, w.devices, w.opened) for w in report.waves] == [
        ("1", 1, True),
        ("5", 4, True),
        ("all", 15, False),
    ]
    assert report.waves[1].counts == StateCounts(notified=2, applied=1, failed=1)
    assert report.counts == StateCounts(pending=15, notified=2, applied=1, healthy=1, failed=1)
    assert report.percent_healthy == 5.0
    assert json.loads(json.dumps(report.to_dict()))["waves"][0]["counts"]["healthy"] == 1


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([], id="fresh"),
        pytest.param([*SECOND_WAVE_OPEN, ("failed", W[1][0], 20.0, "sig")], id="mid-run"),
        pytest.param([*CANARY_FAILED_PAUSED, ("op", "resume", 20.0)], id="resumed"),
        pytest.param([*SECOND_WAVE_OPEN, ("step", 500.0)], id="paused-by-timeouts"),
    ],
)
def test_json_round_trip(steps: list[Step]) -> None:
    rollout = _run(steps).rollout
    stored = json.dumps(rollout.to_dict())
    assert Rollout.from_dict(json.loads(stored)) == rollout
    assert json.dumps(Rollout.from_dict(json.loads(stored)).to_dict()) == stored


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"format": 2}, "format 2", id="format"),
        pytest.param({"state": "sleeping"}, "rollout state 'sleeping'", id="state"),
        pytest.param({"kiosks": [{"device_id": "a"}]}, "malformed", id="kiosk"),
    ],
)
def test_from_dict_refuses_malformed_records(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rollout.from_dict({**_new().to_dict(), **change})
