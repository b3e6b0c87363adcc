"""``/api/v1/training/compliance``: each person's training status, for automation (an HR or
credentialing system pulling who is current). Scoped like the compliance page.

    GET /api/v1/training/compliance?facility=&as_of=    training.view
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fleet_manager.accounts.policy import Principal, visible_facilities
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.api.incident_routes import RESPONSES
from fleet_manager.store.registry import list_facilities
from fleet_manager.training import catalog
from fleet_manager.training.compliance import compliance, due_window

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class RuleView(BaseModel):
    rule_id: str
    state: str
    due_date: str | None
    reason: str


class CompletionView(BaseModel):
    module_id: str | None
    completed_on: str
    hours: float
    certificate_id: str | None


class PersonView(BaseModel):
    username: str
    full_name: str
    facility_id: str
    profession: str | None
    licence_state: str | None
    licence_renewal: str | None
    status: str
    next_due: str | None
    rules: list[RuleView]
    completions: list[CompletionView]


class ComplianceView(BaseModel):
    as_of: str
    counts: dict[str, int]
    people: list[PersonView]


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix="/api/v1/training", tags=["training"])
    guard = ctx.guard

    @api.get("/compliance", response_model=ComplianceView, responses=RESPONSES)
    def get_compliance(
        facility: str | None = Query(default=None, max_length=64, pattern=ID_PATTERN),
        as_of: date | None = None,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Every person of the caller's facilities (or one), with their status on a day."""
        if (refused := guard.refuse_anywhere(who, "training.view")) is not None:
            return refused
        assert who is not None
        with ctx.engine.connect() as conn:
            places = [(f.facility_id, f.region) for f in list_facilities(conn)]
            mine = visible_facilities(who, "training.view", places)
            if facility is not None and facility not in mine:
                return not_found("facility")
            day = as_of or datetime.fromtimestamp(ctx.now(), UTC).date()
            if day.year < 2000 or day.year > 2200:
                return refusal(400, "bad_request", "as_of must be a day between 2000 and 2200")
            window = due_window(ctx.config.training if ctx.config is not None else None)
            rows = compliance(conn, [facility] if facility else mine, catalog.rules(), day, window)
        counts = {"current": 0, "due": 0, "overdue": 0}
        people = []
        for row in rows:
            counts[row.status.state] += 1
            p = row.profile
            people.append(
                PersonView(
                    username=p.username,
                    full_name=p.full_name,
                    facility_id=p.facility_id,
                    profession=p.profession,
                    licence_state=p.licence_state,
                    licence_renewal=p.licence_renewal.isoformat() if p.licence_renewal else None,
                    status=row.status.state,
                    next_due=row.status.next_due.isoformat() if row.status.next_due else None,
                    rules=[
                        RuleView(
                            rule_id=r.rule_id,
                            state=r.state,
                            due_date=r.due_date.isoformat() if r.due_date else None,
                            reason=r.reason,
                        )
                        for r in row.status.rules
                    ],
                    completions=[
                        CompletionView(
                            module_id=c.module_id,
                            completed_on=c.completed_on.isoformat(),
                            hours=c.hours,
                            certificate_id=c.certificate_id,
                        )
                        for c in row.completions
                    ],
                )
            )
        return ComplianceView(as_of=day.isoformat(), counts=counts, people=people)

    return api
