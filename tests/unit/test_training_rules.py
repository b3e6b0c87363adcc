"""Training requirement rules as data (issue 8): parse_rules / load_rules check every entry and
list every problem at once, with the rule and field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet_manager.training.rules import Rule, RulesError, load_rules, parse_rules


def entry(**changes: Any) -> dict[str, Any]:
    """A valid state rule; a change of None removes the key."""
    base: dict[str, Any] = {
        "id": "tx",
        "scope": "state",
        "state": "TX",
        "kind": "once",
        "modules": ["m1"],
        "evidence": ["module"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def facility_entry(**changes: Any) -> dict[str, Any]:
    return entry(
        **{"scope": "facility", "state": None, "facility": "*", "kind": "annual"} | changes
    )


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(raw, "req")
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


RANGE_MIN_HOURS = "'min_hours' must be a number from 0 to 100"
RANGE_GRACE = "'grace_days' must be a number from 0 to 3650"
RANGE_PERIOD = "'period_months' must be a number from 1 to 240"
STATE_NEEDED = "a state rule needs 'state', two capital letters"
EVIDENCE_LIST = "'evidence' must list module, self_certification"
MODULES_NEEDED = "module evidence needs the 'modules' that count"


@pytest.mark.parametrize(
    ("raw_entry", "expected"),
    [
        pytest.param(entry(perod_months=24), ["unknown key 'perod_months'"], id="unknown-key"),
        pytest.param(entry(id=None), ["'id' must be a non-empty string"], id="id-missing"),
        pytest.param(entry(id=""), ["'id' must be a non-empty string"], id="id-empty"),
        pytest.param(entry(id=7), ["'id' must be a non-empty string"], id="id-not-text"),
        pytest.param(
            entry(scope="county"), ["'scope' must be 'state' or 'facility'"], id="bad-scope"
        ),
        pytest.param(entry(scope=None), ["'scope' must be"], id="scope-missing"),
        pytest.param(
            entry(kind="biennial"),
            ["'kind' must be one of once, every_renewal, annual"],
            id="bad-kind",
        ),
        pytest.param(entry(kind=None), ["'kind' must be one of"], id="kind-missing"),
        pytest.param(entry(state="tx"), [STATE_NEEDED], id="state-lower-case"),
        pytest.param(entry(state="TEX"), [STATE_NEEDED], id="state-three-letters"),
        pytest.param(entry(state="T"), [STATE_NEEDED], id="state-one-letter"),
        pytest.param(entry(state=48), [STATE_NEEDED], id="state-not-text"),
        pytest.param(entry(state=None), [STATE_NEEDED], id="state-missing"),
        pytest.param(
            facility_entry(facility=None),
            ["a facility rule needs 'facility' (an id, or '*')"],
            id="facility-missing",
        ),
        pytest.param(facility_entry(facility=""), ["needs 'facility'"], id="facility-empty"),
        pytest.param(
            entry(evidence=["module", "certificate"]), [EVIDENCE_LIST], id="evidence-unknown"
        ),
        pytest.param(entry(evidence=[]), [EVIDENCE_LIST], id="evidence-empty"),
        pytest.param(entry(evidence="module"), [EVIDENCE_LIST], id="evidence-not-a-list"),
        pytest.param(entry(modules=None), [MODULES_NEEDED], id="module-evidence-no-modules"),
        pytest.param(entry(modules=[]), [MODULES_NEEDED], id="module-evidence-empty-modules"),
        pytest.param(
            entry(modules=["m1", 2]),
            ["'modules' must list module ids", MODULES_NEEDED],
            id="modules-not-text",
        ),
        pytest.param(
            entry(modules="m1"),
            ["'modules' must list module ids", MODULES_NEEDED],
            id="modules-text",
        ),
        pytest.param(entry(min_hours=-0.5), [RANGE_MIN_HOURS], id="min-hours-negative"),
        pytest.param(entry(min_hours=100.5), [RANGE_MIN_HOURS], id="min-hours-too-many"),
        pytest.param(entry(min_hours="1"), [RANGE_MIN_HOURS], id="min-hours-text"),
        pytest.param(entry(min_hours=True), [RANGE_MIN_HOURS], id="min-hours-bool"),
        pytest.param(entry(grace_days=-1), [RANGE_GRACE], id="grace-negative"),
        pytest.param(entry(grace_days=3651), [RANGE_GRACE], id="grace-too-long"),
        pytest.param(entry(period_months=0), [RANGE_PERIOD], id="period-zero"),
        pytest.param(entry(period_months=241), [RANGE_PERIOD], id="period-too-long"),
        pytest.param(
            entry(professions="nurse"), ["'professions' must be a list"], id="professions-text"
        ),
    ],
)
def test_a_broken_entry_is_refused_naming_rule_and_field(
    raw_entry: dict[str, Any], expected: list[str]
) -> None:
    problems = problems_of({"rules": [entry(id="fine"), raw_entry]})
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert problem.startswith("req: rules[1]: "), problem
        assert fragment in problem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({}, "req: needs a [[rules]] list", id="no-rules"),
        pytest.param({"rules": "tx"}, "req: needs a [[rules]] list", id="rules-not-a-list"),
        pytest.param({"rules": ["tx"]}, "req: rules[0]: must be a table", id="entry-not-a-table"),
        pytest.param(
            {"rules": [entry(), entry(kind="annual")]},
            "req: rule id 'tx' is used twice",
            id="duplicate-id",
        ),
    ],
)
def test_file_level_problems(raw: dict[str, Any], expected: str) -> None:
    assert problems_of(raw) == [expected]


def test_every_problem_is_listed_at_once() -> None:
    raw = {
        "rules": [
            entry(scope="county", kind="weekly", colour="red", min_hours=-1),
            facility_entry(facility=None, evidence=["module", "fax"], grace_days=9999),
            entry(state="Texas", modules=[], period_months=0),
        ]
    }
    assert problems_of(raw) == [
        "req: rules[0]: unknown key 'colour'",
        "req: rules[0]: 'scope' must be 'state' or 'facility'",
        "req: rules[0]: 'kind' must be one of once, every_renewal, annual",
        f"req: rules[0]: {RANGE_MIN_HOURS}",
        "req: rules[1]: a facility rule needs 'facility' (an id, or '*')",
        f"req: rules[1]: {EVIDENCE_LIST}",
        f"req: rules[1]: {RANGE_GRACE}",
        f"req: rules[2]: {STATE_NEEDED}",
        f"req: rules[2]: {MODULES_NEEDED}",
        f"req: rules[2]: {RANGE_PERIOD}",
    ]


def test_duplicate_ids_are_each_listed() -> None:
    raw = {"rules": [entry(id="a"), entry(id="b"), entry(id="a"), entry(id="b"), entry(id="c")]}
    assert problems_of(raw) == [
        "req: rule id 'a' is used twice",
        "req: rule id 'b' is used twice",
    ]


def test_duplicate_ids_are_listed_even_after_a_broken_entry() -> None:
    raw = {"rules": [entry(id="broken", kind="weekly"), entry(id="a"), entry(id="a")]}
    assert "req: rule id 'a' is used twice" in problems_of(raw)


@pytest.mark.parametrize("state", ["T1", "A."])
def test_a_state_must_be_two_letters(state: str) -> None:
    assert STATE_NEEDED in problems_of({"rules": [entry(state=state)]})[0]


@pytest.mark.parametrize(
    ("raw_entry", "field", "value"),
    [
        pytest.param(entry(evidence=None), "evidence", ("module",), id="evidence-default-module"),
        pytest.param(entry(), "grace_days", 30, id="grace-default-30"),
        pytest.param(entry(), "period_months", 24, id="period-default-24"),
        pytest.param(entry(), "min_hours", 0.0, id="min-hours-default-0"),
        pytest.param(entry(), "professions", (), id="professions-default-all"),
        pytest.param(entry(min_hours=1), "min_hours", 1.0, id="min-hours-int-ok"),
        pytest.param(entry(min_hours=0), "min_hours", 0.0, id="min-hours-0-ok"),
        pytest.param(entry(min_hours=100), "min_hours", 100.0, id="min-hours-100-ok"),
        pytest.param(entry(grace_days=0), "grace_days", 0, id="grace-0-ok"),
        pytest.param(entry(grace_days=3650), "grace_days", 3650, id="grace-3650-ok"),
        pytest.param(entry(period_months=1), "period_months", 1, id="period-1-ok"),
        pytest.param(entry(period_months=240), "period_months", 240, id="period-240-ok"),
        pytest.param(
            entry(evidence=["self_certification"], modules=None),
            "modules",
            (),
            id="self-cert-only-needs-no-modules",
        ),
        pytest.param(
            entry(professions=["nurse", "physician"]),
            "professions",
            ("nurse", "physician"),
            id="professions-kept",
        ),
        pytest.param(entry(facility="fac-1"), "facility", None, id="state-rule-drops-facility"),
        pytest.param(facility_entry(state="TX"), "state", None, id="facility-rule-drops-state"),
        pytest.param(facility_entry(facility="fac-1"), "facility", "fac-1", id="facility-id"),
        pytest.param(facility_entry(), "facility", "*", id="facility-star"),
        pytest.param(entry(summary="S", source="src"), "source", "src", id="source-kept"),
    ],
)
def test_a_valid_entry_becomes_a_rule(raw_entry: dict[str, Any], field: str, value: Any) -> None:
    (rule,) = parse_rules({"rules": [raw_entry]})
    assert isinstance(rule, Rule)
    assert getattr(rule, field) == value
    assert type(getattr(rule, field)) is type(value)


def test_parse_rules_keeps_the_order_and_all_fields() -> None:
    rules = parse_rules(
        {
            "rules": [
                entry(id="b", kind="every_renewal", min_hours=1.5, grace_days=10),
                facility_entry(id="a", facility="fac-1", modules=["m1", "m2"]),
            ]
        }
    )
    assert rules == (
        Rule(
            id="b",
            scope="state",
            kind="every_renewal",
            modules=("m1",),
            evidence=("module",),
            min_hours=1.5,
            grace_days=10,
            state="TX",
        ),
        Rule(
            id="a",
            scope="facility",
            kind="annual",
            modules=("m1", "m2"),
            evidence=("module",),
            facility="fac-1",
        ),
    )


def test_load_rules_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "requirements.toml"
    path.write_text(
        '[[rules]]\nid = "fl"\nscope = "state"\nstate = "FL"\nkind = "once"\n'
        'modules = ["m1"]\nmin_hours = 1.0\n'
    )
    (rule,) = load_rules(path)
    assert (rule.id, rule.state, rule.kind, rule.min_hours) == ("fl", "FL", "once", 1.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, "cannot be read", id="missing-file"),
        pytest.param("[[rules]\nid =", "cannot be read", id="not-toml"),
        pytest.param('[[rules]]\nid = "x"\nscope = "state"\n', "rules[0]: ", id="bad-entry"),
    ],
)
def test_load_rules_names_the_file(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "requirements.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert caught.value.problems[0].startswith(f"{path}: ")
    assert expected in caught.value.problems[0]


def test_the_shipped_requirements_load() -> None:
    assert [r.id for r in load_rules()] == [
        "tx-every-renewal",
        "fl-one-hour-once",
        "mi-once",
        "facility-annual-protocol",
    ]
