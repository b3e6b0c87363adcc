"""The facilities pages: facilities, their locations and QR tokens, enrolment tokens, pending
approvals, sticker sheets and revoking a kiosk.

    GET  /console/facilities                                   registry.view (scoped list)
    POST /console/facilities                                   registry.edit fleet-wide (ops)
    GET  /console/facilities/{f}                               registry.view on f
    POST /console/facilities/{f}/approval                      registry.edit on f
    POST /console/facilities/{f}/locations                     registry.edit on f
    POST /console/facilities/{f}/locations/{l}/rotate-qr       registry.edit on f
    POST /console/facilities/{f}/locations/{l}/enrolment-token enrolment.token on f → the token,
                                                               shown once, with its QR code
    POST /console/facilities/{f}/approvals/{e}/approve|reject  enrolment.approve on f
    GET  /console/facilities/{f}/stickers.pdf                  registry.edit on f (audited)
    GET  /console/facilities/{f}/kiosks/{d}/revoke             device.revoke on f: "are you sure?"
    POST /console/facilities/{f}/kiosks/{d}/revoke             device.revoke on f: do it, report

Everything sits under its facility, and a location, enrolment or kiosk of another facility is
"not found" as an unknown one is. The same functions as ``/api/v1`` (:mod:`registry_routes`) and
``beacon provision`` run underneath. A change redirects back with a fixed flash message (a code
in the query, never text from the query); a refused form is shown again with what was wrong.
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData

from fleet_manager.accounts.policy import FLEET, Action, Resource
from fleet_manager.api.context import AppContext
from fleet_manager.console.web import PREFIX, PageRefused, Viewer
from fleet_manager.enrolment.revocation import RevocationError
from fleet_manager.registry_admin import actions, views
from fleet_manager.registry_admin.rules import (
    REASON_MAX,
    FormProblem,
    checked,
    optional_text,
    parse_grace,
    parse_sticker_languages,
    parse_token_ttl,
    revocation_outcome,
)
from fleet_manager.store import registry
from fleet_manager.store.enrolment_store import EnrolmentError
from transport.log import get_logger

log = get_logger("fleet_manager.console.registry")

DONE = {
    "facility_added": "Facility added.",
    "approval_on": "New kiosks of this facility now wait for approval.",
    "approval_off": "New kiosks of this facility no longer wait for approval.",
    "location_added": "Location added, with a new QR token.",
    "qr_rotated": "New QR token: print new stickers; the old ones keep working for the grace "
    "period chosen.",
    "approved": "Approved: the kiosk receives its certificate the next time it asks.",
    "rejected": "Rejected: the kiosk needs a new enrolment token to try again.",
}
TTL_CHOICES = (("1h", "1 hour"), ("24h", "24 hours"), ("7d", "7 days"))
GRACE_CHOICES = (("30d", "30 days"), ("7d", "7 days"), ("0", "none: old stickers stop now"))
SHEETS = (
    ("avery-5163", "Avery 5163 (US Letter, 10 per sheet)"),
    ("a4-l7165", "Avery L7165 (A4, 8 per sheet)"),
    ("a4-l7163", "Avery L7163 (A4, 14 per sheet)"),
)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def token_qr_markup(token: str) -> Markup:
    """The token's QR code as inline SVG: segno's own markup from a Crockford token (digits,
    capitals, dashes), with presentation attributes only (no style attribute, no script)."""
    return Markup(
        segno.make(token, error="m").svg_inline(scale=6, border=4, light="#fff", omitsize=True)
    )


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, include_in_schema=False)
    console, engine = ctx.console, ctx.engine

    def place_of(facility_id: str) -> views.Place:
        with engine.connect() as conn:
            place = views.facility_place(conn, facility_id[:64])
        if place is None:
            raise PageRefused(404, "Not found.")
        return place

    def require_at(viewer: Viewer, action: Action, facility_id: str) -> views.Place:
        """The facility, if ``viewer`` may take ``action`` there; else PageRefused 403/404."""
        console.require_anywhere(viewer, action)
        place = place_of(facility_id)
        console.require(viewer, action, Resource.facility(place.facility_id, place.region))
        return place

    def back(facility_id: str, done: str) -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/facilities/{facility_id}?done={done}", status_code=303)

    def refused_form(request: Request, viewer: Viewer, facility_id: str, problem: str) -> Response:
        ctx.counters.inc("console_registry_refused")
        log.warning("console_registry_refused", who=viewer.label, path=request.url.path)
        return facility_page(request, viewer, facility_id, error=problem, status=422)

    # -- facilities ----------------------------------------------------------------------------

    def facilities_page(
        request: Request,
        viewer: Viewer,
        error: str | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        scope = ctx.guard.scope(viewer.principal, "registry.view")
        approve_scope = ctx.guard.scope(viewer.principal, "enrolment.approve")
        with engine.connect() as conn:
            rows = views.facility_rows(conn, scope)
            pending = (
                views.pending_rows(conn, approve_scope) if not approve_scope.is_empty() else []
            )
        return console.render(
            request,
            "facilities.html",
            viewer,
            {
                "rows": rows,
                "pending": pending,
                "can_add": console.may(viewer, "registry.edit", FLEET),
                "error": error,
                "values": values or {},
                "flash": DONE.get(request.query_params.get("done", "")),
            },
            status=status,
        )

    @pages.get("/facilities")
    def facilities(request: Request) -> Response:
        viewer = console.viewer(request)
        console.require_anywhere(viewer, "registry.view")
        return facilities_page(request, viewer)

    @pages.post("/facilities")
    async def add_facility(request: Request) -> Response:
        viewer, form = await console.form(request)
        console.require(viewer, "registry.edit")
        values = {k: _field(form, k) for k in ("facility_id", "name", "region")}
        try:
            actions.create_facility(
                engine,
                values["facility_id"],
                values["name"],
                values["region"],
                checked(_field(form, "require_approval")),
                actor=viewer.label,
                now=ctx.now(),
            )
        except registry.RegistryError as exc:
            ctx.counters.inc("console_registry_refused")
            return facilities_page(request, viewer, str(exc), values, status=422)
        return back(values["facility_id"], "facility_added")

    def facility_page(
        request: Request,
        viewer: Viewer,
        facility_id: str,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        place = require_at(viewer, "registry.view", facility_id)
        resource = Resource.facility(place.facility_id, place.region)
        now = ctx.now()
        with engine.connect() as conn:
            row = views.facility_row(conn, place.facility_id)
            locations = views.location_rows(conn, place.facility_id, now)
            kiosks = views.kiosk_rows(conn, place.facility_id)
            pending = views.pending_rows(
                conn, ctx.guard.scope(viewer.principal, "registry.view"), place.facility_id
            )
        return console.render(
            request,
            "facility.html",
            viewer,
            {
                "f": row,
                "locations": locations,
                "kiosks": kiosks,
                "pending": pending,
                "can_edit": console.may(viewer, "registry.edit", resource),
                "can_token": console.may(viewer, "enrolment.token", resource),
                "can_approve": console.may(viewer, "enrolment.approve", resource),
                "can_revoke": console.may(viewer, "device.revoke", resource),
                "kinds": registry.LOCATION_KINDS,
                "ttl_choices": TTL_CHOICES,
                "grace_choices": GRACE_CHOICES,
                "sheets": SHEETS,
                "languages": actions.sticker_languages(),
                "error": error,
                "flash": DONE.get(request.query_params.get("done", "")),
            },
            status=status,
        )

    @pages.get("/facilities/{facility_id}")
    def facility(request: Request, facility_id: str) -> Response:
        return facility_page(request, console.viewer(request), facility_id)

    @pages.post("/facilities/{facility_id}/approval")
    async def require_approval(request: Request, facility_id: str) -> Response:
        viewer, form = await console.form(request)
        place = require_at(viewer, "registry.edit", facility_id)
        required = checked(_field(form, "require_approval"))
        actions.set_require_approval(
            engine, place.facility_id, required, actor=viewer.label, now=ctx.now()
        )
        return back(place.facility_id, "approval_on" if required else "approval_off")

    # -- locations -----------------------------------------------------------------------------

    @pages.post("/facilities/{facility_id}/locations")
    async def add_location(request: Request, facility_id: str) -> Response:
        viewer, form = await console.form(request)
        place = require_at(viewer, "registry.edit", facility_id)
        try:
            actions.create_location(
                engine,
                _field(form, "location_id"),
                place.facility_id,
                _field(form, "name"),
                _field(form, "kind"),
                floor=optional_text(_field(form, "floor")),
                room=optional_text(_field(form, "room")),
                actor=viewer.label,
                now=ctx.now(),
            )
        except registry.RegistryError as exc:
            return refused_form(request, viewer, place.facility_id, str(exc))
        return back(place.facility_id, "location_added")

    def location_at(viewer: Viewer, action: Action, facility_id: str, location_id: str) -> str:
        place = require_at(viewer, action, facility_id)
        with engine.connect() as conn:
            location = registry.get_location(conn, location_id[:64])
        if location is None or location.facility_id != place.facility_id:
            raise PageRefused(404, "Not found.")
        return location.location_id

    @pages.post("/facilities/{facility_id}/locations/{location_id}/rotate-qr")
    async def rotate_qr(request: Request, facility_id: str, location_id: str) -> Response:
        viewer, form = await console.form(request)
        found = location_at(viewer, "registry.edit", facility_id, location_id)
        try:
            grace_s = parse_grace(_field(form, "grace"))
            actions.rotate_qr(engine, found, grace_s, actor=viewer.label, now=ctx.now())
        except (FormProblem, registry.RegistryError) as exc:
            return refused_form(request, viewer, facility_id, str(exc))
        return back(facility_id, "qr_rotated")

    @pages.post("/facilities/{facility_id}/locations/{location_id}/enrolment-token")
    async def enrolment_token(request: Request, facility_id: str, location_id: str) -> Response:
        viewer, form = await console.form(request)
        found = location_at(viewer, "enrolment.token", facility_id, location_id)
        try:
            ttl_s = parse_token_ttl(_field(form, "ttl") or "24h")
            created = actions.create_enrolment_token(
                engine, found, ttl_s, actor=viewer.label, now=ctx.now()
            )
        except (FormProblem, registry.RegistryError) as exc:
            return refused_form(request, viewer, facility_id, str(exc))
        return console.render(
            request,
            "location_token.html",
            viewer,
            {
                "facility_id": facility_id,
                "location_id": found,
                "token": created.token,
                "expires_at": created.expires_at,
                "qr": token_qr_markup(created.token),
            },
        )

    # -- approvals -----------------------------------------------------------------------------

    @pages.post("/facilities/{facility_id}/approvals/{ref}/{decision}")
    async def decide(request: Request, facility_id: str, ref: str, decision: str) -> Response:
        viewer, form = await console.form(request)
        if decision not in ("approve", "reject"):
            raise PageRefused(404, "Not found.")
        place = require_at(viewer, "enrolment.approve", facility_id)
        with engine.connect() as conn:
            found = views.enrolment_place(conn, ref[:64])
        if found is None or found[1].facility_id != place.facility_id:
            raise PageRefused(404, "Not found.")
        try:
            actions.decide_enrolment(
                engine,
                found[0].enrolment_id,
                decision == "approve",
                _field(form, "reason").strip()[:REASON_MAX],
                actor=viewer.label,
                now=ctx.now(),
            )
        except EnrolmentError as exc:
            return refused_form(request, viewer, place.facility_id, str(exc))
        return back(place.facility_id, "approved" if decision == "approve" else "rejected")

    # -- stickers ------------------------------------------------------------------------------

    @pages.get("/facilities/{facility_id}/stickers.pdf")
    def stickers(request: Request, facility_id: str) -> Response:
        from provisioning.stickers import StickerError

        viewer = console.viewer(request)
        place = require_at(viewer, "registry.edit", facility_id)
        if ctx.config is None or ctx.config.enrolment is None:
            raise PageRefused(
                409,
                "Stickers need the landing page's address (enrolment.qr_origin in the "
                "fleet config), and this fleet manager has none.",
            )
        sheet = request.query_params.get("sheet", "avery-5163")[:32]
        language = ",".join(request.query_params.getlist("language") or ["en"])[:400]
        with engine.connect() as conn:
            locations = registry.list_locations(conn, place.facility_id)
        if not locations:
            raise PageRefused(409, "This facility has no locations yet: add one first.")
        try:
            languages = parse_sticker_languages(language, actions.sticker_languages())
            made = actions.sticker_sheet(
                locations, languages, ctx.config.enrolment.qr_origin, sheet
            )
        except (FormProblem, StickerError) as exc:
            ctx.counters.inc("console_registry_refused")
            raise PageRefused(422, str(exc)) from None
        actions.record_stickers_printed(
            engine, place.facility_id, languages, sheet, made, actor=viewer.label, now=ctx.now()
        )
        name = f"stickers-{place.facility_id}.pdf"
        return Response(
            made.pdf,
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    # -- revocation ----------------------------------------------------------------------------

    def kiosk_at(viewer: Viewer, facility_id: str, device_id: str) -> tuple[views.Place, Any]:
        place = require_at(viewer, "device.revoke", facility_id)
        with engine.connect() as conn:
            kiosk = next(
                (k for k in views.kiosk_rows(conn, place.facility_id) if k.device_id == device_id),
                None,
            )
        if kiosk is None:
            raise PageRefused(404, "Not found.")
        return place, kiosk

    @pages.get("/facilities/{facility_id}/kiosks/{device_id}/revoke")
    def confirm_revoke(request: Request, facility_id: str, device_id: str) -> Response:
        viewer = console.viewer(request)
        place, kiosk = kiosk_at(viewer, facility_id, device_id)
        return console.render(
            request,
            "facility_kiosk_revoke.html",
            viewer,
            {"facility_id": place.facility_id, "k": kiosk, "reason_max": REASON_MAX},
        )

    @pages.post("/facilities/{facility_id}/kiosks/{device_id}/revoke")
    async def revoke(request: Request, facility_id: str, device_id: str) -> Response:
        viewer, form = await console.form(request)
        place, kiosk = kiosk_at(viewer, facility_id, device_id)
        config = ctx.config
        if config is None or config.enrolment is None or config.revocation is None:
            raise PageRefused(
                409,
                "Revoking needs the fleet config's issuing CA and broker files "
                "('enrolment' and 'revocation' sections); this fleet manager has none.",
            )
        try:
            result = actions.revoke_kiosk(
                config,
                engine,
                kiosk.device_id,
                decommission=checked(_field(form, "decommission")),
                reason=_field(form, "reason").strip(),
                actor=viewer.label,
                now=ctx.now(),
            )
        except (RevocationError, OSError, ValueError) as exc:
            log.error("console_revocation_failed", device_id=kiosk.device_id, error=str(exc))
            raise PageRefused(409, f"Could not revoke {kiosk.device_id}: {exc}") from None
        outcome = revocation_outcome(
            kiosk.device_id, result.lifecycle, actions.cut_off_facts(result)
        )
        return console.render(
            request,
            "facility_kiosk_revoked.html",
            viewer,
            {
                "facility_id": place.facility_id,
                "device_id": kiosk.device_id,
                "outcome": outcome,
                "problems": result.report.problems,
                "certificates": len(result.serials),
            },
        )

    return pages
