"""The QR landing page in headless Chromium, against a running system (brokers, fleet manager,
HTTPS API and the landing process): the page a kiosk's QR code opens, in three languages, its
quick exit, without JavaScript, a report and its addition decrypted on the responders' side, and
what every response carried.

The QR URL is the one the kiosk draws (``device.ui.view_model.frame_content`` over the kiosk's
own profile); the plan's ``qr_origin=""`` points it at this system's landing page on
127.0.0.1. The quick exit goes to ``https://exit.beacon.example/healthz``, which Chromium's
``--host-resolver-rules`` maps to the fleet API's port: a reserved name, so a broken mapping
fails the test instead of reaching the internet, and a different origin from the landing page.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    expect,
)

from beacon.plan import FacilityPlan, KioskPlan, SystemPlan
from beacon.processes import RunningSystem
from beacon.system import SAMPLE_BUNDLE, SystemLayout, build_system
from content.bundle import CALL_MSGID, NUMBER, TEXT_MSGID, ContentBundle, load_bundle
from content.languages import get_language
from content.manifest import forbidden_words_in
from device.agent.identity import load_profile
from device.ui.screen_state import Frame
from device.ui.view_model import QrPlacement, frame_content
from fleet_manager.landing.texts import LandingTexts, load_texts
from fleet_manager.reports.case_codes import code_digest, normalize_code
from fleet_manager.store import audit_log, incident_store, report_store
from fleet_manager.store.database import open_engine
from tests.support.browser import ARGS, CHROMIUM
from tests.support.waiting import wait_until

POLICY = """\
routes:
  - name: north-help
    match: {region: north, kind: [help, tamper, report]}
    chain:
      steps: [{team: north-desk, wait_s: 600}]
  - name: catch-all
    match: {}
    chain:
      steps: [{team: central-ops, wait_s: 600}]
"""
EXIT_HOST = "exit.beacon.example"
EXIT_URL = f"https://{EXIT_HOST}/healthz"
KIOSK = "kiosk-n1"
LOCATION = "n-waiting"
PLAN = SystemPlan(
    facilities=(FacilityPlan("clinic-n", "Clinic North", "north"),),
    kiosks=(KioskPlan(KIOSK, "clinic-n", LOCATION, "North waiting room"),),
    policy_yaml=POLICY,
    qr_origin="",  # this system's own landing page
    landing_page=True,
    landing_exit_url=EXIT_URL,
)
HELP_SLIDE = "help-safe"  # a help slide of the sample bundle: it carries the QR code
HOTLINE = "us-nhth"
# Generous: the fleet manager picks up sealed entries every half second; the machine is shared.
DELIVERY_WAIT_S = 60.0
# Every landing response; values are exact, CSP and HSTS are checked for their parts below.
PRIVACY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}


@dataclass
class Seen:
    """One response as the browser received it (every header, cookies included)."""

    url: str
    method: str
    status: int
    headers: dict[str, str]


@dataclass
class Traffic:
    """Everything the browser contexts of this module saw, for the privacy checks."""

    responses: list[Seen] = field(default_factory=list)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # url, method, nav
    cookies: list[dict[str, Any]] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


@dataclass
class World:
    layout: SystemLayout
    running: RunningSystem
    engine: sa.Engine
    bundle: ContentBundle
    texts: LandingTexts
    traffic: Traffic = field(default_factory=Traffic)

    @property
    def origin(self) -> str:
        return self.layout.landing_url

    def qr_url(self, lang: str) -> str:
        """The URL the kiosk's QR code carries on a help slide in ``lang``: the kiosk's own
        view model over the profile in its state directory."""
        profile = load_profile(self.layout.kiosk_dirs[KIOSK])
        placement = QrPlacement(
            profile.qr_origin, profile.location_token, tuple(profile.allowed_origins)
        )
        url = frame_content(self.bundle, Frame(HELP_SLIDE, "help", lang), placement).qr_url
        assert url is not None
        return url


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    layout = build_system(tmp_path_factory.mktemp("landing") / "system", PLAN)
    running = RunningSystem(layout)
    engine = open_engine(layout.database_url)
    try:
        # No kiosk process: the QR URL comes from its profile, and nothing here needs it live.
        running.start_brokers()
        running.start_fleet_managers()
        running.start_api()
        running.start_landing()
        yield World(layout, running, engine, load_bundle(SAMPLE_BUNDLE), load_texts())
    finally:
        running.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def chromium(world: World, browser: Browser) -> Iterator[Browser]:
    """Chromium where the exit host resolves to the fleet API (nothing else is remapped: the
    landing page is on an IP literal). Launched through the package's browser: one Playwright
    per thread, and the console tests' one may be running."""
    rules = f"--host-resolver-rules=MAP {EXIT_HOST} 127.0.0.1:{world.layout.api_port}"
    mapped = browser.browser_type.launch(executable_path=str(CHROMIUM), args=[*ARGS, rules])
    try:
        yield mapped
    finally:
        mapped.close()


