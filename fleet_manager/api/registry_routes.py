"""``/api/v1``: facilities, locations, enrolment tokens, pending approvals, sticker sheets and
revocation — the console's registry area, for people and automation alike.

    GET   /api/v1/facilities                              registry.view (scoped list)
    POST  /api/v1/facilities                              registry.edit fleet-wide (ops)
    GET   /api/v1/facilities/{id}                         registry.view on it
    PATCH /api/v1/facilities/{id}      {require_approval} registry.edit on it
    POST  /api/v1/facilities/{id}/locations               registry.edit on it
    GET   /api/v1/facilities/{id}/stickers.pdf            registry.edit on it (audited)
    POST  /api/v1/locations/{id}/rotate-qr                registry.edit on its facility
    POST  /api/v1/locations/{id}/enrolment-tokens         enrolment.token on its facility
    GET   /api/v1/approvals                               enrolment.approve (scoped list)
    POST  /api/v1/approvals/{ref}/approve|reject          enrolment.approve on its facility
    POST  /api/v1/kiosks/{device_id}/revoke               device.revoke on its facility

401 without a caller, 403 when no role allows the action anywhere, 404 for an id outside the
caller's scope exactly as for an unknown one. ``/api/v1/enrolments/{id}`` is the kiosks' own
polling endpoint and not part of this module.
"""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import segno
import sqlalchemy as sa
from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from fleet_manager.accounts.policy import FLEET, Action, Principal, Resource
from fleet_manager.api.context import AppContext
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.enrolment.revocation import RevocationError
from fleet_manager.registry_admin import actions, views
from fleet_manager.registry_admin.models import (
    Decision,
    EnrolmentOut,
    FacilityChange,
    FacilityDetail,
    FacilityOut,
    KioskOut,
    LocationCreated,
    LocationOut,
    NewFacility,
    NewLocation,
    PendingOut,
    QrRotation,
    RevocationOut,
    RevokeRequest,
    RotationOut,
    TokenOut,
    TokenRequest,
)
from fleet_manager.registry_admin.rules import (
    MAX_STICKER_LANGUAGES,
    FormProblem,
    parse_sticker_languages,
    revocation_outcome,
)
from fleet_manager.store import registry
from fleet_manager.store.enrolment_store import EnrolmentError
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api.registry")

PREFIX = "/api/v1"
Id = Annotated[str, PathParam(min_length=1, max_length=64)]


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Refusal} for code in (400, 401, 403, *codes)}


