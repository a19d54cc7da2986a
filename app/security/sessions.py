"""Server-side, revocable sessions: a random id in the cookie, its SHA-256 and the data in the database."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import CallbackDict

from app.extensions import db
from app.models.users import WebSession

TOUCH_EVERY = timedelta(seconds=60)  # write last_seen at most once a minute per session
_serializer = TaggedJSONSerializer()


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything Amanat stores is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, sid: str | None = None,
                 created_at: datetime | None = None, last_seen_at: datetime | None = None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.created_at = created_at
        self.last_seen_at = last_seen_at
        self.modified = False
        self.regenerate_requested = False
        self.database_unavailable = False

    def regenerate(self) -> None:
        """Issue a fresh id at the end of this request (at sign-in and privilege changes)."""
        self.regenerate_requested = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    serializer = _serializer

    def cookie_name(self, app: Flask) -> str:
        return "__Host-amanat" if app.config["HTTPS"] else "amanat_session"

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.cookie_name(app))
        if not sid or len(sid) > 64:
            return ServerSession()
        try:
            row = db.session.execute(
                select(WebSession).where(WebSession.id_hash == _hash(sid))
            ).scalar_one_or_none()
        except OperationalError:
            db.session.rollback()
            unavailable = ServerSession()
            unavailable.database_unavailable = True  # the guard answers "try again" (503)
            return unavailable
        if row is None:
            return ServerSession()
        now = _now()
        idle = timedelta(
            minutes=app.config["SESSION_IDLE_MINUTES"] if row.user_id
            else app.config["ANONYMOUS_SESSION_MINUTES"]
        )
        last_seen = _aware(row.last_seen_at)
        if _aware(row.expires_at) <= now or last_seen + idle <= now:
            db.session.execute(delete(WebSession).where(WebSession.id_hash == row.id_hash))
            db.session.commit()
            return ServerSession()
        data = self.serializer.loads(row.data)
        session = ServerSession(data, sid=sid, created_at=_aware(row.created_at),
                                last_seen_at=last_seen)
        db.session.expunge(row)
        return session

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        try:
            self._save(app, session, response)
        except OperationalError:
            # The database went away: the response (a "try again" page) still goes out; the
            # session row keeps its last state and the next request reads it again.
            app.logger.error("Session not saved: the database is unavailable.")

    def _save(self, app: Flask, session: ServerSession, response: Response) -> None:
        name = self.cookie_name(app)
        cookie_args = {
            "domain": None,
            "path": "/",
            "secure": bool(app.config["HTTPS"]),
            "httponly": True,
            "samesite": "Strict",
        }
        now = _now()
        if session.sid and (not session or session.regenerate_requested):
            with db.engine.begin() as conn:
                conn.execute(delete(WebSession).where(WebSession.id_hash == _hash(session.sid)))
            if not session:
                response.delete_cookie(name, **cookie_args)
                return
            session.sid = None
        if not session:
            return
        user_id = session.get("_user_id")
        user_uuid = uuid.UUID(user_id) if user_id else None
        if session.sid is None:
            session.sid = secrets.token_urlsafe(16)  # 128 random bits
            lifetime = (timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"]) if user_uuid
                        else timedelta(minutes=app.config["ANONYMOUS_SESSION_MINUTES"]))
            with db.engine.begin() as conn:
                conn.execute(insert(WebSession).values(
                    id_hash=_hash(session.sid), user_id=user_uuid,
                    data=self.serializer.dumps(dict(session)), created_at=now, last_seen_at=now,
                    expires_at=now + lifetime))
            response.set_cookie(name, session.sid, **cookie_args)
            return
        needs_touch = session.last_seen_at is None or now - session.last_seen_at > TOUCH_EVERY
        if not (session.modified or needs_touch):
            return  # most page views: nothing to write, no transaction at all
        values: dict[str, Any] = {"last_seen_at": now}
        if session.modified:
            values.update(data=self.serializer.dumps(dict(session)), user_id=user_uuid)
        # UPDATE, never upsert: a session revoked during this request stays revoked.
        with db.engine.begin() as conn:
            conn.execute(update(WebSession)
                         .where(WebSession.id_hash == _hash(session.sid)).values(**values))


def revoke_user_sessions(user_id: uuid.UUID) -> int:
    """End every session of one user (logout everywhere, password/2FA/role change, deactivation)."""
    result = db.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return result.rowcount or 0


def purge_expired_sessions() -> int:
    result = db.session.execute(delete(WebSession).where(WebSession.expires_at <= _now()))
    return result.rowcount or 0
