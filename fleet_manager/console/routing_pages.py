"""``/console/routing``: the routing policy in force, its editor and the "what would happen"
preview.

    GET  /console/routing[?device_id=K&kind=help]  routing.view (anywhere); the preview of the
                                                   policy in force for a visible kiosk
    POST /console/routing                          routing.edit (fleet-wide); op=check|preview|save

Everyone who may view routing sees the version in force, who saved it and when, the routes as
a table and the YAML. Those who may edit get the YAML in a form: "Check" validates it and shows
the problem inline, "Preview" shows what the draft would do for the chosen kiosk and kind, and
"Save" stores it as a new version (validated first, refused if someone saved meanwhile). The
others get a preview form over the policy in force. Works without JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from fleet_manager.accounts.policy import query_scope
from fleet_manager.api import routing_routes as shared
from fleet_manager.api.context import AppContext
from fleet_manager.console.web import PageRefused, Viewer
from fleet_manager.routing import policy_store
from fleet_manager.routing.preview import PREVIEW_KINDS, duration
from transport.log import get_logger

log = get_logger("fleet_manager.console")

PATH = "/console/routing"
OPS = ("check", "preview", "save")


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    console = ctx.console

    async def policy_form(request: Request) -> tuple[Viewer, FormData]:
        """The console's form (CSRF checked); the policy may be as long as a policy may be."""
        return await console.form(request, {"policy_yaml": policy_store.MAX_POLICY_CHARS})

    def page(
        request: Request,
        viewer: Viewer,
        *,
        draft: str | None = None,
        base_version: int | None = None,
        problem: str | None = None,
        notice: str | None = None,
        preview: shared.PreviewView | None = None,
        device_id: str | None = None,
        kind: str = "help",
        status: int = 200,
    ) -> HTMLResponse:
        with ctx.engine.connect() as conn:
            stored = policy_store.current(conn, shared.fallback_file(ctx))
            kiosks = shared.visible_kiosks(conn, query_scope(viewer.principal, "routing.view"))
        view = shared.routing_view(stored)
        context: dict[str, Any] = {
            "policy": view,
            "can_edit": console.may(viewer, "routing.edit"),
            "draft": stored.policy_yaml if draft is None else draft,
            "base_version": stored.version if base_version is None else base_version,
            "problem": problem,
            "notice": notice,
            "preview": preview,
            "kiosks": kiosks,
            "kinds": PREVIEW_KINDS,
            "device_id": device_id,
            "kind": kind,
            "flash": flash(request),
            "duration": duration,
        }
        return console.render(request, "routing.html", viewer, context, status=status)

    def flash(request: Request) -> str | None:
        saved = request.query_params.get("saved", "")
        return f"Saved version {saved} of the routing policy." if saved.isdigit() else None

    def preview_for(
        viewer: Viewer, device_id: str, kind: str, text: str, version: int | None
    ) -> tuple[shared.PreviewView | None, str | None]:
        """The preview for a kiosk the viewer may see (404 otherwise), or the problem."""
        if kind not in PREVIEW_KINDS:
            return None, f"unknown kind {kind[:20]!r}: choose one of {', '.join(PREVIEW_KINDS)}"
        with ctx.engine.connect() as conn:
            where = shared.locate(conn, device_id, None)
        if where is None:
            raise PageRefused(404, "No such kiosk.")
        console.require(viewer, "routing.view", where.resource)
        try:
            policy = policy_store.parse(text, "draft" if version is None else "policy")
        except policy_store.PolicyInvalid as exc:
            return None, str(exc)
        return shared.preview_view(policy, where, kind, version), None

    @pages.get(PATH)
    def routing_page(
        request: Request, device_id: str | None = None, kind: str = "help"
    ) -> Response:
        viewer = console.viewer(request)
        console.require_anywhere(viewer, "routing.view")
        if not device_id:
            return page(request, viewer, kind=kind if kind in PREVIEW_KINDS else "help")
        with ctx.engine.connect() as conn:
            stored = policy_store.current(conn, shared.fallback_file(ctx))
        result, problem = preview_for(viewer, device_id, kind, stored.policy_yaml, stored.version)
        return page(
            request,
            viewer,
            preview=result,
            problem=problem,
            device_id=device_id,
            kind=kind,
            status=200 if problem is None else 422,
        )

    @pages.post(PATH)
    async def routing_post(request: Request) -> Response:
        viewer, form = await policy_form(request)
        console.require(viewer, "routing.edit")
        op = str(form.get("op") or "check")
        draft = str(form.get("policy_yaml") or "").replace("\r\n", "\n")
        base_text = str(form.get("base_version") or "")
        device_id = str(form.get("device_id") or "")
        kind = str(form.get("kind") or "help")
        if op not in OPS or not base_text.isdigit() or len(base_text) > 9:
            raise PageRefused(400, "That form was not filled in as expected.")
        base_version = int(base_text)

        def again(status: int, **extra: Any) -> HTMLResponse:
            return page(
                request,
                viewer,
                draft=draft,
                base_version=base_version,
                device_id=device_id or None,
                kind=kind if kind in PREVIEW_KINDS else "help",
                status=status,
                **extra,
            )

        if op == "check":
            problem = policy_store.problem(draft)
            if problem is not None:
                return again(422, problem=problem)
            return again(200, notice="The policy is valid. It is not saved yet.")
        if op == "preview":
            if not device_id:
                return again(422, problem="Choose a kiosk to preview.")
            result, problem = preview_for(viewer, device_id, kind, draft, None)
            return again(200 if problem is None else 422, preview=result, problem=problem)
        try:
            with ctx.engine.begin() as conn:
                stored = policy_store.save(conn, draft, base_version, viewer.label, ctx.now())
        except policy_store.PolicyInvalid as exc:
            ctx.counters.inc("routing_policy_refused.invalid")
            return again(422, problem=f"Not saved: {exc}")
        except policy_store.PolicyConflict as exc:
            ctx.counters.inc("routing_policy_refused.conflict")
            log.info("routing_policy_conflict", who=viewer.label, base=exc.base_version)
            return again(409, problem=f"Not saved: {exc}. Your draft is still below.")
        return RedirectResponse(f"{PATH}?saved={stored.version}", status_code=303)

    return pages
