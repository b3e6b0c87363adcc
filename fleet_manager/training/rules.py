"""Training requirements as data (``content/training/requirements.toml``), read and checked.

Every problem is listed at once, with the rule and field named. The decisions themselves are
in :mod:`fleet_manager.training.status` (pure).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

REQUIREMENTS = Path(__file__).resolve().parents[2] / "content" / "training" / "requirements.toml"

Kind = Literal["once", "every_renewal", "annual"]
Evidence = Literal["module", "self_certification"]
KINDS: tuple[Kind, ...] = get_args(Kind)
EVIDENCE: tuple[Evidence, ...] = get_args(Evidence)
_STATE = re.compile(r"[A-Z]{2}")
_KEYS = {
    "id",
    "scope",
    "state",
    "facility",
    "kind",
    "period_months",
    "grace_days",
    "min_hours",
    "evidence",
    "modules",
    "professions",
    "summary",
    "source",
}


class RulesError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Rule:
    id: str
    scope: Literal["state", "facility"]
    kind: Kind
    modules: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    min_hours: float = 0.0
    grace_days: int = 30
    period_months: int = 24
    state: str | None = None  # scope "state": the licence state (two letters)
    facility: str | None = None  # scope "facility": a facility id, or "*" for every one
    professions: tuple[str, ...] = ()  # empty: every profession
    summary: str = ""
    source: str = ""


def parse_rules(raw: dict[str, object], where: str = "requirements") -> tuple[Rule, ...]:
    problems: list[str] = []
    rules: list[Rule] = []
    entries = raw.get("rules")
    if not isinstance(entries, list):
        raise RulesError([f"{where}: needs a [[rules]] list"])
    for i, r in enumerate(entries):
        at = f"{where}: rules[{i}]"
        before = len(problems)
        if not isinstance(r, dict):
            problems.append(f"{at}: must be a table")
            continue
        problems += [f"{at}: unknown key {k!r}" for k in sorted(set(r) - _KEYS)]
        rule_id, scope, kind = r.get("id"), r.get("scope"), r.get("kind")
        if not isinstance(rule_id, str) or not rule_id:
            problems.append(f"{at}: 'id' must be a non-empty string")
        if scope not in ("state", "facility"):
            problems.append(f"{at}: 'scope' must be 'state' or 'facility'")
        if kind not in KINDS:
            problems.append(f"{at}: 'kind' must be one of {', '.join(KINDS)}")
        state, facility = r.get("state"), r.get("facility")
        if scope == "state" and not (isinstance(state, str) and _STATE.fullmatch(state)):
            problems.append(f"{at}: a state rule needs 'state', two capital letters")
        if scope == "facility" and not (isinstance(facility, str) and facility):
            problems.append(f"{at}: a facility rule needs 'facility' (an id, or '*')")
        evidence = r.get("evidence", ["module"])
        if (
            not isinstance(evidence, list)
            or not evidence
            or any(e not in EVIDENCE for e in evidence)
        ):
            problems.append(f"{at}: 'evidence' must list {', '.join(EVIDENCE)}")
            evidence = []
        modules = r.get("modules", [])
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            problems.append(f"{at}: 'modules' must list module ids")
            modules = []
        if "module" in evidence and not modules:
            problems.append(f"{at}: module evidence needs the 'modules' that count")
        numbers = {"min_hours": (0, 100), "grace_days": (0, 3650), "period_months": (1, 240)}
        values: dict[str, float] = {}
        for name, (low, high) in numbers.items():
            value = r.get(name, Rule.__dataclass_fields__[name].default)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not low <= value <= high
            ):
                problems.append(f"{at}: {name!r} must be a number from {low} to {high}")
                value = low
            values[name] = value
        professions = r.get("professions", [])
        if not isinstance(professions, list):
            problems.append(f"{at}: 'professions' must be a list")
            professions = []
        if len(problems) > before:
            continue  # this entry is broken: go on checking the others
        rules.append(
            Rule(
                id=str(rule_id),
                scope=scope,  # type: ignore[arg-type]  # checked above
                kind=kind,  # type: ignore[arg-type]
                modules=tuple(modules),
                evidence=tuple(evidence),
                min_hours=float(values["min_hours"]),
                grace_days=int(values["grace_days"]),
                period_months=int(values["period_months"]),
                state=state if scope == "state" else None,
                facility=facility if scope == "facility" else None,
                professions=tuple(str(p) for p in professions),
                summary=str(r.get("summary", "")),
                source=str(r.get("source", "")),
            )
        )
    ids = [r.id for r in rules]
    problems += [
        f"{where}: rule id {d!r} is used twice"
        for d in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if problems:
        raise RulesError(problems)
    return tuple(rules)


def load_rules(path: Path = REQUIREMENTS) -> tuple[Rule, ...]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError([f"{path}: cannot be read ({exc})"]) from None
    return parse_rules(raw, str(path))
