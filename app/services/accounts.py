"""Account use cases: setup, invitations, passwords, second factor, roles, teams, deactivation."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.audit.recorder import record
from app.extensions import db
from app.models.users import (
    ROLE_VALUES,
    OneTimeToken,
    RecoveryCode,
    Role,
    Team,
    TokenPurpose,
    User,
)
from app.security import passwords, totp
from app.security.sessions import revoke_user_sessions
from app.services import ServiceError


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()


def setup_needed() -> bool:
    """True while no administrator exists: only then does a setup link work."""
    count = db.session.execute(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value)
    ).scalar_one()
    return count == 0


# One-time links ---------------------------------------------------------------------------------

def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(purpose: TokenPurpose, *, user: User | None = None,
                actor: User | None = None) -> str:
    """Create a single-use link token and return it; only its hash is stored."""
    hours = {
        TokenPurpose.SETUP: current_app.config["SETUP_TOKEN_HOURS"],
        TokenPurpose.INVITE: current_app.config["INVITE_TOKEN_HOURS"],
        TokenPurpose.ENROL: current_app.config["INVITE_TOKEN_HOURS"],
    }[purpose]
    raw = secrets.token_urlsafe(32)
    db.session.add(OneTimeToken(
        purpose=purpose.value, token_hash=_token_hash(raw),
        user_id=user.id if user else None, created_by_id=actor.id if actor else None,
        expires_at=_now() + timedelta(hours=hours),
    ))
    db.session.flush()
    record("token.issue", actor_id=actor.id if actor else None, object_type="user",
           object_id=user.id if user else None, details={"purpose": purpose.value})
    return raw


def valid_token(raw: str, purpose: TokenPurpose) -> OneTimeToken | None:
    """The unused, unexpired token of this purpose, or None (expired, used, unknown alike)."""
    if not raw or len(raw) > 100:
        return None
    token = db.session.execute(
        select(OneTimeToken).where(OneTimeToken.token_hash == _token_hash(raw))
    ).scalar_one_or_none()
    if token is None or token.purpose != purpose.value or token.used_at is not None:
        return None
    if _aware(token.expires_at) <= _now():
        return None
    return token


def _use_token(token: OneTimeToken) -> None:
    token.used_at = _now()


# Passwords --------------------------------------------------------------------------------------

def check_new_password(password: str, user_inputs: Iterable[str]) -> None:
    problems = passwords.password_problems(password, tuple(user_inputs))
    if problems:
        raise ServiceError(" ".join(problems), field="password")


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None; the same cost either way.

    The transaction that looked the user up ends before the (deliberately slow) Argon2 check, so
    on SQLite no write lock is held while hashing.
    """
    user = find_user_by_email(email) if len(email) <= 254 else None
    stored_hash = user.password_hash if user else None
    db.session.commit()
    ok = passwords.verify_password(stored_hash, password)
    if not (user and ok and user.active):
        record("auth.password_failed", actor_id=user.id if user else None,
               details={"reason": "bad_credentials"})
        return None
    if stored_hash and passwords.needs_rehash(stored_hash):
        user.password_hash = passwords.hash_password(password)  # parameters were raised
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not passwords.verify_password(user.password_hash, current):
        raise ServiceError(_("Your current password is not correct."), field="current_password")
    check_new_password(new, (user.name, user.email))
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = _now()
    revoke_user_sessions(user.id)
    record("account.password_change", actor_id=user.id, object_type="user", object_id=user.id)


# Second factor ----------------------------------------------------------------------------------

def start_totp_enrolment(user: User) -> str:
    """Give the user a fresh (unconfirmed) seed, stored encrypted; returns it for the QR code."""
    secret = totp.new_secret()
    user.totp_secret = secret
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.flush()
    return secret