@contextmanager
def browsing(world: World, browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    """A fresh context whose traffic is added to ``world.traffic`` (headers are read before it
    closes: they live in the browser)."""
    # The test fleet's CA is not in Chromium's store; nothing but loopback is contacted.
    options = {"ignore_https_errors": True, "locale": "en-US", **options}
    context = browser.new_context(**options)
    responses: list[Response] = []
    traffic = world.traffic

    def on_request(request: Request) -> None:
        traffic.requests.append((request.url, request.method, request.is_navigation_request()))

    def on_console(message: ConsoleMessage) -> None:
        # Chromium reports a blocked inline style or script on the console.
        if "Content Security Policy" in message.text:
            traffic.csp_violations.append(message.text)

    def on_response(response: Response) -> None:
        responses.append(response)

    context.on("request", on_request)
    context.on("response", on_response)
    context.on("console", on_console)
    try:
        yield context
    finally:
        try:
            for response in responses:
                traffic.responses.append(
                    Seen(
                        response.url,
                        response.request.method,
                        response.status,
                        response.all_headers(),
                    )
                )
            traffic.cookies.extend(dict(c) for c in context.cookies())
        finally:
            context.close()


def html_attributes(page: Page) -> tuple[str | None, str | None]:
    html = page.locator("html")
    return html.get_attribute("lang"), html.get_attribute("dir")


# -- 1. the URL the kiosk's QR code carries -------------------------------------------------


def test_the_kiosks_qr_code_opens_the_landing_page_of_its_location(
    world: World, chromium: Browser
) -> None:
    url = world.qr_url("en")
    token = world.layout.qr_tokens[LOCATION]
    # The kiosk points at this system's landing page, with its location's opaque token.
    assert url == f"{world.origin}/r/{token}?l=en"
    with browsing(world, chromium) as context:
        page = context.new_page()
        response = page.goto(url)
        assert response is not None and response.status == 200
        assert page.url == url
        expect(page.locator("h1")).to_have_text(world.texts.text("en", "page.heading"))
        expect(page.locator("#exit")).to_have_attribute("href", EXIT_URL)


# -- 2. English, Spanish and Arabic ---------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "direction", "text_line"),
    [
        ("en", "ltr", True),
        ("es", "ltr", True),
        ("ar", "rtl", False),  # the sample hotline's text line serves English and Spanish only
    ],
)
def test_the_page_reads_in_the_language_of_the_qr_code(
    world: World, chromium: Browser, lang: str, direction: str, text_line: bool
) -> None:
    texts, bundle = world.texts, world.bundle
    hotline = bundle.hotlines[HOTLINE]
    with browsing(world, chromium) as context:
        page = context.new_page()
        page.goto(world.qr_url(lang))
        title = texts.text(lang, "page.title")
        expect(page).to_have_title(title)
        assert forbidden_words_in(title) == []  # neutral: nothing on the tab says what it is
        assert html_attributes(page) == (lang, direction)
        call = page.locator(".hotline a[href^='tel:']")
        expect(call).to_have_attribute("href", "tel:+18883737888")
        expect(call).to_have_text(bundle.text(lang, CALL_MSGID).replace(NUMBER, hotline.call))
        expect(page.locator(".hotline .remember")).to_have_text(
            texts.text(lang, "hotline.remember", number=hotline.call)
        )
        sms = page.locator(".hotline a[href^='sms:']")
        if text_line:
            expect(sms).to_have_attribute("href", f"sms:{hotline.text}")
            expect(sms).to_have_text(
                bundle.text(lang, TEXT_MSGID).replace(NUMBER, hotline.text or "")
            )
        else:
            expect(sms).to_have_count(0)
        expect(page.get_by_text(texts.text(lang, "confidential.body"))).to_be_visible()
        expect(page.get_by_text(texts.text(lang, "exit.note"))).to_be_visible()
        expect(page.locator("#exit")).to_have_text(texts.text(lang, "exit.button"))


