"""``/api/v1/audit``: the append-only, hash-chained audit log.

    GET  /api/v1/audit?action=&actor=&subject=&since=&until=&limit=&offset=   audit.view
    POST /api/v1/audit/verify                                                 audit.verify
    GET  /api/v1/audit.csv?action=&actor=&subject=&since=&until=              audit.export

Fleet-wide only (ops, auditor): the log covers every facility. Lists are newest first; times
are epoch seconds (``since`` inclusive, ``until`` exclusive); ``action`` may end in ``*`` for a
prefix (``login.*``). Verifying the chain and exporting are themselves written to the log
(``audit.verified`` with outcome ok/broken, ``audit.exported`` with the filter).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from fleet_manager.accounts.policy import Principal
from fleet_manager.api.context import AppContext
from fleet_manager.csv_export import csv_lines
from fleet_manager.store import audit_log, audit_queries
from fleet_manager.store.audit_log import AuditEntry
from fleet_manager.store.audit_queries import AuditFilter
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PATH = "/api/v1/audit"
MAX_LIMIT = 500
CSV_BATCH = 1000
CSV_HEADER = (
    "seq",
    "at",
    "at_utc",
    "actor",
    "action",
    "subject",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
)
MAX_TIME = 1e11  # epoch seconds; year 5138

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL)
ActionQ = Annotated[
    str | None, Query(max_length=64, pattern=PRINTABLE, description="exact, or a prefix with *")
]
ActorQ = Annotated[
    str | None, Query(max_length=64, pattern=PRINTABLE, description="e.g. user:olga")
]
SubjectQ = Annotated[str | None, Query(max_length=128, pattern=PRINTABLE)]
SinceQ = Annotated[float | None, Query(ge=0, le=MAX_TIME, description="epoch s, inclusive")]
UntilQ = Annotated[float | None, Query(ge=0, le=MAX_TIME, description="epoch s, exclusive")]


class AuditEntryOut(BaseModel):
    seq: int
    at: float
    actor: str
    action: str
    subject: str
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[AuditEntryOut]


class ChainResult(BaseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal, "description": "a bad filter"},
    401: {"model": Refusal},
    403: {"model": Refusal},
}


def entry_out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(**e.__dict__)


def utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def csv_row(e: AuditEntry) -> tuple[str | int | float, ...]:
    detail = json.dumps(e.detail, sort_keys=True, separators=(",", ":"))
    return (e.seq, e.at, utc(e.at), e.actor, e.action, e.subject, e.outcome, detail,
            e.prev_hash, e.hash)  # fmt: skip


def csv_stream(ctx: AppContext, where: AuditFilter, through: int) -> Iterator[str]:
    """The export, oldest first, read in batches up to the entry that was last when it began
    (so memory stays flat however long the log)."""
    yield from csv_lines(CSV_HEADER, [])
    after = 0
    while True:
        with ctx.engine.connect() as conn:
            found = audit_queries.batch(conn, where, after, through, CSV_BATCH)
        if not found:
            return
        yield from csv_lines(None, [csv_row(e) for e in found])
        after = found[-1].seq


def export(ctx: AppContext, who: Principal, where: AuditFilter) -> StreamingResponse:
    """Record the export, then stream the CSV (API and console alike)."""
    now = ctx.now()
    with ctx.engine.begin() as conn:
        audit_log.record(
            conn,
            at=now,
            actor=who.label,
            action="audit.exported",
            subject="audit_log",
            outcome="ok",
            detail=where.as_detail(),
        )
        through = audit_queries.last_seq(conn)
    ctx.counters.inc("audit_exports")
    log.info("audit_exported", who=who.label, through_seq=through)
    return StreamingResponse(
        csv_stream(ctx, where, through),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="audit-{through}.csv"'},
    )


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(tags=["audit"])
    guard = ctx.guard

    @api.get(PATH, response_model=AuditPage, responses=REFUSALS)
    def list_audit(
        action: ActionQ = None,
        actor: ActorQ = None,
        subject: SubjectQ = None,
        since: SinceQ = None,
        until: UntilQ = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Audit entries matching the filter, newest first, a page at a time."""
        if (refused := guard.refuse(who, "audit.view")) is not None:
            return refused
        where = AuditFilter(action, actor, subject, since, until)
        with ctx.engine.connect() as conn:
            entries, total = audit_queries.page(conn, where, limit, offset)
        return AuditPage(
            total=total, limit=limit, offset=offset, entries=[entry_out(e) for e in entries]
        )

    @api.post(PATH + "/verify", response_model=ChainResult, responses=REFUSALS)
    def verify(who: Principal | None = guard.caller) -> Any:
        """Recompute the hash chain: ``ok``, how many entries, and the first that does not
        chain (an edited, removed or reordered entry). The check is itself audited."""
        if (refused := guard.refuse(who, "audit.verify")) is not None:
            return refused
        assert who is not None
        with ctx.engine.begin() as conn:
            check = audit_queries.verify_and_record(conn, actor=who.label, now=ctx.now())
        if not check.ok:
            ctx.counters.inc("audit_chain_broken")
            log.error("audit_chain_broken", who=who.label, first_bad_seq=check.first_bad_seq)
        return ChainResult(ok=check.ok, entries=check.entries, first_bad_seq=check.first_bad_seq)

    @api.get(
        PATH + ".csv",
        response_class=Response,
        responses={
            200: {
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": "matching entries, oldest first, with their hashes",
            },
            **REFUSALS,
        },
    )
    def export_audit(
        action: ActionQ = None,
        actor: ActorQ = None,
        subject: SubjectQ = None,
        since: SinceQ = None,
        until: UntilQ = None,
        who: Principal | None = guard.caller,
    ) -> Response:
        """The matching entries as CSV, oldest first (the export is itself audited)."""
        if (refused := guard.refuse(who, "audit.export")) is not None:
            return refused
        assert who is not None
        return export(ctx, who, AuditFilter(action, actor, subject, since, until))

    return api
