"""Server-Sent Events for the console's live tables (incidents, fleet).

A page renders its table and names, in ``data-live-url``, a stream that starts at the page's
own time (``?since=``). Every :data:`POLL_INTERVAL_S` the stream reads the rows changed since
its cursor, within what the viewer may see *now*, and sends each as ``event: row`` with the
row's HTML (the same partial template the page used); ``static/live.js`` replaces the row or
adds it at the top. Each event carries the cursor as its ``id``, so the browser's automatic
reconnect (``Last-Event-ID``) resumes where the stream stopped.

Safe to leave open on an operations-room screen:

- the session is checked on every cycle *without* extending it (``activity=False``): an
  unattended screen still logs off, and the stream then sends ``event: logout`` and ends, so
  live.js leaves the page for the login page;
- the stream ends after :data:`MAX_DURATION_S` (the browser reconnects), so a long-lived
  connection never outlives a changed role by more than one cycle nor holds a worker forever;
- a comment line every :data:`KEEPALIVE_S` keeps proxies from closing an idle stream.

Which rows to send is a pure function (:func:`advance`): rows are read from a little before
the cursor (:data:`OVERLAP_S`), because another fleet manager instance may commit a change
stamped slightly earlier than one already sent; a row is sent once per version.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from fleet_manager.accounts.policy import Action, Principal, QueryScope, query_scope
from fleet_manager.api.context import AppContext
from fleet_manager.console.web import PageRefused
from transport.log import get_logger

log = get_logger("fleet_manager.console")

POLL_INTERVAL_S = 1.0
KEEPALIVE_S = 15.0
MAX_DURATION_S = 300.0
OVERLAP_S = 5.0
MAX_BACKLOG_S = 3600.0  # how far back a stream may start (a page left a long time)
RETRY_MS = 3000

Row = TypeVar("Row")


@dataclass(frozen=True)
class Change:
    """One row as the feed sees it: its element id, what makes a new version, and when."""

    key: str
    version: Hashable
    at: float


@dataclass(frozen=True)
class Cursor:
    at: float  # the newest change time sent (or the start)
    floor: float  # never read before this (the page already shows what came earlier)
    sent: frozenset[tuple[str, Hashable, float]] = frozenset()  # recent (key, version, at)

    def read_from(self, overlap: float = OVERLAP_S) -> float:
        return max(self.floor, self.at - overlap)


def start_cursor(since: str | None, last_event_id: str | None, now: float) -> Cursor:
    """Where a stream starts: the browser's last event id, else the page's time, else now;
    never in the future, never more than :data:`MAX_BACKLOG_S` back."""
    start = now
    for candidate in (last_event_id, since):
        if candidate is None:
            continue
        try:
            value = float(candidate)
        except ValueError:
            continue
        if value == value:  # not NaN
            start = value
            break
    start = min(now, max(now - MAX_BACKLOG_S, start))
    return Cursor(at=start, floor=start)


def advance(
    cursor: Cursor, changes: Sequence[Change], overlap: float = OVERLAP_S
) -> tuple[list[int], Cursor]:
    """Which of ``changes`` (read from ``cursor.read_from()``) to send, by index, and the
    cursor after sending them. A (key, version) already sent is not sent again; the memory
    of sent rows keeps only what the next read can return again."""
    sent = set(cursor.sent)
    seen = {(key, version) for key, version, _at in sent}
    send: list[int] = []
    newest = cursor.at
    for index, change in enumerate(changes):
        if change.at < cursor.floor or (change.key, change.version) in seen:
            continue
        send.append(index)
        seen.add((change.key, change.version))
        sent.add((change.key, change.version, change.at))
        newest = max(newest, change.at)
    keep = frozenset(item for item in sent if item[2] >= newest - overlap)
    return send, Cursor(at=newest, floor=cursor.floor, sent=keep)


def row_event(key: str, html: str, at: float) -> str:
    """One row; its id is the row's change time (rows go oldest first), where a reconnect
    resumes."""
    data = json.dumps({"id": key, "html": html}, separators=(",", ":"))
    return f"event: row\nid: {at!r}\ndata: {data}\n\n"


LOGOUT_EVENT = "event: logout\ndata: {}\n\n"
KEEPALIVE = ": keepalive\n\n"


@dataclass(frozen=True)
class Feed(Generic[Row]):
    """What one live table needs: the action that scopes it, how to read rows changed since a
    time (oldest first), what a row is to the feed, and its HTML."""

    name: str
    action: Action
    fetch: Callable[[sa.Connection, QueryScope, float], list[Row]]
    change: Callable[[Row], Change]
    render: Callable[[Row, Principal], str]


def page_stream(ctx: AppContext, request: Request, feed: Feed[Row], since: str | None) -> Response:
    """The response for a live table (text/event-stream). Without a session the stream only
    says ``logout`` (live.js then goes to the login page); a viewer whose roles do not allow
    the table anywhere gets the 403 page."""
    caller = ctx.auth.caller(request, activity=False)
    signed_in = caller is not None and caller.via == "session"
    if signed_in and caller is not None and query_scope(caller.principal, feed.action).is_empty():
        ctx.counters.inc("console_forbidden")
        raise PageRefused(403, "Your roles do not allow this page.")
    cursor = start_cursor(since, request.headers.get("last-event-id"), ctx.now())
    return StreamingResponse(
        _events(ctx, request, feed, cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _viewer(ctx: AppContext, request: Request, action: Action) -> Principal | None:
    caller = ctx.auth.caller(request, activity=False)
    if caller is None or caller.via != "session":
        return None
    if query_scope(caller.principal, action).is_empty():
        return None
    return caller.principal


def _poll(
    ctx: AppContext, feed: Feed[Row], who: Principal, cursor: Cursor
) -> tuple[list[tuple[str, str, float]], Cursor]:
    with ctx.engine.connect() as conn:
        rows = feed.fetch(conn, query_scope(who, feed.action), cursor.read_from())
    changes = [feed.change(r) for r in rows]
    send, after = advance(cursor, changes)
    return [(changes[i].key, feed.render(rows[i], who), changes[i].at) for i in send], after


async def _events(
    ctx: AppContext, request: Request, feed: Feed[Row], cursor: Cursor
) -> AsyncIterator[str]:
    started = last_sent = time.monotonic()
    ctx.counters.inc(f"console_live_{feed.name}_streams")
    yield f"retry: {RETRY_MS}\n\n"
    while True:
        who = await run_in_threadpool(_viewer, ctx, request, feed.action)
        if who is None:
            yield LOGOUT_EVENT
            return
        rows, cursor = await run_in_threadpool(_poll, ctx, feed, who, cursor)
        for key, html, at in rows:
            yield row_event(key, html, at)
            last_sent = time.monotonic()
        now = time.monotonic()
        if now - last_sent >= KEEPALIVE_S:
            yield KEEPALIVE
            last_sent = now
        if now - started >= MAX_DURATION_S or await request.is_disconnected():
            return
        await asyncio.sleep(POLL_INTERVAL_S)