def confirm_totp_enrolment(user: User, code: str) -> list[str]:
    """Confirm the pending seed with a code from the app; returns fresh recovery codes to show once."""
    secret = user.totp_secret
    step = totp.accepted_step(secret, code, None) if secret else None
    if step is None:
        raise ServiceError(_("That code did not match. Check the time on your phone and try again."),
                           field="code")
    user.totp_enrolled_at = _now()
    user.totp_last_step = step
    revoke_user_sessions(user.id)
    record("account.totp_enrol", actor_id=user.id, object_type="user", object_id=user.id)
    return _replace_recovery_codes(user)


def _replace_recovery_codes(user: User) -> list[str]:
    codes = totp.new_recovery_codes()
    user.recovery_codes.clear()
    for code_value in codes:
        user.recovery_codes.append(RecoveryCode(code_hash=totp.hash_recovery_code(code_value)))
    return codes


def renew_recovery_codes(user: User) -> list[str]:
    """Fresh recovery codes, shown once; the old ones stop working."""
    record("account.recovery_codes_renewed", actor_id=user.id, object_type="user",
           object_id=user.id)
    return _replace_recovery_codes(user)


def sign_out_everywhere(user: User) -> None:
    record_sign_out(user, everywhere=True)
    revoke_user_sessions(user.id)


def verify_second_factor(user: User, code: str) -> bool:
    """Accept a fresh TOTP code (each usable once) or an unused recovery code."""
    if user.totp_enrolled_at is None or not user.totp_secret:
        return False
    if totp.looks_like_recovery_code(code):
        wanted = totp.hash_recovery_code(code)
        for candidate in user.recovery_codes:
            if candidate.used_at is None and secrets.compare_digest(candidate.code_hash, wanted):
                candidate.used_at = _now()
                record("auth.recovery_code_used", actor_id=user.id, object_type="user",
                       object_id=user.id)
                return True
        record("auth.second_factor_failed", actor_id=user.id, object_type="user", object_id=user.id)
        return False
    step = totp.accepted_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        record("auth.second_factor_failed", actor_id=user.id, object_type="user", object_id=user.id)
        return False
    user.totp_last_step = step
    return True


def remaining_recovery_codes(user: User) -> int:
    return sum(1 for c in user.recovery_codes if c.used_at is None)


# Accounts (administration) ------------------------------------------------------------------------

def _check_role(role: str) -> str:
    if role not in ROLE_VALUES:
        raise ServiceError(_("Unknown role %(role)s. Choose one of: %(roles)s.",
                             role=role, roles=", ".join(ROLE_VALUES)), field="role")
    return role


def create_user(actor: User | None, *, name: str, email: str, role: str,
                teams: Iterable[Team] = ()) -> User:
    name = name.strip()
    email = normalise_email(email)
    if not name or len(name) > 120:
        raise ServiceError(_("Give a name of 1 to 120 characters."), field="name")
    if "@" not in email or len(email) > 254:
        raise ServiceError(_("Give a valid email address."), field="email")
    _check_role(role)
    if find_user_by_email(email):
        raise ServiceError(_("An account with this email address already exists."), field="email")
    user = User(id=uuid.uuid4(), name=name, email=email, role=role, active=True)
    user.teams = list(teams)
    db.session.add(user)
    db.session.flush()
    record("account.create", actor_id=actor.id if actor else None, object_type="user",
           object_id=user.id, details={"role": role, "teams": sorted(str(t.id) for t in teams)})
    return user


def complete_setup(raw_token: str, *, name: str, email: str, password: str) -> User:
    """Create the first administrator through the one-time setup link."""
    token = valid_token(raw_token, TokenPurpose.SETUP)
    if token is None or not setup_needed():
        raise ServiceError(_("This setup link is no longer valid."))
    check_new_password(password, (name, email))
    user = create_user(None, name=name, email=email, role=Role.ADMIN.value)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = _now()
    _use_token(token)
    return user


