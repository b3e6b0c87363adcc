"""device.agent.sms_policy: which alerts are texted when, modem retries, and the message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from device.agent.sms_policy import (
    DEFAULT_TEMPLATE,
    MAX_SMS_CHARS,
    RETRY_SCHEDULE_S,
    ModemRetry,
    PendingAlert,
    after_failure,
    after_success,
    retry_delay,
    short_ref,
    sms_due,
    sms_text,
    template_problems,
)

A = PendingAlert("aaaaaaaa-0000-4000-8000-000000000001", "help", created_at=1000.0)
B = PendingAlert("bbbbbbbb-0000-4000-8000-000000000002", "tamper", created_at=1005.0)
C = PendingAlert("cccccccc-0000-4000-8000-000000000003", "drill", created_at=990.0)
AFTER = 30.0


@pytest.mark.parametrize(
    ("pending", "texted", "since", "now", "due"),
    [
        pytest.param([A], frozenset(), None, 5000.0, [], id="connected-nothing-due"),
        pytest.param([A], frozenset(), 100.0, 129.9, [], id="not-yet"),
        pytest.param([A], frozenset(), 100.0, 130.0, [A.alert_id], id="edge-is-due"),
        pytest.param([A], frozenset(), 100.0, 500.0, [A.alert_id], id="long-outage"),
        pytest.param([], frozenset(), 100.0, 500.0, [], id="nothing-pending"),
        pytest.param([A], frozenset({A.alert_id}), 100.0, 500.0, [], id="already-texted"),
        pytest.param(
            [A, B], frozenset({A.alert_id}), 100.0, 500.0, [B.alert_id], id="only-the-new-one"
        ),
        pytest.param(
            [B, A, C],
            frozenset(),
            100.0,
            500.0,
            [C.alert_id, A.alert_id, B.alert_id],
            id="oldest-first",
        ),
        pytest.param(
            [A], frozenset({"someone-else"}), 100.0, 500.0, [A.alert_id], id="unrelated-texted"
        ),
    ],
)
def test_sms_due(
    pending: list[PendingAlert],
    texted: frozenset[str],
    since: float | None,
    now: float,
    due: list[str],
) -> None:
    assert sms_due(pending, texted, since, now, AFTER) == due


def test_fallback_after_zero_texts_as_soon_as_disconnected() -> None:
    assert sms_due([A], frozenset(), 100.0, 100.0, 0.0) == [A.alert_id]
    assert sms_due([A], frozenset(), None, 100.0, 0.0) == []


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        pytest.param(0, 0.0, id="no-failure"),
        pytest.param(1, 10.0, id="1st"),
        pytest.param(2, 30.0, id="2nd"),
        pytest.param(3, 60.0, id="3rd"),
        pytest.param(4, 120.0, id="4th"),
        pytest.param(5, 300.0, id="5th-cap"),
        pytest.param(6, 300.0, id="6th"),
        pytest.param(10_000, 300.0, id="never-gives-up"),
    ],
)
def test_retry_delay(failures: int, delay: float) -> None:
    assert retry_delay(failures) == delay
    assert RETRY_SCHEDULE_S[-1] == 300.0


def test_retry_state_machine() -> None:
    state = ModemRetry()
    assert state.may_attempt(0.0)
    state = after_failure(state, now=100.0)
    assert (state.failures, state.next_attempt_at) == (1, 110.0)
    assert not state.may_attempt(109.9)
    assert state.may_attempt(110.0)
    state = after_failure(state, now=110.0)
    assert (state.failures, state.next_attempt_at) == (2, 140.0)
    state = after_success(state)
    assert state == ModemRetry()
    assert state.may_attempt(0.0)


def test_custom_retry_schedule() -> None:
    state = after_failure(ModemRetry(), 0.0, schedule=(0.5, 2.0))
    state = after_failure(state, 1.0, schedule=(0.5, 2.0))
    state = after_failure(state, 4.0, schedule=(0.5, 2.0))
    assert state.next_attempt_at == 6.0


ARABIC_WAITING_ROOM = "\u063a\u0631\u0641\u0629 \u0627\u0644\u0627\u0646\u062a\u0638\u0627\u0631"
CEST = timezone(timedelta(hours=2), "CEST")
AT = datetime(2026, 6, 1, 14, 3, tzinfo=CEST)


def _text(**overrides: object) -> str:
    values: dict[str, object] = {
        "template": DEFAULT_TEMPLATE,
        "kind": "help",
        "location": "a-waiting",
        "location_name": "A waiting room",
        "facility": "clinic-a",
        "at": AT,
        "alert_id": A.alert_id,
    }
    values.update(overrides)
    template = str(values.pop("template"))
    return sms_text(template, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {},
            "Beacon alert: help requested at A waiting room (clinic-a), 2026-06-01 14:03 CEST. "
            "Ref AAAAAAAA.",
            id="help",
        ),
        pytest.param(
            {"kind": "tamper"},
            "Beacon alert: kiosk enclosure opened at A waiting room (clinic-a), "
            "2026-06-01 14:03 CEST. Ref AAAAAAAA.",
            id="tamper",
        ),
        pytest.param(
            {"kind": "drill"},
            "Beacon alert: DRILL, no action needed at A waiting room (clinic-a), "
            "2026-06-01 14:03 CEST. Ref AAAAAAAA.",
            id="drill",
        ),
        pytest.param(
            {"location_name": ARABIC_WAITING_ROOM},
            "Beacon alert: help requested at a-waiting (clinic-a), 2026-06-01 14:03 CEST. "
            "Ref AAAAAAAA.",
            id="non-ascii-name-uses-location-id",
        ),
        pytest.param(
            {"location_name": "  "},
            "Beacon alert: help requested at a-waiting (clinic-a), 2026-06-01 14:03 CEST. "
            "Ref AAAAAAAA.",
            id="blank-name-uses-location-id",
        ),
        pytest.param(
            {"at": datetime(2026, 6, 1, 12, 3)},
            "Beacon alert: help requested at A waiting room (clinic-a), 2026-06-01 12:03. "
            "Ref AAAAAAAA.",
            id="naive-time-no-zone",
        ),
        pytest.param(
            {"at": datetime(2026, 6, 1, 12, 3, tzinfo=UTC)},
            "Beacon alert: help requested at A waiting room (clinic-a), 2026-06-01 12:03 UTC. "
            "Ref AAAAAAAA.",
            id="utc",
        ),
        pytest.param(
            {"template": "HELP {location_name} {time} #{ref}"},
            "HELP A waiting room 2026-06-01 14:03 CEST #AAAAAAAA",
            id="operator-template",
        ),
        pytest.param(
            {"location_name": "Waiting room " * 20},
            "Beacon alert: help requested at a-waiting (clinic-a), 2026-06-01 14:03 CEST. "
            "Ref AAAAAAAA.",
            id="long-name-keeps-time-and-ref",
        ),
    ],
)
def test_sms_text(overrides: dict[str, object], expected: str) -> None:
    text = _text(**overrides)
    assert text == expected
    assert len(text) <= MAX_SMS_CHARS


def test_sms_text_never_exceeds_one_message() -> None:
    text = _text(template="{what} " * 40)
    assert len(text) == MAX_SMS_CHARS


def test_short_ref() -> None:
    assert short_ref("0b9e4c1e-6f7a-4d43-9a51-2d8f0c3b7e10") == "0B9E4C1E"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        pytest.param(DEFAULT_TEMPLATE, None, id="default"),
        pytest.param("plain text, no fields", None, id="no-fields"),
        pytest.param("{name} at {time}", "unknown placeholder {name}", id="unknown"),
        pytest.param("{patient}", "unknown placeholder {patient}", id="personal-not-offered"),
        pytest.param("{what", "not a valid template", id="unclosed"),
    ],
)
def test_template_problems(template: str, problem: str | None) -> None:
    problems = template_problems(template)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems
