"""``/console/tokens``: API tokens for automation (tokens.manage: ops users only).

A list (prefix, name, grants, created, expires, last used, revoked), a form to make one, which
shows the new secret this once (the answer to the POST itself, never a redirect: a secret in a
URL would stay in the browser's history), and a revoke button per token.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import ROLES
from fleet_manager.api.context import AppContext
from fleet_manager.api.token_routes import create_token, revoke_token
from fleet_manager.console.web import PageRefused, Viewer
from fleet_manager.store.registry import list_facilities, parse_duration

TOKEN_ID = re.compile(r"tok-[0-9a-f]{1,28}")


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix="/console", include_in_schema=False)
    console = ctx.console

    def show(
        request: Request,
        viewer: Viewer,
        *,
        flash: str | None = None,
        error: str | None = None,
        created: tuple[str, token_store.ApiToken] | None = None,
        entered: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        with ctx.engine.connect() as conn:
            found = token_store.list_api_tokens(conn, include_revoked=True)
            places = list_facilities(conn)
        return console.render(
            request,
            "tokens.html",
            viewer,
            {
                "tokens": sorted(found, key=lambda t: (t.revoked_at is not None, -t.created_at)),
                "roles": ROLES,
                "facilities": places,
                "regions": sorted({f.region for f in places}),
                "now": ctx.now(),
                "flash": flash,
                "error": error,
                "secret": created[0] if created else None,
                "created": created[1] if created else None,
                "entered": entered or {},
            },
            status=status,
        )

    @pages.get("/tokens")
    def tokens_page(request: Request, done: str = "", token: str = "") -> Response:
        viewer = console.viewer(request)
        console.require(viewer, "tokens.manage")
        flash = None
        if done == "revoked" and TOKEN_ID.fullmatch(token):
            flash = f"Token {token} revoked: it no longer works."
        return show(request, viewer, flash=flash)

    @pages.post("/tokens")
    async def create(request: Request) -> Response:
        viewer, form = await console.form(request)
        console.require(viewer, "tokens.manage")
        entered = {k: _field(form, k) for k in ("name", "role", "facility", "region", "ttl")}
        ttl_s = None
        if entered["ttl"]:
            try:
                ttl_s = parse_duration(entered["ttl"])
            except ValueError as exc:
                return show(request, viewer, error=str(exc), entered=entered, status=400)
            if ttl_s <= 0:
                return show(
                    request, viewer, error="Give a lifetime above 0, or none.", entered=entered,
                    status=400,
                )  # fmt: skip
        made = create_token(
            ctx,
            viewer.principal,
            entered["name"],
            [(entered["role"], entered["facility"] or None, entered["region"] or None)],
            ttl_s,
            None,
        )
        if isinstance(made, str):
            ctx.counters.inc("console_bad_requests")
            return show(request, viewer, error=made, entered=entered, status=400)
        return show(request, viewer, created=made, status=201)

    @pages.post("/tokens/{token_id}/revoke")
    async def revoke(request: Request, token_id: str) -> Response:
        viewer, _form = await console.form(request)
        console.require(viewer, "tokens.manage")
        if (
            not TOKEN_ID.fullmatch(token_id)
            or revoke_token(ctx, viewer.principal, token_id) is None
        ):
            raise PageRefused(404, "No such API token.")
        return RedirectResponse(f"/console/tokens?done=revoked&token={token_id}", status_code=303)

    return pages
