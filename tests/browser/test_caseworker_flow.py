"""A caseworker documents a disappearance end to end through the real pages, in a real browser.

Sign in (password, then TOTP) → open a case → add the victim (with another spelling of the name,
father's name and CNIC) → record an enforced disappearance ("March 2025", a district) and see it
marked Unsupported → add a witness, make them a source, record their testimony → link it to the
act as supporting → the act is no longer unsupported → give the case an Urdu title, shown
right-to-left → submit for review. Every page visited is checked with axe-core; the case page is
screenshotted at each key step (test-artifacts/screenshots/); nothing may load from elsewhere.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.helpers import PHONE, axe_check, no_horizontal_scroll
from tests.browser.test_sign_in_flow import CODE_LABEL, heading
from tests.support import fresh_code, make_user

pytestmark = pytest.mark.browser

URDU_TITLE = "تربت سے طالب علم کی جبری گمشدگی"
CASE_URL = re.compile(r"/cases/[0-9a-f-]{36}(#.*)?$")


def click_and_load(page, target) -> None:
    """Click, and wait until the page it leads to has loaded (its address may be the same)."""
    with page.expect_navigation():
        target.click()


def act_article(page):
    return page.locator("article.act").first


def test_caseworker_documents_a_disappearance(app, live_server, page, shot):
    worker = make_user(app, "caseworker", name="Nadia Baloch", teams=["Kech"])

    # --- sign in through the real pages: password, then the authenticator code ---------------
    page.goto(live_server("/login"))
    page.get_by_label("Email address", exact=True).fill(worker.email)
    page.get_by_label("Password", exact=True).fill(worker.password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(live_server("/login/verify"))
    page.get_by_label(CODE_LABEL, exact=True).fill(fresh_code(app, worker))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server("/"))
    assert heading(page) == "Welcome, Nadia Baloch"

    # --- open a case ---------------------------------------------------------------------------
    click_and_load(page, page.get_by_role("link", name="Open a new case"))
    assert heading(page) == "Open a new case"
    axe_check(page, context="new case form")
    page.get_by_label("Title", exact=True).fill("Student taken from Turbat bazaar")
    page.get_by_label("Summary", exact=True).fill("Taken by men in plain clothes at night.")
    click_and_load(page, page.get_by_role("button", name="Save case"))
    assert "opened" in page.locator(".flashes").inner_text()
    assert "Draft" in page.locator(".case-head .meta").inner_text()
    case_url = page.url.split("#")[0]
    shot(page, "1-case-opened")
    axe_check(page, context="case page, new")

    # --- the victim: a name with another recorded spelling, father's name, CNIC --------------
    page.get_by_role("link", name="Add a person").click()
    axe_check(page, context="add person form")
    page.get_by_label("Full name", exact=True).fill("Bashir Ahmed")
    page.get_by_label("Other names and spellings", exact=True).fill("Basheer Ahmad")
    page.get_by_label("Father's name", exact=True).fill("Ghulam Nabi")
    page.get_by_label("Sex", exact=True).select_option("male")
    page.get_by_label("Age", exact=True).fill("22")
    page.get_by_label("CNIC", exact=True).fill("52203-1234567-1")
    click_and_load(page, page.get_by_role("button", name="Save person"))
    people = page.locator("#people")
    # Names stay masked on the case page; the full name never appears.
    assert "Bashir Ahmed" not in people.inner_text()
    assert people.locator("li").count() == 1
    shot(page, "2-victim-added")

    # --- the act: an enforced disappearance in March 2025, in Kech -----------------------------
    page.locator("#acts").get_by_role("link", name="Record an act").click()
    axe_check(page, context="record an act form")
    page.get_by_label("What happened", exact=True).select_option("enforced_disappearance")
    victim_choice = page.get_by_label("Victim", exact=True)
    victim_choice.select_option(index=1)  # the only person, shown masked
    page.get_by_label("When it happened (or began)", exact=True).fill("March 2025")
    page.get_by_label("District", exact=True).select_option(label="Kech")
    page.get_by_label("Place, as reported", exact=True).fill("Main bazaar, Turbat")
    click_and_load(page, page.get_by_role("button", name="Save act"))
    act = act_article(page)
    assert "Enforced disappearance" in act.get_by_role("heading", level=3).inner_text()
    assert "March 2025" in act.inner_text() and "Kech" in act.inner_text()
    assert "Unsupported" in act.inner_text()
    assert "unsupported" in (act.get_attribute("class") or "")
    assert "1 act has no supporting testimony" in page.locator(".case-head").inner_text()
    shot(page, "3-act-unsupported")
    axe_check(page, context="case page, unsupported act")

    # --- a witness, who becomes a source, and their testimony ----------------------------------
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Full name", exact=True).fill("Fictional Witness")
    page.get_by_label("Sex", exact=True).select_option("female")
    click_and_load(page, page.get_by_role("button", name="Save person"))
    assert page.locator("#people > ul > li").count() == 2

    page.get_by_role("link", name="Add a source").click()
    axe_check(page, context="add source form")
    source_person = page.get_by_label("The source is a person of this case", exact=True)
    witness_option = source_person.locator("option").filter(has_text="F").last
    source_person.select_option(value=witness_option.get_attribute("value"))
    page.get_by_label("Reliability of the source", exact=True).select_option("B")
    page.get_by_label("Pseudonym", exact=True).fill("W-17")
    page.get_by_role("button", name="Add source").click()

    # Straight on to the testimony form, with the new source chosen.
    page.wait_for_url(re.compile(r"/testimonies/new"))
    assert "Source W-17 added" in page.locator(".flashes").inner_text()
    assert "W-17" in page.get_by_label("Source", exact=True).locator(
        "option:checked").inner_text()
    axe_check(page, context="testimony form")
    page.get_by_label("Date of the statement", exact=True).fill("14 March 2025")
    page.get_by_label("Language", exact=True).select_option("bal")
    page.get_by_label("Type of material", exact=True).select_option("witness_testimony")
    page.get_by_label("Connection to the facts", exact=True).select_option("witness")
    page.get_by_label("Credibility of this information", exact=True).select_option("2")
    page.get_by_label("Transcript", exact=True).fill("I saw four men put him in a white car.")
    page.get_by_role("button", name="Save testimony").click()
    page.wait_for_url(re.compile(r"/testimonies/[0-9a-f-]{36}$"))
    assert heading(page) == "Testimony from W-17"
    assert "I saw four men" in page.locator(".transcript").inner_text()
    shot(page, "4-testimony")
    axe_check(page, context="testimony page")

    # --- link the testimony to the act as supporting -------------------------------------------
    page.goto(case_url)
    act_article(page).get_by_role("link", name="Link testimony or evidence").click()
    axe_check(page, context="link form")
    page.get_by_label("Testimony or evidence", exact=True).select_option(index=1)
    page.get_by_label("It", exact=True).select_option("supports")
    click_and_load(page, page.get_by_role("button", name="Link", exact=True))
    act = act_article(page)
    assert "Unsupported" not in act.inner_text()
    assert "unsupported" not in (act.get_attribute("class") or "")
    assert "1 independent source" in act.inner_text()
    assert "Testimony from W-17" in act.inner_text()
    assert "no supporting testimony" not in page.locator(".case-head").inner_text()
    shot(page, "5-act-supported")
    axe_check(page, context="case page, supported act")

    # --- an Urdu title is stored and shown right-to-left ---------------------------------------
    page.get_by_role("link", name="Edit case").click()
    title = page.get_by_label("Title", exact=True)
    title.fill(URDU_TITLE)
    assert title.get_attribute("dir") == "auto"
    assert title.evaluate("e => getComputedStyle(e).direction") == "rtl"
    click_and_load(page, page.get_by_role("button", name="Save case"))
    shown = page.locator(".case-head h1 span[dir=auto]")
    assert shown.inner_text() == URDU_TITLE
    assert shown.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # The reference beside it stays left-to-right: only the Urdu run is turned around.
    assert page.locator(".case-head .ref").evaluate(
        "e => getComputedStyle(e).direction") == "ltr"
    shot(page, "6-urdu-title")
    axe_check(page, context="case page, Urdu title")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    row_title = page.get_by_role("cell", name=URDU_TITLE)
    assert row_title.evaluate("e => getComputedStyle(e).direction") == "rtl"
    shot(page, "7-case-list")
    axe_check(page, context="case list")

    # --- the recorded spelling variant finds the victim ----------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find a person").click()
    page.get_by_label("Name (or another spelling)", exact=True).fill("Basheer Ahmad")
    click_and_load(page, page.get_by_role("button", name="Find"))
    assert heading(page) == "Find a person"
    assert page.get_by_role("heading", name="1 match").is_visible()
    axe_check(page, context="find a person, one match")

    # --- submit for review, on a phone ---------------------------------------------------------
    page.set_viewport_size(PHONE)
    page.goto(case_url)
    no_horizontal_scroll(page)
    click_and_load(page, page.get_by_role("button", name="Submit for review"))
    assert "The case is now under review." in page.locator(".flashes").inner_text()
    assert "Under review" in page.locator(".case-head .meta").inner_text()
    # A caseworker can no longer edit a case under review, nor submit it again.
    assert page.get_by_role("link", name="Edit case").count() == 0
    assert page.get_by_role("button", name="Submit for review").count() == 0
    no_horizontal_scroll(page)
    shot(page, "8-submitted-phone")
    axe_check(page, context="case page, under review, phone")