@pytest.mark.parametrize(
    ("start", "pick", "direction"),
    [("en", "es", "ltr"), ("es", "ar", "rtl"), ("ar", "en", "ltr")],
)
def test_the_language_picker_changes_the_language(
    world: World, chromium: Browser, start: str, pick: str, direction: str
) -> None:
    with browsing(world, chromium) as context:
        page = context.new_page()
        page.goto(world.qr_url(start))
        picker = page.get_by_role("navigation", name=world.texts.text(start, "language.label"))
        link = picker.locator(f"a[hreflang='{pick}']")
        expect(link).to_have_text(get_language(pick).native_name)
        link.click()
        expect(page.locator("html")).to_have_attribute("lang", pick)
        assert html_attributes(page) == (pick, direction)
        expect(page).to_have_title(world.texts.text(pick, "page.title"))
        expect(page.locator("h1")).to_have_text(world.texts.text(pick, "page.heading"))


@pytest.mark.parametrize(
    ("locale", "with_qr_language", "expected"),
    [
        ("es-ES", False, "es"),  # no ?l: the browser's language
        ("ar-EG", False, "ar"),
        ("de-DE", False, "en"),  # a language the page does not have: English
        ("es-ES", True, "en"),  # the QR code's ?l=en (the kiosk's language) wins
    ],
)
def test_without_a_language_in_the_url_the_browsers_language_is_used(
    world: World, chromium: Browser, locale: str, with_qr_language: bool, expected: str
) -> None:
    qr = world.qr_url("en")
    url = qr if with_qr_language else qr.split("?", 1)[0]
    with browsing(world, chromium, locale=locale) as context:
        page = context.new_page()
        page.goto(url)
        assert html_attributes(page)[0] == expected
        expect(page).to_have_title(world.texts.text(expected, "page.title"))


# -- 3. quick exit --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["button", "escape"])
def test_quick_exit_replaces_the_history_entry(world: World, chromium: Browser, how: str) -> None:
    first = f"{world.origin}/healthz"  # an ordinary page before the landing page
    with browsing(world, chromium) as context:
        page = context.new_page()
        page.goto(first)
        page.goto(world.qr_url("en"))
        length = page.evaluate("history.length")
        assert length >= 2
        if how == "button":
            page.get_by_role("link", name=world.texts.text("en", "exit.button")).click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_url(EXIT_URL)
        # The mapped exit host is the fleet API: proof it went where configured, offline.
        assert json.loads(page.locator("body").inner_text()) == {"status": "ok"}
        assert page.evaluate("history.length") == length  # replaced, not pushed
        page.go_back()
        page.wait_for_url(first)
        assert page.url == first  # the entry before the landing page, not the landing page


# -- 4. without JavaScript ------------------------------------------------------------------


def test_the_page_works_without_javascript(world: World, chromium: Browser) -> None:
    texts = world.texts
    with browsing(world, chromium, java_script_enabled=False) as context:
        page = context.new_page()
        page.goto(world.qr_url("es"))
        expect(page).to_have_title(texts.text("es", "page.title"))
        expect(page.locator(".hotline a[href^='tel:']")).to_have_attribute(
            "href", "tel:+18883737888"
        )
        page.locator("#what").fill(f"sin javascript {uuid.uuid4()}")
        page.locator("#share-unsure").check()
        page.locator("#send").click()
        expect(page.locator("h1")).to_have_text(texts.text("es", "sent.heading"))
        code = page.locator("#case-code").inner_text()
        assert normalize_code(code) is not None
        assert page.locator("#case-passphrase").inner_text().strip()
        # The exit is a plain link then: it still leaves, as a new history entry (the same
        # measure that shows the scripted exit replaces it).
        length = page.evaluate("history.length")
        exit_link = page.locator("#exit")
        expect(exit_link).to_have_attribute("href", EXIT_URL)
        exit_link.click()
        page.wait_for_url(EXIT_URL)
        assert page.evaluate("history.length") == length + 1


# -- 5. a report and an addition, decrypted by the region's responders ----------------------


