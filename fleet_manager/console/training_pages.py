"""Training in the console: a person's own modules, quiz and certificates (role ``staff`` and
anyone with a staff profile), the facility's compliance dashboard with CSV/PDF exports and
invitations (facility admins, auditors, ops), and accepting an invitation (public, by link).

    GET  /console/training                                training.self: my modules and status
    POST /console/training/profile                        training.self: profession, licence
    POST /console/training/self-certify                   training.self: a course done elsewhere
    GET  /console/training/modules/{m}?section=S          training.self: read a section
    POST /console/training/modules/{m}/sections/{s}       training.self: section read → next
    GET  /console/training/modules/{m}/quiz               training.self (every section read)
    POST /console/training/modules/{m}/quiz               training.self: graded, kept
    GET  /console/training/certificates/{id}.pdf          own; or training.view on their facility
    GET  /console/compliance?facility=&as_of=             training.view (scoped)
    GET  /console/compliance.csv, /console/compliance.pdf training.export (scoped)
    POST /console/compliance/invites                      training.invite on the facility
    GET  /console/invite/{token}, POST                    the invitation link: make the account

A person's own pages never take another person's name as a parameter: there is nothing to
probe. A certificate of someone else answers 404 unless the viewer may see their facility.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from fleet_manager.accounts.passwords import WeakPasswordError
from fleet_manager.accounts.policy import Resource
from fleet_manager.accounts.store import AccountError
from fleet_manager.api.context import AppContext
from fleet_manager.console.web import PageRefused, Viewer
from fleet_manager.store import audit_log, training_store
from fleet_manager.store.registry import get_facility, list_facilities
from fleet_manager.store.training_store import Profile, TrainingStoreError
from fleet_manager.training import catalog
from fleet_manager.training.compliance import compliance, due_window, summary
from fleet_manager.training.documents import certificate_pdf, compliance_csv, compliance_pdf
from fleet_manager.training.modules import TrainingModule
from fleet_manager.training.quiz import grade, needed_to_pass
from fleet_manager.training.status import accepts_self_certification, person_status
from transport.log import get_logger

log = get_logger("fleet_manager.console")

Text = Annotated[str, Query(max_length=64)]
ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
STATE = re.compile(r"[A-Z]{2}")
PROFESSIONS = (
    "physician",
    "physician assistant",
    "nurse practitioner",
    "registered nurse",
    "licensed practical nurse",
    "medical assistant",
    "social worker",
    "pharmacist",
    "dentist",
    "other",
)


def _today(ctx: AppContext) -> date:
    return datetime.fromtimestamp(ctx.now(), UTC).date()


def _day(text: str, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageRefused(400, f"{what} must be a date (YYYY-MM-DD).") from None


def router(ctx: AppContext) -> APIRouter:
    pages = APIRouter(prefix="/console", include_in_schema=False)
    console = ctx.console
    # A broken module or rules file stops the start (ModuleError, RulesError: every problem
    # listed), rather than serving half a course.
    catalog.modules()
    catalog.rules()
    due_within = due_window(ctx.config.training if ctx.config is not None else None)

    # -- helpers --------------------------------------------------------------------------

    def facility_resource(facility_id: str) -> Resource:
        with ctx.engine.connect() as conn:
            facility = get_facility(conn, facility_id)
        if facility is None:
            raise PageRefused(404, "Not found.")
        return Resource.facility(facility.facility_id, facility.region)

    def me(viewer: Viewer) -> Profile | None:
        """The viewer's own profile (allowed on its facility), or None without one."""
        console.require_anywhere(viewer, "training.self")
        if viewer.principal.kind != "user":
            raise PageRefused(403, "Your roles do not allow this page.")
        with ctx.engine.connect() as conn:
            profile = training_store.get_profile(conn, viewer.username)
        if profile is not None:
            console.require(viewer, "training.self", facility_resource(profile.facility_id))
        return profile

    def my_profile(viewer: Viewer) -> Profile:
        profile = me(viewer)
        if profile is None:
            raise PageRefused(
                404, "You have no training profile: ask your facility for an invitation."
            )
        return profile

    def module_or_404(module_id: str) -> TrainingModule:
        found = catalog.module(module_id) if ID.fullmatch(module_id) else None
        if found is None:
            raise PageRefused(404, "Not found.")
        return found

    def lang_of(request: Request, module: TrainingModule) -> str:
        asked = request.query_params.get("lang", "")
        return asked if asked in module.languages else module.languages[0]

    # -- a person's own training ----------------------------------------------------------

    @pages.get("/training")
    def my_training(request: Request) -> Response:
        viewer = console.viewer(request)
        profile = me(viewer)
        if profile is None:
            return console.render(request, "training.html", viewer, {"profile": None})
        today = _today(ctx)
        with ctx.engine.connect() as conn:
            done = training_store.progress(conn, viewer.username)
            held = training_store.records(conn, [viewer.username])[viewer.username]
        rules = catalog.rules()
        records = [r.record() for r in held]
        status = person_status(profile.person(), rules, records, today, due_within)
        modules = []
        for module in catalog.modules():
            passed = [r for r in held if r.kind == "module" and r.module_id == module.id]
            modules.append(
                {
                    "module": module,
                    "read": len(done.get(module.id, set()) & {s.id for s in module.sections}),
                    "last": passed[-1] if passed else None,
                }
            )
        self_certify = accepts_self_certification(profile.person(), rules)
        return console.render(
            request,
            "training.html",
            viewer,
            {
                "profile": profile,
                "status": status,
                "rules": {r.id: r for r in rules},
                "modules": modules,
                "records": held,
                "professions": PROFESSIONS,
                "self_certify": self_certify,
                "today": today.isoformat(),
                "flash": request.query_params.get("done", "")[:80],
            },
        )

    @pages.post("/training/profile")
    async def update_profile(request: Request) -> Response:
        viewer, form = await console.form(request)
        profile = my_profile(viewer)
        state = str(form.get("licence_state") or "").strip().upper() or None
        if state is not None and not STATE.fullmatch(state):
            raise PageRefused(400, "The licence state is two letters, e.g. TX.")
        profession = str(form.get("profession") or "").strip() or None
        if profession is not None and profession not in PROFESSIONS:
            raise PageRefused(400, "Choose a profession from the list.")
        renewal = _day(str(form.get("licence_renewal") or ""), "The licence renewal date")
        email = str(form.get("email") or "").strip() or None
        if email is not None and (len(email) > 254 or "@" not in email):
            raise PageRefused(400, "The email address does not look right.")
        with ctx.engine.begin() as conn:
            training_store.update_profile(
                conn,
                profile.username,
                profession=profession,
                licence_state=state,
                licence_renewal=renewal,
                email=email,
                actor=viewer.label,
                now=ctx.now(),
            )
        return RedirectResponse("/console/training?done=Profile+saved.", status_code=303)

    @pages.post("/training/self-certify")
    async def self_certify(request: Request) -> Response:
        viewer, form = await console.form(request)
        profile = my_profile(viewer)
        course = str(form.get("course") or "").strip()
        on = _day(str(form.get("completed_on") or ""), "The completion date")
        if not course or on is None:
            raise PageRefused(400, "Say which course and when you completed it.")
        if on > _today(ctx):
            raise PageRefused(400, "The completion date cannot be in the future.")
        if not accepts_self_certification(profile.person(), catalog.rules()):
            raise PageRefused(400, "No requirement that applies to you accepts self-certification.")
        with ctx.engine.begin() as conn:
            training_store.add_record(
                conn,
                username=profile.username,
                kind="self_certification",
                completed_on=on,
                hours=0.0,
                now=ctx.now(),
                actor=viewer.label,
                detail={"course": course[:200], "certified_by": viewer.username},
            )
        return RedirectResponse(
            "/console/training?done=Self-certification+recorded.", status_code=303
        )

    @pages.get("/training/modules/{module_id}")
    def read_module(request: Request, module_id: str, section: Text = "") -> Response:
        viewer = console.viewer(request)
        my_profile(viewer)
        module = module_or_404(module_id)
        lang = lang_of(request, module)
        with ctx.engine.connect() as conn:
            done = training_store.progress(conn, viewer.username).get(module.id, set())
        current = module.section(section) if section else None
        if current is None:
            current = next((s for s in module.sections if s.id not in done), module.sections[0])
        return console.render(
            request,
            "training_module.html",
            viewer,
            {
                "m": module,
                "lang": lang,
                "t": module.texts[lang],
                "current": current,
                "blocks": catalog.body_blocks(module.text(lang, current.body)),
                "done": done,
                "all_read": all(s.id in done for s in module.sections),
            },
        )

    @pages.post("/training/modules/{module_id}/sections/{section_id}")
    async def section_read(request: Request, module_id: str, section_id: str) -> Response:
        viewer, _form = await console.form(request)
        my_profile(viewer)
        module = module_or_404(module_id)
        if module.section(section_id) is None:
            raise PageRefused(404, "Not found.")
        with ctx.engine.begin() as conn:
            training_store.mark_section(conn, viewer.username, module.id, section_id, ctx.now())
            done = training_store.progress(conn, viewer.username).get(module.id, set())
        lang = lang_of(request, module)
        following = next((s for s in module.sections if s.id not in done), None)
        target = (
            f"/console/training/modules/{module.id}?section={following.id}&lang={lang}"
            if following is not None
            else f"/console/training/modules/{module.id}/quiz?lang={lang}"
        )
        return RedirectResponse(target, status_code=303)

    def quiz_page(
        request: Request, viewer: Viewer, module: TrainingModule, **extra: Any
    ) -> Response:
        lang = lang_of(request, module)
        context = {"m": module, "lang": lang, "t": module.texts[lang], **extra}
        context["needed"] = needed_to_pass(module)
        return console.render(request, "training_quiz.html", viewer, context)

    @pages.get("/training/modules/{module_id}/quiz")
    def quiz(request: Request, module_id: str) -> Response:
        viewer = console.viewer(request)
        my_profile(viewer)
        module = module_or_404(module_id)
        with ctx.engine.connect() as conn:
            done = training_store.progress(conn, viewer.username).get(module.id, set())
        if not all(s.id in done for s in module.sections):
            raise PageRefused(409, "Read every section before the quiz.")
        return quiz_page(request, viewer, module)

    @pages.post("/training/modules/{module_id}/quiz")
    async def answer_quiz(request: Request, module_id: str) -> Response:
        viewer, form = await console.form(request)
        profile = my_profile(viewer)
        module = module_or_404(module_id)
        with ctx.engine.connect() as conn:
            done = training_store.progress(conn, viewer.username).get(module.id, set())
        if not all(s.id in done for s in module.sections):
            raise PageRefused(409, "Read every section before the quiz.")
        answers: dict[str, int | None] = {}
        for q in module.quiz:
            value = str(form.get(q.id) or "")
            answers[q.id] = int(value) if value.isdigit() and int(value) < len(q.choices) else None
        result = grade(module, answers)
        now = ctx.now()
        record = None
        with ctx.engine.begin() as conn:
            training_store.record_attempt(
                conn,
                username=profile.username,
                module_id=module.id,
                module_version=module.version,
                answers=answers,
                correct=result.correct,
                total=result.total,
                passed=result.passed,
                now=now,
            )
            if result.passed:
                record = training_store.add_record(
                    conn,
                    username=profile.username,
                    kind="module",
                    completed_on=_today(ctx),
                    hours=module.hours,
                    now=now,
                    actor=viewer.label,
                    module_id=module.id,
                    module_version=module.version,
                )
        ctx.counters.inc("training_quiz_" + ("passed" if result.passed else "failed"))
        log.info("training_quiz", who=viewer.label, module=module.id, passed=result.passed)
        return quiz_page(request, viewer, module, result=result, answers=answers, record=record)

    @pages.get("/training/certificates/{certificate_id}.pdf")
    def certificate(request: Request, certificate_id: str) -> Response:
        viewer = console.viewer(request)
        with ctx.engine.connect() as conn:
            found = training_store.certificate(conn, certificate_id[:40])
            profile = training_store.get_profile(conn, found.username) if found else None
            facility = get_facility(conn, profile.facility_id) if profile else None
        if found is None or profile is None or facility is None:
            raise PageRefused(404, "Not found.")
        resource = Resource.facility(facility.facility_id, facility.region)
        own = viewer.principal.kind == "user" and viewer.username == found.username
        if own:
            console.require(viewer, "training.self", resource)
        else:
            console.require(viewer, "training.view", resource)
        module = catalog.module(found.module_id or "")
        with ctx.engine.begin() as conn:
            audit_log.record(
                conn,
                at=ctx.now(),
                actor=viewer.label,
                action="training.certificate_downloaded",
                subject=found.username,
                outcome="ok",
                detail={"certificate": found.certificate_id},
            )
        pdf = certificate_pdf(
            full_name=profile.full_name,
            module_title=module.text(module.languages[0], module.title)
            if module
            else (found.module_id or ""),
            provider=module.provider if module else "",
            completed_on=found.completed_on,
            hours=found.hours,
            certificate_id=found.certificate_id or "",
            facility_name=facility.name,
        )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{found.certificate_id}.pdf"'},
        )

    # -- the facility's compliance ----------------------------------------------------------

    def compliance_scope(
        viewer: Viewer, action: Any, facility: str
    ) -> tuple[list[str], list[Any], Any]:
        console.require_anywhere(viewer, action)
        scope = ctx.guard.scope(viewer.principal, action)
        with ctx.engine.connect() as conn:
            choices = [f for f in list_facilities(conn) if scope.includes(f.facility_id, f.region)]
        chosen = None
        if facility:
            chosen = next((f for f in choices if f.facility_id == facility), None)
            if chosen is None:
                raise PageRefused(404, "Not found.")
        ids = [chosen.facility_id] if chosen else [f.facility_id for f in choices]
        return ids, choices, chosen

    def rows_for(viewer: Viewer, action: Any, facility: str, as_of: str) -> tuple[Any, ...]:
        ids, choices, chosen = compliance_scope(viewer, action, facility)
        day = _day(as_of, "The date") or _today(ctx)
        with ctx.engine.connect() as conn:
            rows = compliance(conn, ids, catalog.rules(), day, due_within)
        return rows, choices, chosen, day

    def dashboard(
        request: Request, viewer: Viewer, facility: str, as_of: str, **extra: Any
    ) -> Response:
        """The compliance page (after an invitation too, with its link shown once)."""
        rows, choices, chosen, day = rows_for(viewer, "training.view", facility, as_of)
        may_invite = [
            f
            for f in choices
            if console.may(viewer, "training.invite", Resource.facility(f.facility_id, f.region))
        ]
        return console.render(
            request,
            "compliance.html",
            viewer,
            {
                "rows": rows,
                "counts": summary(rows),
                "facilities": choices,
                "facility": chosen.facility_id if chosen else "",
                "as_of": day.isoformat(),
                "due_within": due_within,
                "may_export": console.may_somewhere(viewer, "training.export"),
                "invite_to": may_invite,
                "rules": {r.id: r for r in catalog.rules()},
                "modules": {m.id: m for m in catalog.modules()},
                **extra,
            },
        )

    @pages.get("/compliance")
    def compliance_page(request: Request, facility: Text = "", as_of: Text = "") -> Response:
        return dashboard(request, console.viewer(request), facility, as_of)

    @pages.get("/compliance.csv")
    def compliance_export_csv(request: Request, facility: Text = "", as_of: Text = "") -> Response:
        viewer = console.viewer(request)
        rows, _c, _f, day = rows_for(viewer, "training.export", facility, as_of)
        audit_export(viewer, "csv", facility, day, len(rows))
        return Response(
            compliance_csv(rows, day),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="training-{day}.csv"'},
        )

    @pages.get("/compliance.pdf")
    def compliance_export_pdf(request: Request, facility: Text = "", as_of: Text = "") -> Response:
        viewer = console.viewer(request)
        rows, _c, chosen, day = rows_for(viewer, "training.export", facility, as_of)
        audit_export(viewer, "pdf", facility, day, len(rows))
        pdf = compliance_pdf(
            rows,
            title=f"Training compliance: {chosen.name if chosen else 'all my facilities'}",
            as_of=day,
            generated_at=datetime.fromtimestamp(ctx.now(), UTC),
            rules=catalog.rules(),
        )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="training-{day}.pdf"'},
        )

    def audit_export(viewer: Viewer, kind: str, facility: str, day: date, n: int) -> None:
        with ctx.engine.begin() as conn:
            audit_log.record(
                conn,
                at=ctx.now(),
                actor=viewer.label,
                action="training.exported",
                subject=facility or "*",
                outcome="ok",
                detail={"format": kind, "as_of": day.isoformat(), "people": n},
            )

    @pages.post("/compliance/invites")
    async def invite(request: Request) -> Response:
        viewer, form = await console.form(request)
        facility_id = str(form.get("facility") or "")
        if not ID.fullmatch(facility_id):
            raise PageRefused(404, "Not found.")
        console.require_anywhere(viewer, "training.invite")
        console.require(viewer, "training.invite", facility_resource(facility_id))
        full_name = str(form.get("full_name") or "").strip()
        email = str(form.get("email") or "").strip() or None
        if not full_name or len(full_name) > 200:
            raise PageRefused(400, "Give the person's full name (as on their certificates).")
        if email is not None and (len(email) > 254 or "@" not in email):
            raise PageRefused(400, "The email address does not look right.")
        with ctx.engine.begin() as conn:
            _invite_id, token = training_store.create_invite(
                conn,
                facility_id=facility_id,
                full_name=full_name,
                email=email,
                actor=viewer.label,
                now=ctx.now(),
            )
        link = f"{request.base_url}console/invite/{token}"
        return dashboard(request, viewer, facility_id, "", invite_link=link, invite_name=full_name)

    # -- accepting an invitation (no session yet: the link is the key) -------------------

    @pages.get("/invite/{token}")
    def invite_page(request: Request, token: str) -> Response:
        with ctx.engine.connect() as conn:
            found = training_store.open_invite(conn, token[:64], ctx.now())
        if found is None:
            raise PageRefused(404, "This invitation link has expired or was used already.")
        return console.render(request, "invite.html", None, {"invite": found, "token": token})

    @pages.post("/invite/{token}")
    async def accept(request: Request, token: str) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        username = str(form.get("username") or "").strip()[:64]
        password = str(form.get("password") or "")[:1024]
        again = str(form.get("password_again") or "")[:1024]
        with ctx.engine.connect() as conn:
            found = training_store.open_invite(conn, token[:64], ctx.now())
        if found is None:
            raise PageRefused(404, "This invitation link has expired or was used already.")
        error = "The two passwords differ." if password != again else None
        if error is None:
            try:
                with ctx.engine.begin() as conn:
                    training_store.accept_invite(conn, token[:64], username, password, ctx.now())
            except (AccountError, WeakPasswordError, TrainingStoreError) as exc:
                error = str(exc)
        if error is not None:
            ctx.counters.inc("training_invite_refused")
            return console.render(
                request,
                "invite.html",
                None,
                {"invite": found, "token": token, "error": error, "username": username},
                status=400,
            )
        log.info("training_invite_accepted", invite=found.invite_id, username=username)
        return RedirectResponse("/console/login?next=/console/training", status_code=303)

    return pages