def token_qr_svg(token: str) -> str:
    """The enrolment token as a standalone SVG QR code (segno: no scripts, no style attributes)."""
    buffer = io.BytesIO()
    segno.make(token, error="m").save(
        buffer, kind="svg", scale=6, border=4, xmldecl=False, svgns=True, light="#fff"
    )
    return buffer.getvalue().decode()


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["registry"])
    guard, engine = ctx.guard, ctx.engine
    languages = actions.sticker_languages()

    def refused(status: int, error: str, message: str, path: str) -> JSONResponse:
        ctx.counters.inc(f"registry_refused.{error}")
        log.warning("registry_refused", status=status, error=error, path=path)
        return refusal(status, error, message)

    def at(who: Principal | None, action: Action, place: views.Place | None, what: str) -> Any:
        """None if ``who`` may take ``action`` where ``place`` is; else the 401/403/404."""
        if place is None:
            if (anywhere := guard.refuse_anywhere(who, action)) is not None:
                return anywhere
            return not_found(what)
        resource = Resource.facility(place.facility_id, place.region)
        return guard.refuse_in(who, action, resource, what)

    def registry_problem(exc: registry.RegistryError, path: str) -> JSONResponse:
        if isinstance(exc, registry.DuplicateIdError):
            return refused(409, "duplicate_id", str(exc), path)
        if isinstance(exc, registry.UnknownFacilityError | registry.UnknownLocationError):
            return refused(404, "not_found", str(exc), path)
        if isinstance(exc, registry.InvalidEntryError):
            return refused(422, "invalid", str(exc), path)
        return refused(409, "conflict", str(exc), path)

    # -- facilities ----------------------------------------------------------------------------

    @api.get("/facilities", response_model=list[FacilityOut], responses=_responses())
    def list_facilities(who: Principal | None = guard.caller) -> Any:
        """The facilities the caller may see, with locations, kiosks (online) and pending
        approvals counted."""
        if (no := guard.refuse_anywhere(who, "registry.view")) is not None:
            return no
        assert who is not None
        with engine.connect() as conn:
            rows = views.facility_rows(conn, guard.scope(who, "registry.view"))
        return [FacilityOut.of(r) for r in rows]

    @api.post(
        "/facilities",
        status_code=201,
        response_model=FacilityOut,
        responses=_responses(409, 422),
    )
    def add_facility(body: NewFacility, who: Principal | None = guard.caller) -> Any:
        """Add a facility (fleet-wide: ops only; a facility admin gets 403)."""
        if (no := guard.refuse(who, "registry.edit")) is not None:
            return no
        assert who is not None
        try:
            actions.create_facility(
                engine,
                body.facility_id,
                body.name,
                body.region,
                body.require_approval,
                actor=who.label,
                now=ctx.now(),
            )
        except registry.RegistryError as exc:
            return registry_problem(exc, "/facilities")
        except sa.exc.IntegrityError:
            return refused(409, "conflict", "written at the same time: look again", "/facilities")
        with engine.connect() as conn:
            row = views.facility_row(conn, body.facility_id)
        assert row is not None
        return JSONResponse(status_code=201, content=FacilityOut.of(row).model_dump())

    @api.get("/facilities/{facility_id}", response_model=FacilityDetail, responses=_responses(404))
    def get_facility(facility_id: Id, who: Principal | None = guard.caller) -> Any:
        """A facility with its locations (QR token state), kiosks and pending approvals."""
        with engine.connect() as conn:
            place = views.facility_place(conn, facility_id)
            if (no := at(who, "registry.view", place, "facility")) is not None:
                return no
            assert who is not None
            row = views.facility_row(conn, facility_id)
            assert row is not None
            now = ctx.now()
            locations = views.location_rows(conn, facility_id, now)
            kiosks = views.kiosk_rows(conn, facility_id)
            pending = views.pending_rows(conn, guard.scope(who, "registry.view"), facility_id)
        return FacilityDetail(
            facility=FacilityOut.of(row),
            locations=[LocationOut.of(r) for r in locations],
            kiosks=[KioskOut.of(r) for r in kiosks],
            pending_approvals=[PendingOut.of(r) for r in pending],
        )

    @api.patch("/facilities/{facility_id}", response_model=FacilityOut, responses=_responses(404))
    def change_facility(
        facility_id: Id, body: FacilityChange, who: Principal | None = guard.caller
    ) -> Any:
        """Whether new kiosks of the facility wait for approval."""
        with engine.connect() as conn:
            place = views.facility_place(conn, facility_id)
        if (no := at(who, "registry.edit", place, "facility")) is not None:
            return no
        assert who is not None
        if not actions.set_require_approval(
            engine, facility_id, body.require_approval, actor=who.label, now=ctx.now()
        ):
            return not_found("facility")
        with engine.connect() as conn:
            row = views.facility_row(conn, facility_id)
        assert row is not None
        return FacilityOut.of(row)

    @api.post(
        "/facilities/{facility_id}/locations",
        status_code=201,
        response_model=LocationCreated,
        responses=_responses(404, 409, 422),
    )
    def add_location(
        facility_id: Id, body: NewLocation, who: Principal | None = guard.caller
    ) -> Any:
        """Add a location (room) to the facility; it gets a new random QR token."""
        with engine.connect() as conn:
            place = views.facility_place(conn, facility_id)
        if (no := at(who, "registry.edit", place, "facility")) is not None:
            return no
        assert who is not None
        path = "/facilities/{id}/locations"
        try:
            made = actions.create_location(
                engine,
                body.location_id,
                facility_id,
                body.name,
                body.kind,
                floor=body.floor,
                room=body.room,
                actor=who.label,
                now=ctx.now(),
            )
        except registry.RegistryError as exc:
            return registry_problem(exc, path)
        except sa.exc.IntegrityError:
            return refused(409, "conflict", "written at the same time: look again", path)
        return JSONResponse(status_code=201, content=LocationCreated(**made.__dict__).model_dump())

    @api.get(
        "/facilities/{facility_id}/stickers.pdf",
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}, "description": "the sticker sheet"},
            **_responses(404, 409, 422),
        },
    )
    def stickers(
        facility_id: Id,
        language: list[str] = Query(  # noqa: B008 (FastAPI's default-argument style)
            ["en"],
            min_length=1,
            max_length=MAX_STICKER_LANGUAGES,
            json_schema_extra={"items": {"type": "string", "enum": list(languages)}},
        ),
        sheet: Literal["avery-5163", "a4-l7165", "a4-l7163"] = "avery-5163",
        who: Principal | None = guard.caller,
    ) -> Any:
        """The print-ready sticker sheet (PDF) of every location of the facility, in each
        ``language`` (repeat the parameter: ``?language=en&language=es``). Printing is an
        admin act: it needs registry.edit, and is written to the audit log."""
        with engine.connect() as conn:
            place = views.facility_place(conn, facility_id)
            if (no := at(who, "registry.edit", place, "facility")) is not None:
                return no
            assert who is not None
            locations = registry.list_locations(conn, facility_id)
        return sticker_response(who, facility_id, locations, language, sheet)

    def sticker_response(
        who: Principal,
        facility_id: str,
        locations: list[registry.Location],
        language: list[str],
        sheet: str,
    ) -> Response:
        from provisioning.stickers import StickerError

        path = "/facilities/{id}/stickers.pdf"
        if ctx.config is None or ctx.config.enrolment is None:
            return refused(
                409,
                "not_configured",
                "the fleet config names no landing page origin (enrolment.qr_origin)",
                path,
            )
        if not locations:
            return refused(409, "no_locations", "the facility has no locations yet", path)
        try:
            languages = parse_sticker_languages(",".join(language), actions.sticker_languages())
            made = actions.sticker_sheet(
                locations, languages, ctx.config.enrolment.qr_origin, sheet
            )
        except (FormProblem, StickerError) as exc:
            return refused(422, "invalid", str(exc), path)
        actions.record_stickers_printed(
            engine, facility_id, languages, sheet, made, actor=who.label, now=ctx.now()
        )
        return Response(
            made.pdf,
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="stickers-{facility_id}.pdf"'},
        )

    # -- locations -----------------------------------------------------------------------------

    @api.post(
        "/locations/{location_id}/rotate-qr",
        response_model=RotationOut,
        responses=_responses(404, 409, 422),
    )
    def rotate_qr(
        location_id: Id, body: QrRotation | None = None, who: Principal | None = guard.caller
    ) -> Any:
        """A new QR token for the location; stickers with the old one keep working for
        ``grace_s`` (default 30 days)."""
        with engine.connect() as conn:
            place = views.location_place(conn, location_id)
        if (no := at(who, "registry.edit", place, "location")) is not None:
            return no
        assert who is not None
        grace_s = (body or QrRotation()).grace_s
        try:
            rotation = actions.rotate_qr(
                engine, location_id, grace_s, actor=who.label, now=ctx.now()
            )
        except registry.RegistryError as exc:
            return registry_problem(exc, "/locations/{id}/rotate-qr")
        return RotationOut(**rotation.__dict__)

    @api.post(
        "/locations/{location_id}/enrolment-tokens",
        status_code=201,
        response_model=TokenOut,
        responses=_responses(404, 422),
    )
    def create_token(
        location_id: Id, body: TokenRequest | None = None, who: Principal | None = guard.caller
    ) -> Any:
        """A single-use enrolment token for a new kiosk at the location. The token is in this
        answer only: the fleet keeps its hash."""
        with engine.connect() as conn:
            place = views.location_place(conn, location_id)
        if (no := at(who, "enrolment.token", place, "location")) is not None:
            return no
        assert who is not None
        ttl_s = (body or TokenRequest()).ttl_s
        try:
            created = actions.create_enrolment_token(
                engine, location_id, ttl_s, actor=who.label, now=ctx.now()
            )
        except registry.RegistryError as exc:
            return registry_problem(exc, "/locations/{id}/enrolment-tokens")
        except ValueError as exc:
            return refused(422, "invalid", str(exc), "/locations/{id}/enrolment-tokens")
        out = TokenOut(
            token=created.token,
            location_id=created.location_id,
            expires_at=created.expires_at,
            qr_svg=token_qr_svg(created.token),
        )
        return JSONResponse(status_code=201, content=out.model_dump())

    # -- approvals -----------------------------------------------------------------------------

    @api.get("/approvals", response_model=list[PendingOut], responses=_responses())
    def list_approvals(who: Principal | None = guard.caller) -> Any:
        """Kiosks waiting for approval, oldest first, in the caller's facilities."""
        if (no := guard.refuse_anywhere(who, "enrolment.approve")) is not None:
            return no
        assert who is not None
        with engine.connect() as conn:
            rows = views.pending_rows(conn, guard.scope(who, "enrolment.approve"))
        return [PendingOut.of(r) for r in rows]

    @api.post(
        "/approvals/{ref}/{decision}",
        response_model=EnrolmentOut,
        responses=_responses(404, 409),
    )
    def decide(
        ref: Id,
        decision: Literal["approve", "reject"],
        body: Decision | None = None,
        who: Principal | None = guard.caller,
    ) -> Any:
        """Approve (the kiosk gets its certificate when it next asks) or reject a pending
        enrolment, named by enrolment id or device id."""
        with engine.connect() as conn:
            found = views.enrolment_place(conn, ref)
        if (no := at(who, "enrolment.approve", found and found[1], "enrolment")) is not None:
            return no
        assert who is not None and found is not None
        try:
            record = actions.decide_enrolment(
                engine,
                found[0].enrolment_id,
                decision == "approve",
                (body or Decision()).reason,
                actor=who.label,
                now=ctx.now(),
            )
        except EnrolmentError as exc:
            return refused(409, "not_pending", str(exc), "/approvals/{ref}")
        return EnrolmentOut(
            enrolment_id=record.enrolment_id,
            device_id=record.device_id,
            location_id=record.location_id,
            facility_id=record.facility_id,
            state=record.state,
            decided_at=record.decided_at,
            decided_by=record.decided_by,
        )

    # -- revocation ----------------------------------------------------------------------------

    @api.post(
        "/kiosks/{device_id}/revoke",
        response_model=RevocationOut,
        responses=_responses(404, 409),
    )
    def revoke(device_id: Id, body: RevokeRequest, who: Principal | None = guard.caller) -> Any:
        """Cut a kiosk off now (lost, stolen, tampered) or decommission it: as ``beacon
        provision revoke|decommission``. The database changes first; each broker step (CRL,
        ACL + reload, disconnect) is reported, and a broker that is not running is reported,
        not an error: run it again to finish."""
        with engine.connect() as conn:
            place = views.device_place(conn, device_id)
            exists = views.device_exists(conn, device_id)
        if place is None and exists:
            # A kiosk placed nowhere belongs to no facility: fleet-wide roles only.
            if (no := guard.refuse_in(who, "device.revoke", FLEET, "kiosk")) is not None:
                return no
        elif (no := at(who, "device.revoke", place, "kiosk")) is not None:
            return no
        assert who is not None
        return revoke_response(who, device_id, body)

    def revoke_response(who: Principal, device_id: str, body: RevokeRequest) -> Any:
        path = "/kiosks/{id}/revoke"
        config = ctx.config
        if config is None or config.enrolment is None or config.revocation is None:
            return refused(
                409,
                "not_configured",
                "revocation needs the fleet config's 'enrolment' (issuing CA) and 'revocation'"
                " (ACL, CRL folder, broker pid file) sections",
                path,
            )
        try:
            result = actions.revoke_kiosk(
                config,
                engine,
                device_id,
                decommission=body.decommission,
                reason=body.reason,
                actor=who.label,
                now=ctx.now(),
            )
        except RevocationError as exc:
            return refused(409, "cannot_revoke", str(exc), path)
        except (OSError, ValueError) as exc:
            log.error("revocation_failed", device_id=device_id, error=type(exc).__name__)
            return refused(409, "revocation_failed", str(exc), path)
        facts = actions.cut_off_facts(result)
        outcome = revocation_outcome(device_id, result.lifecycle, facts)
        return RevocationOut(
            device_id=device_id,
            lifecycle=result.lifecycle,
            certificates_revoked=len(result.serials),
            crl_number=facts.crl_number,
            acl_changed=facts.acl_changed,
            broker_reloaded=facts.reloaded,
            disconnected=facts.kicked,
            complete=outcome.complete,
            summary=outcome.summary,
            problems=list(facts.problems),
        )

    return api
