"""Logging in and out of the console in a real browser, over the real HTTPS API."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD
from tests.support.browser import new_context
from tests.support.live import LiveSystem


def test_log_in_see_the_menu_of_the_role_and_log_out(system: LiveSystem, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    page.goto(f"{system.layout.api_url}/console/")
    expect(page).to_have_url(f"{system.layout.api_url}/console/login?next=/console/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    nav = page.get_by_role("navigation", name="Sections")
    expect(nav.get_by_role("link", name="Fleet")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit log")).to_be_visible()
    cookies = context.cookies()
    assert [c["name"] for c in cookies] == ["__Host-beacon_session"]
    assert cookies[0]["httpOnly"] and cookies[0]["secure"]
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{system.layout.api_url}/console/login")
    page.goto(f"{system.layout.api_url}/console/fleet")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    context.close()


def test_a_responder_sees_only_incidents_and_routing(system: LiveSystem, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    page.goto(f"{system.layout.api_url}/console/login")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    nav = page.get_by_role("navigation", name="Sections")
    expect(nav.get_by_role("link")).to_have_text(["Incidents", "Routing"])
    context.close()
