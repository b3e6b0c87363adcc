"""Staff training in headless Chromium, over the real HTTPS API of a running system: a facility
admin invites a new person, who accepts the link in another browser profile, fills in their
licence, reads two modules section by section, passes their quizzes and downloads a
certificate; the admin sees them current today, due the day after their licence renewal and
overdue a month later (set with the dashboard's own date field); a second staff member and
another facility's admin cannot see the first person's records; the CSV export has them current.

The same flow in process (TestClient): tests/integration/test_training_pages.py.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from fleet_manager.accounts.policy import Grant
from fleet_manager.accounts.store import create_user, get_user
from fleet_manager.training import catalog
from tests.browser.conftest import PASSWORD
from tests.support.browser import new_context
from tests.support.live import LiveSystem

# The console's password rules: 12 characters or more, not containing the username.
STAFF_PASSWORD = "a long passphrase for the ward 7"
FIRST = ("nora", "Nora Ibáñez Example")
SECOND = ("omar", "Omar Second Example")
ADMINS = {
    "fay": Grant("facility_admin", facility_id="clinic-a"),
    "finn": Grant("facility_admin", facility_id="clinic-b"),
}
# Texas needs an hour in each licence period: the first module; the facility's yearly rule
# needs the legal obligations module (with its own protocol).
SIGNS, PROTOCOL = "recognising-signs", "legal-obligations"
PROVIDER = "Beacon clinical safety training"
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@pytest.fixture(scope="module")
def url(system: LiveSystem) -> str:
    """The API's base URL, with the two facility admins this module needs (the package's
    ``system`` fixture makes only olga and rita)."""
    with system.engine.begin() as conn:
        for name, grant in ADMINS.items():
            if get_user(conn, name) is None:
                create_user(conn, name, PASSWORD, [grant], actor="test", now=time.time())
    return system.layout.api_url


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser profiles made by the test, closed at its end whatever happens."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def fresh_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    context = new_context(browser)
    contexts.append(context)
    return context.new_page()


def log_in(page: Page, url: str, username: str, password: str, path: str) -> None:
    page.goto(f"{url}/console/login?next={path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}{path}")


def make_invitation(page: Page, url: str, full_name: str) -> str:
    """On the admin's compliance page: an invitation link for ``full_name`` at clinic-a."""
    page.goto(f"{url}/console/compliance")
    form = page.locator("form", has=page.get_by_role("button", name="Make an invitation link"))
    expect(page.get_by_role("heading", name="Invite a staff member")).to_be_visible()
    form.get_by_label("Facility").select_option("clinic-a")
    form.get_by_label("Full name (as on certificates)").fill(full_name)
    form.get_by_role("button", name="Make an invitation link").click()
    link = page.locator("#invite-link")
    expect(link).to_contain_text("/console/invite/")
    expect(page.get_by_role("status")).to_contain_text(f"Invitation for {full_name}")
    text = link.inner_text().strip()
    assert text.startswith(f"{url}/console/invite/"), text
    return text


def accept_invitation(page: Page, url: str, link: str, username: str, full_name: str) -> None:
    """Open the link in a browser with no session, choose a username and password, log in:
    the person lands on their training."""
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {full_name}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password (12 characters or more)").fill(STAFF_PASSWORD)
    page.get_by_label("Password again").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(f"{url}/console/login?next=/console/training")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/console/training")
    expect(page.get_by_role("heading", level=1)).to_have_text("My training")


def complete_module(page: Page, url: str, module_id: str) -> Page:
    """From "My training": every section in order, then the quiz with the right answers;
    returns the page showing "Passed" and the certificate link."""
    module = catalog.module(module_id)
    assert module is not None, f"module {module_id} is missing"
    page.goto(f"{url}/console/training")
    title = module.text("en", module.title)
    page.locator(f"#module-{module_id}").get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(f"{url}/console/training/modules/{module_id}")
    for i, section in enumerate(module.sections):
        article = page.locator(f"article#section-{section.id}")
        expect(article).to_be_visible()
        expect(article.get_by_role("heading", level=2)).to_have_text(
            module.text("en", section.title)
        )
        article.get_by_role("button", name="I have read this section: next").click()
        if i + 1 < len(module.sections):
            following = module.sections[i + 1]
            expect(page).to_have_url(
                f"{url}/console/training/modules/{module_id}?section={following.id}&lang=en"
            )
    expect(page).to_have_url(f"{url}/console/training/modules/{module_id}/quiz?lang=en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quiz")
    for question in module.quiz:
        page.locator(
            f'input[type="radio"][name="{question.id}"][value="{question.answer}"]'
        ).check()
    page.get_by_role("button", name="Submit answers").click()
    result = page.locator("#quiz-result")
    expect(result).to_contain_text("Passed")
    right = len(module.quiz)
    expect(result).to_contain_text(f"{right} of {right} right")
    expect(page.locator("#certificate")).to_be_visible()
    return page


