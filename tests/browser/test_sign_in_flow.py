"""A person in a real browser: first-run set-up, sign-in with TOTP, every admin page, a phone.

Each page is screenshotted to test-artifacts/screenshots/ and checked with axe-core; any serious
or critical accessibility violation fails the test, and so does any request to another host.
"""

from __future__ import annotations

import re

import pyotp
import pytest

from app.extensions import db
from app.models.users import TokenPurpose
from app.services import accounts
from tests.browser.helpers import PHONE, axe_check, no_horizontal_scroll
from tests.support import PASSWORD, fresh_code, make_user

pytestmark = pytest.mark.browser

CODE_LABEL = "Code from your authenticator app, or a recovery code"


def setup_link(app, live_server) -> str:
    """What `amanat setup-link` prints, made the same way through the services."""
    with app.app_context():
        token = accounts.issue_token(TokenPurpose.SETUP)
        db.session.commit()
    return live_server(f"/setup/{token}")


def sign_in(page, live_server, app, person) -> None:
    page.goto(live_server("/login"))
    page.get_by_label("Email address", exact=True).fill(person.email)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(live_server("/login/verify"))
    page.get_by_label(CODE_LABEL, exact=True).fill(fresh_code(app, person))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server("/"))


def heading(page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def test_first_run_setup_enrolment_and_recovery_codes(app, live_server, page, shot):
    setup_url = setup_link(app, live_server)
    page.goto(setup_url)
    assert heading(page) == "Create the first administrator"
    shot(page, "1-setup")
    axe_check(page)

    page.get_by_label("Your name", exact=True).fill("Farzana Baloch")
    page.get_by_label("Email address", exact=True).fill("farzana@amanat.test")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()

    page.wait_for_url(re.compile(r"/enrol/"))
    assert heading(page) == "Turn on two-step verification"
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    shot(page, "2-enrol")
    axe_check(page)

    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    wrong = "000000" if totp.now() != "000000" else "111111"
    page.get_by_label("6-digit code from the app", exact=True).fill(wrong)
    page.get_by_role("button", name="Turn on two-step verification").click()
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#totp-secret").inner_text().strip() == secret  # same key, try again
    shot(page, "2-enrol-wrong-code")
    axe_check(page, context="enrol with a wrong code")

    page.get_by_label("6-digit code from the app", exact=True).fill(totp.now())
    page.get_by_role("button", name="Turn on two-step verification").click()

    codes = page.locator("#recovery-codes li")
    codes.first.wait_for()
    assert heading(page) == "Your recovery codes"
    assert codes.count() >= 8
    assert all(text.strip() for text in codes.all_inner_texts())
    shot(page, "3-recovery-codes")
    axe_check(page)

    page.get_by_role("link", name="I have written them down, continue").click()
    page.wait_for_url(live_server("/"))
    assert heading(page) == "Welcome, Farzana Baloch"
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Users").is_visible()
    shot(page, "4-home")
    axe_check(page)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    assert "You are signed out." in page.locator(".flashes").inner_text()
    shot(page, "5-signed-out")
    axe_check(page)

    # The set-up link worked once; opening it again says so plainly.
    page.goto(setup_url)
    assert heading(page) == "This link is not valid"


def test_sign_in_with_password_and_totp(app, live_server, page, shot):
    person = make_user(app, "caseworker", name="Karim Caseworker", teams=["Quetta"])
    page.goto(live_server("/login"))
    shot(page, "1-login")
    axe_check(page)

    page.get_by_label("Email address", exact=True).fill(person.email)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(live_server("/login/verify"))
    assert heading(page) == "Two-step verification"
    shot(page, "2-second-factor")
    axe_check(page)

    page.get_by_label(CODE_LABEL, exact=True).fill("000000" if fresh_code(app, person) != "000000"
                                       else "111111")
    page.get_by_role("button", name="Sign in").click()
    assert "That code is not valid" in page.locator(".errors").inner_text()
    shot(page, "3-second-factor-error")
    axe_check(page)

    page.get_by_label(CODE_LABEL, exact=True).fill(fresh_code(app, person))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server("/"))
    assert heading(page) == "Welcome, Karim Caseworker"
    assert "Quetta" in page.locator("main").inner_text()
    # A caseworker sees no administration links.
    assert page.get_by_role("link", name="Users").count() == 0
    shot(page, "4-home")
    axe_check(page)