def accept_invitation(raw_token: str, password: str) -> User:
    token = valid_token(raw_token, TokenPurpose.INVITE)
    if token is None or token.user is None or not token.user.active:
        raise ServiceError(_("This invitation link is no longer valid. Ask your administrator "
                             "for a new one."))
    user = token.user
    check_new_password(password, (user.name, user.email))
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = _now()
    _use_token(token)
    record("account.invitation_accepted", actor_id=user.id, object_type="user", object_id=user.id)
    return user


def user_for_enrolment(raw_token: str) -> tuple[OneTimeToken, User] | None:
    token = valid_token(raw_token, TokenPurpose.ENROL)
    if token is None or token.user is None or not token.user.active:
        return None
    return token, token.user


def use_enrolment_token(token: OneTimeToken) -> None:
    _use_token(token)


def set_role(actor: User | None, user: User, role: str) -> None:
    _check_role(role)
    if user.role == role:
        return
    if actor is not None and user.id == actor.id:
        raise ServiceError(_("You cannot change your own role."), field="role")
    old = user.role
    user.role = role
    revoke_user_sessions(user.id)
    record("account.role_change", actor_id=actor.id if actor else None, object_type="user",
           object_id=user.id, details={"from": old, "to": role})


def set_teams(actor: User, user: User, teams: Iterable[Team]) -> None:
    new = sorted(teams, key=lambda t: t.name)
    if {t.id for t in new} == {t.id for t in user.teams}:
        return
    user.teams = new
    record("account.teams_change", actor_id=actor.id, object_type="user", object_id=user.id,
           details={"teams": [str(t.id) for t in new]})


def update_profile(actor: User, user: User, *, name: str) -> None:
    name = name.strip()
    if not name or len(name) > 120:
        raise ServiceError(_("Give a name of 1 to 120 characters."), field="name")
    if name != user.name:
        user.name = name
        record("account.update", actor_id=actor.id, object_type="user", object_id=user.id,
               details={"fields": ["name"]})


def deactivate(actor: User | None, user: User) -> None:
    """Accounts are never deleted: a deactivated one cannot sign in and its sessions end now."""
    if actor is not None and user.id == actor.id:
        raise ServiceError(_("You cannot deactivate your own account."))
    if not user.active:
        return
    user.active = False
    user.deactivated_at = _now()
    revoke_user_sessions(user.id)
    record("account.deactivate", actor_id=actor.id if actor else None, object_type="user",
           object_id=user.id)


def reactivate(actor: User, user: User) -> None:
    if user.active:
        return
    user.active = True
    user.deactivated_at = None
    record("account.reactivate", actor_id=actor.id, object_type="user", object_id=user.id)


def reset_second_factor(actor: User, user: User) -> str:
    """Remove the user's 2FA and recovery codes; returns a one-time link to enrol again."""
    start_totp_enrolment(user)
    user.recovery_codes.clear()
    revoke_user_sessions(user.id)
    record("account.totp_reset", actor_id=actor.id, object_type="user", object_id=user.id)
    return issue_token(TokenPurpose.ENROL, user=user, actor=actor)


def create_team(actor: User, name: str) -> Team:
    name = name.strip()
    if not name or len(name) > 120:
        raise ServiceError(_("Give a team name of 1 to 120 characters."), field="name")
    exists = db.session.execute(select(Team).where(Team.name == name)).scalar_one_or_none()
    if exists:
        raise ServiceError(_("A team with this name already exists."), field="name")
    team = Team(id=uuid.uuid4(), name=name)
    db.session.add(team)
    db.session.flush()
    record("team.create", actor_id=actor.id, object_type="team", object_id=team.id)
    return team


def record_sign_in(user: User) -> None:
    user.last_login_at = _now()
    record("auth.sign_in", actor_id=user.id, object_type="user", object_id=user.id)


def record_sign_out(user: User, everywhere: bool = False) -> None:
    record("auth.sign_out_everywhere" if everywhere else "auth.sign_out", actor_id=user.id,
           object_type="user", object_id=user.id)