def pdf_text(path: Path) -> str:
    """The text of a PDF (poppler's pdftotext), whitespace collapsed."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )
    return " ".join(done.stdout.split())


def status_of(page: Page, username: str) -> str | None:
    return page.locator(f"#person-{username} [data-status]").get_attribute("data-status")


def show_as_of(page: Page, url: str, username: str, day: date, expected: str) -> None:
    """As a user would: the date in the dashboard's "As of" field, then "Show"."""
    form = page.locator("form.filters")
    form.get_by_label("As of").fill(day.isoformat())
    form.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{url}/console/compliance?facility=clinic-a&as_of={day}")
    expect(form.get_by_label("As of")).to_have_value(day.isoformat())
    expect(page.locator(f"#person-{username} [data-status]")).to_have_attribute(
        "data-status", expected
    )


def test_invite_train_certify_and_compliance_over_time(
    url: str, browser: Browser, contexts: list[BrowserContext], tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()  # the server's day (it counts in UTC)
    renewal = today + timedelta(days=90)
    username, full_name = FIRST

    # 1. fay makes an invitation for a new person at clinic-a and logs out.
    fay = fresh_page(browser, contexts)
    log_in(fay, url, "fay", PASSWORD, "/console/compliance")
    link = make_invitation(fay, url, full_name)
    fay.get_by_role("button", name="Log out").click()
    expect(fay).to_have_url(f"{url}/console/login")

    # 2. The new person, in another browser profile: account, login, "My training" only.
    nora = fresh_page(browser, contexts)
    accept_invitation(nora, url, link, username, full_name)
    nav = nora.get_by_role("navigation", name="Sections")
    expect(nav.get_by_role("link")).to_have_text(["Training"])
    for hidden in ("Fleet", "Incidents", "Compliance"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    expect(nora.locator("main")).to_contain_text(full_name)
    # The link is spent: a second use is refused.
    other = fresh_page(browser, contexts)
    used = other.goto(link)
    assert used is not None and used.status == 404
    expect(other.locator("main")).to_contain_text("expired or was used already")

    # 3. Their licence.
    licence = nora.locator("form", has=nora.get_by_label("Licence renewal date"))
    licence.get_by_label("Profession").select_option("registered nurse")
    licence.get_by_label("Licence state (two letters)").fill("TX")
    licence.get_by_label("Licence renewal date").fill(renewal.isoformat())
    licence.get_by_role("button", name="Save").click()
    expect(nora).to_have_url(f"{url}/console/training?done=Profile+saved.")
    expect(nora.get_by_role("status")).to_have_text("Profile saved.")
    expect(licence.get_by_label("Profession")).to_have_value("registered nurse")
    expect(licence.get_by_label("Licence state (two letters)")).to_have_value("TX")
    expect(licence.get_by_label("Licence renewal date")).to_have_value(renewal.isoformat())
    expect(nora.locator("#my-status")).to_have_text("due")  # nothing completed yet

    # 4. Module "recognising-signs", its quiz and certificate; then "legal-obligations".
    signs = catalog.module(SIGNS)
    assert signs is not None
    passed = complete_module(nora, url, SIGNS)
    certificate_path = passed.locator("#certificate").get_attribute("href")
    assert certificate_path is not None and certificate_path.endswith(".pdf")
    with passed.expect_download() as download_info:
        passed.locator("#certificate").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name == certificate_path.rsplit("/", 1)[1]
    assert saved.read_bytes().startswith(b"%PDF")
    text = pdf_text(saved)
    long_day = f"{MONTHS[today.month - 1]} {today.day}, {today.year}"
    assert signs.hours == 1.0  # printed with one decimal at least: "1.0"
    # Each fact on its own: how pdftotext orders a label and its value depends on the layout.
    for expected in (
        f"This certifies that {full_name}",
        " ".join(signs.text("en", signs.title).split()),
        f"provided by {PROVIDER}",
        "Completion date:",
        f"{long_day} ({today.isoformat()})",
        "Hours:",
        "1.0 contact hour(s)",
        "Certificate ID:",
        saved.stem,
        "Facility:",
        "Clinic A",
    ):
        assert expected in text, f"{expected!r} is not in the certificate: {text!r}"
    assert signs.provider == PROVIDER
    complete_module(nora, url, PROTOCOL)
    nora.goto(f"{url}/console/training")
    expect(nora.locator("#my-status")).to_have_text("current")
    for module_id in (SIGNS, PROTOCOL):
        row = nora.locator(f"#module-{module_id}")
        expect(row).to_contain_text(today.isoformat())
        expect(row.get_by_role("link", name="certificate")).to_be_visible()

    # 5. fay: current today; due after the renewal date; overdue once the 30 days have run out.
    fay = fresh_page(browser, contexts)
    log_in(fay, url, "fay", PASSWORD, "/console/compliance?facility=clinic-a")
    row = fay.locator(f"#person-{username}")
    expect(row).to_contain_text(full_name)
    expect(row).to_contain_text("registered nurse")
    expect(row).to_contain_text(renewal.isoformat())
    assert status_of(fay, username) == "current"
    show_as_of(fay, url, username, renewal + timedelta(days=1), "due")
    show_as_of(fay, url, username, renewal + timedelta(days=31), "overdue")
    fay.goto(f"{url}/console/compliance?facility=clinic-a&as_of={renewal + timedelta(days=31)}")
    assert status_of(fay, username) == "overdue"  # the same by URL
    show_as_of(fay, url, username, today, "current")

    # 6. A second staff member cannot see the first one's records; nor can clinic-b's admin.
    second, second_name = SECOND
    second_link = make_invitation(fay, url, second_name)
    omar = fresh_page(browser, contexts)
    accept_invitation(omar, url, second_link, second, second_name)
    # Another person's certificate: staff may view nobody's, so the policy's answer for an
    # action a role has nowhere (403), as tests/integration/test_training_pages.py pins it.
    refused = omar.goto(f"{url}{certificate_path}")
    assert refused is not None and refused.status == 403
    expect(omar.get_by_role("heading", level=1)).to_have_text("Not available")
    expect(omar.locator("main")).to_contain_text("Your roles do not allow this page.")
    expect(omar.locator("main")).not_to_contain_text(full_name)
    refused = omar.goto(f"{url}/console/compliance")
    assert refused is not None and refused.status == 403
    expect(omar.locator("main")).to_contain_text("Your roles do not allow this page.")
    mine = omar.goto(f"{url}/console/training")
    assert mine is not None and mine.status == 200
    expect(omar.locator("main")).to_contain_text(second_name)
    assert full_name not in omar.content()
    assert "Nora" not in omar.content()
    finn = fresh_page(browser, contexts)
    log_in(finn, url, "finn", PASSWORD, "/console/compliance")
    expect(finn.locator(f"#person-{username}")).to_have_count(0)
    refused = finn.goto(f"{url}{certificate_path}")
    assert refused is not None and refused.status == 404
    expect(finn.locator("main")).to_contain_text("Not found.")

    # 7. fay's CSV export (as of today): the person's lines say current.
    fay.goto(f"{url}/console/compliance?facility=clinic-a")
    with fay.expect_download() as export_info:
        fay.get_by_role("link", name="CSV", exact=True).click()
    export = export_info.value
    assert export.suggested_filename == f"training-{today.isoformat()}.csv"
    exported = tmp_path / "export.csv"
    export.save_as(exported)
    with exported.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    hers = [line for line in lines if line["username"] == username]
    assert hers, lines
    assert {line["overall_status"] for line in hers} == {"current"}
    assert {line["full_name"] for line in hers} == {full_name}
    assert {line["rule"] for line in hers} == {"tx-every-renewal", "facility-annual-protocol"}
    assert {line["licence_renewal"] for line in hers} == {renewal.isoformat()}
    theirs = [line for line in lines if line["username"] == second]
    assert theirs and {line["overall_status"] for line in theirs} == {"due"}