def api_get(world: World, path: str) -> Any:
    token = world.layout.responder_tokens["north"]
    request = urllib.request.Request(
        world.layout.api_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    context = ssl.create_default_context(cafile=str(world.layout.ca_file))
    with urllib.request.urlopen(request, timeout=15, context=context) as response:
        return json.loads(response.read())


def test_a_report_and_its_addition_are_decrypted_by_the_regions_responders(
    world: World, chromium: Browser, tmp_path: Path
) -> None:
    texts = world.texts
    what = f"Someone holds my passport; first message {uuid.uuid4()}"
    contact = f"Ask for Ana at the front desk {uuid.uuid4().hex[:8]}"
    added = f"They move us on Friday; addition {uuid.uuid4()}"
    with browsing(world, chromium) as context:
        page = context.new_page()
        page.goto(world.qr_url("en"))
        page.get_by_label(texts.text("en", "form.what")).fill(what)
        page.get_by_label(texts.text("en", "form.contact_method")).fill(contact)
        page.locator("#share-no").check()
        page.get_by_role("button", name=texts.text("en", "form.submit")).click()
        expect(page.locator("h1")).to_have_text(texts.text("en", "sent.heading"))
        code = page.locator("#case-code").inner_text().strip()
        passphrase = page.locator("#case-passphrase").inner_text().strip()
        assert code and passphrase

        page.get_by_role("link", name=texts.text("en", "sent.back")).click()
        page.locator("details summary").click()
        expect(page.locator("details")).to_have_attribute("open", "")
        page.locator("#code").fill(code)
        page.locator("#passphrase").fill(passphrase)
        page.locator("#text").fill(added)
        page.get_by_role("button", name=texts.text("en", "add.submit")).click()
        expect(page.locator("h1")).to_have_text(texts.text("en", "add.done"))

    # Which incident: the report the case code opens (the page never shows its id).
    digest = code_digest(normalize_code(code) or "")
    with world.engine.connect() as conn:
        report = report_store.find_by_code(conn, digest)
    assert report is not None
    incident_id = report.incident_id
    assert (report.region, report.location_id) == ("north", LOCATION)

    def listed() -> bool:
        items = api_get(world, "/api/v1/incidents?kind=report")["items"]
        return any(i["incident_id"] == incident_id for i in items)

    def both_entries_delivered() -> bool:
        with world.engine.connect() as conn:
            record = incident_store.get_incident(conn, incident_id)
        return record is not None and record.report_entries == 2

    wait_until(listed, DELIVERY_WAIT_S, "the report incident in the responders' list")
    wait_until(both_entries_delivered, DELIVERY_WAIT_S, "the addition on the incident")

    key_file, phrase_file = world.layout.report_keys["north"]
    token_file = tmp_path / "token"
    token_file.write_text(world.layout.responder_tokens["north"])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "beacon",
            "responder",
            "decrypt",
            incident_id,
            "--connection",
            str(tmp_path / "no-connection.json"),
            "--api",
            world.layout.api_url,
            "--token-file",
            str(token_file),
            "--ca",
            str(world.layout.ca_file),
            "--key",
            str(key_file),
            "--passphrase-file",
            str(phrase_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert what in shown and added in shown and contact in shown
    assert "Share with law enforcement: NO" in shown
    assert "[1] Report" in shown and "[2] Addition" in shown
    with world.engine.connect() as conn:
        decrypted = audit_log.entries(conn, action="report.decrypted", subject=incident_id)
    assert len(decrypted) == 1


# -- 6. what the browser saw ----------------------------------------------------------------


def test_no_cookie_the_privacy_headers_everywhere_and_no_other_origin(
    world: World, chromium: Browser
) -> None:
    # Its own walk (page, a refused addition, an unknown path, quick exit), so it checks
    # something when run alone; with the module it also checks everything the tests above saw.
    with browsing(world, chromium) as context:
        page = context.new_page()
        page.goto(world.qr_url("en"))
        page.locator("details summary").click()
        page.locator("#code").fill("ABCD-EFGH")
        page.locator("#passphrase").fill("000000")
        page.locator("#text").fill("one more thing")
        page.locator("#add").click()
        expect(page.locator("#problem")).to_have_text(world.texts.text("en", "error.wrong_code"))
        page.goto(f"{world.origin}/nothing-here")
        page.goto(world.qr_url("en"))
        page.locator("#exit").click()
        page.wait_for_url(EXIT_URL)

    traffic = world.traffic
    landing = [s for s in traffic.responses if origin_of(s.url) == world.origin]
    assert {s.status for s in landing} >= {200, 403, 404}
    assert any(s.method == "POST" for s in landing)
    for seen in landing:
        for name, value in PRIVACY_HEADERS.items():
            assert seen.headers.get(name) == value, (seen.url, name, seen.headers.get(name))
        csp = seen.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, seen.url
        assert "unsafe-inline" not in csp, seen.url
        hsts = seen.headers.get("strict-transport-security", "")
        assert hsts.startswith("max-age=") and int(hsts.split(";")[0][8:]) > 0, seen.url
    for seen in traffic.responses:
        assert "set-cookie" not in seen.headers, (seen.url, seen.headers["set-cookie"])
    assert traffic.cookies == []
    # The inline style and script ran under the CSP without a violation.
    assert traffic.csp_violations == []
    elsewhere = [
        (url, method, nav)
        for url, method, nav in traffic.requests
        if origin_of(url) != world.origin and not (url == EXIT_URL and nav and method == "GET")
    ]
    assert elsewhere == []
    assert (EXIT_URL, "GET", True) in traffic.requests  # the one navigation that may leave


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
