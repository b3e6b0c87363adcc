"""The pure training status rules (issue 8), as tables: current, due within N days, overdue.

The rules here are written out in the tests (not read from the data) so that each row shows
exactly what decides it; the last tables read the shipped ``content/training/requirements.toml``
and document what it means for a Texas, a Florida, a Michigan and an Ohio nurse.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from fleet_manager.training.rules import Rule, load_rules
from fleet_manager.training.status import (
    Person,
    Record,
    State,
    accepts_self_certification,
    add_months,
    applies,
    person_status,
    rule_status,
)

TODAY = date(2026, 6, 15)
JOINED = date(2024, 1, 10)


def make_rule(kind: str, scope: str = "state", **changes: object) -> Rule:
    base = Rule(
        id=f"{kind}-{scope}",
        scope="state",
        kind="once",
        modules=("m1", "m2"),
        evidence=("module",),
        min_hours=0.0,
        grace_days=30,
        period_months=24,
        state="TX",
    )
    where: dict[str, object] = (
        {"scope": "state", "state": "TX", "facility": None}
        if scope == "state"
        else {"scope": "facility", "state": None, "facility": "*"}
    )
    return replace(base, kind=kind, **{**where, **changes})  # type: ignore[arg-type]


def done(day: date, module: str | None = "m1", hours: float = 1.0) -> Record:
    return Record("module", day, hours, module)


def certified(day: date) -> Record:
    return Record("self_certification", day)


ONCE_S = make_rule("once", grace_days=0)  # a state's one-time course, by the licence renewal
ONCE_F = make_rule("once", "facility")  # a facility's one-time course, within 30 days of joining
EVERY_S = make_rule("every_renewal")  # each 24-month licence period, 30 days' grace
EVERY_F = make_rule("every_renewal", "facility")
ANNUAL_F = make_rule("annual", "facility", modules=("m1",))
ANNUAL_S = make_rule("annual", modules=("m1",))
ONE_HOUR_ONCE = make_rule("once", grace_days=0, min_hours=1.0)  # like Florida
ONE_HOUR_EVERY = make_rule("every_renewal", min_hours=1.0)
SELF_CERT_OK = make_rule(  # like Michigan: a certificate or self-certification
    "once", grace_days=0, min_hours=1.0, evidence=("module", "self_certification")
)
SELF_CERT_ONLY_EVERY = make_rule("every_renewal", evidence=("self_certification",), modules=())

d = date
R_NEAR = d(2026, 7, 31)  # 46 days after TODAY; its period began 2024-07-31
R_PASSED = d(2026, 6, 1)  # 14 days before TODAY; its period began 2024-06-01, grace to 07-01


def row(
    name: str,
    rule: Rule,
    records: list[Record],
    renewal: date | None,
    state: State,
    due_date: date | None,
    reason: str,
    *,
    joined: date = JOINED,
    today: date = TODAY,
    window: int = 60,
) -> object:
    return pytest.param(
        rule, records, renewal, joined, today, window, state, due_date, reason, id=name
    )


RULE_TABLE = [
    # once, state scope: by the licence renewal date.
    row("once/state/done-long-ago-current-forever", ONCE_S, [done(d(2001, 3, 1))], d(2010, 1, 1),
        "current", None, "once is enough", today=d(2060, 1, 1)),
    row("once/state/done-today-counts", ONCE_S, [done(TODAY)], R_PASSED,
        "current", None, "once is enough"),
    row("once/state/future-record-not-counted", ONCE_S, [done(d(2026, 6, 16))], d(2027, 6, 15),
        "current", d(2027, 6, 15), "once: not yet done, required by 2027-06-15"),
    row("once/state/not-done-renewal-far-current", ONCE_S, [], d(2027, 6, 15),
        "current", d(2027, 6, 15), "not yet done, required by 2027-06-15"),
    row("once/state/renewal-in-exactly-N-days-due", ONCE_S, [], d(2026, 8, 14),
        "due", d(2026, 8, 14), "once: required by 2026-08-14"),
    row("once/state/renewal-in-N+1-days-current", ONCE_S, [], d(2026, 8, 15),
        "current", d(2026, 8, 15), "not yet done"),
    row("once/state/renewal-today-due", ONCE_S, [], TODAY,
        "due", TODAY, "once: required by 2026-06-15"),
    row("once/state/renewal-passed-overdue", ONCE_S, [], d(2026, 6, 14),
        "overdue", d(2026, 6, 14), "once: required by 2026-06-14"),
    row("once/state/no-renewal-date-due", ONCE_S, [], None,
        "due", None, "no licence renewal date on record"),
    row("once/state/window-0-tomorrow-current", ONCE_S, [], d(2026, 6, 16),
        "current", d(2026, 6, 16), "not yet done", window=0),
    row("once/state/window-0-today-due", ONCE_S, [], TODAY,
        "due", TODAY, "required by", window=0),
    # once, facility scope: within grace_days of joining; the licence does not matter.
    row("once/facility/joined-recently-due", ONCE_F, [], None,
        "due", d(2026, 7, 1), "once: required by 2026-07-01", joined=d(2026, 6, 1)),
    row("once/facility/joined-long-ago-overdue", ONCE_F, [], d(2027, 1, 1),
        "overdue", d(2026, 1, 31), "once: required by 2026-01-31", joined=d(2026, 1, 1)),
    row("once/facility/no-renewal-date-is-fine", ONCE_F, [], None,
        "current", d(2026, 7, 15), "not yet done, required by 2026-07-15",
        joined=TODAY, window=7),
    row("once/facility/renewal-passed-is-ignored", ONCE_F, [], d(2020, 1, 1),
        "current", d(2026, 7, 15), "not yet done", joined=TODAY, window=7),
    row("once/facility/done-current", ONCE_F, [done(d(2024, 2, 1))], None,
        "current", None, "once is enough"),
    # every_renewal, renewal still ahead: a course in (renewal - period, today].
    row("every/state/done-inside-period-current", EVERY_S, [done(d(2025, 3, 1))], R_NEAR,
        "current", R_NEAR, "done for the period ending 2026-07-31"),
    row("every/state/done-day-after-period-start", EVERY_S, [done(d(2024, 8, 1))], R_NEAR,
        "current", R_NEAR, "done for the period"),
    row("every/state/done-on-period-start-not-counted", EVERY_S, [done(d(2024, 7, 31))], R_NEAR,
        "due", R_NEAR, "this licence period: required by 2026-07-31"),
    row("every/state/done-before-period-not-counted", EVERY_S, [done(d(2023, 1, 1))], R_NEAR,
        "due", R_NEAR, "this licence period: required by 2026-07-31"),
    row("every/state/not-done-renewal-far-current", EVERY_S, [], d(2027, 6, 30),
        "current", d(2027, 6, 30), "this licence period: not yet done, required by 2027-06-30"),
    row("every/state/not-done-renewal-near-due", EVERY_S, [], R_NEAR,
        "due", R_NEAR, "this licence period: required by"),
    row("every/state/no-renewal-date-due", EVERY_S, [done(d(2025, 3, 1))], None,
        "due", None, "each renewal: no licence renewal date on record"),
    row("every/state/done-renewal-today-current", EVERY_S, [done(d(2025, 3, 1))], TODAY,
        "current", TODAY, "done for the period ending 2026-06-15"),
    row("every/state/not-done-renewal-today-due", EVERY_S, [], TODAY,
        "due", TODAY, "this licence period: required by 2026-06-15"),
    # every_renewal, recorded renewal passed: the new period's course within grace_days.
    row("every/passed/done-before-due-in-grace", EVERY_S, [done(d(2025, 1, 1))], R_PASSED,
        "due", d(2026, 7, 1), "the new licence period: required by 2026-07-01"),
    row("every/passed/done-before-last-grace-day-due", EVERY_S, [done(d(2025, 1, 1))], R_PASSED,
        "due", d(2026, 7, 1), "required by 2026-07-01", today=d(2026, 7, 1)),
    row("every/passed/done-before-after-grace-overdue", EVERY_S, [done(d(2025, 1, 1))],
        R_PASSED, "overdue", d(2026, 7, 1), "the new licence period: required by 2026-07-01",
        today=d(2026, 7, 2)),
    row("every/passed/done-on-renewal-day-is-old-period", EVERY_S, [done(R_PASSED)], R_PASSED,
        "due", d(2026, 7, 1), "the new licence period"),
    row("every/passed/done-before-small-window-current", EVERY_S, [done(d(2025, 1, 1))],
        R_PASSED, "current", d(2026, 7, 1), "the new licence period: not yet done",
        today=d(2026, 6, 2), window=7),
    row("every/passed/not-done-overdue-at-once", EVERY_S, [], R_PASSED,
        "overdue", R_PASSED, "not done before the renewal of 2026-06-01", today=d(2026, 6, 2)),
    row("every/passed/done-only-before-period-overdue", EVERY_S, [done(d(2024, 5, 1))],
        R_PASSED, "overdue", R_PASSED, "not done before the renewal", today=d(2026, 6, 2)),
    row("every/passed/done-after-renewal-next-period", EVERY_S, [done(d(2026, 6, 10))],
        R_PASSED, "current", d(2028, 6, 1), "done for the new period"),
    row("every/passed/done-before-and-after-next-period", EVERY_S,
        [done(d(2025, 1, 1)), done(d(2026, 6, 2))], R_PASSED,
        "current", d(2028, 6, 1), "done for the new period"),
    # every_renewal with facility scope still goes by the licence renewal date.
    row("every/facility/done-inside-period-current", EVERY_F, [done(d(2025, 3, 1))], R_NEAR,
        "current", R_NEAR, "done for the period ending 2026-07-31"),
    row("every/facility/no-renewal-date-due", EVERY_F, [], None,
        "due", None, "no licence renewal date on record"),
    # min_hours: the qualifying hours add up.
    row("hours/once/two-half-hours-make-one", ONE_HOUR_ONCE,
        [done(d(2025, 1, 1), "m1", 0.5), done(d(2025, 2, 1), "m2", 0.5)], d(2026, 7, 15),
        "current", None, "once is enough"),
    row("hours/once/one-half-hour-not-enough", ONE_HOUR_ONCE,
        [done(d(2025, 1, 1), "m1", 0.5)], d(2026, 7, 15),
        "due", d(2026, 7, 15), "once: required by 2026-07-15"),
    row("hours/once/other-module-hours-not-counted", ONE_HOUR_ONCE,
        [done(d(2025, 1, 1), "m1", 0.5), done(d(2025, 2, 1), "other", 0.5)], d(2026, 7, 15),
        "due", d(2026, 7, 15), "required by"),
    row("hours/every/two-half-hours-in-period", ONE_HOUR_EVERY,
        [done(d(2025, 1, 1), "m1", 0.5), done(d(2026, 1, 1), "m2", 0.5)], R_NEAR,
        "current", R_NEAR, "done for the period"),
    row("hours/every/half-hour-before-period-not-added", ONE_HOUR_EVERY,
        [done(d(2024, 1, 1), "m1", 0.5), done(d(2026, 1, 1), "m2", 0.5)], R_NEAR,
        "due", R_NEAR, "this licence period: required by"),
    # Only the rule's modules count, whatever their hours.
    row("modules/other-module-not-counted", ONCE_S, [done(d(2025, 1, 1), "other", 5.0)],
        d(2026, 6, 14), "overdue", d(2026, 6, 14), "once: required by"),
    row("modules/record-without-module-id-not-counted", ONCE_S, [done(d(2025, 1, 1), None)],
        d(2026, 6, 14), "overdue", d(2026, 6, 14), "once: required by"),
    # Self-certification counts only where the rule's evidence allows it.
    row("evidence/self-cert-allowed-counts", SELF_CERT_OK, [certified(d(2024, 5, 1))],
        d(2026, 6, 14), "current", None, "once is enough"),
    row("evidence/self-cert-not-allowed-ignored", ONE_HOUR_ONCE, [certified(d(2024, 5, 1))],
        d(2026, 6, 14), "overdue", d(2026, 6, 14), "once: required by"),
    row("evidence/self-cert-only-rule-ignores-modules", SELF_CERT_ONLY_EVERY,
        [done(d(2025, 1, 1))], R_NEAR, "due", R_NEAR, "this licence period: required by"),
    row("evidence/self-cert-only-rule-counts-self-cert", SELF_CERT_ONLY_EVERY,
        [certified(d(2025, 1, 1))], R_NEAR, "current", R_NEAR, "done for the period"),
    row("evidence/self-cert-not-allowed-annual", ANNUAL_F, [certified(d(2026, 3, 15))], None,
        "overdue", d(2024, 2, 9), "first course: required by 2024-02-09"),
    # annual: the first within grace_days of joining, then within 12 months of the last.
    row("annual/never-done-joined-recently-due", ANNUAL_F, [], None,
        "due", d(2026, 7, 1), "first course: required by 2026-07-01", joined=d(2026, 6, 1)),
    row("annual/never-done-joined-long-ago-overdue", ANNUAL_F, [], None,
        "overdue", d(2026, 1, 31), "first course: required by 2026-01-31",
        joined=d(2026, 1, 1)),
    row("annual/never-done-joined-today-small-window", ANNUAL_F, [], None,
        "current", d(2026, 7, 15), "first course: not yet done", joined=TODAY, window=7),
    row("annual/done-11-months-ago-due", ANNUAL_F, [done(d(2025, 7, 15))], None,
        "due", d(2026, 7, 15), "yearly course: required by 2026-07-15"),
    row("annual/done-13-months-ago-overdue", ANNUAL_F, [done(d(2025, 5, 15))], None,
        "overdue", d(2026, 5, 15), "yearly course: required by 2026-05-15"),
    row("annual/done-3-months-ago-current", ANNUAL_F, [done(d(2026, 3, 15))], None,
        "current", d(2027, 3, 15), "done 2026-03-15, valid until 2027-03-15"),
    row("annual/done-exactly-12-months-ago-due", ANNUAL_F, [done(d(2025, 6, 15))], None,
        "due", TODAY, "yearly course: required by 2026-06-15"),
    row("annual/latest-completion-counts", ANNUAL_F,
        [done(d(2026, 3, 15)), done(d(2024, 1, 1))], None,
        "current", d(2027, 3, 15), "valid until 2027-03-15"),
    row("annual/other-module-not-counted", ANNUAL_F, [done(d(2026, 3, 15), "m2")], None,
        "overdue", d(2024, 2, 9), "first course"),
    row("annual/future-record-not-counted", ANNUAL_F, [done(d(2026, 7, 1))], None,
        "due", d(2026, 7, 1), "first course: required by 2026-07-01", joined=d(2026, 6, 1)),
    row("annual/leap-day-expires-feb-28", ANNUAL_F, [done(d(2024, 2, 29))], None,
        "due", d(2025, 2, 28), "yearly course: required by 2025-02-28", today=d(2025, 2, 1)),
    row("annual/state-scope-same-rules", ANNUAL_S, [done(d(2026, 3, 15))], d(2020, 1, 1),
        "current", d(2027, 3, 15), "valid until 2027-03-15"),
]  # fmt: skip


@pytest.mark.parametrize(
    (
        "rule",
        "records",
        "renewal",
        "joined",
        "today",
        "window",
        "state",
        "due_date",
        "reason",
    ),
    RULE_TABLE,
)
def test_rule_status(
    rule: Rule,
    records: list[Record],
    renewal: date | None,
    joined: date,
    today: date,
    window: int,
    state: State,
    due_date: date | None,
    reason: str,
) -> None:
    person = Person("fac-1", joined, "TX", renewal, "nurse")
    got = rule_status(rule, person, records, today, window)
    assert (got.rule_id, got.state, got.due_date) == (rule.id, state, due_date), got.reason
    assert reason in got.reason


def test_annual_rule_needs_its_min_hours() -> None:
    rule = make_rule("annual", "facility", modules=("m1",), min_hours=1.0)
    person = Person("fac-1", JOINED)
    got = rule_status(rule, person, [done(d(2026, 3, 15), "m1", 0.5)], TODAY, 60)
    assert got.state != "current"


def test_every_renewal_stale_by_more_than_a_period_is_not_current() -> None:
    person = Person("fac-1", JOINED, "TX", d(2020, 6, 1))
    got = rule_status(EVERY_S, person, [done(d(2020, 7, 1))], TODAY, 60)
    assert got.state != "current" or (got.due_date is not None and got.due_date >= TODAY)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(d(2025, 1, 31), 1, d(2025, 2, 28), id="jan31+1-common-year"),
        pytest.param(d(2024, 1, 31), 1, d(2024, 2, 29), id="jan31+1-leap-year"),
        pytest.param(d(2026, 8, 31), 1, d(2026, 9, 30), id="aug31+1-30-day-month"),
        pytest.param(d(2026, 12, 31), 1, d(2027, 1, 31), id="dec+1-next-year"),
        pytest.param(d(2026, 12, 15), 12, d(2027, 12, 15), id="dec+12"),
        pytest.param(d(2024, 2, 29), 12, d(2025, 2, 28), id="leap-day+12"),
        pytest.param(d(2024, 2, 29), 48, d(2028, 2, 29), id="leap-day+48"),
        pytest.param(d(2026, 5, 31), 0, d(2026, 5, 31), id="plus-0"),
        pytest.param(d(2026, 3, 31), -1, d(2026, 2, 28), id="mar31-1"),
        pytest.param(d(2026, 1, 15), -1, d(2025, 12, 15), id="jan-1-previous-year"),
        pytest.param(d(2026, 1, 15), -12, d(2025, 1, 15), id="minus-12"),
        pytest.param(d(2026, 1, 15), -13, d(2024, 12, 15), id="minus-13"),
        pytest.param(d(2026, 1, 15), -24, d(2024, 1, 15), id="minus-24"),
        pytest.param(d(2026, 1, 15), -25, d(2023, 12, 15), id="minus-25"),
        pytest.param(d(2024, 2, 29), -12, d(2023, 2, 28), id="leap-day-12"),
        pytest.param(d(2026, 7, 31), -24, d(2024, 7, 31), id="minus-24-end-of-month"),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


NURSE_TX = Person("fac-1", JOINED, "TX", d(2027, 1, 1), "nurse")


@pytest.mark.parametrize(
    ("rule", "person", "expected"),
    [
        pytest.param(make_rule("once"), NURSE_TX, True, id="state-matches"),
        pytest.param(make_rule("once", state="FL"), NURSE_TX, False, id="other-state"),
        pytest.param(
            make_rule("once"), replace(NURSE_TX, licence_state=None), False, id="no-licence"
        ),
        pytest.param(
            make_rule("once"), replace(NURSE_TX, licence_state="tx"), False, id="state-exact"
        ),
        pytest.param(
            make_rule("once", professions=("nurse", "physician")), NURSE_TX, True,
            id="profession-listed",
        ),
        pytest.param(
            make_rule("once", professions=("physician",)), NURSE_TX, False,
            id="profession-not-listed",
        ),
        pytest.param(
            make_rule("once", professions=("nurse",)), replace(NURSE_TX, profession=None),
            False, id="profession-unknown-with-filter",
        ),
        pytest.param(
            make_rule("once", professions=("nurse",), state="FL"), NURSE_TX, False,
            id="profession-right-state-wrong",
        ),
        pytest.param(make_rule("annual", "facility"), NURSE_TX, True, id="facility-star"),
        pytest.param(
            make_rule("annual", "facility"), Person("fac-9", JOINED), True,
            id="facility-star-unlicensed",
        ),
        pytest.param(
            make_rule("annual", "facility", facility="fac-1"), NURSE_TX, True,
            id="facility-own-id",
        ),
        pytest.param(
            make_rule("annual", "facility", facility="fac-2"), NURSE_TX, False,
            id="facility-other-id",
        ),
    ],
)  # fmt: skip
def test_applies(rule: Rule, person: Person, expected: bool) -> None:
    assert applies(rule, person) is expected


FL_RULE = make_rule("once", state="FL")
DUE_ANNUAL = replace(ANNUAL_F, id="annual-due")  # with done(2025-08-10): due 2026-08-10
ANNUAL_RECORD = done(d(2025, 8, 10))


@pytest.mark.parametrize(
    ("rules", "person", "records", "state", "next_due", "rule_ids"),
    [
        pytest.param([], NURSE_TX, [], "current", None, [], id="no-rules"),
        pytest.param([FL_RULE], NURSE_TX, [], "current", None, [], id="no-applicable-rule"),
        pytest.param(
            [
                replace(ONCE_S, id="late", modules=("m2",)),  # overdue since 2026-06-01
                replace(ANNUAL_F, id="cur"),  # current until 2027-03-15
                replace(ONCE_F, id="soon", modules=("m2",)),  # due by 2026-07-01
                FL_RULE,
            ],
            replace(NURSE_TX, licence_renewal=d(2026, 6, 1), joined=d(2026, 6, 1)),
            [done(d(2026, 3, 15))],
            "overdue", d(2026, 6, 1), ["late", "cur", "soon"], id="worst-overdue",
        ),
        pytest.param(
            [replace(ANNUAL_F, id="cur"), replace(ONCE_F, id="soon", modules=("m2",))],
            replace(NURSE_TX, joined=d(2026, 6, 1)),
            [done(d(2026, 3, 15))],
            "due", d(2026, 7, 1), ["cur", "soon"], id="worst-due",
        ),
        pytest.param(
            [replace(EVERY_S, id="renew"), DUE_ANNUAL],
            replace(NURSE_TX, licence_renewal=R_NEAR),
            [done(d(2025, 3, 1), "m2"), ANNUAL_RECORD],
            "due", d(2026, 8, 10), ["renew", "annual-due"], id="next-due-skips-current",
        ),
        pytest.param(
            [replace(ONCE_S, modules=("m2",)), DUE_ANNUAL],
            replace(NURSE_TX, licence_renewal=None),
            [ANNUAL_RECORD],
            "due", d(2026, 8, 10), ["once-state", "annual-due"], id="next-due-skips-unknown",
        ),
        pytest.param(
            [ONCE_S], replace(NURSE_TX, licence_renewal=None), [],
            "due", None, ["once-state"], id="only-unknown-date",
        ),
        pytest.param(
            [replace(ONCE_S, id="late"), replace(ANNUAL_F, id="soon")],
            replace(NURSE_TX, licence_renewal=d(2026, 8, 1), joined=d(2026, 6, 1)),
            [],
            "due", d(2026, 7, 1), ["late", "soon"], id="next-due-earliest",
        ),
        pytest.param(
            [replace(ONCE_S, id="x"), replace(ANNUAL_F, id="y")],
            NURSE_TX,
            [done(d(2026, 1, 1))],
            "current", None, ["x", "y"], id="all-current",
        ),
    ],
)  # fmt: skip
def test_person_status(
    rules: list[Rule],
    person: Person,
    records: list[Record],
    state: State,
    next_due: date | None,
    rule_ids: list[str],
) -> None:
    got = person_status(person, rules, records, TODAY, 60)
    assert got.state == state, got.rules
    assert got.next_due == next_due
    assert [r.rule_id for r in got.rules] == rule_ids


@pytest.mark.parametrize(
    ("renewal", "state"),
    [
        pytest.param(d(2026, 8, 14), "due", id="60-days-due"),
        pytest.param(d(2026, 8, 15), "current", id="61-days-current"),
    ],
)
def test_person_status_default_window_is_60_days(renewal: date, state: State) -> None:
    person = replace(NURSE_TX, licence_renewal=renewal)
    assert person_status(person, [ONCE_S], [], TODAY).state == state


# --- The shipped data: content/training/requirements.toml -------------------------------------

TX, FL, MI, YEARLY = "tx-every-renewal", "fl-one-hour-once", "mi-once", "facility-annual-protocol"


def test_load_rules_loads_the_four_shipped_rules() -> None:
    rules = {r.id: r for r in load_rules()}
    assert list(rules) == [TX, FL, MI, YEARLY]
    assert (rules[TX].state, rules[TX].kind, rules[TX].period_months) == ("TX", "every_renewal", 24)
    assert (rules[TX].grace_days, rules[TX].min_hours) == (30, 1.0)
    assert (rules[FL].state, rules[FL].kind, rules[FL].min_hours) == ("FL", "once", 1.0)
    assert rules[FL].evidence == ("module",)
    assert (rules[MI].state, rules[MI].kind) == ("MI", "once")
    assert rules[MI].evidence == ("module", "self_certification")
    assert (rules[YEARLY].scope, rules[YEARLY].facility, rules[YEARLY].kind) == (
        "facility",
        "*",
        "annual",
    )
    assert rules[YEARLY].modules == ("legal-obligations",)
    assert all(r.source and r.summary for r in rules.values())


def mod(day: date, module: str, hours: float) -> Record:
    return Record("module", day, hours, module)


C, D, X = "current", "due", "overdue"  # X: overdue
TX_NURSE = Person("st-mary", d(2024, 1, 2), "TX", d(2026, 9, 30), "registered-nurse")
TX_DONE = [mod(d(2025, 11, 1), "legal-obligations", 1.0)]
FL_NURSE = Person("st-mary", d(2025, 1, 6), "FL", d(2027, 1, 31), "registered-nurse")
FL_DONE = [
    mod(d(2025, 2, 1), "recognising-signs", 0.5),
    mod(d(2025, 2, 1), "legal-obligations", 0.5),
]
FL_HALF = [mod(d(2026, 11, 1), "legal-obligations", 0.5)]
MI_NURSE = Person("st-luke", d(2025, 3, 3), "MI", d(2027, 3, 31), "registered-nurse")
MI_DONE = [certified(d(2024, 5, 1)), mod(d(2025, 3, 20), "legal-obligations", 0.25)]
OH_NURSE = Person("st-luke", d(2025, 3, 3), "OH", d(2025, 4, 1), "registered-nurse")
OH_DONE = [mod(d(2026, 1, 10), "legal-obligations", 0.5)]
UNLICENSED = Person("st-luke", d(2025, 3, 3))


@pytest.mark.parametrize(
    ("person", "records", "today", "overall", "by_rule"),
    [
        # Texas: a course each licence period, and the facility's yearly one.
        pytest.param(TX_NURSE, TX_DONE, d(2025, 10, 1), "overdue", {TX: C, YEARLY: X},
                     id="texas-before-any-course"),
        pytest.param(TX_NURSE, TX_DONE, d(2025, 12, 1), "current", {TX: C, YEARLY: C},
                     id="texas-after-the-course"),
        pytest.param(TX_NURSE, TX_DONE, d(2026, 9, 15), "due", {TX: C, YEARLY: D},
                     id="texas-yearly-coming-up"),
        pytest.param(TX_NURSE, TX_DONE, d(2026, 10, 15), "due", {TX: D, YEARLY: D},
                     id="texas-renewal-passed-in-grace"),
        pytest.param(TX_NURSE, TX_DONE, d(2026, 11, 5), "overdue", {TX: X, YEARLY: X},
                     id="texas-after-grace"),
        pytest.param(TX_NURSE, [mod(d(2025, 11, 1), "legal-obligations", 0.5)], d(2026, 9, 15),
                     "due", {TX: D, YEARLY: D}, id="texas-half-hour-not-enough"),
        # Florida: one hour, once.
        pytest.param(FL_NURSE, FL_DONE, d(2025, 1, 20), "due", {FL: C, YEARLY: D},
                     id="florida-new-starter"),
        pytest.param(FL_NURSE, FL_DONE, d(2025, 6, 1), "current", {FL: C, YEARLY: C},
                     id="florida-two-half-hours-done"),
        pytest.param(FL_NURSE, FL_DONE, d(2026, 12, 15), "overdue", {FL: C, YEARLY: X},
                     id="florida-once-stays-done-yearly-lapsed"),
        pytest.param(FL_NURSE, FL_HALF, d(2026, 12, 15), "due", {FL: D, YEARLY: C},
                     id="florida-half-hour-renewal-near"),
        pytest.param(FL_NURSE, FL_HALF, d(2027, 2, 1), "overdue", {FL: X, YEARLY: C},
                     id="florida-half-hour-renewal-passed"),
        pytest.param(FL_NURSE, [certified(d(2025, 2, 1)), *FL_HALF], d(2026, 12, 15), "due",
                     {FL: D, YEARLY: C}, id="florida-self-cert-not-accepted"),
        # Michigan: once, a certificate or self-certification.
        pytest.param(MI_NURSE, MI_DONE, d(2025, 6, 1), "current", {MI: C, YEARLY: C},
                     id="michigan-self-certified"),
        pytest.param(MI_NURSE, MI_DONE, d(2026, 3, 1), "due", {MI: C, YEARLY: D},
                     id="michigan-yearly-coming-up"),
        pytest.param(MI_NURSE, [], d(2025, 3, 10), "due", {MI: C, YEARLY: D},
                     id="michigan-new-starter"),
        pytest.param(MI_NURSE, [mod(d(2025, 3, 20), "legal-obligations", 0.25)], d(2027, 4, 1),
                     "overdue", {MI: C, YEARLY: X}, id="michigan-module-counts"),
        pytest.param(MI_NURSE, [], d(2027, 4, 1), "overdue", {MI: X, YEARLY: X},
                     id="michigan-never-trained"),
        # A state with no rule (Ohio), and staff with no licence: only the facility's rule.
        pytest.param(OH_NURSE, OH_DONE, d(2026, 6, 1), "current", {YEARLY: C},
                     id="ohio-current"),
        pytest.param(OH_NURSE, OH_DONE, d(2026, 12, 1), "due", {YEARLY: D},
                     id="ohio-yearly-coming-up"),
        pytest.param(OH_NURSE, OH_DONE, d(2027, 2, 1), "overdue", {YEARLY: X},
                     id="ohio-yearly-lapsed"),
        pytest.param(UNLICENSED, OH_DONE, d(2026, 6, 1), "current", {YEARLY: C},
                     id="unlicensed-staff"),
    ],
)  # fmt: skip
def test_shipped_rules(
    person: Person,
    records: list[Record],
    today: date,
    overall: State,
    by_rule: dict[str, State],
) -> None:
    got = person_status(person, load_rules(), records, today, 60)
    assert {r.rule_id: r.state for r in got.rules} == by_rule, got.rules
    assert got.state == overall


@pytest.mark.parametrize(
    ("licence_state", "accepts"),
    [("MI", True), ("FL", False), ("TX", False), (None, False)],
)
def test_self_certification_is_offered_where_an_applying_rule_takes_it(
    licence_state: str | None, accepts: bool
) -> None:
    person = Person("fac-1", JOINED, licence_state, d(2027, 1, 1), "registered nurse")
    assert accepts_self_certification(person, load_rules()) is accepts
