"""Default deny, CSRF, security headers, safe `next`, error pages and escaping."""

from __future__ import annotations

import pytest

from app.web.guard import PUBLIC, access_of, is_safe_next
from tests.support import csrf_from, post_form, sign_in

# The only endpoints anyone may reach without signing in. Adding one is a security decision.
PUBLIC_ALLOWLIST = {
    "static", "auth.login", "auth.second_factor", "auth.logout", "auth.setup",
    "auth.invitation", "auth.enrol", "main.health",
}


def test_every_endpoint_declares_who_may_reach_it(app):
    undeclared = [name for name, view in app.view_functions.items() if access_of(view) is None]
    assert undeclared == [], f"endpoints with no access declaration: {undeclared}"


def test_public_endpoints_are_exactly_the_allowlist(app):
    public = {name for name, view in app.view_functions.items() if access_of(view) == PUBLIC}
    assert public == PUBLIC_ALLOWLIST


def test_every_non_public_route_sends_anonymous_visitors_to_sign_in(app, client):
    for rule in app.url_map.iter_rules():
        if access_of(app.view_functions[rule.endpoint]) == PUBLIC:
            continue
        url = rule.build({arg: "00000000-0000-0000-0000-000000000000" for arg in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 400), (rule.endpoint, method)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], (rule.endpoint, method)


def test_an_undeclared_route_is_refused(app, client, caseworker):
    @app.route("/forgotten")
    def forgotten():
        return "should never be served"

    sign_in(client, app, caseworker)
    assert client.get("/forgotten").status_code == 403


def test_post_without_csrf_token_is_refused(app, client, caseworker):
    sign_in(client, app, caseworker)
    response = client.post("/logout")
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in: the forged logout failed


def test_security_headers_on_every_page(app, client, caseworker):
    sign_in(client, app, caseworker)
    for url in ("/", "/account/", "/login", "/does-not-exist"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                          "form-action 'self'", "frame-ancestors 'none'"):
            assert directive in csp, (url, directive)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
    "http:/evil.example", "javascript:alert(1)", "/%0d%0aLocation:evil", " //evil.example",
])
def test_next_never_leaves_the_site(app, client, caseworker, target):
    assert not is_safe_next(target) or target.startswith("/%")
    post_form(client, f"/login?next={target}", {"email": caseworker.email,
                                                 "password": caseworker.password})
    from tests.support import fresh_code

    response = post_form(client, "/login/verify", {"code": fresh_code(app, caseworker)})
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location.split("?")[0] or location.startswith("/%")


def test_next_keeps_a_local_path(app, client, caseworker):
    assert client.get("/account/").headers["Location"].endswith("/login?next=/account/")
    post_form(client, "/login?next=/account/", {"email": caseworker.email,
                                                "password": caseworker.password})
    from tests.support import fresh_code

    response = post_form(client, "/login/verify", {"code": fresh_code(app, caseworker)})
    assert response.headers["Location"] == "/account/"


def test_server_error_page_leaks_nothing(app, client, caseworker):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail Bashir Ahmed")

    from app.web.guard import signed_in

    signed_in(boom)
    sign_in(client, app, caseworker)
    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internal detail" not in body and "Traceback" not in body
    assert "Reference for your administrator" in body


def test_not_found_page_is_friendly(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_template_syntax_typed_into_a_field_shows_literally(app, admin_client):
    response = post_form(admin_client, "/admin/users/new", {
        "name": "{{7*7}} <b>x</b>", "email": "tpl@amanat.test", "role": "caseworker"})
    assert response.status_code == 200
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "{{7*7}} &lt;b&gt;x&lt;/b&gt;" in listing
    assert ">49<" not in listing and " 49 " not in listing


def test_oversized_request_body_is_refused_cleanly(app, client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "email": "a@b.c",
                                           "password": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_health_endpoint_reveals_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
