"""A small browser-like HTTP client on http.client: cookies, forms, CSRF tokens, timings."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

_CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"|value="([^"]+)"[^>]*?name="csrf_token"')
SESSION_COOKIE = "amanat_session"
# Only a signed-in page carries the sign-out form of base.html.
SIGNED_IN_MARKER = 'class="sign-out"'


class BenchHTTPError(RuntimeError):
    """A response that a benchmark did not expect (wrong status, missing token, not signed in)."""


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise BenchHTTPError("page has no CSRF token")
    return next(group for group in match.groups() if group)


class Browser:
    """One visitor: a cookie jar, a new connection per request (sync gunicorn closes them)."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Accept-Language": "en", "User-Agent": "amanat-bench"}
        body = None
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        self._store_cookies(raw.headers)
        return Response(raw.status, raw.headers, text, elapsed)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Response:
        return self.request("POST", path, form)

    def _store_cookies(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                expired = morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if expired or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


def expect(response: Response, status: int, what: str, location_suffix: str | None = None) -> None:
    if response.status != status or (
        location_suffix is not None and not response.location.endswith(location_suffix)
    ):
        raise BenchHTTPError(
            f"{what}: expected {status}{' -> ' + location_suffix if location_suffix else ''}, "
            f"got {response.status} {response.location!r}: {response.body[:300]!r}"
        )
