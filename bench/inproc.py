"""In-process helpers for the crypto, audit and scale benchmarks: a signed-in Flask test client,
timers patched onto functions for the duration of a measurement (never outside the bench), and
/proc readings (load average, peak RSS)."""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bench.seed import Person
from bench.webclient import csrf_from


def add_team(app: Flask, name: str, user_ids: list[Any]) -> Any:
    """Create a team holding these users (rows only; no audit entry) and return its id."""
    import uuid

    from sqlalchemy import insert

    from app.extensions import db
    from app.models.users import Team, team_members

    team_id = uuid.uuid4()
    with app.app_context():
        db.session.add(Team(id=team_id, name=name))
        db.session.flush()
        if user_ids:
            db.session.execute(insert(team_members),
                               [{"team_id": team_id, "user_id": u} for u in user_ids])
        db.session.commit()
        db.session.remove()
    return team_id


def load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "?"


class TestClientUser:
    """A Flask test client signed in through the real forms (password, then TOTP)."""

    def __init__(self, app: Flask, person: Person) -> None:
        self.app = app
        self.person = person
        self.client: FlaskClient = app.test_client()
        self.sign_in()

    def _ok(self, response: Any, status: int, what: str) -> Any:
        if response.status_code != status:
            raise RuntimeError(f"{what}: expected {status}, got {response.status_code}: "
                               f"{response.get_data(as_text=True)[:300]!r}")
        return response

    def get(self, path: str, status: int = 200) -> Any:
        return self._ok(self.client.get(path, headers={"Accept-Language": "en"}), status,
                        f"GET {path}")

    def post(self, path: str, data: dict[str, Any], status: int = 302,
             token_from: str | None = None) -> Any:
        """POST with a CSRF token read from `token_from` (default: the same path, by GET)."""
        html = self.get(token_from or path).get_data(as_text=True)
        return self._ok(self.client.post(path, data={**data, "csrf_token": csrf_from(html)},
                                         headers={"Accept-Language": "en"}),
                        status, f"POST {path}")

    def token(self, path: str) -> str:
        return csrf_from(self.get(path).get_data(as_text=True))

    def sign_in(self) -> None:
        self.post("/login", {"email": self.person.email, "password": self.person.password})
        self.post("/login/verify", {"code": self.person.next_code()})


class Timers:
    """Wall time spent inside patched functions; nested calls count once, in the outermost one.

    `inclusive[name]` is each function's own inclusive time (nested ones included in their
    callers' figures too); `outer` is the total of outermost calls only, i.e. the time the
    request spent in any of the patched functions.
    """

    def __init__(self) -> None:
        self.inclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.outer = 0.0
        self._depth = 0
        self._patches: list[tuple[Any, str, Any]] = []

    def reset(self) -> None:
        self.inclusive.clear()
        self.calls.clear()
        self.outer = 0.0

    def wrap(self, owner: Any, attribute: str, name: str | None = None) -> None:
        original = getattr(owner, attribute)
        label = name or f"{getattr(owner, '__name__', owner)}.{attribute}"
        timers = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            timers._depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                timers._depth -= 1
                timers.inclusive[label] += spent
                timers.calls[label] += 1
                if timers._depth == 0:
                    timers.outer += spent

        # staticmethod/classmethod are not wrapped here; every target is a plain function
        setattr(owner, attribute, timed)
        self._patches.append((owner, attribute, original))

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._patches):
            setattr(owner, attribute, original)
        self._patches.clear()

    @contextlib.contextmanager
    def active(self) -> Iterator[Timers]:
        try:
            yield self
        finally:
            self.restore()


@contextlib.contextmanager
def patched(owner: Any, attribute: str, replacement: Callable[..., Any]) -> Iterator[None]:
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def rss_kib() -> int:
    return _status_kib("VmRSS")


def peak_rss_kib() -> int:
    return _status_kib("VmHWM")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_kib(key: str) -> int:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1
