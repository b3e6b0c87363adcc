"""fleet_manager.incidents.escalation: levels, teams, waits and exhaustion, per timer tick."""

from __future__ import annotations

import pytest

from fleet_manager.incidents.escalation import (
    EscalationStatus,
    begin_escalation,
    escalate_if_due,
    stop_escalation,
)
from fleet_manager.routing.policy import EscalationChain, EscalationStep

ONE_STEP = EscalationChain((EscalationStep("ops", 60.0),))
TWO_STEPS = EscalationChain((EscalationStep("onsite", 30.0), EscalationStep("regional", 60.0)))
TWO_STEPS_TWICE = EscalationChain(
    (EscalationStep("onsite", 30.0), EscalationStep("regional", 60.0)), repeat=2
)
ONE_STEP_THRICE = EscalationChain((EscalationStep("ops", 10.0),), repeat=3)
SAME_TEAM_TWICE = EscalationChain(
    (
        EscalationStep("onsite", 10.0),
        EscalationStep("regional", 20.0),
        EscalationStep("onsite", 5.0),
    )
)


def S(
    level: int,
    team: str,
    notified: tuple[str, ...],
    next_at: float | None,
    exhausted: bool = False,
) -> EscalationStatus:
    return EscalationStatus(level, team, notified, next_at, exhausted)


@pytest.mark.parametrize(
    ("chain", "now", "expected"),
    [
        pytest.param(ONE_STEP, 100.0, S(0, "ops", ("ops",), 160.0), id="one-step"),
        pytest.param(TWO_STEPS, 0.0, S(0, "onsite", ("onsite",), 30.0), id="two-steps"),
        pytest.param(TWO_STEPS_TWICE, 5.5, S(0, "onsite", ("onsite",), 35.5), id="repeated"),
    ],
)
def test_begin(chain: EscalationChain, now: float, expected: EscalationStatus) -> None:
    assert begin_escalation(chain, now) == expected


# (chain, begun at, [(timer time, status after it or None when nothing is due)])
SCENARIOS = [
    pytest.param(
        ONE_STEP,
        0.0,
        [
            (59.9, None),
            (60.0, S(0, "ops", ("ops",), None, exhausted=True)),
            (1000.0, None),
        ],
        id="one-step-exhausts-after-its-wait",
    ),
    pytest.param(
        TWO_STEPS,
        0.0,
        [
            (10.0, None),
            (30.0, S(1, "regional", ("onsite", "regional"), 90.0)),
            (89.0, None),
            (90.0, S(1, "regional", ("onsite", "regional"), None, exhausted=True)),
            (500.0, None),
        ],
        id="two-steps-once",
    ),
    pytest.param(
        TWO_STEPS_TWICE,
        0.0,
        [
            (30.0, S(1, "regional", ("onsite", "regional"), 90.0)),
            (90.0, S(2, "onsite", ("onsite", "regional"), 120.0)),
            (120.0, S(3, "regional", ("onsite", "regional"), 180.0)),
            (179.0, None),
            (180.0, S(3, "regional", ("onsite", "regional"), None, exhausted=True)),
        ],
        id="two-steps-repeated-twice",
    ),
    pytest.param(
        ONE_STEP_THRICE,
        0.0,
        [
            (10.0, S(1, "ops", ("ops",), 20.0)),
            (20.0, S(2, "ops", ("ops",), 30.0)),
            (30.0, S(2, "ops", ("ops",), None, exhausted=True)),
        ],
        id="single-team-paged-three-times",
    ),
    pytest.param(
        SAME_TEAM_TWICE,
        0.0,
        [
            (10.0, S(1, "regional", ("onsite", "regional"), 30.0)),
            (30.0, S(2, "onsite", ("onsite", "regional"), 35.0)),
            (35.0, S(2, "onsite", ("onsite", "regional"), None, exhausted=True)),
        ],
        id="team-listed-twice-is-notified-once",
    ),
    pytest.param(
        TWO_STEPS_TWICE,
        0.0,
        [
            # The fleet manager was down: a late timer moves one level only and the next team
            # gets its full wait from now.
            (1000.0, S(1, "regional", ("onsite", "regional"), 1060.0)),
            (1059.0, None),
            (1060.0, S(2, "onsite", ("onsite", "regional"), 1090.0)),
        ],
        id="late-timer-moves-one-level",
    ),
]


@pytest.mark.parametrize(("chain", "begun", "steps"), SCENARIOS)
def test_escalation_scenario(
    chain: EscalationChain,
    begun: float,
    steps: list[tuple[float, EscalationStatus | None]],
) -> None:
    status = begin_escalation(chain, begun)
    for now, expected in steps:
        result = escalate_if_due(chain, status, now)
        assert result == expected, f"at t={now}"
        if result is not None:
            status = result


def test_stop_keeps_level_team_and_notified() -> None:
    status = S(1, "regional", ("onsite", "regional"), 90.0)
    assert stop_escalation(status) == S(1, "regional", ("onsite", "regional"), None)


def test_stopped_escalation_is_never_due() -> None:
    stopped = stop_escalation(begin_escalation(TWO_STEPS, 0.0))
    assert escalate_if_due(TWO_STEPS, stopped, 10_000.0) is None


def test_stop_keeps_exhausted_flag() -> None:
    exhausted = S(0, "ops", ("ops",), None, exhausted=True)
    assert stop_escalation(exhausted) == exhausted
