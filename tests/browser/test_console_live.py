"""The console end to end in headless Chromium, on a running system (brokers, fleet manager,
kiosk agents, the HTTPS API): log in, see the kiosks online, watch a help press appear without
reloading, acknowledge it, and see the responder's side update — both the responders' MQTT
broker and a responder's own console page, live."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from fleet_manager.store import audit_log
from tests.browser.conftest import PASSWORD
from tests.support.browser import new_context
from tests.support.live import LiveSystem

LIVE_TIMEOUT_MS = 20_000


def log_in(page: Page, system: LiveSystem, username: str, path: str) -> None:
    page.goto(f"{system.layout.api_url}/console/login?next={path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{system.layout.api_url}{path}")


def test_a_help_press_appears_live_and_its_acknowledgement_reaches_responders(
    system: LiveSystem, browser: Browser
) -> None:
    ops = new_context(browser).new_page()
    log_in(ops, system, "olga", "/console/fleet")
    kiosks = ops.locator("#kiosk-rows tr")
    for device_id in ("kiosk-a1", "kiosk-a2", "kiosk-b1"):
        row = kiosks.filter(has_text=device_id)
        expect(row.locator(".badge.online")).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    ops.goto(f"{system.layout.api_url}/console/incidents")
    responder = new_context(browser).new_page()
    log_in(responder, system, "rita", "/console/incidents")
    expect(ops.locator("[data-live-state]")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)
    expect(responder.locator("[data-live-state]")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)

    alert_id = system.running.press_help("kiosk-a1")
    opened = system.recorders["east"].wait_for_alert(alert_id)
    row_id = f"#incident-{opened.incident_id}"
    # Without a reload: the server pushes the new row to both screens.
    expect(ops.locator(row_id)).to_contain_text("A waiting room", timeout=LIVE_TIMEOUT_MS)
    expect(ops.locator(row_id).locator(".badge.opened")).to_be_visible()
    expect(responder.locator(row_id)).to_contain_text("A waiting room", timeout=LIVE_TIMEOUT_MS)

    ops.locator(row_id).get_by_role("link").click()
    expect(ops.get_by_role("heading", level=1)).to_contain_text("A waiting room")
    ops.get_by_role("button", name="Acknowledge").click()

    acknowledged = system.recorders["east"].wait_for_alert(alert_id, state="acknowledged")
    assert acknowledged.acknowledged_by == "user:olga"
    expect(responder.locator(row_id).locator(".badge.acknowledged")).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )
    expect(responder.locator(row_id)).to_contain_text("user:olga")
    ops.reload()
    expect(ops.get_by_role("heading", level=1).locator(".badge")).to_have_text("acknowledged")
    expect(ops.locator("body")).to_contain_text("acknowledged")
    assert system.timeline(opened.incident_id)[-1] == "acknowledged"
    # Who looked at the incident is in the audit log (each view of its page).
    with system.engine.connect() as conn:
        views = audit_log.entries(conn, action="incident.viewed", subject=opened.incident_id)
    assert {e.actor for e in views} == {"user:olga"} and len(views) >= 2