def test_every_admin_page_is_accessible(app, live_server, page, shot):
    admin = make_user(app, "admin", name="Farzana Admin")
    sign_in(page, live_server, app, admin)

    # Teams: empty, then with a team.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").click()
    assert heading(page) == "Teams"
    axe_check(page, context="teams (empty)")
    page.get_by_label("Team name", exact=True).fill("Quetta")
    page.get_by_role("button", name="Create team").click()
    page.get_by_text("Quetta").first.wait_for()
    shot(page, "teams")
    axe_check(page, context="teams")

    # Users list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    assert heading(page) == "Users"
    shot(page, "users")
    axe_check(page)

    # Invite form, first sent empty to show its errors, then filled in.
    page.get_by_role("link", name="Invite a user").click()
    assert heading(page) == "Invite a user"
    shot(page, "invite-form")
    axe_check(page)
    page.get_by_role("button", name="Save").click()
    assert page.locator(".errors").count() >= 2
    assert page.get_by_label("Name", exact=True).get_attribute("aria-invalid") == "true"
    # Focus lands on the list of problems, whose links lead to the fields.
    assert page.evaluate("document.activeElement.className") == "error-summary"
    page.locator(".error-summary a").first.click()
    assert page.evaluate("document.activeElement.id") == "name"
    shot(page, "invite-form-errors")
    axe_check(page, context="invite form with errors")

    page.get_by_label("Name", exact=True).fill("Nadia Rind")
    page.get_by_label("Email address", exact=True).fill("nadia@amanat.test")
    page.get_by_label("Role", exact=True).select_option("caseworker")
    page.get_by_label("Quetta", exact=True).check()
    page.get_by_role("button", name="Save").click()
    assert heading(page) == "Invitation for Nadia Rind"
    link = page.get_by_label("One-time link", exact=True).input_value()
    assert link.startswith(live_server("/invite/"))
    shot(page, "one-time-link")
    axe_check(page)

    # The invited user's page.
    page.get_by_role("link", name="Back to the account").click()
    assert heading(page) == "Nadia Rind"
    assert page.get_by_label("Quetta", exact=True).is_checked()
    shot(page, "user-edit")
    axe_check(page)

    # Own account pages.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My account").click()
    assert heading(page) == "My account"
    shot(page, "account")
    axe_check(page)

    page.get_by_role("link", name="Change password").click()
    assert heading(page) == "Change password"
    axe_check(page)
    page.get_by_label("Current password", exact=True).fill("not my password at all")
    page.get_by_label("New password", exact=True).fill("something-else-entirely-42")
    page.get_by_label("Repeat the new password", exact=True).fill("something-different-43")
    page.locator("main").get_by_role("button").click()
    assert page.locator(".errors").count() >= 1
    shot(page, "change-password-errors")
    axe_check(page, context="change password with errors")

    # Step-up page, reachable directly.
    page.goto(live_server("/reauthenticate?next=/account/"))
    assert heading(page) == "Confirm it is you"
    axe_check(page)
    page.get_by_role("button", name="Confirm").click()
    assert page.locator(".errors").count() == 1
    shot(page, "reauthenticate-error")
    axe_check(page, context="reauthenticate with error")

    # Errors and dead links.
    response = page.goto(live_server("/no-such-page"))
    assert response.status == 404
    assert heading(page) == "Page not found"
    shot(page, "404")
    axe_check(page)

    # Signed out: the login page with validation errors, and a used/unknown link.
    page.get_by_role("link", name="Go to the home page").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    page.get_by_role("button", name="Continue").click()
    assert page.locator(".errors").count() == 2
    shot(page, "login-empty")
    axe_check(page, context="login with empty fields")
    page.get_by_label("Email address", exact=True).fill(admin.email)
    page.get_by_label("Password", exact=True).fill("wrong-password-entirely")
    page.get_by_role("button", name="Continue").click()
    assert "Email address or password is not correct." in page.locator(".errors").inner_text()
    shot(page, "login-wrong-password")
    axe_check(page, context="login with wrong password")

    page.goto(link)
    assert heading(page) == "Welcome, Nadia Rind"
    shot(page, "invitation")
    axe_check(page, context="invitation")

    response = page.goto(live_server("/setup/not-a-real-token"))
    assert response.status == 404
    assert heading(page) == "This link is not valid"
    shot(page, "link-invalid")
    axe_check(page)


def test_phone_width_layout(app, live_server, page, shot):
    person = make_user(app, "admin", name="Farzana Admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server("/login"))
    no_horizontal_scroll(page)
    shot(page, "login")
    axe_check(page)

    sign_in(page, live_server, app, person)
    no_horizontal_scroll(page)
    shot(page, "home")
    axe_check(page)

    # A wide table scrolls inside its own box, which keyboard users can reach and scroll.
    page.goto(live_server("/admin/users"))
    no_horizontal_scroll(page)
    shot(page, "users")
    axe_check(page)


def test_pages_work_under_their_own_content_security_policy(app, live_server, strict_page, shot):
    """With the real CSP enforced: the stylesheet applies and nothing is refused."""
    page = strict_page
    page.goto(setup_link(app, live_server))
    header_background = page.evaluate(
        "() => getComputedStyle(document.querySelector('.site-header')).backgroundColor")
    assert header_background == "rgb(11, 85, 99)", "the stylesheet did not load"
    page.get_by_label("Your name", exact=True).fill("Farzana Baloch")
    page.get_by_label("Email address", exact=True).fill("farzana@amanat.test")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url(re.compile(r"/enrol/"))
    qr = page.locator(".qr svg").bounding_box()
    assert qr and qr["width"] > 100 and qr["height"] > 100, "the QR code is not drawn"
    shot(page, "enrol")
    assert page.csp_violations == []


def test_request_log_allows_only_the_live_server():
    from tests.browser.helpers import LiveServer, RequestLog

    log = RequestLog(LiveServer(url="http://127.0.0.1:5123", host="127.0.0.1", port=5123))
    assert log.allowed("http://127.0.0.1:5123/static/css/amanat.css")
    assert log.allowed("data:image/png;base64,AAAA")
    assert not log.allowed("http://127.0.0.1:5124/")
    assert not log.allowed("https://127.0.0.1:5123/")
    assert not log.allowed("http://localhost:5123/")
    assert not log.allowed("https://fonts.example.org/font.woff2")
